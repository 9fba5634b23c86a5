"""Session 31: session 28's track_appearance.py (the same scenarios and seeds), the shipped
tracker (rule 1: motion + colour, frame by frame) against rule 5 (the same plus the crossings
re-decided by the colours seen clear of them) and rule 6 (rule 5 plus the frames inside each
crossing), decision_rules_s31_tracking.md. (Rule 6's column was added after rule 5's run;
rule 5's is link_tracks(..., inside=False).)

Session 28's description:

Two simulated people per sequence, 16 frames, boxes 50 x 100 px with 2 px of jitter, the
detector's order shuffled per frame (as session 27's track_crossing.py), speeds 4-16 px per
frame, 20 sequences per speed. Scenarios: "walk" (they cross, coinciding at frame 8), "stop"
(just after crossing they stand still for frames 7-10, then walk on; their boxes are then
5 x speed px apart: overlapping at speeds 4-8, apart at 12-16 -- corrected description, the
code is as run), "turn" (they meet at frame 8 and walk back). Colours: each person a 64-bin
histogram drawn once (Dirichlet), per frame mixed with 15 % noise, and with the other
person's in proportion to half their boxes' overlap (an occluded person's pixels show the
other); "same colours": both draw one histogram.
Run from the repository root, with rule6.diff applied to jaxrefine/detect/track.py (rule 6 was
not kept): python docs/measurements/2026-12-03/s31_zen5/track_crossings_rule6.py
"""

import numpy as np

from jaxrefine.detect.blazepose import box_iou
from jaxrefine.detect.track import BINS, link_tracks

D = BINS**3


def positions(scenario: str, speed: float) -> tuple[np.ndarray, np.ndarray]:
    """(16,) x of person a and person b per frame."""
    t = np.arange(16, dtype=float)
    if scenario == "walk":
        return speed * t, speed * (16 - t)
    if scenario == "stop":  # frozen at frame 7's positions for frames 7-10, then on
        s = np.where(t < 7, t, np.where(t <= 10, 7, t - 3))
        return speed * s + 3.5 * speed, speed * (16 - s) - 3.5 * speed
    # turn: meet at frame 8 and go back
    s = np.where(t <= 8, t, 16 - t)
    return speed * s, speed * (16 - s)


def run(scenario: str, same_colours: bool, use_colour: bool, resolve: bool,
        inside: bool = False) -> tuple[int, int]:
    rng = np.random.default_rng(0)
    lost = swaps = 0
    for speed in (4, 6, 8, 12, 16):
        for _ in range(20):
            xa, xb = positions(scenario, speed)
            ca = rng.dirichlet(np.full(D, 0.3))
            cb = ca if same_colours else rng.dirichlet(np.full(D, 0.3))
            frames, feats, person0 = [], [], []
            for f in range(16):
                a = np.array([xa[f], 0, xa[f] + 50, 100.0])
                b = np.array([xb[f], 5, xb[f] + 50, 105.0])
                o = float(box_iou(a, b[None])[0]) / 2
                ha = (1 - o) * ca + o * cb
                hb = (1 - o) * cb + o * ca
                ha = 0.85 * ha + 0.15 * rng.dirichlet(np.ones(D))
                hb = 0.85 * hb + 0.15 * rng.dirichlet(np.ones(D))
                order = rng.permutation(2)
                frames.append(np.stack([a, b])[order] + rng.normal(0, 2, (2, 4)))
                feats.append(np.stack([ha, hb])[order])
                person0.append(int(np.flatnonzero(order == 0)[0]))
            ids = link_tracks(frames, features=feats if use_colour else None, resolve=resolve,
                              inside=inside)
            ids = [int(i[k]) for i, k in zip(ids, person0)]
            lost += ids[0] != ids[-1]
            swaps += ids[0] == ids[-1] and len(set(ids)) > 1
    return lost, swaps


print(f"{'scenario':8s} {'colours':9s} {'tracker':16s} {'rule 1: lost':>12s} {'swapped':>8s}"
      f" {'rule 5: lost':>12s} {'swapped':>8s} {'rule 6: lost':>12s} {'swapped':>8s}")
for same in (False, True):
    for scenario in ("walk", "stop", "turn"):
        for use in (False, True):
            r1 = run(scenario, same, use, resolve=False)
            r5 = run(scenario, same, use, resolve=True)
            r6 = run(scenario, same, use, resolve=True, inside=True)
            name = "motion + colour" if use else "motion only"
            colours = "same" if same else "different"
            print(f"{scenario:8s} {colours:9s} {name:16s} {r1[0]:12d} {r1[1]:8d} {r5[0]:12d} "
                  f"{r5[1]:8d} {r6[0]:12d} {r6[1]:8d}")
