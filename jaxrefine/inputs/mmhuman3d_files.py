"""MMHuman3D's demo output (``demo/estimate_smpl.py ... --output DIR``) as one dict of arrays
that :mod:`jaxrefine.inputs.estimates` reads like any other.

What the file holds, from MMHuman3D's ``demo/estimate_smpl.py`` (its single-person demo with
MMDetection and its multi-person demo with MMTracking write it alike): a ``HumanData`` dumped
with ``np.savez_compressed`` to ``DIR/inference_result.npz``, where

- ``smpl`` is a pickled dict: ``global_orient`` (N, 3) and ``body_pose`` (N, 23, 3), both
  axis-angle (the demo turns the regressor's rotation matrices into axis-angle before it
  saves), and ``betas`` (N, 10);
- ``pred_cams`` (N, 3) is the regressor's crop camera ``[s, tx, ty]`` and ``bboxes_xyxy``
  (N, 5) the detection box ``x0, y0, x1, y1, score`` it was made for;
- ``verts`` (N, 6890, 3) are SMPL's vertices posed without a translation (zeros for the
  frames between key frames of a ``--speed_up_type`` run, whose other entries it
  interpolates);
- ``image_path`` (N,) is ``images/<file>``: the demo writes the frames it used into
  ``DIR/images/`` (give that folder); ``frame_id`` (N,) their index in the demo's input;
  ``person_id`` (N,) is 0 in the single-person demo, the tracker's id in the multi-person one;
- ``__key_strict__``, ``__temporal_len__`` and ``__keypoints_compressed__`` are HumanData's.

Its camera, as the demo crops and draws: the crop is the square of side
``1.25 * max(x1 - x0, y1 - y0)`` around the box centre (``box2cs`` with the demo's
``bbox_scale_factor``), and ``visualize_smpl_hmr`` draws the body at translation
``T = (tx, ty, 2 f / (224 s))`` with focal ``f = 5000`` for a 224-pixel crop mapped onto that
square: a point lands at ``centre + side / 224 * f * (X_xy + t_xy) / (X_z + T_z)``, SPIN's crop
camera. jaxrefine reads it as that crop camera (``pred_cam`` with ``box_center`` and
``box_size``), turned into the full-image camera by
:func:`jaxrefine.camera.weak_perspective_to_full` (exact at the body's depth).

Checked against what the file draws of itself: its own ``verts``, through the demo's camera,
must land on the detection box (:data:`MMHUMAN3D_BOX_TOL`); a camera read in another order
misses it by far. The drawing moves and scales with the box, so the check says nothing of
the box itself (a box of another format would pass it). MMHuman3D's SMPL-X output
(``estimate_smplx.py``) is refused by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxrefine.inputs.errors import InputError, finite_numbers
from jaxrefine.inputs.tracker_files import TRACKER_FORMAT

MMHUMAN3D_KEYS = ("pred_cams", "bboxes_xyxy", "image_path")
SMPL_KEYS = ("global_orient", "body_pose", "betas")
BOX_SCALE = 1.25  # the demo's bbox_scale_factor (inference_image_based_model, box2cs)
CROP_RES, CROP_FOCAL = 224.0, 5000.0  # visualize_smpl_hmr's det_width and focal_length
# The demo's vertices, through its camera, against its detection box, in units of the box's
# longer side: the centres within this and the sizes within a factor 1 + this. Files written
# as the demo writes them (boxes with 5 % detector slack) land 0.00-0.07 off with sizes
# 0.87-1.13; the camera read in another order shrinks the body to 0.01-0.42 of its box
# (docs/measurements/2026-12-04/s37_xeon/mmhuman3d_box_check.txt). A regressor's own error
# and a looser detector take part of the margin.
MMHUMAN3D_BOX_TOL = 0.5


def is_mmhuman3d(arrays: dict) -> bool:
    """A file of MMHuman3D's demo: its camera, boxes and image paths, and a body dict."""
    return all(k in arrays for k in MMHUMAN3D_KEYS) and ("smpl" in arrays or "smplx" in arrays)


