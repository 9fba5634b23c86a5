"""HybrIK's video demo output (``scripts/demo_video.py --save_pk``: ``res.pk``) as one dict
of arrays that :mod:`jaxrefine.inputs.estimates` reads like any other.

What the file holds, from HybrIK's code (``scripts/demo_video.py``,
``hybrik/models/HRNetWithCam.py``, ``hybrik/models/layers/smpl/SMPL.py``): ``pickle.dump`` of
a dict of arrays with one row per frame it found the person in (the demo follows one person):

- ``pred_thetas`` (N, 96): the 24 joints' rotations as quaternions ``(w, x, y, z)``
  (``rotmat_to_quat``), the root's in the camera frame; ``pred_betas`` (N, 10);
- ``transl`` (N, 3): ``camera_root - joints[:, 0]`` with root-aligned joints, i.e. the
  camera-frame position of the pelvis joint (``pred_cam_root``): SMPL's ``transl`` is that
  minus the shape's rest pelvis (SMPL's root rotates about it), computed here with the run's
  body model;
- the camera of its rendering: focal ``1000 / 256 * w`` pixels for the square crop box
  ``bbox`` ``[x0, y0, x1, y1]`` of side ``w``, at the image centre (its ``focal_length``
  1000 for the 256-pixel crop);
- ``pred_xyz_24_struct`` (N, 72): the posed SMPL joints, root-relative, in units of its
  ``depth_factor`` (2.2 m): they check the reading of the rotations
  (:data:`HYBRIK_JOINT_TOL`); ``img_path`` (N,) each row's frame file; ``height``,
  ``width``.

HybrIK-X's SMPL-X output has other keys (and 55 joints): refused by shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from jaxrefine.inputs.errors import InputError, finite_numbers
from jaxrefine.inputs.tracker_files import TRACKER_FORMAT

HYBRIK_KEYS = ("pred_thetas", "pred_betas", "transl", "bbox", "img_path")
HYBRIK_FOCAL = 1000.0  # its cfg's MODEL.FOCAL_LENGTH, for its crop of ...
HYBRIK_CROP = 256.0  # ... MODEL.IMAGE_SIZE pixels
HYBRIK_DEPTH_FACTOR = 2.2  # metres per unit of its joints (bbox_3d_shape 2200 mm)
# HybrIK's posed joints against the body model's posed with the rotations as read, both
# centred on their mean and ours scaled to theirs (least squares): mean distance in metres.
# SMPL's own joints agree to float precision; the open body model's skeleton (its pelvis ~9 cm
# lower, its own shape space) moves them by at most 0.03 (200 random poses and shapes, another
# shape for the same pose: 0.022; the pelvis moved 9 cm: 0.007); the quaternions read in
# another order by 0.35-0.48 (min / median of the same 200)
HYBRIK_JOINT_TOL = 0.1


def is_hybrik(arrays: dict) -> bool:
    """A file of HybrIK's video demo: every one of :data:`HYBRIK_KEYS` and its quaternions."""
    return all(k in arrays for k in HYBRIK_KEYS) and "pred_phi" in arrays


def hybrik_rows(arrays: dict, path: Path) -> dict:
    """HybrIK's file as one dict of arrays: ``pose`` (N, 24, 3) axis-angle, ``betas``,
    ``hybrik_root`` (the pelvis joint's camera-frame position), ``focal_length``,
    ``imgname``, and ``hybrik_joints`` (N, 24, 3) root-relative metres when present.

    Raises:
      InputError: rotations that are not 24 quaternions, damaged boxes (naming ``path``).
    """
    try:
        return _rows(arrays, path)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{path}: HybrIK's results with damaged entries ({type(exc).__name__}: "
                         f"{exc})") from None  # fmt: skip


def _numbers(arrays: dict, key: str, path: Path) -> np.ndarray:
    return finite_numbers(arrays[key], f"HybrIK's {key!r}", path)


def _rows(arrays: dict, path: Path) -> dict:
    q = _numbers(arrays, "pred_thetas", path)
    n = len(q)
    if q.size != n * 24 * 4:
        raise InputError(f"{path}: HybrIK's 'pred_thetas' has shape {q.shape}; expected (N, 96),"
                         " 24 quaternions (HybrIK-X's SMPL-X files are not SMPL)")  # fmt: skip
    q = q.reshape(n, 24, 4)
    norm = np.linalg.norm(q, axis=-1)
    if np.any(np.abs(norm - 1) > 1e-3):
        raise InputError(f"{path}: HybrIK's 'pred_thetas' are not unit quaternions")
    pose = Rotation.from_quat(q[..., [1, 2, 3, 0]].reshape(-1, 4)).as_rotvec().reshape(n, 24, 3)
    box = _numbers(arrays, "bbox", path).reshape(n, 4)
    side = box[:, 2] - box[:, 0]
    if np.any(side <= 0):
        raise InputError(f"{path}: HybrIK's 'bbox' must be [x0, y0, x1, y1] boxes of positive "
                         "size")  # fmt: skip
    out = {"pose": pose, "betas": arrays["pred_betas"], "hybrik_root": arrays["transl"],
           "focal_length": HYBRIK_FOCAL / HYBRIK_CROP * side, "imgname": arrays["img_path"],
           TRACKER_FORMAT: "hybrik"}  # fmt: skip
    if "pred_xyz_24_struct" in arrays:
        joints = _numbers(arrays, "pred_xyz_24_struct", path)
        out["hybrik_joints"] = joints.reshape(n, 24, 3) * HYBRIK_DEPTH_FACTOR
    return out


def check_joints(ours: np.ndarray, theirs: np.ndarray, path: Path) -> None:
    """``ours`` (N, 24, 3): the body model's joints posed with the rotations as read;
    ``theirs``: HybrIK's (metres), compared as :data:`HYBRIK_JOINT_TOL` says."""
    ours = ours - ours.mean(1, keepdims=True)
    theirs = theirs - theirs.mean(1, keepdims=True)
    scale = np.sum(ours * theirs, (1, 2)) / np.maximum(np.sum(ours * ours, (1, 2)), 1e-12)
    miss = np.linalg.norm(ours * scale[:, None, None] - theirs, axis=-1).mean(1)
    if not np.all(miss <= HYBRIK_JOINT_TOL):
        raise InputError(
            f"{path}: HybrIK's joints ('pred_xyz_24_struct') are {np.max(miss):.2f} m (mean) "
            f"from the body posed with its rotations as jaxrefine reads them (at most "
            f"{HYBRIK_JOINT_TOL} m): not HybrIK's demo output as jaxrefine reads it"
        )
