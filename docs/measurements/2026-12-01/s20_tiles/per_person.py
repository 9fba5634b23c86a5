"""Per-person PCK@0.05 / IoU of two eval-real JSON files, people matched by their mask box
(IoU > 0.5), and the means over the people both runs have.

Usage: per_person.py BASE.json NEW.json
"""

import json
import sys
from pathlib import Path

import numpy as np

ROWS = ("initial", "sparse_landmarks", "learned_dense", "learned_dense_landmarks")


def box_iou(a, b):
    a, b = np.asarray(a), np.asarray(b)
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    area = lambda x: np.prod(x[2:] - x[:2])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def main(base_path, new_path):
    base = {Path(r["photo"]).name: r for r in json.load(open(base_path))["results"]}
    new = {Path(r["photo"]).name: r for r in json.load(open(new_path))["results"]}
    common = {row: [] for row in ROWS}
    for name, rn in new.items():
        rb = base[name]
        print(f"{name}: {len(rb['boxes'])} people before, {len(rn['boxes'])} now")
        for j, box in enumerate(rn["boxes"]):
            ious = [box_iou(box, b) for b in rb["boxes"]]
            i = int(np.argmax(ious)) if ious and max(ious) > 0.5 else None
            cells = []
            for row in ROWS:
                s = rn["per_person"][row][j]
                cell = f"{s['pck@0.05']:.3f} / {s['silhouette_iou']:.3f}"
                if i is not None:
                    sb = rb["per_person"][row][i]
                    cell = f"{sb['pck@0.05']:.3f} / {sb['silhouette_iou']:.3f} -> " + cell
                    common[row].append((sb, s))
                cells.append(f"{row} {cell}")
            tag = f"= before #{i}" if i is not None else "new"
            print(f"  person {j} box {[round(v) for v in box]} ({tag}): " + "; ".join(cells))
    print("means over the people both runs have (before -> now):")
    for row, pairs in common.items():
        if not pairs:
            continue
        m = lambda k, w: np.mean([p[w][k] for p in pairs])  # noqa: E731
        print(f"  {row}: PCK@0.05 {m('pck@0.05', 0):.3f} -> {m('pck@0.05', 1):.3f}, "
              f"IoU {m('silhouette_iou', 0):.3f} -> {m('silhouette_iou', 1):.3f} "
              f"({len(pairs)} people)")  # fmt: skip


if __name__ == "__main__":
    main(*sys.argv[1:3])