def mmhuman3d_rows(arrays: dict, path: Path) -> dict:
    """MMHuman3D's file as one dict of arrays: the pose, ``betas``, the crop camera
    ``pred_cam`` with ``box_center`` / ``box_size``, ``imgname`` (its ``image_path``) and
    ``person_id``.

    Raises:
      InputError: SMPL-X bodies, a missing or damaged entry, vertices that do not land on
        their boxes (naming ``path``).
    """
    smpl = arrays.get("smpl")
    if not isinstance(smpl, dict):
        raise InputError(
            f"{path}: MMHuman3D's SMPL-X output ('smplx'): SMPL-X bodies, whose joints and "
            "shape space differ from SMPL's; give the output of demo/estimate_smpl.py"
            if "smplx" in arrays else f"{path}: MMHuman3D's 'smpl' must be a dict of arrays"
        )  # fmt: skip
    missing = [k for k in SMPL_KEYS if k not in smpl]
    if missing:
        raise InputError(f"{path}: MMHuman3D's 'smpl' lacks {', '.join(missing)}")
    cam = finite_numbers(arrays["pred_cams"], "pred_cams", path)
    box = finite_numbers(arrays["bboxes_xyxy"], "bboxes_xyxy", path)
    n = len(cam)
    if cam.shape != (n, 3) or box.ndim != 2 or box.shape[0] != n or box.shape[1] < 4:
        raise InputError(f"{path}: MMHuman3D's 'pred_cams' must be (N, 3) and 'bboxes_xyxy' "
                         f"(N, 4 or 5); got {cam.shape} and {box.shape}")  # fmt: skip
    size = box[:, 2:4] - box[:, :2]
    if np.any(size <= 0) or np.any(cam[:, 0] <= 0):
        raise InputError(f"{path}: MMHuman3D's boxes must have positive sizes and its "
                         "cameras positive scales (pred_cams[:, 0])")  # fmt: skip
    centre, side = (box[:, :2] + box[:, 2:4]) / 2.0, BOX_SCALE * size.max(1)
    if "verts" in arrays:
        check_boxes(finite_numbers(arrays["verts"], "verts", path), cam, box, path)
    rows = {**{k: smpl[k] for k in SMPL_KEYS}, "pred_cam": cam, "box_center": centre,
            "box_size": side, "imgname": np.asarray(arrays["image_path"]).reshape(-1),
            TRACKER_FORMAT: "mmhuman3d"}  # fmt: skip
    if "person_id" in arrays:
        rows["person_id"] = arrays["person_id"]
    return rows


def demo_projection(verts: np.ndarray, cam: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Where the demo's renderer puts ``verts`` (N, V, 3) with its cameras ``cam`` (N, 3) for
    the boxes ``box`` (N, >= 4) ``x0, y0, x1, y1``: (N, V, 2) pixels."""
    centre = (box[:, :2] + box[:, 2:4]) / 2.0
    side = BOX_SCALE * (box[:, 2:4] - box[:, :2]).max(1)
    t = np.column_stack([cam[:, 1], cam[:, 2], 2 * CROP_FOCAL / (CROP_RES * cam[:, 0])])
    p = verts + t[:, None]
    zoom = (side / CROP_RES * CROP_FOCAL)[:, None, None]
    return centre[:, None] + zoom * p[..., :2] / p[..., 2:3]


def check_boxes(verts: np.ndarray, cam: np.ndarray, box: np.ndarray, path: Path) -> None:
    """The demo's own vertices (N, V, 3) through its camera must land on its boxes: centres
    and sizes within :data:`MMHUMAN3D_BOX_TOL` of the boxes' longer sides. Meshes of zeros
    are left out: with ``--speed_up_type`` the demo interpolates the poses, cameras and boxes
    of the frames between its key frames but saves their vertices as the zeros it filled in."""
    n = len(cam)
    if verts.ndim != 3 or len(verts) != n or verts.shape[2] != 3:
        raise InputError(f"{path}: MMHuman3D's 'verts' must be (N, V, 3), one mesh per "
                         f"estimate; got {verts.shape}")  # fmt: skip
    drawn = np.flatnonzero(np.any(verts != 0, axis=(1, 2)))
    verts, cam, box = verts[drawn], cam[drawn], box[drawn]
    uv = demo_projection(verts, cam, box)
    lo, hi = uv.min(1), uv.max(1)
    longer = (box[:, 2:4] - box[:, :2]).max(1)
    off = np.linalg.norm((lo + hi) / 2 - (box[:, :2] + box[:, 2:4]) / 2, axis=1) / longer
    ratio = (hi - lo).max(1) / longer
    bad = (off > MMHUMAN3D_BOX_TOL) | ~(np.abs(np.log(ratio)) <= np.log1p(MMHUMAN3D_BOX_TOL))
    if np.any(bad):
        j = int(np.argmax(bad))
        raise InputError(
            f"{path}: MMHuman3D's vertices of estimate {drawn[j]}, drawn with its camera, miss "
            f"their box (centre off by {off[j]:.2f} of the box, size x{ratio[j]:.2f}; at most "
            f"{MMHUMAN3D_BOX_TOL} and x{1 + MMHUMAN3D_BOX_TOL}): not demo/estimate_smpl.py's "
            "output as jaxrefine reads it"
        )
