"""Session 24's rule (decision_rules_s24.md) on two eval-real JSONs: the photo without and
with the other people hidden. Usage: python compare_hide.py BASE.json HIDE.json"""

import json
import sys

import numpy as np

ROWS = ("initial", "sparse_landmarks", "learned_dense", "learned_dense_landmarks")


def people(path):
    """{row: (pck list, iou list)} over the people of the multi-person photos; COCO apart."""
    out = {r: ([], []) for r in ROWS}
    coco = {}
    for res in json.load(open(path))["results"]:
        if res["ground_truth"] == "coco_ground_truth":
            coco = {r: (v["pck@0.05"], v["silhouette_iou"]) for r, v in res["rows"].items()}
            continue
        for r in ROWS:
            for p in res["per_person"][r]:
                out[r][0].append(p["pck@0.05"])
                out[r][1].append(p["silhouette_iou"])
    return out, coco


base, coco_b = people(sys.argv[1])
hide, coco_h = people(sys.argv[2])
n = len(base["initial"][0])
print(f"means over the {n} people of the multi-person photos, PCK@0.05 / IoU (without -> with)")
for r in ROWS:
    (pb, ib), (ph, ih) = base[r], hide[r]
    before = f"{np.mean(pb):.3f} / {np.mean(ib):.3f}"
    after = f"{np.mean(ph):.3f} / {np.mean(ih):.3f}"
    print(f"  {r:24s} {before} -> {after}")
print("per person, learned_dense_landmarks PCK@0.05 / IoU (without -> with):")
for k in range(n):
    (pb, ib), (ph, ih) = base["learned_dense_landmarks"], hide["learned_dense_landmarks"]
    print(f"  {k:2d}: {pb[k]:.3f} / {ib[k]:.3f} -> {ph[k]:.3f} / {ih[k]:.3f}")
d = {r: (np.mean(hide[r][0]) - np.mean(base[r][0]), np.mean(hide[r][1]) - np.mean(base[r][1]))
     for r in ("learned_dense", "learned_dense_landmarks")}  # fmt: skip
rule1 = all(v[0] >= 0 for v in d.values()) and any(v[0] >= 0.01 for v in d.values())
rule2 = all(v[1] >= -0.005 for v in d.values())
rule3 = coco_b == coco_h
print(f"rule 1 (PCK@0.05 means not lower, one up >= 0.01): {rule1}  {d}")
print(f"rule 2 (IoU means not lower by > 0.005): {rule2}")
print(f"rule 3 (COCO photo unchanged): {rule3}  {coco_b} vs {coco_h}")
print("default:", rule1 and rule2 and rule3)
