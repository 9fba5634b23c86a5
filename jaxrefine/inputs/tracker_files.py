"""Files of regressors that track people through a video, as one dict of arrays that
:mod:`jaxrefine.inputs.estimates` reads like any other (its keys and rules there).

- VIBE's and PARE's demo output: ``{person_id: {"pose", "betas", "orig_cam", "frame_ids",
  ...}}`` (``joblib.dump``): each person's frames in turn, ``track_id`` the person id.
- WHAM's demo output (``wham_output.pkl``, ``--save_pkl``): the same per-person layout with
  ``{"pose", "trans", "pose_world", "trans_world", "betas", "verts", "frame_ids"}``. From its
  ``demo.py`` and ``lib/models/smpl.py``: ``pose`` (N, 72) axis-angle with the root in the
  camera frame, ``trans`` = ``trans_cam - offset``, SMPL's own ``transl`` in the camera frame
  (its vertices are SMPL's plus ``trans``: ``verts`` = ``verts_cam + trans_cam``), for focal
  ``sqrt(w^2 + h^2)`` at the image centre (``compute_cam_intrinsics``; a run with ``--calib``
  used that calibration: give it as ``--intrinsics``). The world-frame ``pose_world`` /
  ``trans_world`` are left; ``verts``, when kept, check the reading (:func:`_check_wham`).
- 4D-Humans' ``track.py`` output (PHALP's ``final_visuals_dic``, ``joblib.dump``):
  ``{frame path: {"time", "tid", "smpl", "camera", "tracked_time", "size", "bbox", ...}}``,
  lists aligned with ``tid``. What the fields mean, from PHALP's code (``PHALP.track``,
  ``get_human_apl``, HMAR's ``get_3d_parameters``): ``tracked_time`` 0 marks a person seen in
  the frame (others are PHALP's predictions of hidden people, holding an older frame's
  body); ``smpl`` holds rotation matrices; ``camera`` is the body's translation in the frame
  padded to a square and resized to ``render.res`` (256) pixels with focal
  ``EXTRA.FOCAL_LENGTH`` (5000), which is, in the photo's pixels, a translation for focal
  ``5000 / 256 * max(h, w)`` at the image centre: 4D-Humans' ``pred_cam_t_full`` convention;
  ``bbox`` is the detection ``[x0, y0, w, h]`` in the photo; ``time`` the frame's place in
  the list PHALP read (the video's frame index unless ``video.start_frame`` was set).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxrefine.inputs.errors import InputError

# 4D-Humans' demo.py writes pred_cam_t_full for focal FOCAL_LENGTH / IMAGE_SIZE * max(h, w)
# with its config's FOCAL_LENGTH 5000 and IMAGE_SIZE 256: any other focal misplaces the body
HMR2_FOCAL_PER_SIDE = 5000.0 / 256.0
# the key under which a tracker's file, flattened to a dict of arrays, names its format
TRACKER_FORMAT = "__tracker_format__"
# PHALP files: the least share of people whose projected origin lies in their own (grown) box;
# the origin is within ~0.3 m of the pelvis, well inside a box grown by half its size
PHALP_INSIDE_SHARE = 0.8
# what a VIBE / PARE person's dict contributes (their vertices, joints and 2D points are left)
PERSON_KEYS = ("pose", "pred_pose", "betas", "pred_shape", "pred_cam", "orig_cam", "bboxes",
               "frame_ids")  # fmt: skip
# a WHAM person's dict: these beside "pose" and "frame_ids" (VIBE / PARE have none of them)
WHAM_KEYS = ("trans", "trans_world", "pose_world")
# WHAM files: the mean of a body's vertices lies this close to its ``trans`` (SMPL's origin
# sits within ~0.3 m of the vertices' mean in any pose); its world translation, read wrongly
# as the camera's, misses it by metres
WHAM_CENTRE_TOL = 0.75
MISS_CLIP = 1e6  # metres: any miss beyond this is as refused as one at it


def flatten(obj: dict, path: Path) -> dict:
    """``obj`` (a file's dict) as a dict of arrays: a tracker's file flattened (its format
    under :data:`TRACKER_FORMAT`), anything else unchanged.

    Raises:
      InputError: a tracker's file with damaged entries (the message names ``path``).
    """
    try:
        if _is_phalp(obj):
            return _phalp_rows(obj, path)
        return _people_tracks(obj, path) if _is_people_dict(obj) else obj
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise InputError(f"{path}: a tracker's file with damaged entries ({type(exc).__name__}: "
                         f"{exc})") from None  # fmt: skip


def _is_people_dict(obj: dict) -> bool:
    """VIBE's, PARE's and PyMAF's video output: ``{person_id: {pose, betas, orig_cam,
    frame_ids, ...}}``."""
    return bool(obj) and all(isinstance(k, int | np.integer) and isinstance(v, dict)
                             and "frame_ids" in v for k, v in obj.items())  # fmt: skip


def _is_phalp(obj: dict) -> bool:
    """PHALP's / 4D-Humans' ``track.py`` output: ``{frame path: {"time", "tid", "smpl",
    "camera", "tracked_time", ...}}``."""
    need = ("time", "tid", "smpl", "camera", "tracked_time", "size", "bbox")
    return bool(obj) and all(isinstance(v, dict) and all(k in v for k in need)
                             for v in obj.values())  # fmt: skip


def _phalp_rows(obj: dict, path: Path) -> dict:
    """PHALP's frames as one dict of arrays: the people *seen* in each frame (``tracked_time``
    0; the others are its predictions of hidden people), ``frame`` its ``time`` (the frame's
    place in the video), ``track_id`` PHALP's ``tid``, ``pred_cam_t_full`` its ``camera``
    (a translation for focal ``5000 / 256 * max(h, w)`` at the image centre: PHALP's
    ``get_3d_parameters`` with its defaults ``EXTRA.FOCAL_LENGTH`` 5000, ``render.res`` 256),
    checked against PHALP's own boxes (:func:`_check_phalp_camera`)."""
    rows = []
    for v in sorted(obj.values(), key=lambda v: int(v["time"])):
        for j, seen in enumerate(v["tracked_time"]):
            if int(seen) == 0:
                smpl = v["smpl"][j]
                rows.append((v["time"], v["tid"][j], smpl["global_orient"],
                             smpl["body_pose"], smpl["betas"], v["camera"][j], v["size"][j],
                             v["bbox"][j]))  # fmt: skip
    if not rows:
        raise InputError(f"{path}: PHALP's tracks hold no person seen in any frame")
    cols = [np.asarray([r[k] for r in rows]) for k in range(8)]
    out = {"frame": cols[0].astype(np.int64), "track_id": cols[1].astype(np.int64),
           "global_orient": cols[2], "body_pose": cols[3], "betas": cols[4],
           "pred_cam_t_full": cols[5], TRACKER_FORMAT: "4d-humans-phalp"}  # fmt: skip
    _check_phalp_camera(np.asarray(out["pred_cam_t_full"], np.float64).reshape(-1, 3),
                        np.asarray(cols[6], np.float64).reshape(-1, 2),
                        np.asarray(cols[7], np.float64).reshape(-1, 4), path)  # fmt: skip
    return out


