"""Session 24: people found per detector score threshold (photos' default tiles), with pictures.

Usage: score_screen.py OUT_DIR PHOTO... ; writes OUT_DIR/<photo>_s<threshold>.png (landmarks and
person boxes, one colour per person, as session 20's tile screen draws them) and prints one line
per photo and threshold.
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
from jaxrefine.photo import PHOTO_TILES  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[2] / "2026-12-01" / "s20_tiles"))
from tile_screen import picture  # noqa: E402

THRESHOLDS = (0.5, 0.4, 0.3)


def main(out_dir, photos):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runner = BlazePose()
    for photo in photos:
        img = read_image(photo)
        for s in THRESHOLDS:
            t = time.perf_counter()
            try:
                people = detect_people(img, runner=runner, tiles=PHOTO_TILES, max_people=20,
                                       min_score=s)  # fmt: skip
            except NoPersonError:
                people = []
            sec = time.perf_counter() - t
            iio.imwrite(out / f"{Path(photo).stem}_s{s:g}.png", picture(img, people))
            boxes = [np.round(p.box).astype(int).tolist() for p in people]
            print(f"{Path(photo).name} min_score {s:g}: {len(people)} people, {sec:.1f} s, "
                  f"boxes {boxes}, scores {[round(p.score, 2) for p in people]}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
