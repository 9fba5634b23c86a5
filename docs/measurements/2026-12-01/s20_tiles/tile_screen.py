"""Session 20: people found per detector tile setting (coarse-first merging), with pictures.

Usage: tile_screen.py OUT_DIR PHOTO... ; writes OUT_DIR/<photo>_<tiles>.png (landmarks and
person boxes, one colour per person) and prints one line per photo and setting.
"""

import sys
import time
from pathlib import Path

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)

import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402

from jaxrefine.detect.blazepose import (  # noqa: E402
    BlazePose,
    NoPersonError,
    detect_people,
    read_image,
)

SETTINGS = [(1.0,), (1.0, 0.6), (1.0, 0.6, 0.4), (1.0, 0.6, 0.4, 0.3)]
COLOURS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1],
                    [1, 0.5, 0], [0.5, 0, 1], [1, 1, 1], [0, 0, 0]], float)  # fmt: skip


def picture(img, people):
    out = img.astype(float) / 255
    h, w = out.shape[:2]
    for k, p in enumerate(people):
        c = COLOURS[k % len(COLOURS)]
        for x, y in p.landmarks2d[:, :2].astype(int):
            if 0 <= x < w - 4 and 0 <= y < h - 4:
                out[y : y + 5, x : x + 5] = c
        x0, y0, x1, y1 = np.clip(p.box.astype(int), 0, [w - 1, h - 1, w - 1, h - 1])
        out[y0:y1, [x0, x1]] = c
        out[[y0, y1], x0:x1] = c
    return (out * 255).astype(np.uint8)


def main(out_dir, photos):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runner = BlazePose()
    for photo in photos:
        img = read_image(photo)
        for tiles in SETTINGS:
            t = time.perf_counter()
            try:
                people = detect_people(img, runner=runner, tiles=tiles, max_people=20)
            except NoPersonError:
                people = []
            sec = time.perf_counter() - t
            tag = "_".join(f"{f:g}" for f in tiles)
            iio.imwrite(out / f"{Path(photo).stem}_{tag}.png", picture(img, people))
            boxes = [np.round(p.box).astype(int).tolist() for p in people]
            print(f"{Path(photo).name} tiles {tag}: {len(people)} people, {sec:.1f} s, boxes "
                  f"{boxes}, scores {[round(p.score, 2) for p in people]}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
