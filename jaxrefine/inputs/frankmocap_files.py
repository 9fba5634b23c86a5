"""FrankMocap's body module output (``demo.demo_bodymocap --save_pred_pkl``:
``<out_dir>/mocap/<image>_prediction_result.pkl``) as one dict of arrays that
:mod:`jaxrefine.inputs.estimates` reads like any other.

What the file holds, from FrankMocap's code (``demo/demo_bodymocap.py``,
``mocap_utils/demo_utils.py: save_pred_to_pkl``, ``bodymocap/body_mocap_api.py: regress``,
``mocap_utils/coordconv.py``, ``bodymocap/constants.py``): ``pickle.dump`` of an OrderedDict
with ``demo_type`` ("body"), ``smpl_type`` ("smpl"; "smplx" with ``--use_smplx`` and the
hand / whole-body demos), ``image_path``, ``body_bbox_list`` and ``pred_output_list``, one
entry per detected person (largest box first; None where the crop failed), each a dict of:

- ``pred_rotmat`` (1, 24, 3, 3) SMPL's rotations, the root's in the camera frame (SPIN's
  regressor); ``pred_betas`` (1, 10);
- ``pred_camera`` ``[s, tx, ty]``: a weak-perspective camera of the 224-pixel crop applied as
  ``s * X + t`` (``convert_smpl_to_bbox``: scale first, then the shift; SPIN's own convention
  is ``s * (X + t)``), ``X`` SMPL's points in its model frame (no translation), then
  ``* 112 + 112`` crop pixels; ``bbox_top_left`` (2,) and ``bbox_scale_ratio`` (crop pixels
  per image pixel) place the crop in the image (``convert_bbox_to_oriIm``): the crop's box
  has side ``224 / ratio`` and centre ``top_left + 112 / ratio``, so the camera is SPIN's
  ``[s, tx / s, ty / s]`` for that box;
- ``pred_joints_img`` (49, 3): SPIN's 49 joints drawn that way, in pixels from the image
  centre (``- image size / 2``); its OpenPose joints 1-14 are SMPL's joints
  (:data:`OPENPOSE_FROM_SMPL`), which check the reading (:data:`FRANKMOCAP_JOINT_TOL`);
- ``img_cropped_norm`` (a PyTorch tensor, read without torch), ``img_cropped``, ``faces``,
  and the vertices only with ``--save_mesh``: left.

One file per image: give the ``mocap`` folder (its files name their images by
``image_path``), with the images FrankMocap read (a video's: the ``frames`` folder its
``--save_frame`` writes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxrefine.inputs.errors import InputError
from jaxrefine.inputs.tracker_files import TRACKER_FORMAT

FRANKMOCAP_KEYS = ("demo_type", "smpl_type", "image_path", "pred_output_list")
CROP = 224.0  # its HMR's input size (constants.IMG_RES)
# SPIN's JOINT_MAP: OpenPose joints 1-14 (neck, shoulders, elbows, wrists, mid hip, hips,
# knees, ankles) are these SMPL joints
OPENPOSE_FROM_SMPL = (12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7)
# The body model's joints posed as read and drawn with FrankMocap's camera against its own
# drawing (pred_joints_img): mean distance as a share of the joints' 2D extent. SMPL's own
# joints agree to float precision; legitimate differences stay at most 0.041 (another shape)
# and 0.032 (every joint moved 3 cm, the pelvis 9 cm: another body model's skeleton); frames
# of another video or size (720x1280 for 480x640) miss by 0.78-1.9. Finer misreadings stay
# below it (a 40-pixel narrower frame 0.05-0.11, a mirrored pose 0.03-0.26, SPIN's order of
# scale and shift <= 0.08; docs/measurements/2026-12-04/s35_xeon/frankmocap_joint_check.txt):
# the check catches a wrong file or frame, the code-derived reading the rest
FRANKMOCAP_JOINT_TOL = 0.1


def is_frankmocap(obj) -> bool:
    """A FrankMocap prediction file: its top-level keys."""
    return isinstance(obj, dict) and all(k in obj for k in FRANKMOCAP_KEYS)


def frankmocap_rows(obj: dict, path: Path) -> dict:
    """FrankMocap's file as one dict of arrays: ``pose`` (N, 24, 3, 3), ``betas``,
    ``pred_cam`` (SPIN's convention) with ``box_center`` / ``box_size``, ``imgname``, and
    ``frank_camera`` / ``frank_box`` / ``frank_joints`` for :func:`check_joints`.

    Raises:
      InputError: SMPL-X output, a file without people, damaged entries (naming ``path``).
    """
    if obj["smpl_type"] != "smpl" or obj["demo_type"] != "body":
        raise InputError(
            f"{path}: FrankMocap's {obj['demo_type']!r} output of {obj['smpl_type']!r} bodies: "
            "jaxrefine reads its body module's SMPL output (demo_bodymocap without --use_smplx)"
        )
    if not isinstance(obj["pred_output_list"], list | tuple):
        raise InputError(f"{path}: FrankMocap's 'pred_output_list' must be a list of people")
    people = [p for p in obj["pred_output_list"] if p is not None]
    if not people:
        raise InputError(f"{path}: FrankMocap found nobody in {obj['image_path']}")
    try:
        cam = _stack(people, "pred_camera", (3,))
        ratio = _stack(people, "bbox_scale_ratio", (-1,))[:, 0]
        top_left = _stack(people, "bbox_top_left", (2,))
        out = {"pose": _stack(people, "pred_rotmat", (24, 3, 3)),
               "betas": _stack(people, "pred_betas", (-1,)),
               "frank_joints": _stack(people, "pred_joints_img", (49, 3))[:, 1:15, :2]}  # fmt: skip
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{path}: FrankMocap's output with damaged entries "
                         f"({type(exc).__name__}: {exc})") from None  # fmt: skip
    if not (np.all(np.isfinite(ratio)) and np.all(ratio > 0) and np.all(cam[:, 0] > 0)):
        raise InputError(f"{path}: FrankMocap's 'bbox_scale_ratio' and camera scale must be "
                         "positive")  # fmt: skip
    side = CROP / ratio
    out.update({"pred_cam": np.column_stack([cam[:, 0], cam[:, 1:] / cam[:, :1]]),
                "box_center": top_left + side[:, None] / 2, "box_size": side,
                "frank_camera": cam, "frank_box": np.column_stack([top_left, ratio]),
                "imgname": np.array([str(obj["image_path"])] * len(people)),
                TRACKER_FORMAT: "frankmocap"})  # fmt: skip
    return out


def _stack(people: list[dict], key: str, shape: tuple) -> np.ndarray:
    """Every person's ``key`` as one float64 array (N, *shape)."""
    return np.stack([np.asarray(p[key], np.float64).reshape(shape) for p in people])


def draw_joints(joints: np.ndarray, camera: np.ndarray, box: np.ndarray,
                image_size: tuple[int, int]) -> np.ndarray:  # fmt: skip
    """SMPL joints in the model frame (J, 3) as FrankMocap draws them: ``camera`` [s, tx, ty],
    ``box`` [top-left x, y, ratio], pixels from the centre of the (H, W) image -> (J, 2)."""
    s, t, ratio = camera[0], camera[1:], box[2]
    crop = (s * joints[:, :2] + t) * CROP / 2
    h, w = image_size
    return crop / ratio + box[:2] - np.array([w, h]) / 2 + CROP / 2 / ratio


def check_joints(ours: np.ndarray, theirs: np.ndarray, path: Path) -> None:
    """``ours`` (N, 14, 2): the body model's joints drawn by :func:`draw_joints`; ``theirs``
    (N, 14, 2): FrankMocap's, as :data:`FRANKMOCAP_JOINT_TOL` says."""
    extent = np.linalg.norm(np.ptp(theirs, axis=1), axis=1)
    miss = np.linalg.norm(ours - theirs, axis=2).mean(1) / np.maximum(extent, 1e-9)
    if not np.all(miss <= FRANKMOCAP_JOINT_TOL):
        raise InputError(
            f"{path}: FrankMocap's joints ('pred_joints_img') are {np.max(miss):.0%} of the "
            f"body's size (at most {FRANKMOCAP_JOINT_TOL:.0%}) from the body as jaxrefine "
            "reads it: give the images FrankMocap read, at the size it read them"
        )
