"""CLIFF's demo output (``demo.py --save_results``) as one dict of arrays that
:mod:`jaxrefine.inputs.estimates` reads like any other.

What the file holds, from CLIFF's ``demo.py`` (huawei-noah's and its forks'):
``np.savez(<name>_cliff_<backbone>.npz, imgname=img_path_list, pose, shape, global_t,
pred_joints, focal_l, detection_all)``, where

- ``imgname`` lists every image the demo read (sorted paths), **not** one entry per
  estimate;
- ``detection_all`` (N, 8) has a row per detected person, ``[image index, x0, y0, x1, y1,
  score, ...]``: column 0 says which image of ``imgname`` the estimate belongs to (the last
  column is the detector's class in the original code and a ByteTrack id in forks, so it is
  not read as a track);
- ``pose`` (N, 72) axis-angle (``--pose_format aa``, the default) or (N, 24, 3, 3),
  ``shape`` (N, 10), ``global_t`` (N, 3) the body's full-image translation (its
  ``cam_crop2full``: SMPL's ``transl``), ``focal_l`` (N,) the focal it was made for
  (``sqrt(w^2 + h^2)``), the principal point at the image centre.

``pred_joints`` (N, 49, 3), SMPL's joints posed with ``transl=global_t``, check the reading
(:data:`CLIFF_CENTRE_TOL`). ``--infill`` adds detection rows for interpolated frames without
poses: refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxrefine.inputs.errors import InputError
from jaxrefine.inputs.tracker_files import TRACKER_FORMAT

CLIFF_KEYS = ("imgname", "pose", "shape", "global_t", "focal_l", "detection_all")
# its ``pred_joints`` are SMPL's joints posed with ``transl=global_t``: their mean lies this
# close to ``global_t`` (SMPL's origin sits within ~0.3 m of the joints in any pose); a
# translation of another frame or scale misses by metres
CLIFF_CENTRE_TOL = 0.75


def is_cliff(arrays: dict) -> bool:
    """A file of CLIFF's demo: every one of :data:`CLIFF_KEYS`."""
    return all(k in arrays for k in CLIFF_KEYS)


def cliff_rows(arrays: dict, path: Path) -> dict:
    """CLIFF's file as one dict of arrays: ``pose``, ``betas``, ``transl`` (``global_t``),
    ``focal_length`` (``focal_l``), ``imgname`` per estimate (the image its detection row
    names). No track ids (:func:`~jaxrefine.inputs.estimates.separate_tracks` decides).

    Raises:
      InputError: an ``--infill`` file, detection rows naming no listed image (naming
        ``path``).
    """
    det = np.asarray(arrays["detection_all"])
    names = np.asarray(arrays["imgname"]).reshape(-1)
    n = len(np.asarray(arrays["pose"]))
    if det.ndim != 2 or det.shape[1] < 1 or not np.issubdtype(det.dtype, np.number):
        raise InputError(f"{path}: CLIFF's 'detection_all' must be a table of numbers, one "
                         f"row per detected person; got shape {det.shape}")  # fmt: skip
    if len(det) != n:
        raise InputError(
            f"{path}: CLIFF's 'detection_all' has {len(det)} rows for {n} poses (a file made "
            "with --infill, whose interpolated frames have no pose): give CLIFF's file made "
            "without --infill"
        )
    index = det[:, 0]
    if not np.all(np.isfinite(index)) or np.any(index < 0) or np.any(index >= len(names)):
        raise InputError(f"{path}: CLIFF's 'detection_all' names images beyond the "
                         f"{len(names)} of its 'imgname'")  # fmt: skip
    if "pred_joints" in arrays:
        _check_joints(arrays["pred_joints"], arrays["global_t"], n, path)
    return {"pose": arrays["pose"], "betas": arrays["shape"], "transl": arrays["global_t"],
            "focal_length": arrays["focal_l"], "imgname": names[index.astype(np.int64)],
            TRACKER_FORMAT: "cliff"}  # fmt: skip


def _check_joints(joints, transl, n: int, path: Path) -> None:
    """CLIFF's camera-frame ``pred_joints`` (N, J, 3) must centre within
    :data:`CLIFF_CENTRE_TOL` of ``global_t`` read as SMPL's translation."""
    j = np.asarray(joints, np.float64)
    t = np.asarray(transl, np.float64).reshape(n, 3)
    if j.ndim != 3 or len(j) != n or j.shape[2] != 3 or not np.all(np.isfinite(j)):
        raise InputError(f"{path}: CLIFF's 'pred_joints' must be (N, J, 3) finite joints, one "
                         f"set per pose; got shape {j.shape}")  # fmt: skip
    off = np.linalg.norm(j.mean(1) - t, axis=1)
    if np.any(off > CLIFF_CENTRE_TOL):
        raise InputError(
            f"{path}: CLIFF's 'global_t' is {off.max():.2f} m from its own posed joints "
            f"('pred_joints'; at most {CLIFF_CENTRE_TOL} m for SMPL's camera-frame "
            "translation): not CLIFF's demo output as jaxrefine reads it"
        )
