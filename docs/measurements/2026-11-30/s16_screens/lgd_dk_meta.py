"""Write the shipped lgd_dense_keypoints.json: the run's export plus where and how it ran and
its validation history (session 16). Usage: python lgd_dk_meta.py RUN_DIR ASSETS_DIR"""

import csv
import json
import shutil
import sys
from pathlib import Path

run, assets = Path(sys.argv[1]), Path(sys.argv[2])
info = json.loads((run / "lgd_dense_keypoints.json").read_text())
meta = info["meta"]
meta["note"] = (
    "2026-11-30, session 16: one uninterrupted run at nice 19 beside unit tests (two "
    "pytest runs, about 4 of its 41 minutes); /work/runs/cmu_poses.npz = `jaxrefine mocap "
    "../shared/mocap --out "
    "cmu_poses.npz`; --init-from is the lgd_dense.npz shipped at the time (its lineage in "
    "init_from.command), extended to the dense+keypoints features with zero weights for the "
    "keypoint summary (jaxrefine.train.lgd.extend_start)"
)
meta["validation_history"] = {
    r["step"]: round(float(r["val_pve_final"]), 2)
    for r in csv.DictReader((run / "log.csv").open())
    if r.get("val_pve_final")
}
meta["val_note"] = (
    "validation_history: PVE (mm, root-aligned, every 8th vertex) after the 10 learned steps on "
    "32 synthetic frames of validation subjects 09/16 (fixed seed 12345), medium initial "
    "estimates after SMPLify's Adam camera stage on the frame's dense targets and keypoints"
)
meta["body_model"] = "jaxrefine-open-anny-v1 (load_body_model() default; the oracle default)"
shutil.copy(run / "lgd_dense_keypoints.npz", assets / "lgd_dense_keypoints.npz")
(assets / "lgd_dense_keypoints.json").write_text(json.dumps(info, indent=2))
print("wrote", assets / "lgd_dense_keypoints.json")
