"""Build the shipped dense LGD's JSON after session 13's fine-tuning runs: the last exported
run's metadata plus the whole lineage of the checkpoint shipped before (session 12's JSON:
its original run and fine-tuning runs) and this session's runs appended.

usage: python lgd_merge_meta.py OUT.json SHIPPED_BEFORE.json RUN_DIR [RUN_DIR ...]
RUN_DIRs in training order; each holds the export lgd_KIND.json and log.csv.
"""
import csv
import json
import sys
from pathlib import Path

out_path, old_path, runs = sys.argv[1], sys.argv[2], [Path(p) for p in sys.argv[3:]]
old = json.load(open(old_path))
o = old["meta"]
chain = list(o["fine_tune_runs"])
hist = dict(o["validation_history_fine_tune"])
hist_pve = {}
wall = float(o["wall_s"])
for run in runs:
    exported = json.load(open(next(run.glob("lgd_*.json"))))
    m = exported["meta"]
    rows = list(csv.DictReader(open(run / "log.csv")))
    hist[run.name] = {r["step"]: round(float(r["val_joint_mm_final"]), 2)
                      for r in rows if r.get("val_joint_mm_final")}
    hist_pve[run.name] = {r["step"]: round(float(r["val_pve_final"]), 2)
                          for r in rows if r.get("val_pve_final")}
    wall += float(rows[-1]["wall_s"])
    chain.append({"command": m["command"], "steps": m["steps"], "seed": m["seed"],
                  "init_from": m["init_from"]["path"], "final": m["final"], "session": 13})
new = exported
m = new["meta"]
m["command"] = (o["command"] + " ; then (session 13) " + " ; then ".join(
    c["command"] for c in chain[len(o["fine_tune_runs"]):]) +
    "  (session 13, 2026-11-30: each run uninterrupted at nice 19 beside tests and "
    "evaluations, each from the previous one's export, the first from session 12's shipped "
    "lgd_dense)")
m["fine_tune_runs"] = chain
m["init_from"] = o["init_from"]
m["steps"] = o["steps"] + sum(int(c["steps"]) for c in chain[len(o["fine_tune_runs"]):])
m["steps_note"] = (o["steps_note"] + "; then (session 13) "
                   + " + ".join(f"{c['steps']} (seed {c['seed']})"
                                for c in chain[len(o["fine_tune_runs"]):])
                   + " with the root-aligned vertex loss (--point-loss root_vertices)")
m["wall_s"] = round(wall, 3)
m["wall_s_note"] = o["wall_s_note"]
m["val_note"] = (o["val_note"] + ". val_pve_final (session 13's runs): the root-aligned "
                 "error of every 8th vertex after the last learned step, mm")
m["validation_history_fine_tune"] = hist
m["validation_pve_history_fine_tune"] = hist_pve
m["body_model"] = o.get("body_model", "jaxrefine-open-anny-v1")
json.dump(new, open(out_path, "w"), indent=1)
print(json.dumps({k: m[k] for k in ("steps", "steps_note", "validation_pve_history_fine_tune")}))
