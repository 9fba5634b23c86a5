"""Session 25's rule (../../2026-12-02/s25_zen3/decision_rules_s25.md) on two eval-real
JSONs: the defaults and a variant (``--confidence``, or ``--rerun-every 10 --confidence``).
Usage: python compare_confidence.py BASE.json VARIANT.json"""

import json
import sys

import numpy as np

ROWS = ("initial", "sparse_landmarks", "learned_dense", "learned_dense_landmarks")
LEARNED = ("learned_dense", "learned_dense_landmarks")


def read(path):
    """({row: (pck list, iou list)} over the people of the multi-person photos,
    {photo name: {row: (pck, iou)}} of the one-person photos)."""
    many, single = {r: ([], []) for r in ROWS}, {}
    for res in json.load(open(path))["results"]:
        name = res["photo"].rsplit("/", 1)[-1]
        if res["people"] == 1:
            single[name] = {r: (v["pck@0.05"], v["silhouette_iou"]) for r, v in res["rows"].items()}
            continue
        for r in ROWS:
            for p in res["per_person"][r]:
                many[r][0].append(p["pck@0.05"])
                many[r][1].append(p["silhouette_iou"])
    return many, single


base, single_b = read(sys.argv[1])
var, single_v = read(sys.argv[2])
n = len(base["initial"][0])
print(f"means over the {n} people of the multi-person photos, PCK@0.05 / IoU (base -> variant)")
for r in ROWS:
    (pb, ib), (pv, iv) = base[r], var[r]
    means = f"{np.mean(pb):.3f} / {np.mean(ib):.3f} -> {np.mean(pv):.3f} / {np.mean(iv):.3f}"
    print(f"  {r:24s} {means}")
for r in LEARNED:
    print(f"per person, {r} PCK@0.05 / IoU (base -> variant):")
    for k in range(n):
        (pb, ib), (pv, iv) = base[r], var[r]
        print(f"  {k:2d}: {pb[k]:.3f} / {ib[k]:.3f} -> {pv[k]:.3f} / {iv[k]:.3f}")
print("one-person photos, PCK@0.05 / IoU (base -> variant):")
for name in single_b:
    for r in LEARNED:
        (pb, ib), (pv, iv) = single_b[name][r], single_v[name][r]
        print(f"  {name:24s} {r:24s} {pb:.3f} / {ib:.3f} -> {pv:.3f} / {iv:.3f}")
d = {r: (np.mean(var[r][0]) - np.mean(base[r][0]), np.mean(var[r][1]) - np.mean(base[r][1]))
     for r in LEARNED}  # fmt: skip
rule1 = all(v[0] >= 0 for v in d.values()) and any(v[0] >= 0.01 for v in d.values())
rule2 = all(v[1] >= -0.005 for v in d.values())
coco, astro = "coco_000000000785.jpg", "astronaut.png"
rule3 = all(
    single_v[coco][r][0] == 1.0 and single_v[coco][r][1] >= single_b[coco][r][1] - 0.005
    and single_v[astro][r][0] >= single_b[astro][r][0]
    and single_v[astro][r][1] >= single_b[astro][r][1] - 0.005
    for r in LEARNED
)  # fmt: skip
print(f"rule 1 (PCK@0.05 means not lower, one up >= 0.01): {rule1}  "
      f"{ {r: tuple(round(float(x), 4) for x in v) for r, v in d.items()} }")  # fmt: skip
print(f"rule 2 (IoU means not lower by > 0.005): {rule2}")
print(f"rule 3 (COCO PCK@0.05 1.000, IoU -0.005 at most; astronaut PCK not lower, IoU "
      f"-0.005 at most): {rule3}")  # fmt: skip
print("passes:", rule1 and rule2 and rule3)
