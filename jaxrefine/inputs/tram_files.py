"""TRAM's results (``scripts/estimate_camera.py`` then ``scripts/estimate_humans.py``) as one
dict of arrays that :mod:`jaxrefine.inputs.estimates` reads like any other.

What its files hold, from its code (``scripts/estimate_humans.py``, ``estimate_camera.py``,
``lib/models/hmr_vimo.py``, ``lib/models/smpl.py``, ``lib/pipeline/tools.py`` and
``visualization.py``):

- ``results/<video>/hps/hps_track_<k>.npy``: ``np.save`` of a dict of **PyTorch tensors**, one
  file per track, ``k`` the track's rank by length: ``pred_rotmat`` (N, 24, 3, 3) the joints'
  rotations, the root's in the camera frame; ``pred_shape`` (N, 10) SMPL's betas;
  ``pred_trans`` (N, 1, 3) SMPL's ``transl`` in the camera frame (its vertices are SMPL's
  plus it: ``visualize_tram`` renders ``smpl(..., transl=pred_trans)``); ``frame`` (N,) the
  frames' indices in the video (``video2frames`` writes every frame as ``%04d.jpg``);
  ``pred_cam`` (the crop's weak-perspective camera, from which ``pred_trans`` was made) and
  ``pred_pose`` (6D rotations) are left. The tensors are read without torch
  (:mod:`jaxrefine.inputs.torch_pickle`);
- ``results/<video>/camera.npy``: ``np.save`` of a dict of numpy arrays: ``img_focal`` the
  focal length in pixels that ``pred_trans`` was computed for (TRAM's calibration by SLAM
  reprojection error, or its default), ``img_center`` the principal point; ``pred_cam_R`` /
  ``pred_cam_T`` the world trajectory (left: jaxrefine refines in the camera frame).

Without ``camera.npy`` beside the ``hps`` folder (or beside the track file) the translations'
focal is unknown: refused unless the user gives ``--intrinsics``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from jaxrefine.inputs.errors import InputError
from jaxrefine.inputs.tracker_files import TRACKER_FORMAT

TRAM_KEYS = ("pred_rotmat", "pred_shape", "pred_trans", "frame")
TRACK_FILE = re.compile(r"hps_track_(\d+)\.npy")
CAMERA_FILE = "camera.npy"  # in the video's results folder, beside hps/
# the least share of a file's bodies whose origin (near the pelvis) projects into the image
# grown by half its size on every side: a camera.npy of another video or focal misses
TRAM_INSIDE_SHARE = 0.8


def is_tram(arrays: dict) -> bool:
    """A TRAM track file: its tensors' keys and its 6D ``pred_pose`` beside the matrices."""
    return all(k in arrays for k in TRAM_KEYS) and "pred_pose" in arrays and "pred_cam" in arrays


def track_files(folder: Path) -> list[Path]:
    """TRAM's track files in ``folder`` (its ``hps`` folder, or the video's results folder
    holding it), by track number; empty when it holds none."""
    hps = folder / "hps" if (folder / "hps").is_dir() else folder
    found = [(int(m.group(1)), p) for p in hps.glob("hps_track_*.npy")
             if (m := TRACK_FILE.fullmatch(p.name))]  # fmt: skip
    return [p for _, p in sorted(found)]


def tram_rows(arrays: dict, path: Path, read_camera) -> dict:
    """TRAM's track file as one dict of arrays: ``pose`` (rotation matrices), ``betas``,
    ``transl``, ``frame``, ``track_id`` (the ``k`` of its name, else 0) and, when
    ``camera.npy`` lies in the folder above (TRAM's layout) or beside the file,
    ``intrinsics`` (fx, fy, cx, cy).
    ``read_camera(path)`` reads that file's dict.

    Raises:
      InputError: damaged entries, a camera file without its focal (naming the file).
    """
    try:
        n = len(np.asarray(arrays["frame"]).reshape(-1))
        out = {"pose": np.asarray(arrays["pred_rotmat"]).reshape(n, 24, 3, 3),
               "betas": np.asarray(arrays["pred_shape"]).reshape(n, -1),
               "transl": np.asarray(arrays["pred_trans"]).reshape(n, 3),
               "frame": np.asarray(arrays["frame"]).reshape(n).astype(np.int64),
               TRACKER_FORMAT: "tram"}  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: TRAM's results with damaged entries ({exc})") from None
    m = TRACK_FILE.fullmatch(path.name)
    out["track_id"] = np.full(n, int(m.group(1)) if m else 0, np.int64)
    cameras = [d / CAMERA_FILE for d in (path.parent.parent, path.parent)]
    camera = next((c for c in cameras if c.is_file()), None)
    if camera is not None:
        out["intrinsics"] = np.tile(_intrinsics(read_camera(camera), camera), (n, 1))
    return out


def _intrinsics(camera: dict, path: Path) -> np.ndarray:
    try:
        f = float(np.asarray(camera["img_focal"]).reshape(-1)[0])
        c = np.asarray(camera["img_center"], np.float64).reshape(2)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{path}: TRAM's camera file without 'img_focal' and 'img_center' "
                         f"({type(exc).__name__}: {exc})") from None  # fmt: skip
    if not (np.isfinite(f) and f > 0 and np.all(np.isfinite(c))):
        raise InputError(f"{path}: TRAM's 'img_focal' must be a positive number")
    return np.array([f, f, *c])


def check_camera(transl: np.ndarray, k: np.ndarray, size: np.ndarray, path: Path) -> None:
    """The bodies' origins (``transl`` (N, 3)), projected with intrinsics ``k`` (N, 4), must
    land in their (H, W) images ``size`` (N, 2) grown by half on every side for most of
    them (:data:`TRAM_INSIDE_SHARE`)."""
    if np.any(transl[:, 2] <= 0):
        raise InputError(f"{path}: TRAM's 'pred_trans' puts bodies behind the camera (z <= 0)")
    u = k[:, 0] * transl[:, 0] / transl[:, 2] + k[:, 2]
    v = k[:, 1] * transl[:, 1] / transl[:, 2] + k[:, 3]
    h, w = size[:, 0], size[:, 1]
    inside = (u > -w / 2) & (u < 1.5 * w) & (v > -h / 2) & (v < 1.5 * h)
    if inside.mean() < TRAM_INSIDE_SHARE:
        raise InputError(
            f"{path}: only {inside.mean():.0%} of TRAM's bodies land in or near their images "
            "with the camera jaxrefine read for them: give the video TRAM read, and its "
            f"{CAMERA_FILE} (or the focal it used, --intrinsics)"
        )
