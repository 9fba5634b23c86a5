"""Build the shipped network's JSON for the second fine-tuning (session 10): the exported run's
metadata plus the lineage and histories of the checkpoint it started from."""
import csv, json, sys
new_path, old_path, log_path, out_path = sys.argv[1:5]
new = json.load(open(new_path)); old = json.load(open(old_path))
m, o = new["meta"], old["meta"]
rows = [r for r in csv.DictReader(open(log_path)) if r.get("val_epe")]
hist = {r["step"]: round(float(r["val_epe"]) / float(r["val_zero_epe"]), 4) for r in rows}
wall_new = float(list(csv.DictReader(open(log_path)))[-1]["wall_s"])
m["command"] = m["command"] + (
    "  (one uninterrupted run, 2026-11-30, session 10; --poses from `jaxrefine mocap "
    "../shared/mocap --out cmu_poses.npz`). It fine-tunes the previously shipped checkpoint "
    "(step 5,100), whose own commands are in init_from.command.")
m["init_from"] = {"path": "shipped", "step": o["step"], "command": o["command"],
                  "init_from": o["init_from"]}
m["step"] = m["steps"] = o["step"] + int(m["val_step"])
m["steps_note"] = ("3500 steps of the original run + 1600 steps of the first fine-tuning + "
                   "2000 steps of the second (fresh Adam, cosine from 2e-4, warmup 50, seed 2: "
                   "a new training bank)")
m["val_step_note"] = "val_step counts the second fine-tuning run's steps (2000 = 7100 in all)"
m["val_note"] = o["val_note"]
m["validation_history"] = o["validation_history"]
m["validation_history_note"] = o["validation_history_note"]
m["validation_history_fine_tune"] = o["validation_history_fine_tune"]
m["validation_history_fine_tune_note"] = o["validation_history_fine_tune_note"]
m["validation_history_fine_tune_2"] = hist
m["validation_history_fine_tune_2_note"] = ("validation EPE / zero-field EPE of the second "
    "fine-tuning run (same 64 validation pairs: val_zero_epe identical)")
m["wall_s"] = round(o["wall_s"] + wall_new, 3)
m["wall_s_note"] = (o["wall_s_note"] + "; plus the second fine-tuning run's wall clock "
                    f"({wall_new:.0f} s, log.csv), which shared the CPU with short benchmarks "
                    "and was paused for some of them")
m["machine"] = ("machine: AMD EPYC (family 25 model 17, AVX512F, 2 cores), jax 0.10.2 on cpu "
                "(report.machine_line of the same session); the exported dict: "
                + json.dumps(m["machine"]) + "; earlier runs: " + str(o["machine"]))
json.dump(new, open(out_path, "w"), indent=1)
print(json.dumps({k: m[k] for k in ("step", "val_epe", "val_zero_epe", "validation_history_fine_tune_2")}))
