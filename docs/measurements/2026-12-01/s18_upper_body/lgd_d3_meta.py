"""Write the shipped lgd_dense.json: the run's export, where and how it ran, its validation
history, and the whole record of the checkpoint it started from (session 18).
Usage: python lgd_d3_meta.py RUN_DIR ASSETS_DIR (before the checkpoint there is replaced)"""

import csv
import json
import shutil
import sys
from pathlib import Path

run, assets = Path(sys.argv[1]), Path(sys.argv[2])
info = json.loads((run / "lgd_dense.json").read_text())
meta = info["meta"]
meta["init_from"]["meta"] = json.loads((assets / "lgd_dense.json").read_text())["meta"]
meta["note"] = (
    "2026-12-01, session 18: at nice 19 beside a clean-clone test suite; stopped at about step "
    "260 and continued with --resume from its step-200 checkpoint (the same command plus "
    "--resume); /work/runs/cmu_poses.npz = `jaxrefine mocap ../shared/mocap --out "
    "cmu_poses.npz`; --init-from is the lgd_dense.npz shipped before (its record in "
    "init_from.meta); --start-scale 0.1 1.0 moves each training start part of the way to the "
    "truth (jaxrefine.train.lgd.scale_start), for starts as near as the photo initializer's"
)
meta["validation_history"] = {
    r["step"]: round(float(r["val_pve_final"]), 2)
    for r in csv.DictReader((run / "log.csv").open())
    if r.get("val_pve_final")
}
meta["val_note"] = (
    "validation_history: PVE (mm, root-aligned, every 8th vertex) after the 10 learned steps on "
    "32 synthetic frames of validation subjects 09/16 (fixed seed 12345), medium initial "
    "estimates moved towards the truth by s ~ U(0.1, 1) (the run's --start-scale), then "
    "SMPLify's Adam camera stage"
)
meta["body_model"] = "jaxrefine-open-anny-v1 (load_body_model() default; the oracle default)"
shutil.copy(run / "lgd_dense.npz", assets / "lgd_dense.npz")
(assets / "lgd_dense.json").write_text(json.dumps(info, indent=2))
print("wrote", assets / "lgd_dense.json")
