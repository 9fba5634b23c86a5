"""Calibrating MMHUMAN3D_BOX_TOL: the demo's vertices through its camera against its box
(centre offset and size ratio, in units of the box's longer side) for files written as the
demo writes them (tests/test_mmhuman3d_files.py's writer: detection boxes with +-5 % slack),
and for the same files with the camera's numbers read in another order.

Run: PYTHONPATH=. .venv/bin/python docs/measurements/2026-12-04/s37_xeon/mmhuman3d_box_check.py
"""

import sys

import numpy as np

sys.path.insert(0, "tests")
import test_mmhuman3d_files as t  # noqa: E402

from jaxrefine.body_model import from_arrays  # noqa: E402
from jaxrefine.inputs.mmhuman3d_files import MMHUMAN3D_BOX_TOL, demo_projection  # noqa: E402
from jaxrefine.smpl_io import load_body_model  # noqa: E402
from jaxrefine.testing import make_smpl_size_arrays  # noqa: E402


def measures(verts, cam, box):
    uv = demo_projection(verts, cam, box)
    lo, hi = uv.min(1), uv.max(1)
    longer = (box[:, 2:4] - box[:, :2]).max(1)
    off = np.linalg.norm((lo + hi) / 2 - (box[:, :2] + box[:, 2:4]) / 2, axis=1) / longer
    return off, (hi - lo).max(1) / longer


models = {"open": load_body_model(),
          "smpl-size": from_arrays(make_smpl_size_arrays(0), model_id="s", gender="neutral",
                                   num_betas=10)}
print(f"MMHUMAN3D_BOX_TOL = {MMHUMAN3D_BOX_TOL}: centre offset <= tol, size ratio in "
      f"[1/{1 + MMHUMAN3D_BOX_TOL}, {1 + MMHUMAN3D_BOX_TOL}]")
for name, model in models.items():
    rng = np.random.default_rng(0)
    pose, betas, transl, verts = t._bodies(model, rng, 200)
    box, cam = t._demo_camera(verts, transl, rng)
    verts, cam, box = verts.astype(float), cam.astype(float), box.astype(float)
    for what, c in (("as written", cam), ("order [tx, ty, s]", np.abs(cam[:, [1, 2, 0]]) + 0.01),
                    ("order [ty, s, tx]", np.abs(cam[:, [2, 0, 1]]) + 0.01)):
        off, ratio = measures(verts, c, box)
        print(f"{name:9s} {what:18s} 200 people: centre offset {off.min():.3f}-{off.max():.3f}, "
              f"size ratio {ratio.min():.3f}-{ratio.max():.3f}")
