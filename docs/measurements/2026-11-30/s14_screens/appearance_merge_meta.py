"""Build the shipped network's JSON for session 14's two fine-tuning stages with the real-appearance
augmentations: stage 2's export plus stage 1's record and the lineage of the checkpoint stage 1
started from (the network shipped since session 10, 7,100 steps).
python appearance_merge_meta.py STAGE2.json STAGE1.json SHIPPED_OLD.json LOG1.csv LOG2.csv OUT.json"""
import csv, json, sys

s2_path, s1_path, old_path, log1, log2, out_path = sys.argv[1:7]
s2, s1, old = (json.load(open(p)) for p in (s2_path, s1_path, old_path))
m, m1, o = s2["meta"], s1["meta"], old["meta"]


def hist(path):
    rows = list(csv.DictReader(open(path)))
    val = {r["step"]: round(float(r["val_epe"]) / float(r["val_zero_epe"]), 4)
           for r in rows if r.get("val_epe")}
    return val, float(rows[-1]["wall_s"])


h1, w1 = hist(log1)
h2, w2 = hist(log2)
suffix = ("  (one uninterrupted run, 2026-11-30, session 14; --poses from `jaxrefine mocap "
          "../shared/mocap --out cmu_poses.npz`)")
m["command"] += suffix + ". It fine-tunes stage 1 (init_from.command), which fine-tuned the "\
    "network shipped before (step 7,100, init_from.init_from)."
m["init_from"] = {
    "path": "runs/ft_app (stage 1's run folder)", "step": o["step"] + m1["step"],
    "command": m1["command"] + suffix + ". It fine-tunes the previously shipped checkpoint.",
    "val_epe": m1["val_epe"], "val_zero_epe": m1["val_zero_epe"],
    "init_from": {"path": "shipped", "step": o["step"], "command": o["command"],
                  "init_from": o["init_from"]},
}
m["step"] = m["steps"] = o["step"] + m1["step"] + int(m["val_step"])
m["steps_note"] = (o["steps_note"] + "; then session 14's real-appearance fine-tuning: 1500 steps "
                   "(stage 1: cosine from 2e-4, seed 6) + 2000 steps (stage 2: cosine from 1e-4, "
                   "seed 7), fresh Adam each, with --clothing 0.5 --occluders 0.3 "
                   "(jaxrefine/data/appearance.py)")
m["val_step_note"] = "val_step counts stage 2's steps (2000 = 10600 in all)"
m["val_note"] = o["val_note"]
for k in ("validation_history", "validation_history_note", "validation_history_fine_tune",
          "validation_history_fine_tune_note", "validation_history_fine_tune_2",
          "validation_history_fine_tune_2_note"):
    m[k] = o[k]
m["validation_history_appearance_1"] = h1
m["validation_history_appearance_2"] = h2
m["validation_history_appearance_note"] = ("validation EPE / zero-field EPE of session 14's two "
    "stages (same 64 validation pairs: val_zero_epe identical)")
m["wall_s"] = round(o["wall_s"] + w1 + w2, 3)
m["wall_s_note"] = (o["wall_s_note"] + f"; plus session 14's stages ({w1:.0f} s and {w2:.0f} s, "
                    "log.csv), each alone on the machine apart from a 15 s unit-test run and linting")
m["machine"] = ("machine: AMD EPYC (family 25 model 17, AVX512F, 2 cores), jax 0.10.2 on cpu "
                "(report.machine_line of the same session); the exported dict: "
                + json.dumps(m["machine"]) + "; earlier runs: " + str(o["machine"]))
json.dump(s2, open(out_path, "w"), indent=1)
print(json.dumps({k: m[k] for k in ("step", "val_epe", "val_zero_epe", "wall_s",
                                    "validation_history_appearance_2")}))
