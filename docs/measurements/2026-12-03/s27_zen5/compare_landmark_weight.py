"""Session 27's rule (decision_rules_s27.md) on eval-real JSONs of --keypoint-weight 1 and
others. Usage: python compare_landmark_weight.py BASE.json VARIANT.json [VARIANT.json ...]"""

import json
import sys

import numpy as np

ROWS = ("initial", "sparse_landmarks", "learned_dense", "learned_dense_landmarks")
ROW = "learned_dense_landmarks"


def read(path):
    """({row: (pck list, iou list)} over the people of the multi-person photos,
    {photo name: {row: (pck, iou)}} of the one-person photos), the weight."""
    doc = json.load(open(path))
    many, single = {r: ([], []) for r in ROWS}, {}
    for res in doc["results"]:
        name = res["photo"].rsplit("/", 1)[-1]
        if res["people"] == 1:
            single[name] = {r: (v["pck@0.05"], v["silhouette_iou"]) for r, v in res["rows"].items()}
            continue
        for r in ROWS:
            for p in res["per_person"][r]:
                many[r][0].append(p["pck@0.05"])
                many[r][1].append(p["silhouette_iou"])
    return many, single, doc["keypoint_weight"]


base, single_b, w0 = read(sys.argv[1])
n = len(base["initial"][0])
passing = []
for path in sys.argv[2:]:
    var, single_v, w = read(path)
    print(f"--keypoint-weight {w0:g} -> {w:g}")
    print(f"means over the {n} people of the multi-person photos, PCK@0.05 / IoU")
    for r in ROWS:
        (pb, ib), (pv, iv) = base[r], var[r]
        means = f"{np.mean(pb):.3f} / {np.mean(ib):.3f} -> {np.mean(pv):.3f} / {np.mean(iv):.3f}"
        print(f"  {r:24s} {means}")
    print(f"per person, {ROW} PCK@0.05 / IoU:")
    for k in range(n):
        b = f"{base[ROW][0][k]:.3f} / {base[ROW][1][k]:.3f}"
        v = f"{var[ROW][0][k]:.3f} / {var[ROW][1][k]:.3f}"
        print(f"  {k:2d}: {b} -> {v}")
    print("one-person photos, PCK@0.05 / IoU:")
    for name in single_b:
        for r in ("learned_dense", ROW):
            b, v = single_b[name][r], single_v[name][r]
            print(f"  {name:24s} {r:24s} {b[0]:.3f} / {b[1]:.3f} -> {v[0]:.3f} / {v[1]:.3f}")
    d_pck = np.mean(var[ROW][0]) - np.mean(base[ROW][0])
    d_iou = np.mean(var[ROW][1]) - np.mean(base[ROW][1])
    rule1 = d_pck >= 0.01
    rule2 = d_iou >= -0.002
    coco, astro = "coco_000000000785.jpg", "astronaut.png"
    cb, cv = single_b[coco][ROW], single_v[coco][ROW]
    ab, av = single_b[astro][ROW], single_v[astro][ROW]
    rule3 = cv[0] == 1.0 and cv[1] >= cb[1] - 0.005 and av[0] >= ab[0] and av[1] >= ab[1] - 0.005
    print(f"rule 1 (PCK@0.05 mean +0.01): {rule1} ({d_pck:+.4f})")
    print(f"rule 2 (IoU mean not lower by > 0.002): {rule2} ({d_iou:+.4f})")
    print(
        f"rule 3 (COCO PCK 1.000, IoU -0.005 at most; astronaut PCK not lower, IoU -0.005 "
        f"at most): {rule3}"
    )
    ok = rule1 and rule2 and rule3
    print(f"passes: {ok}\n")
    if ok:
        passing.append((np.mean(var[ROW][1]), -w, w))
print("chosen:", max(passing)[2] if passing else f"none (the default stays {w0:g})")
