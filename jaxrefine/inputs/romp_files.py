"""ROMP's output (``simple_romp``: ``romp --mode image`` / ``--mode video``) as one dict of
arrays that :mod:`jaxrefine.inputs.estimates` reads like any other.

What its files hold, from its code (``simple_romp/romp/main.py``, ``utils.py``,
``post_parser.py``, ``smpl.py``):

- every image with someone in it: ``np.savez(<out>/<image stem>.npz, results=outputs)``, a
  pickled dict of arrays, one row per detected person: ``smpl_thetas`` (N, 72) axis-angle in
  the camera frame (y down), ``smpl_betas`` (N, 10), ``cam`` (N, 3) ``[s, tx, ty]``,
  ``joints`` (N, J, 3) and ``verts`` in SMPL's model frame (no translation), ``pj2d_org``
  (N, J, 2) the joints drawn in the image's pixels, ``center_confs``, ``cam_trans`` (whose
  meaning changed between versions: not read), and ``track_ids`` (N,) with
  ``--temporal_optimize``;
- ``--mode video`` also writes ``video_results.npz``: ``results`` = ``{frame file name:
  outputs}`` (the same dicts as the frames' own files);
- ``cam`` is a weak-perspective camera on the image padded to a square of side
  ``max(h, w)`` (centred: ``top = (side - h) // 2``, ``left = (side - w) // 2``) and resized
  to 512: a model-frame point X lands at normalised coordinates ``s * X_xy + t_xy`` in
  [-1, 1], i.e. at pixels ``(s * X_xy + t_xy + 1) * side / 2 - (left, top)``. That is SPIN's
  crop camera ``s * (X_xy + t_xy / s)`` for the padded square as its box
  (:func:`padded_box`), converted to a full-image camera as every crop camera is;
- ``--root_align True`` (for checkpoints people train themselves) shifts ``verts`` and
  ``joints`` by the midpoint of joints 45 and 46: SMPL's own translation is then unknown
  without SMPL's files, so such a file is refused.

BEV (``bev``, the same package) writes the same layout for SMPL+A bodies (an 11th beta, the
age offset, and SMIL's infant template): refused by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxrefine.inputs.errors import InputError
from jaxrefine.inputs.tracker_files import TRACKER_FORMAT

# ROMP's --mode video file of every frame, beside the frames' own files (the same dicts)
VIDEO_RESULTS = "video_results.npz"
# what makes a dict one of ROMP's per-image outputs
ROMP_KEYS = ("smpl_thetas", "smpl_betas", "cam")
ROMP_BETAS = 10  # ROMP's SMPL; BEV's SMPL+A has an 11th (the age offset)
# root_align subtracts the midpoint of these joints exactly (float32: ~1e-7 m left)
ROOT_JOINTS = (45, 46)
ROOT_ALIGNED_TOL = 1e-4
# ROMP's joints, projected with the full-image camera jaxrefine makes of ``cam``, against
# where ROMP drew them (``pj2d_org``): mean distance over the joints, as a share of their 2D
# box's diagonal. A perspective camera and ROMP's orthographic one differ by the joints'
# depth spread over the body's distance (a few per cent for a person at the frame's edge);
# a misread camera (padding, axes, another convention) misses by tens of per cent
ROMP_PJ2D_TOL = 0.2


def is_romp(arrays: dict) -> bool:
    """An ``.npz`` of ROMP's (or BEV's): a single ``results`` entry holding a dict."""
    return set(arrays) <= {"results", "sequence_results"} and isinstance(
        arrays.get("results"), dict
    )


def romp_rows(arrays: dict, path: Path) -> dict:
    """ROMP's file as one dict of arrays: ``pose``, ``betas``, ``romp_cam`` (its ``cam``),
    ``imgname`` (video_results.npz: each row's frame file), ``track_id`` (ROMP's tracker's
    ids, with ``--temporal_optimize``; without it ROMP does not link people, and
    :func:`~jaxrefine.inputs.estimates.separate_tracks` decides), and,
    where ROMP computed them, ``romp_joints`` / ``romp_pj2d`` for :func:`check_camera`.

    Raises:
      InputError: BEV's bodies, a root-aligned file, damaged entries (naming ``path``).
    """
    results = arrays["results"]
    if all(k in results for k in ROMP_KEYS):
        frames = [(None, results)]
    else:
        frames = [(str(k), v) for k, v in results.items() if v is not None]
        if not frames or not all(isinstance(v, dict) and all(k in v for k in ROMP_KEYS)
                                 for _, v in frames):  # fmt: skip
            raise InputError(f"{path}: a 'results' entry that is neither ROMP's output of one "
                             f"image (keys {', '.join(ROMP_KEYS)}) nor its video_results.npz "
                             "(frame name -> such a dict)")  # fmt: skip
    try:
        return _rows(frames, path)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{path}: ROMP's results with damaged entries ({type(exc).__name__}: "
                         f"{exc})") from None  # fmt: skip


def _rows(frames: list[tuple[str | None, dict]], path: Path) -> dict:
    cols: dict[str, list] = {k: [] for k in ("pose", "betas", "romp_cam", "imgname")}
    joints, tracked = all("joints" in v and "pj2d_org" in v for _, v in frames), True
    extra: dict[str, list] = {"romp_joints": [], "romp_pj2d": [], "track_id": []}
    for name, v in frames:
        n = len(np.asarray(v["cam"]).reshape(-1, 3))
        cols["pose"].append(np.asarray(v["smpl_thetas"]).reshape(n, -1))
        cols["betas"].append(np.asarray(v["smpl_betas"]).reshape(n, -1))
        cols["romp_cam"].append(np.asarray(v["cam"]).reshape(n, 3))
        cols["imgname"] += [name] * n
        tracked = tracked and "track_ids" in v
        extra["track_id"].append(np.asarray(v.get("track_ids", np.zeros(n))).reshape(n))
        if joints:
            extra["romp_joints"].append(np.asarray(v["joints"]).reshape(n, -1, 3))
            extra["romp_pj2d"].append(np.asarray(v["pj2d_org"])[..., :2].reshape(n, -1, 2))
    out = {k: np.concatenate(c) for k, c in cols.items() if k != "imgname"}
    _check_bev(out["betas"], path)
    if frames[0][0] is not None:
        out["imgname"] = np.asarray(cols["imgname"])
    if tracked:
        out["track_id"] = np.concatenate(extra["track_id"]).astype(np.int64)
    if joints:
        out["romp_joints"] = np.concatenate(extra["romp_joints"]).astype(np.float64)
        out["romp_pj2d"] = np.concatenate(extra["romp_pj2d"]).astype(np.float64)
        _check_root_align(out["romp_joints"], path)
    out[TRACKER_FORMAT] = "romp"
    return out


def _check_bev(betas: np.ndarray, path: Path) -> None:
    if betas.shape[1] != ROMP_BETAS:
        what = "BEV's SMPL+A bodies (an 11th beta, the age offset)" if betas.shape[1] == 11 else (
            f"{betas.shape[1]} betas")  # fmt: skip
        raise InputError(
            f"{path}: ROMP's file layout with {what}; ROMP's SMPL has {ROMP_BETAS}. BEV's "
            "bodies are not SMPL's (kids are blended with SMIL's template): jaxrefine reads "
            "ROMP's files, not BEV's"
        )


def _check_root_align(joints: np.ndarray, path: Path) -> None:
    if joints.shape[1] <= max(ROOT_JOINTS):
        return
    root = joints[:, list(ROOT_JOINTS)].mean(1)
    if np.all(np.linalg.norm(root, axis=1) < ROOT_ALIGNED_TOL):
        raise InputError(
            f"{path}: ROMP's bodies were root-aligned (romp --root_align True, for checkpoints "
            "trained by oneself): their SMPL translation cannot be recovered without SMPL's "
            "files; run ROMP without --root_align"
        )


def padded_box(image_size: tuple[int, int]) -> tuple[tuple[float, float], float]:
    """ROMP's crop box of an (h, w) image: the square of side ``max(h, w)`` it padded the
    image to (``padding_image``: the image centred, integer offsets), as (centre (x, y) in the
    image's pixels, side)."""
    h, w = image_size
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    return (side / 2.0 - left, side / 2.0 - top), float(side)


def spin_camera(cam: np.ndarray) -> tuple[float, float, float]:
    """ROMP's ``[s, tx, ty]`` (``s * X + t``) as SPIN's crop camera (``s * (X + t')``)."""
    s, tx, ty = (float(x) for x in cam)
    if s <= 0:
        raise ValueError(f"ROMP's camera scale must be positive, got {s}")
    return s, tx / s, ty / s


def check_camera(joints: np.ndarray, pj2d: np.ndarray, transl: np.ndarray, k: np.ndarray,
                 path: Path) -> None:  # fmt: skip
    """ROMP's model-frame ``joints`` (N, J, 3) moved by ``transl`` (N, 3) and projected with
    intrinsics ``k`` (N, 4) must land near ROMP's own drawing of them, ``pj2d`` (N, J, 2)
    (:data:`ROMP_PJ2D_TOL`)."""
    X = joints + transl[:, None]
    uv = k[:, None, :2] * X[..., :2] / X[..., 2:] + k[:, None, 2:]
    diag = np.linalg.norm(np.ptp(pj2d, axis=1), axis=1)
    miss = np.linalg.norm(uv - pj2d, axis=2).mean(1) / np.maximum(diag, 1e-9)
    if np.any(X[..., 2] <= 0) or np.any(miss > ROMP_PJ2D_TOL):
        raise InputError(
            f"{path}: ROMP's joints, placed by its camera as jaxrefine reads it, miss where "
            f"ROMP drew them ('pj2d_org') by {np.max(miss):.0%} of the body's size (at most "
            f"{ROMP_PJ2D_TOL:.0%}): give the images ROMP read, at the size it read them"
        )
