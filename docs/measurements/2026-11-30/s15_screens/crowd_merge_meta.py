"""Build the shipped network's JSON for session 15's fine-tuning with other people on the
training images: the run's export plus the lineage of the checkpoint it started from (the
network shipped in session 14, 10,600 steps).
python crowd_merge_meta.py EXPORT.json SHIPPED_OLD.json LOG.csv OUT.json"""
import csv, json, sys

new_path, old_path, log, out_path = sys.argv[1:5]
new, old = (json.load(open(p)) for p in (new_path, old_path))
m, o = new["meta"], old["meta"]
rows = list(csv.DictReader(open(log)))
hist = {r["step"]: round(float(r["val_epe"]) / float(r["val_zero_epe"]), 4)
        for r in rows if r.get("val_epe")}
wall = float(rows[-1]["wall_s"])
m["command"] = ("python scripts/train.py --platform cpu --config small --confidence --init-from "
                "shipped --steps 2000 --lr 1.5e-4 --warmup 50 --seed 8 --batch 8 --out "
                "runs/ft_crowd --poses cmu_poses.npz --val-every 250 --val-frames 64 "
                "--ckpt-every 250 --workers 1 --clothing 0.5 --occluders 0.3 --distractors 0.4"
                "  (one uninterrupted run, 2026-11-30, session 15; --poses from `jaxrefine mocap "
                "../shared/mocap --out cmu_poses.npz`). It fine-tunes the network shipped in "
                "session 14 (step 10,600, init_from).")
m["init_from"] = {"path": "shipped (session 14)", "step": o["step"], "command": o["command"],
                  "val_epe": o["val_epe"], "val_zero_epe": o["val_zero_epe"],
                  "init_from": o["init_from"]}
m["step"] = m["steps"] = o["step"] + int(m["val_step"])
m["steps_note"] = (o["steps_note"] + "; then session 15's fine-tuning with other people on the "
                   "training images: 2000 steps (cosine from 1.5e-4, seed 8, fresh Adam) with "
                   "--clothing 0.5 --occluders 0.3 --distractors 0.4")
m["val_step_note"] = "val_step counts session 15's steps (2000 = 12600 in all)"
m["val_note"] = o["val_note"]
for k in o:
    if k.startswith("validation_history"):
        m[k] = o[k]
m["validation_history_crowd"] = hist
m["validation_history_crowd_note"] = ("validation EPE / zero-field EPE of session 15's run "
                                      "(same 64 validation pairs: val_zero_epe identical)")
m["wall_s"] = round(o["wall_s"] + wall, 3)
m["wall_s_note"] = (o["wall_s_note"] + f"; plus session 15's run ({wall:.0f} s, log.csv), alone "
                    "on the machine apart from short unit tests, four one-line CLI error checks "
                    "and linting (under a minute in all)")
m["machine"] = ("machine: AMD EPYC (family 25 model 17, AVX512F, 2 cores), jax 0.10.2 on cpu; the "
                "exported dict: " + json.dumps(m["machine"]) + "; earlier runs: " + str(o["machine"]))
json.dump(new, open(out_path, "w"), indent=1)
print(json.dumps({k: m[k] for k in ("step", "val_epe", "val_zero_epe", "wall_s",
                                    "validation_history_crowd")}))
