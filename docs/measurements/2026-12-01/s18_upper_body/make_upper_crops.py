"""Upper-body photos with real ground truth: crops of COCO image 785 (the skier) cut below the
hips and below the wrists, with the COCO annotation moved into each crop (keypoints outside it
invisible, box clipped; the polygon shifted, its part below the cut falls outside the image).

    .venv/bin/python docs/measurements/2026-12-01/s18_upper_body/make_upper_crops.py \
        ../shared/real_images OUT_DIR

Writes OUT_DIR/coco785_hips.{jpg,json} and coco785_chest.{jpg,json} (derivatives of a CC BY 2.0
photo: not committed; see ../shared/real_images/NOTICE.md for its attribution).
"""

import json
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np

X0, X1 = 230, 550  # the crop's columns (the person's box is 281-500)
CUTS = {"hips": 240, "chest": 185}  # last row + 1: below the hips (203-214), below the wrists


def crop(src: Path, out: Path, name: str, y1: int) -> None:
    img = iio.imread(src / "coco_000000000785.jpg")
    doc = json.loads((src / "coco_000000000785.json").read_text())
    iio.imwrite(out / f"coco785_{name}.jpg", img[:y1, X0:X1], quality=95)
    ann = doc["annotations"][0]
    kp = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
    kp[:, 0] -= X0
    kp[kp[:, 1] >= y1, 2] = 0  # below the cut: not in the photo
    x, y, w, h = ann["bbox"]
    bx0, by0 = max(x - X0, 0.0), max(y, 0.0)
    bx1, by1 = min(x + w - X0, X1 - X0), min(y + h, y1)
    ann.update(
        keypoints=kp.ravel().tolist(),
        num_keypoints=int((kp[:, 2] > 0).sum()),
        bbox=[bx0, by0, bx1 - bx0, by1 - by0],
        segmentation=[(np.asarray(p).reshape(-1, 2) - [X0, 0]).ravel().tolist()
                      for p in ann["segmentation"]],  # fmt: skip
    )
    doc["images"][0].update(file_name=f"coco785_{name}.jpg", height=y1, width=X1 - X0)
    doc["info"]["description"] += f" Cropped to rows 0-{y1}, columns {X0}-{X1} (session 18)."
    (out / f"coco785_{name}.json").write_text(json.dumps(doc))


if __name__ == "__main__":
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for name, y1 in CUTS.items():
        crop(src, out, name, y1)
