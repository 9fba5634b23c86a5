"""Build a shipped LGD's JSON after fine-tuning runs (session 12): the last exported run's
metadata plus the lineage, notes and validation histories of every checkpoint before it.

usage: python lgd_merge_meta.py OUT.json OLD_SHIPPED.json RUN_DIR [RUN_DIR ...]
RUN_DIRs in training order; each holds the export lgd_KIND.json and log.csv.
"""
import csv
import json
import sys
from pathlib import Path

out_path, old_path, runs = sys.argv[1], sys.argv[2], [Path(p) for p in sys.argv[3:]]
old = json.load(open(old_path))
o = old["meta"]
chain, hist, wall = [], {}, float(o["wall_s"])
for run in runs:
    exported = json.load(open(next(run.glob("lgd_*.json"))))
    m = exported["meta"]
    rows = list(csv.DictReader(open(run / "log.csv")))
    hist[str(run.name)] = {r["step"]: round(float(r["val_joint_mm_final"]), 2)
                           for r in rows if r.get("val_joint_mm_final")}
    wall += float(rows[-1]["wall_s"])
    chain.append({"command": m["command"], "steps": m["steps"], "seed": m["seed"],
                  "init_from": m["init_from"]["path"], "final": m["final"]})
new = exported
m = new["meta"]
m["command"] = (" ; then ".join(c["command"] for c in chain) +
                "  (2026-11-30, session 12, each run uninterrupted at nice 19 beside tests and "
                "evaluations; /work/runs/cmu_poses.npz = `jaxrefine mocap ../shared/mocap --out "
                "cmu_poses.npz`; each run starts from the previous one's export, the first from "
                "the checkpoint shipped before, whose commands are in init_from.command)")
m["fine_tune_runs"] = chain
m["init_from"] = {"path": "shipped before session 12", "steps": o["steps"],
                  "command": o["command"], "validation_history": o.get("validation_history")}
m["steps"] = o["steps"] + sum(int(c["steps"]) for c in chain)
m["steps_note"] = (f"{o['steps']} steps of the original run + "
                   + " + ".join(f"{c['steps']} (seed {c['seed']})" for c in chain)
                   + " of fine-tuning (fresh Adam each, cosine from 3e-4, warmup 50)")
m["wall_s"] = round(wall, 3)
m["wall_s_note"] = "the original run's wall_s plus each fine-tuning run's log.csv wall clock"
m["val_note"] = ("32 synthetic frames of validation subjects 09/16 (fixed seed 12345), medium "
                 "initial estimates of jaxrefine.data.perturb; with camera_stage (the last "
                 "runs) the start is after SMPLify's Adam camera stage on the frame's "
                 "observations, as `--optimizer lgd` starts at test time, so these figures are "
                 "not comparable to the original run's (raw starts)")
m["validation_history_fine_tune"] = hist
m["body_model"] = o.get("body_model", "jaxrefine-open-anny-v1")
json.dump(new, open(out_path, "w"), indent=1)
print(json.dumps({k: m[k] for k in ("steps", "steps_note", "validation_history_fine_tune")}))