def _check_phalp_camera(transl: np.ndarray, size: np.ndarray, box: np.ndarray, path: Path):
    """The body's origin (near its pelvis), projected as jaxrefine reads PHALP's camera, must
    land in PHALP's own detection box ``[x0, y0, w, h]`` (grown by half its size on every
    side) for most people; else the file was made with another focal or render size than
    PHALP's defaults. ``size``: (N, 2) each image's (h, w)."""
    if not (np.all(np.isfinite(transl)) and np.all(np.isfinite(size))):
        raise InputError(f"{path}: PHALP's cameras or image sizes hold NaN or inf")
    if np.any(transl[:, 2] <= 0) or np.any(size <= 0):
        raise InputError(f"{path}: PHALP's cameras must be in front of the camera (z > 0) "
                         "and its image sizes positive")  # fmt: skip
    f = HMR2_FOCAL_PER_SIDE * size.max(1)
    u = f * transl[:, 0] / transl[:, 2] + size[:, 1] / 2
    v = f * transl[:, 1] / transl[:, 2] + size[:, 0] / 2
    x0, y0 = box[:, 0] - box[:, 2] / 2, box[:, 1] - box[:, 3] / 2
    inside = (u > x0) & (u < x0 + 2 * box[:, 2]) & (v > y0) & (v < y0 + 2 * box[:, 3])
    if inside.mean() < PHALP_INSIDE_SHARE:
        raise InputError(
            f"{path}: PHALP's camera puts only {inside.mean():.0%} of the people inside their "
            f"own boxes as jaxrefine reads it (focal 5000 / 256 * max(h, w), PHALP's "
            "defaults): was it run with another EXTRA.FOCAL_LENGTH or render.res?"
        )


def _people_tracks(obj: dict, path: Path) -> dict:
    """A per-person dict as one dict of arrays: each person's frames in turn, ``track_id`` the
    person's id (only :data:`PERSON_KEYS` are kept)."""
    wham = all(all(k in v for k in WHAM_KEYS) and "orig_cam" not in v for v in obj.values())
    keys = [k for k in PERSON_KEYS if all(v.get(k) is not None for v in obj.values())]
    out = {k: np.concatenate([np.asarray(v[k]) for v in obj.values()]) for k in keys}
    lengths = [len(np.asarray(v["frame_ids"]).reshape(-1)) for v in obj.values()]
    out["track_id"] = np.repeat(np.asarray(list(obj), np.int64), lengths)
    out[TRACKER_FORMAT] = "wham" if wham else "vibe-pare"
    if wham:  # SMPL's transl in the camera frame, for the focal jaxrefine assumes by default
        out["transl"] = np.concatenate([np.asarray(v["trans"]) for v in obj.values()])
        if all(v.get("verts") is not None for v in obj.values()):
            _check_wham(out["transl"], [np.asarray(v["verts"]) for v in obj.values()], path)
    if len(out["track_id"]) != len(out["frame_ids"].reshape(-1)):
        raise InputError(f"{path}: the people's 'frame_ids' are not one list of numbers each")
    return out


def _check_wham(transl: np.ndarray, verts: list[np.ndarray], path: Path) -> None:
    """WHAM's ``trans`` read as SMPL's camera-frame ``transl``: each body's vertices (its
    ``verts``, one (N_p, V, 3) array per person) must centre within
    :data:`WHAM_CENTRE_TOL` of it."""
    centre = np.concatenate([np.asarray(v, np.float64).mean(1) for v in verts])
    t = np.asarray(transl, np.float64).reshape(-1, 3)
    if centre.shape != t.shape or not (np.all(np.isfinite(t)) and np.all(np.isfinite(centre))):
        raise InputError(f"{path}: WHAM's 'trans' and 'verts' do not hold one finite body "
                         "per frame")  # fmt: skip
    # a damaged file's vertices can be near float64's limit: clipped, their norm stays finite
    off = np.linalg.norm(np.clip(centre - t, -MISS_CLIP, MISS_CLIP), axis=1)
    if np.any(off > WHAM_CENTRE_TOL):
        raise InputError(
            f"{path}: WHAM's 'trans' is {off.max():.2f} m from its body's vertices (at most "
            f"{WHAM_CENTRE_TOL} m for SMPL's camera-frame translation): not WHAM's demo output "
            "as jaxrefine reads it"
        )
