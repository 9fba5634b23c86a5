"""Does the shipped LGD overshoot from starts nearer than a regressor's? (session 17)

32 synthetic frames of the validation subjects (seed 777), `medium` starts moved towards the
truth by s (jaxrefine.train.lgd.scale_start), then SMPLify's Adam camera stage (as
`--optimizer lgd` hands over); the shipped checkpoint's 10 learned steps on the data term.
Per s: the data term at the start and at the last state (means), the share of frames where no
learned iterate is below the start (what the never-worse check turns into "kept initial"),
and the root-aligned vertex error (every 8th vertex, mm) at the start and at the last state.
Usage: python lgd_near_starts.py dense|dense_keypoints [CHECKPOINT_STEM (default: shipped)]
"""
import dataclasses
import sys

import numpy as np

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)
from jaxrefine.data.poses import VALIDATION_SUBJECTS, load_poses  # noqa: E402
from jaxrefine.optimizers.learned import load_lgd, load_pretrained  # noqa: E402
from jaxrefine.smpl_io import load_body_model  # noqa: E402
from jaxrefine.train import lgd as T  # noqa: E402

kind = sys.argv[1] if len(sys.argv) > 1 else "dense"
model = load_body_model()
val = load_poses("/work/runs/cmu_poses.npz", subjects=VALIDATION_SUBJECTS).pose
lgd = load_pretrained(kind) if len(sys.argv) < 3 else load_lgd(sys.argv[2])
print(f"{kind} ({sys.argv[2] if len(sys.argv) > 2 else 'shipped'}): s | data term start -> last | kept (no iterate below start) | PVE start -> last")
for s in (1.0, 0.5, 0.25, 0.1):
    cfg = T.LGDConfig(kind=kind, camera_stage=True, start_scale=(s, s))
    batch = T.make_samples(model, val, cfg, seed=777, size=32)
    p, d = T.fit_inputs(batch)
    res = T.run_lgd(lgd, T.body_objective(model, cfg), p, d)
    curve = np.asarray(res.loss_curve)  # (B, T + 1)
    kept = np.mean(curve[:, 1:].min(1) >= curve[:, 0])
    err = T.state_errors(model, res.iterates, batch, True)
    v = 1e3 * np.asarray(err["vertex_ra_m"])  # (B, T + 1)
    print(f"{s:4.2f} | {curve[:, 0].mean():9.1f} -> {curve[:, -1].mean():9.1f} | {kept:5.2f} "
          f"| {v[:, 0].mean():5.1f} -> {v[:, -1].mean():5.1f}")
