"""Session 27: two people crossing, IoU-only linking (session 26, commit 9127619) against the
constant-velocity prediction (jaxrefine.detect.track now). 100 sequences: speeds 4-16 px per
frame, 16 frames, boxes 50 x 100 px coinciding at frame 8, 2 px of box jitter, detector order
shuffled per frame. Run from the repository root:
python docs/measurements/2026-12-03/s27_zen5/track_crossing.py"""

import importlib.util
import subprocess
import tempfile

import numpy as np

from jaxrefine.detect import track as new

src = subprocess.run(
    ["git", "show", "9127619:jaxrefine/detect/track.py"], capture_output=True, text=True, check=True
).stdout
with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
    f.write(src)
spec = importlib.util.spec_from_file_location("track_old", f.name)
old = importlib.util.module_from_spec(spec)
spec.loader.exec_module(old)

for name, m in (("IoU only (9127619)", old), ("constant velocity", new)):
    rng = np.random.default_rng(0)
    lost = crossing_only = n = 0
    for speed in (4, 6, 8, 12, 16):
        for _ in range(20):
            frames, person0 = [], []
            for fr in range(16):
                a = np.array([speed * fr, 0, speed * fr + 50, 100.0])
                b = np.array([speed * (16 - fr), 5, speed * (16 - fr) + 50, 105.0])
                order = rng.permutation(2)
                frames.append(np.stack([a, b])[order] + rng.normal(0, 2, (2, 4)))
                person0.append(int(np.flatnonzero(order == 0)[0]))
            ids = [int(i[k]) for i, k in zip(m.link_tracks(frames), person0)]
            n += 1
            lost += ids[0] != ids[-1]
            crossing_only += ids[0] == ids[-1] and len(set(ids)) > 1
    print(
        f"{name:20s}: {n} sequences, identity lost after the crossing in {lost}, "
        f"only the coinciding frame given to the other track in {crossing_only}"
    )
