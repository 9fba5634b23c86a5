"""Initial estimates in the formats people have, as camera-frame SMPL parameters.

Accepted files (detected by their keys; ``.npz``, or ``.pkl`` / ``.pk`` holding a dict of
arrays, plain or written by ``joblib.dump``, compressed or not:
:mod:`jaxrefine.inputs.joblib_pickle`; or ``.pt`` / ``.pth`` written by ``torch.save``,
read without torch: :mod:`jaxrefine.inputs.torch_pickle`):

- jaxrefine result: ``format == "jaxrefine-result-v1"`` (:mod:`jaxrefine.io`);
- pose, axis-angle: ``global_orient`` (N,3) + ``body_pose`` (N,69)/(N,23,3), or
  ``pose_cam``/``pose``/``poses``/``thetas``/``pred_pose`` (N,72)/(N,24,3);
- pose, rotation matrices: the same keys as (N,24,3,3), or (N,1,3,3) + (N,23,3,3), or
  ``pred_rotmat`` (SPIN);
- shape: ``betas``/``pred_betas``/``pred_shape``/``shape`` (N,B);
- full-image camera: ``transl``/``cam_t``/``pred_cam_t_full`` (N,3), optional
  ``camera_K``/``cam_K``/``cam_int`` (N,3,3) or ``intrinsics`` (N,4) or ``focal_length``
  (N,)/();
- BEDLAM's and CameraHMR's training labels: ``pose_cam`` (the camera-frame pose, read before
  a ``pose`` beside it), ``shape``, ``cam_int``, ``imgname``, and ``trans_cam`` plus the
  translation of ``cam_ext`` (N,4,4) when there is one (their loaders' sum);
- crop camera: ``pred_cam`` (N,3) ``[s, tx, ty]`` with ``box_center`` (N,2) + ``box_size`` (N,)
  (HMR 2.0 / 4D-Humans) or ``center`` (N,2) + ``scale`` (N,) (SPIN / PARE: side = 200 * scale);
- full-image weak-perspective camera: ``orig_cam`` (N,4) ``[sx, sy, tx, ty]`` (VIBE / PARE);
- which frame: ``frame``/``frame_index``/``frame_idx``/``frame_ids`` (int) or
  ``imgname``/``image_name``;
- which person: ``track_id``/``person_id``/``track`` (int);
- trackers' files (:mod:`jaxrefine.inputs.tracker_files`): VIBE's, PARE's and WHAM's video
  output and 4D-Humans' ``track.py`` (PHALP) output, flattened to the keys above;
- CLIFF's demo ``.npz`` (:mod:`jaxrefine.inputs.cliff_files`: its ``global_t`` and
  ``focal_l``, each estimate's image from its detection row);
- HybrIK's ``res.pk`` (:mod:`jaxrefine.inputs.hybrik_files`: quaternions, its pelvis
  position, its crop's focal);
- MMHuman3D's demo ``inference_result.npz`` (:mod:`jaxrefine.inputs.mmhuman3d_files`: a
  HumanData of SMPL parameters, crop cameras and detection boxes, checked against its own
  vertices);
- ROMP's ``.npz`` of one image or its ``video_results.npz`` (:mod:`jaxrefine.inputs.romp_files`:
  its ``cam`` is a crop camera of the image padded to a square);
- FrankMocap's ``mocap/<image>_prediction_result.pkl`` (body module, SMPL; a folder of them)
  (:mod:`jaxrefine.inputs.frankmocap_files`: its ``s * X + t`` crop camera, checked against
  its drawing of the joints);
- TRAM's ``hps_track_<k>.npy`` (``np.save`` of a dict of PyTorch tensors, read without torch),
  a file or its ``hps`` folder, with its ``camera.npy`` (:mod:`jaxrefine.inputs.tram_files`);
- EasyMocap's ``output/smpl/<frame>.json`` (a file or the folder) with its calibration
  (``intri.yml`` / ``extri.yml``): its world-frame bodies seen by the images' camera
  (:mod:`jaxrefine.inputs.easymocap_files`);
- a mesh of the body model's topology in the camera frame (``.obj`` or ``.ply``, 4D-Humans'
  ``demo.py --save_mesh``: ``<image>_<person>.obj``; trimesh's and Open3D's exports,
  jaxrefine's own ``refine --obj`` / ``--ply``), its parameters fitted to the vertices
  (:mod:`jaxrefine.inputs.mesh_files`);
- a folder of such files, one per image and named after it (PARE's image output, ROMP's).

A crop camera becomes a full-image pinhole camera with
:func:`jaxrefine.camera.weak_perspective_to_full` (focal ``sqrt(w^2 + h^2)`` and the principal
point at the image centre unless intrinsics are given); the body's translation is then the
camera's translation (R = I: the regressor's body frame is the camera frame). A
``pred_cam_t_full`` without intrinsics is 4D-Humans' translation, computed (its demo.py) with
focal ``5000 / 256 * max(h, w)`` and the principal point at the image centre; that focal is
used for it (:data:`HMR2_FOCAL_PER_SIDE`). Everything is checked before any work starts.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import os
import pickle
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jaxrefine import safepickle
from jaxrefine.camera import (
    CameraWarning,
    box_centre_outside,
    focal_from_image_size,
    weak_perspective_to_full,
)
from jaxrefine.geometry import first_joint_past_a_turn, rotvec_from_matrices
from jaxrefine.inputs import (
    cliff_files,
    easymocap_files,
    frankmocap_files,
    hybrik_files,
    joblib_pickle,
    mesh_files,
    mmhuman3d_files,
    romp_files,
    torch_pickle,
    tram_files,
)
from jaxrefine.inputs.errors import InputError
from jaxrefine.inputs.tracker_files import HMR2_FOCAL_PER_SIDE, TRACKER_FORMAT, flatten
from jaxrefine.io import model_mismatch

# ``pose_cam`` first: BEDLAM's / CameraHMR's labels hold it (camera frame) beside ``pose``
POSE_KEYS = ("pose_cam", "pose", "poses", "thetas", "pred_pose", "pred_rotmat", "smpl_pose")
BETA_KEYS = ("betas", "pred_betas", "pred_shape", "shape")
TRANSL_KEYS = ("transl", "cam_t", "pred_cam_t_full", "trans_cam")
# parameters of SMPL-X (face, eyes, hands) and SMPL+H (hands) that SMPL has not
OTHER_LAYOUT_KEYS = ("jaw_pose", "leye_pose", "reye_pose", "expression", "left_hand_pose",
                     "right_hand_pose", "pose_body", "pose_hand")  # fmt: skip
# whole-body pose vectors of other layouts, by their number of joints: SMPL+H's 52 (AMASS's
# 156-number ``poses``), SMPL-X's 55 (165 numbers)
OTHER_LAYOUT_JOINTS = {52: "SMPL+H", 55: "SMPL-X"}
FRAME_KEYS = ("frame", "frame_index", "frame_idx", "frame_ids", "imgname", "image_name")
TRACK_KEYS = ("track_id", "person_id", "track")
SPIN_BOX_SCALE = 200.0  # SPIN / PARE store the box side divided by 200 pixels
MAX_VALUE = 1e8  # no parameter, translation or pixel is this large: a damaged file
# VIBE's / PARE's orig_cam [sx, sy, tx, ty] has sx * W = sy * H (both the crop's scale times its
# box over the image side); a frame whose aspect differs by more than this is not the image
# the regressor saw (float32 storage rounds at 1e-7)
ORIG_CAM_ASPECT_TOL = 0.01
# the chunks ``refine`` keeps for --resume (jaxrefine.parts.PART_FORMAT, every version; that
# module reads user inputs through this package, so it cannot be imported here)
REFINE_PART_FORMAT = "jaxrefine-refine-part"
SHOWN_KEYS = 20  # a message names at most this many of a file's keys
ESTIMATE_SUFFIXES = (".npz", ".pkl", ".pickle", ".pk", ".npy", ".pt", ".pth", ".json", ".obj",
                     ".ply")  # fmt: skip
# how an Estimates' track ids were made (its tracks_from), in the words the report uses
TRACKS_FROM = {
    "file": "the file's track ids",
    "one": "one track: no track ids, at most one estimate per image",
    "files": "each file's people their own tracks (a folder of files without track ids)",
    "linked": "linked by jaxrefine's tracker (a video's estimates without track ids)",
    "each": "each estimate its own track (images with several estimates, no track ids)",
    "detected": "jaxrefine's (the people it found or was given)",
}
# the fields of Estimates with one row per person (the others describe the whole file)
PER_PERSON = ("global_orient", "body_pose", "betas", "transl", "intrinsics", "frame", "track_id",
              "person", "score")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Estimates:
    """N initial estimates (camera frame, R = I, metres, OpenCV axes).

    Attributes:
      global_orient: (N, 3) axis-angle. body_pose: (N, 23, 3) axis-angle. betas: (N, B).
      transl: (N, 3). intrinsics: (N, 4) (fx, fy, cx, cy) pixels, NaN where the file gave none
        (filled from the image size by :meth:`with_default_intrinsics`).
      frame: (N,) object array of frame names (str) or indices (int); None = in file order.
      track_id: (N,) int64 person ids (0 when the file has none).
      source: the file read. fmt: the detected format.
      focal_rule: how missing focal lengths are filled: ``"diagonal"`` (``sqrt(w^2 + h^2)``)
        or ``"hmr2"`` (``5000 / 256 * max(h, w)``, 4D-Humans' ``pred_cam_t_full``).
      person: (N,) int64 each person's place among their image's detections (a keypoint
        file's people in the file's order, BlazePose's detections best first; for an
        estimates file given keypoints, the keypoint person it matched, -1 for none), or None
        (an estimates file alone: its rows are the people).
      score: (N,) float32 the detection's score (BlazePose's detector score, 1 for a user's
        box; a keypoint file's :func:`~jaxrefine.inputs.keypoint_files.person_scores`; NaN
        where ``person`` is -1), or None with ``person``.
      named_tracks: whether ``track_id`` says who is who (the file's ids, or ids given by
        jaxrefine); False: the file had none, and all are 0 until
        :func:`separate_tracks` knows the images.
      tracks_from: how ``track_id`` was made (:data:`TRACKS_FROM`).
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    intrinsics: np.ndarray
    frame: np.ndarray | None
    track_id: np.ndarray
    source: str
    fmt: str
    focal_rule: str = "diagonal"
    person: np.ndarray | None = None
    score: np.ndarray | None = None
    named_tracks: bool = True
    tracks_from: str = "file"

    def __len__(self) -> int:
        return int(self.betas.shape[0])

    def take(self, rows) -> Estimates:
        """The estimates of ``rows`` (an index array or a boolean mask), every per-person
        array cut alike."""
        return dataclasses.replace(self, **{k: getattr(self, k)[rows] for k in self._per_person()})

    def _per_person(self) -> tuple[str, ...]:
        return tuple(k for k in PER_PERSON if getattr(self, k) is not None)

    @property
    def pose(self) -> np.ndarray:
        """(N, 24, 3) axis-angle, global orientation first."""
        return np.concatenate([self.global_orient[:, None], self.body_pose], 1)

    def with_default_intrinsics(self, image_size: Callable[[int], tuple[int, int]]) -> Estimates:
        """Fill missing intrinsics: the focal of ``focal_rule`` (unless the file gave one) and
        the image centre; ``image_size(i)`` gives (H, W) of estimate i's image."""
        k = self.intrinsics.copy()
        for i in np.flatnonzero(~np.all(np.isfinite(k), 1)):
            h, w = image_size(int(i))
            if not np.isfinite(k[i, 0]):
                f = focal_from_image_size(h, w)
                if self.focal_rule == "hmr2":
                    f = HMR2_FOCAL_PER_SIDE * max(h, w)
                k[i, :2] = f
            k[i, 2:] = (w / 2.0, h / 2.0)
        return dataclasses.replace(self, intrinsics=k.astype(np.float32))


def concat_estimates(parts: list[Estimates]) -> Estimates:
    """One :class:`Estimates` of ``parts`` (at least one) in order; a per-person field that
    some part lacks (None) is None in the result."""
    cat = {k: (np.concatenate([getattr(p, k) for p in parts])
               if all(getattr(p, k) is not None for p in parts) else None)
           for k in PER_PERSON}  # fmt: skip
    return dataclasses.replace(parts[0], **cat)


def separate_tracks(est: Estimates, frame_of: np.ndarray, names, link=None) -> Estimates:
    """``est`` with at most one estimate of each track in an image (a track is one person;
    two in one image would share a shape, a motion and an overlay's file name).

    Estimates without track ids (:attr:`Estimates.named_tracks` False: a file without them,
    or a folder of per-image files) keep the ids as read when every image holds at most one
    of them and they are one track (a person through the images) or there is no ``link``
    (a folder's files: each their own track). Otherwise ``link(est, frame_of)`` gives their
    track ids (a video's people linked from frame to frame), or, without ``link``, each is
    their own track. A file whose own track ids repeat within an image is refused.

    Args:
      frame_of: (N,) each estimate's image index. names: the images' names (for messages).
      link: None, or a function giving (N,) int64 track ids.
    """
    if not est.named_tracks:
        several = np.bincount(np.asarray(frame_of, np.int64)).max(initial=0) > 1
        if not several and len(np.unique(est.track_id)) <= 1:
            return dataclasses.replace(est, tracks_from="one")
        if not several and link is None:
            return est  # a folder's files, each its people's own tracks
        ids = np.arange(len(est), dtype=np.int64) if link is None else link(est, frame_of)
        return dataclasses.replace(est, track_id=np.asarray(ids, np.int64), named_tracks=True,
                                   tracks_from="each" if link is None else "linked")  # fmt: skip
    pairs, counts = np.unique(np.stack([frame_of, est.track_id], 1), axis=0, return_counts=True)
    if np.all(counts <= 1):
        return est
    (frame, track), many = pairs[np.argmax(counts)], int(counts.max())
    raise InputError(
        f"{est.source}: track {track} has {many} estimates in image {names[frame]!r}: a track "
        "is one person, seen at most once per image (give each person their own track id)"
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers, numpy arrays and PyTorch tensors (as numpy arrays:
    :mod:`jaxrefine.inputs.torch_pickle`) only (a user's file may not run code)."""

    def find_class(self, module, name):
        if (tensor := torch_pickle.find_class(module, name)) is not None:
            return tensor
        if (module, name) in joblib_pickle.ARRAY_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_arrays(path: Path, camera: str | None = None) -> dict:
    """A file's estimates as a dict of arrays; ``camera``: the name of the images' camera
    (an EasyMocap calibration's, :mod:`jaxrefine.inputs.easymocap_files`)."""
    if not path.is_file():
        raise InputError(f"{path}: no such estimates file")
    if path.suffix == ".json":
        return _read_json(path, camera)
    if path.suffix in mesh_files.MESH_SUFFIXES:
        return mesh_files.mesh_rows(path)
    try:
        if path.suffix == ".npz":
            return _regressor_rows(_read_npz(path), path)
        if path.suffix in (".pkl", ".pickle", ".pk"):
            obj = _unpickle(path.read_bytes())
        elif path.suffix == ".npy":
            obj = _read_npy(io.BytesIO(path.read_bytes()))
        elif path.suffix in (".pt", ".pth"):
            obj = torch_pickle.load_zip(path.read_bytes(), joblib_pickle.ARRAY_CLASSES)
        else:
            raise InputError(f"{path}: expected an .npz, .npy, .pkl / .pickle / .pk, .pt / "
                             ".pth or EasyMocap's .json file of SMPL parameters, or an .obj "
                             "or .ply mesh")  # fmt: skip
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: not a readable {path.suffix} file ({exc})") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a dict of arrays, got {type(obj).__name__}")
    if frankmocap_files.is_frankmocap(obj):
        return frankmocap_files.frankmocap_rows(obj, path)
    if isinstance(obj.get("smpl_params_incam"), dict):
        raise InputError(
            f"{path}: GVHMR's results (smpl_params_incam): SMPL-X bodies, whose joints and "
            "shape space differ from SMPL's; jaxrefine refines SMPL-layout bodies (convert "
            "them to SMPL first, e.g. with smplx's transfer_model)"
        )
    if isinstance(obj.get("smpl_params"), dict):  # 4D-Humans nests the SMPL parameters
        obj = {**{k: v for k, v in obj.items() if k != "smpl_params"}, **obj["smpl_params"]}
    return _regressor_rows(flatten(obj, path), path)


def _read_json(path: Path, camera: str | None) -> dict:
    """EasyMocap's SMPL json (the only json of estimates jaxrefine knows)."""
    obj = easymocap_files.read_json(path)
    if isinstance(obj, dict) and {"settings", "frames", "status_counts"} <= obj.keys():
        raise InputError(f"{path}: the report of a jaxrefine refine run: give the refined.npz "
                         "beside it")  # fmt: skip
    if not easymocap_files.is_easymocap(obj):
        raise InputError(
            f"{path}: not EasyMocap's SMPL output (a list of people, each with "
            f"{', '.join(easymocap_files.EASYMOCAP_KEYS)}); keypoint files go to --keypoints"
        )
    return easymocap_files.easymocap_rows(obj, path, camera)


def _regressor_rows(arrays: dict, path: Path) -> dict:
    """A file of ROMP's, CLIFF's, HybrIK's, MMHuman3D's or TRAM's as their rows (one per
    estimate), any other unchanged."""
    for known, rows in ((romp_files.is_romp, romp_files.romp_rows),
                        (cliff_files.is_cliff, cliff_files.cliff_rows),
                        (hybrik_files.is_hybrik, hybrik_files.hybrik_rows),
                        (mmhuman3d_files.is_mmhuman3d,
                         mmhuman3d_files.mmhuman3d_rows)):  # fmt: skip
        if known(arrays):
            return rows(arrays, path)
    if tram_files.is_tram(arrays):
        return tram_files.tram_rows(arrays, path, _read_dict_npy)
    return arrays


def _read_npz(path: Path) -> dict:
    """Every member of an ``.npz``: arrays of numbers as numpy reads them, pickled objects
    (ROMP's ``np.savez(results=dict)``) through :func:`_unpickle`, running no code."""
    with zipfile.ZipFile(path) as z:
        return {name.removesuffix(".npy"): _read_npy(io.BytesIO(z.read(name)))
                for name in z.namelist()}  # fmt: skip


def _read_npy(fh: io.BytesIO):
    """An ``.npy``'s array as numpy reads it, or, for a pickled object (``np.save`` of a dict),
    the object through :func:`_unpickle` (0-d object arrays unwrapped), running no code."""
    version = np.lib.format.read_magic(fh)
    header = {(1, 0): np.lib.format.read_array_header_1_0,
              (2, 0): np.lib.format.read_array_header_2_0}.get(version)  # fmt: skip
    dtype = header(fh)[2] if header is not None else None
    if dtype is not None and dtype.hasobject:
        obj = _unpickle(fh.read())
        return obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj
    return np.lib.format.read_array(io.BytesIO(fh.getvalue()), allow_pickle=False)


def _read_dict_npy(path: Path) -> dict:
    """A file written by ``np.save`` of a dict (TRAM's ``camera.npy``), naming it on failure."""
    try:
        obj = _read_npy(io.BytesIO(path.read_bytes()))
    except Exception as exc:
        raise InputError(f"{path}: not a readable .npy file ({exc})") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected np.save of a dict, got {type(obj).__name__}")
    return obj


def _unpickle(raw: bytes):
    """A plain pickle (checked by :func:`safepickle.scan` first) or a ``joblib.dump`` file
    (:mod:`jaxrefine.inputs.joblib_pickle`), running no code from either."""
    raw = joblib_pickle.decompress(raw)
    if joblib_pickle.is_joblib(raw):
        return joblib_pickle.load(raw)
    safepickle.scan(raw)  # malformed streams and memo bombs, before unpickling
    return _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()


def _float(arrays: dict, key: str, path: Path) -> np.ndarray:
    try:
        a = np.asarray(arrays[key], np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: key {key!r} must hold numbers") from exc
    if not np.all(np.isfinite(a)):
        raise InputError(f"{path}: key {key!r} holds NaN or inf")
    if np.any(np.abs(a) > MAX_VALUE):
        raise InputError(f"{path}: key {key!r} holds values beyond {MAX_VALUE:g}")
    return a


def _axis_angle(a: np.ndarray, joints: int, key: str, path: Path) -> np.ndarray:
    """(N, joints*3) / (N, joints, 3) axis-angle or (N, joints, 3, 3) / (N, joints*9) rotation
    matrices -> (N, joints, 3)."""
    n = a.shape[0] if a.ndim else 0
    if a.ndim >= 3 and a.shape[-2:] == (3, 3) and a.size == n * joints * 9:
        try:
            return rotvec_from_matrices(a.reshape(n, joints, 3, 3))
        except ValueError as exc:
            raise InputError(f"{path}: {key!r} {exc}") from None
    if a.size == n * joints * 3 and a.ndim in (2, 3):
        return a.reshape(n, joints, 3)
    raise InputError(
        f"{path}: {key!r} has shape {a.shape}; expected (N, {joints * 3}), (N, {joints}, 3) "
        f"axis-angle or (N, {joints}, 3, 3) rotation matrices"
    )


def _check_smpl_layout(arrays: dict, path: Path) -> None:
    """Refuse, by name, the estimates of bodies in another layout than SMPL's: SMPL-X's face
    and hand parameters, SMPL+H's hands, a 21-joint ``body_pose`` (theirs; SMPL has 23) or
    ``pose_body`` (AMASS's, HuMoR's, SLAHMR's), a whole-body pose of 52 or 55 joints. Their
    joints and shape spaces differ from SMPL's, so reading only the shared keys would
    misplace the body."""
    for key in (k for k in POSE_KEYS if k in arrays):
        a = np.asarray(arrays[key])
        per_joint = 9 if a.shape[-2:] == (3, 3) else 3  # rotation matrices or axis-angle
        joints = a.size // max(len(a), 1) // per_joint if a.ndim >= 2 else 0
        if joints in OTHER_LAYOUT_JOINTS:
            raise InputError(
                f"{path}: {key!r} holds {joints} joints' rotations: an "
                f"{OTHER_LAYOUT_JOINTS[joints]} body (SMPL has 24), whose joints and shape space "
                "differ from SMPL's; jaxrefine refines SMPL-layout bodies (convert it to SMPL "
                "first, e.g. with smplx's transfer_model)"
            )
    other = [k for k in OTHER_LAYOUT_KEYS if k in arrays]
    bp = arrays.get("body_pose")
    size = None if bp is None else np.asarray(bp).size
    n = 0 if bp is None or not np.ndim(bp) else np.shape(bp)[0]
    if other or (n and size in (n * 63, n * 21 * 9)):
        what = f"holds {', '.join(other)}" if other else "has a 21-joint 'body_pose'"
        raise InputError(
            f"{path}: {what}: an SMPL-X or SMPL+H body, whose joints and shape space differ "
            "from SMPL's; jaxrefine refines SMPL-layout bodies (convert it to SMPL first, e.g. "
            "with smplx's transfer_model)"
        )


def _pose(arrays: dict, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if "global_orient" in arrays and "body_pose" in arrays:
        go = _float(arrays, "global_orient", path)
        bp = _float(arrays, "body_pose", path)
        return _axis_angle(go, 1, "global_orient", path)[:, 0], _axis_angle(
            bp, 23, "body_pose", path
        )
    for key in POSE_KEYS:
        if key in arrays:
            pose = _axis_angle(_float(arrays, key, path), 24, key, path)
            return pose[:, 0], pose[:, 1:]
    keys = sorted(map(str, arrays))
    if sum(k.endswith((".weight", ".bias")) for k in keys) > len(keys) / 2:
        raise InputError(f"{path}: a network's weights (a state_dict: {keys[0]}, ...), not "
                         "estimates; give the file its demo wrote")  # fmt: skip
    shown = ", ".join(keys[:SHOWN_KEYS]) + (f" and {len(keys) - SHOWN_KEYS} more"
                                            if len(keys) > SHOWN_KEYS else "")  # fmt: skip
    raise InputError(
        f"{path}: no SMPL pose found; expected 'global_orient' + 'body_pose' or one of "
        f"{', '.join(POSE_KEYS)} (found keys: {shown})"
    )


def _check_joint_angles(body_pose: np.ndarray, path: Path) -> None:
    """Refuse a body pose in degrees: a joint rotated past a full turn
    (:func:`jaxrefine.geometry.first_joint_past_a_turn`)."""
    past = first_joint_past_a_turn(body_pose)
    if past is not None:
        i, j, angle = past
        raise InputError(f"{path}: the body pose has a joint rotated by {angle:.3g} (estimate "
                         f"{i}, joint {j}); axis-angle in radians is expected, a joint's within "
                         "a turn (2 pi): degrees? (np.radians converts them)")  # fmt: skip


def _first(arrays: dict, keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if k in arrays), None)


def _intrinsics(arrays: dict, n: int, path: Path) -> np.ndarray:
    k = np.full((n, 4), np.nan)
    key = _first(arrays, ("camera_K", "cam_K", "K", "cam_int"))
    if key:
        K = np.broadcast_to(_float(arrays, key, path), (n, 3, 3)) if n else None
        k = np.stack([K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]], 1)
    elif "intrinsics" in arrays:
        k = np.broadcast_to(_float(arrays, "intrinsics", path), (n, 4)).copy()
    elif "focal_length" in arrays:
        f = np.broadcast_to(_float(arrays, "focal_length", path).reshape(-1), (n,))
        k[:, 0] = k[:, 1] = f  # principal point: the image centre, filled later
    if np.any(k[:, :2] <= 0):
        raise InputError(f"{path}: focal lengths must be positive")
    return k


def _crop_camera_transl(arrays, n, intrinsics, image_size, path) -> np.ndarray:
    cam = _float(arrays, "pred_cam", path).reshape(n, 3)
    if "box_center" in arrays and "box_size" in arrays:
        centre = _float(arrays, "box_center", path).reshape(n, 2)
        size = _float(arrays, "box_size", path).reshape(n)
    elif "center" in arrays and "scale" in arrays:
        centre = _float(arrays, "center", path).reshape(n, 2)
        size = SPIN_BOX_SCALE * _float(arrays, "scale", path).reshape(-1)[:n]
    else:
        raise InputError(
            f"{path}: 'pred_cam' is a crop camera and needs its box: 'box_center' + 'box_size' "
            "(HMR 2.0) or 'center' + 'scale' (SPIN / PARE)"
        )
    if image_size is None:
        raise InputError(f"{path}: a crop camera needs the image size (give the images)")
    _warn_box_outside(centre, [image_size(i) for i in range(n)], path)
    out = np.zeros((n, 3))
    for i in range(n):
        f = intrinsics[i, 0] if np.isfinite(intrinsics[i, 0]) else None
        c = tuple(intrinsics[i, 2:]) if np.all(np.isfinite(intrinsics[i, 2:])) else None
        cam_i = weak_perspective_to_full(
            *cam[i], centre[i], size[i], image_size(i), f, principal_point=c
        )
        out[i] = np.asarray(cam_i.t)
    return out


def _warn_box_outside(centre, sizes, path) -> None:
    """A :class:`~jaxrefine.camera.CameraWarning` when crop boxes ((N, 2) ``centre``) are
    centred outside their images of (N) (H, W) ``sizes`` (:func:`box_centre_outside`),
    naming how many and the first; the estimates are read as given."""
    idx = np.flatnonzero(box_centre_outside(centre, sizes))
    if len(idx):
        i, (h, w) = int(idx[0]), sizes[idx[0]]
        warnings.warn(f"{path}: {len(idx)} of the {len(sizes)} crop boxes are centred outside "
                      f"their image (e.g. estimate {i}: ({centre[i][0]:.0f}, "
                      f"{centre[i][1]:.0f}) in {w}x{h} px): were they made on frames of another "
                      "size (a video's full-size frames, given resized? a photo in its other "
                      "orientation?) The bodies are then drawn away from their people",
                      CameraWarning, stacklevel=4)  # fmt: skip


def _orig_camera_transl(arrays, n, intrinsics, image_size, path) -> np.ndarray:
    """VIBE's / PARE's full-image weak-perspective camera ``orig_cam`` [sx, sy, tx, ty] (their
    renderer puts a body point at pixels ``W / 2 * (1 + sx (X + tx))``, ``H / 2 * (1 + sy
    (Y + ty))``): the crop camera of a box that is the whole image, centred, side W."""
    oc = _float(arrays, "orig_cam", path).reshape(n, 4)
    if image_size is None:
        raise InputError(f"{path}: 'orig_cam' needs the image size (give the images)")
    out = np.zeros((n, 3))
    for i in range(n):
        (h, w), (sx, sy, tx, ty) = image_size(i), oc[i]
        if abs(sx * w - sy * h) > ORIG_CAM_ASPECT_TOL * abs(sx * w):
            raise InputError(
                f"{path}: 'orig_cam' of estimate {i} was made for an image of another shape "
                f"than its {w}x{h} image (sx * W = {sx * w:.4g}, sy * H = {sy * h:.4g}): give "
                "the frames the regressor saw (a photo turned upright by its EXIF orientation "
                "where the regressor read it as stored: --ignore-exif)"
            )
        f = intrinsics[i, 0] if np.isfinite(intrinsics[i, 0]) else None
        c = tuple(intrinsics[i, 2:]) if np.all(np.isfinite(intrinsics[i, 2:])) else None
        cam = weak_perspective_to_full(sx, tx, ty, (w / 2.0, h / 2.0), w, (h, w), f,
                                       principal_point=c)  # fmt: skip
        out[i] = np.asarray(cam.t)
    return out


def _hybrik_transl(arrays, go, bp, betas, model, path) -> np.ndarray:
    """SMPL's ``transl`` of HybrIK's bodies (:mod:`jaxrefine.inputs.hybrik_files`): its pelvis
    position minus the shape's rest pelvis, with the run's body model, whose posed joints
    check the reading against HybrIK's."""
    import jax

    from jaxrefine.body_model import posed_joints

    root = _float(arrays, "hybrik_root", path).reshape(len(betas), 3)
    pelvis = _rest_root(betas, model, path, "HybrIK's translation is its pelvis joint's")
    b = _fit_betas(np.asarray(betas), model.num_betas, path).astype(np.float32)
    if "hybrik_joints" in arrays:
        pose = np.concatenate([go[:, None], bp], 1).astype(np.float32)
        ours = jax.vmap(lambda p, x: posed_joints(model, p, x))(pose, b)
        hybrik_files.check_joints(np.asarray(ours, np.float64),
                                  _float(arrays, "hybrik_joints", path), path)  # fmt: skip
    return root - pelvis


def _rest_root(betas: np.ndarray, model, path: Path, why: str) -> np.ndarray:
    """(N, 3) the rest root joint of each of ``betas``' shapes with the run's body model
    (``why`` it is needed, for the message when there is no model)."""
    import jax

    from jaxrefine.body_model import rest_joints

    if model is None:
        raise InputError(f"{path}: {why}: reading it needs the body model")
    b = _fit_betas(np.asarray(betas), model.num_betas, path).astype(np.float32)
    return np.asarray(jax.vmap(lambda x: rest_joints(model, x)[0])(b), np.float64)


def _easymocap_transl(arrays, betas, model, size_of, path) -> np.ndarray:
    """SMPL's ``transl`` of EasyMocap's bodies (:mod:`jaxrefine.inputs.easymocap_files`):
    ``M J0 - J0 + R Th + T`` with the shape's rest root joint ``J0`` of the run's body model;
    each image checked against the calibration's size."""
    turn = _float(arrays, "easymocap_turn", path).reshape(len(betas), 3, 3)
    j0 = _rest_root(betas, model, path, "EasyMocap turns its bodies about the model's origin")
    if size_of is not None:
        k = _float(arrays, "intrinsics", path).reshape(len(betas), 4)
        for i in range(len(betas)):
            easymocap_files.check_image_size(arrays.get("easymocap_size"), size_of(i), k[i],
                                             path)  # fmt: skip
    shift = _float(arrays, "easymocap_shift", path).reshape(len(betas), 3)
    return np.einsum("nij,nj->ni", turn, j0) - j0 + shift


def _check_frankmocap(arrays, go, bp, betas, model, image_size, path) -> None:
    """FrankMocap's bodies (:mod:`jaxrefine.inputs.frankmocap_files`) drawn with its own
    camera, the run's body model posed as read, against its drawing of SMPL's joints."""
    import jax

    from jaxrefine.body_model import posed_joints

    if model is None:
        raise InputError(f"{path}: FrankMocap's file is checked against its joints with the "
                         "body model: give it")  # fmt: skip
    pose = np.concatenate([go[:, None], bp], 1).astype(np.float32)
    b = _fit_betas(np.asarray(betas), model.num_betas, path).astype(np.float32)
    joints = np.asarray(jax.vmap(lambda p, x: posed_joints(model, p, x))(pose, b), np.float64)
    cams, boxes = _float(arrays, "frank_camera", path), _float(arrays, "frank_box", path)
    picked, draw = list(frankmocap_files.OPENPOSE_FROM_SMPL), frankmocap_files.draw_joints
    ours = np.stack([draw(joints[i, picked], cams[i], boxes[i], image_size(i))
                     for i in range(len(pose))])  # fmt: skip
    frankmocap_files.check_joints(ours, _float(arrays, "frank_joints", path), path)


def _romp_camera_transl(arrays, n, intrinsics, image_size, path) -> np.ndarray:
    """ROMP's ``cam`` (:mod:`jaxrefine.inputs.romp_files`): SPIN's crop camera of the square
    ROMP padded the image to; checked against ROMP's own drawing of its joints."""
    cam = _float(arrays, "romp_cam", path).reshape(n, 3)
    if image_size is None:
        raise InputError(f"{path}: ROMP's camera needs the image size (give the images)")
    out, k = np.zeros((n, 3)), np.zeros((n, 4))
    for i in range(n):
        size = image_size(i)
        centre, side = romp_files.padded_box(size)
        f = intrinsics[i, 0] if np.isfinite(intrinsics[i, 0]) else None
        c = tuple(intrinsics[i, 2:]) if np.all(np.isfinite(intrinsics[i, 2:])) else None
        full = weak_perspective_to_full(*romp_files.spin_camera(cam[i]), centre, side, size, f,
                                        principal_point=c)  # fmt: skip
        out[i], k[i] = np.asarray(full.t), (full.fx, full.fy, full.cx, full.cy)
    if "romp_joints" in arrays:
        romp_files.check_camera(_float(arrays, "romp_joints", path),
                                _float(arrays, "romp_pj2d", path), out, k, path)  # fmt: skip
    return out


def _check_tram(transl: np.ndarray, intr: np.ndarray, size_of, path: Path) -> None:
    """TRAM's translations are for the focal of its ``camera.npy`` (or the user's): without
    either they are refused; with the images' sizes, the bodies must land in them."""
    if not np.all(np.isfinite(intr)):
        raise InputError(
            f"{path}: TRAM's translations were made for the focal in its "
            f"{tram_files.CAMERA_FILE}, which is neither in the folder above (TRAM's "
            "results/<video>/) nor beside it: keep the file there, or give that focal and "
            "principal point with --intrinsics"
        )
    if size_of is not None:
        sizes = np.array([size_of(i) for i in range(len(transl))], np.float64).reshape(-1, 2)
        tram_files.check_camera(transl, intr, sizes, path)


def _check_lengths(path: Path, **arrays: np.ndarray) -> int:
    sizes = {k: len(v) for k, v in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise InputError(f"{path}: arrays disagree on the number of estimates: {sizes}")
    return next(iter(sizes.values()))


def read_estimates(
    path: str | os.PathLike,
    image_size: Callable[[int], tuple[int, int]] | None = None,
    num_betas: int | None = None,
    intrinsics: tuple[float, float, float, float] | None = None,
    model=None,
    camera: str | None = None,
    progress: bool = False,
) -> Estimates:
    """Read and check an estimates file (see the module docstring for the formats).

    Args:
      path: ``.npz`` or ``.pkl``, or a folder of them, one per image and named after it
        (:func:`_read_folder`).
      image_size: ``key -> (H, W)`` of an estimate's image (needed for crop cameras); ``key``
        is the estimate's frame entry (image name or index) or, when the file has none, the
        estimate's position.
      num_betas: the body model's number of betas: fewer are zero-padded, more are refused
        unless the extra ones are all zero.
      intrinsics: the user's (fx, fy, cx, cy) for every frame; replaces the file's and is used
        when converting crop cameras.
      model: the body model the estimates will be refined with: a jaxrefine result fitted
        with another model (``model_id``, gender, number of betas) is refused.
      camera: the images' camera among a calibration's (EasyMocap's: the images folder's
        name, :func:`~jaxrefine.inputs.easymocap_files.read_camera`), or None.
      progress: a progress bar over a folder of meshes (each one is read by fitting the body
        model to it: 0.2-0.5 s each on 2 cores).
    """
    path = Path(path)
    if path.is_dir() and (tracks := tram_files.track_files(path)):
        return _read_tracks(path, tracks, image_size, num_betas, intrinsics, model)
    if path.is_dir():
        return _read_folder(path, image_size, num_betas, intrinsics, model, camera, progress)
    return _read_file(path, _read_arrays(path, camera), image_size, num_betas, intrinsics, model)


def _no_people(arrays: dict) -> bool:
    """An EasyMocap frame without people (a folder's such files are left out)."""
    return arrays.get(TRACKER_FORMAT) == "easymocap" and not len(arrays["betas"])


def _read_file(path: Path, arrays: dict, image_size, num_betas, intrinsics, model) -> Estimates:
    if _no_people(arrays):
        raise InputError(f"{path}: EasyMocap's frame holds no people")
    try:
        return _read_estimates(path, arrays, image_size, num_betas, intrinsics, model)
    except InputError as exc:  # e.g. from image_size: the message names the file too
        if str(path) in str(exc):
            raise
        raise InputError(f"{path}: {exc}") from None
    except (ValueError, TypeError, IndexError) as exc:
        raise InputError(f"{path}: inconsistent estimates ({type(exc).__name__}: {exc})") from None


def _read_tracks(folder: Path, files: list[Path], image_size, num_betas, intrinsics,
                 model) -> Estimates:  # fmt: skip
    """TRAM's folder of track files (:func:`~jaxrefine.inputs.tram_files.track_files`), each
    file a person's frames, read in the order of their track numbers."""
    parts = [_read_file(f, _read_arrays(f), image_size, num_betas, intrinsics, model)
             for f in files]  # fmt: skip
    return dataclasses.replace(concat_estimates(parts), source=str(folder))


def _subfolder_hint(folder: Path) -> str:
    """Where below ``folder`` estimates files lie (a regressor's output folder given instead
    of its results folder: FrankMocap's ``mocap/``, PARE's ``pare_results/``), as a hint."""
    found = sorted((sum(p.suffix in ESTIMATE_SUFFIXES for p in sub.iterdir()), sub.name)
                   for sub in folder.iterdir() if sub.is_dir())  # fmt: skip
    found = [(n, name) for n, name in found if n]
    if not found:
        return ""
    n, name = found[-1]
    return f"; its subfolder {name}/ holds {n}: give that folder"


def _check_one_mesh_per_stem(files: list[Path], folder: Path) -> None:
    """A person's mesh as both ``.obj`` and ``.ply`` (``refine --obj --ply``) would be read
    twice, as two people in one place."""
    stems = collections.Counter(p.stem for p in files if p.suffix in mesh_files.MESH_SUFFIXES)
    if twice := sorted(s for s, n in stems.items() if n > 1):
        raise InputError(
            f"{folder}: the meshes {', '.join(twice[:3])} are there as both .obj and .ply: "
            "the same people twice; give a folder of one kind"
        )


def _check_not_an_output_folder(folder: Path) -> None:
    """``jaxrefine refine``'s own output folder (its ``refined.npz`` beside its
    ``report.json``, named in :mod:`jaxrefine.refine_outputs`) given as estimates: its report
    and other files are no estimates, and its result and meshes are the same people."""
    if (folder / "refined.npz").is_file() and (folder / "report.json").is_file():
        raise InputError(
            f"{folder}: a jaxrefine refine output folder: give its refined.npz (its bodies and "
            f"camera), or its meshes/ folder with --intrinsics {folder / 'refined.npz'}"
        )


def _read_folder(folder: Path, image_size, num_betas, intrinsics, model, camera,
                 progress: bool = False) -> Estimates:  # fmt: skip
    """A folder of estimates files, one per image and named after it (PARE's image output
    writes ``<image>.pkl`` with a row per person; ROMP's ``--mode video`` writes
    ``<frame>.npz`` and :data:`~jaxrefine.inputs.romp_files.VIDEO_RESULTS`, all of them again,
    left out beside other files): a file's rows belong to the image of its name unless it
    names images itself, and its people get track ids of their own (unique
    across the files) unless it has track ids. EasyMocap's frames without people are left
    out."""
    _check_not_an_output_folder(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix in ESTIMATE_SUFFIXES)
    if len(files) > 1:  # ROMP's video mode: every frame's file, and all of them again in one
        files = [p for p in files if p.name != romp_files.VIDEO_RESULTS]
    _check_one_mesh_per_stem(files, folder)
    if not files:
        raise InputError(f"{folder}: no estimates files ({', '.join(ESTIMATE_SUFFIXES)}) in "
                         f"the folder{_subfolder_hint(folder)}")  # fmt: skip
    parts, next_id, named = [], 0, True
    meshes = sum(p.suffix in mesh_files.MESH_SUFFIXES for p in files)
    for f in tqdm(files, desc="fitting the body model to the meshes", unit="file",
                  disable=not (progress and meshes > 1)):  # fmt: skip
        arrays = _read_arrays(f, camera)
        if _no_people(arrays):
            continue
        size = None if image_size is None else (
            lambda key, stem=f.stem: image_size(key if isinstance(key, str) else stem))  # fmt: skip
        est = _read_file(f, arrays, size, num_betas, intrinsics, model)
        if est.frame is not None and any(not isinstance(x, str) for x in est.frame):
            raise InputError(f"{f}: frame indices in a folder of estimates files (each file "
                             "belongs to the image of its name, or names its images)")  # fmt: skip
        frame = est.frame if est.frame is not None else np.array([f.stem] * len(est), object)
        own = _first(arrays, TRACK_KEYS) is not None
        named = named and own
        track = est.track_id if own else np.arange(len(est), dtype=np.int64) + next_id
        next_id = max(next_id + len(est), int(track.max(initial=-1)) + 1)
        parts.append(dataclasses.replace(est, frame=frame, track_id=track))
    if not parts:
        raise InputError(f"{folder}: none of its {len(files)} files holds a person")
    if len({p.focal_rule for p in parts}) > 1:
        raise InputError(f"{folder}: its files use different camera conventions (4D-Humans' "
                         "pred_cam_t_full and others): give one kind")  # fmt: skip
    return dataclasses.replace(concat_estimates(parts), source=str(folder), named_tracks=named,
                               tracks_from="file" if named else "files")  # fmt: skip


def _mesh_params(arrays: dict, model, path: Path) -> dict:
    """A mesh's parameters fitted with the run's body model
    (:mod:`jaxrefine.inputs.mesh_files`): its translation is 4D-Humans' ``pred_cam_t_full``."""
    from jaxrefine.vertex_fit import fit_vertices

    if model is None:
        raise InputError(f"{path}: a mesh is read by fitting the body model to it: give it")
    v = arrays["mesh_vertices"]
    mesh_files.check_vertex_count(v.shape[1], model.v_template.shape[0], model.model_id, path)
    fit = fit_vertices(model, v)
    mesh_files.check_fit(fit.miss_mm, path)
    return {"pose": fit.pose, "betas": fit.betas, "pred_cam_t_full": fit.transl,
            "imgname": arrays["imgname"], TRACKER_FORMAT: "mesh"}  # fmt: skip


def _read_estimates(path: Path, arrays: dict, image_size, num_betas, intrinsics,
                    model) -> Estimates:  # fmt: skip
    if str(arrays.get("format", "")).startswith(REFINE_PART_FORMAT):
        raise InputError(f"{path}: a chunk of a jaxrefine refine run (its parts/, kept for "
                         "--resume): give the run's refined.npz")  # fmt: skip
    if "mesh_vertices" in arrays:
        mesh_files.check_camera_given(path, intrinsics is not None)
        arrays = _mesh_params(arrays, model, path)
    fmt = "jaxrefine" if str(arrays.get("format", "")) == "jaxrefine-result-v1" else "generic"
    why = model_mismatch(arrays, model, path) if model is not None and fmt == "jaxrefine" else None
    if why is not None:
        raise InputError(f"{why}: give that model with --model")
    _check_smpl_layout(arrays, path)
    go, bp = _pose(arrays, path)
    _check_joint_angles(bp, path)
    betas = _betas(arrays, path)
    n = _check_lengths(path, global_orient=go, body_pose=bp, betas=betas)
    betas = _fit_betas(betas, num_betas, path)
    intr = _intrinsics(arrays, n, path) if intrinsics is None else np.tile(intrinsics, (n, 1))
    fkey, tk = _first(arrays, FRAME_KEYS), _first(arrays, TRACK_KEYS)
    frame = _frames(arrays[fkey], n, fkey, path) if fkey else None
    tkey = _first(arrays, TRANSL_KEYS)
    size_of = image_size if image_size is None or frame is None else (
        lambda i: image_size(frame[i]))  # fmt: skip
    pose = (go, bp, betas)
    transl, fmt = _translation(arrays, fmt, tkey, pose, n, intr, size_of, model, path)
    track = np.asarray(arrays[tk]).reshape(-1).astype(np.int64) if tk else np.zeros(n, np.int64)
    if len(track) != n:
        raise InputError(f"{path}: {tk!r} has {len(track)} entries for {n} estimates")
    f32 = np.float32
    hmr2 = tkey == "pred_cam_t_full" and not np.all(np.isfinite(intr[:, 0]))
    return Estimates(
        go.astype(f32), bp.astype(f32), betas.astype(f32), transl.astype(f32), intr.astype(f32),
        frame, track, str(path), str(arrays.get(TRACKER_FORMAT, fmt)),
        "hmr2" if hmr2 else "diagonal", named_tracks=tk is not None,
        tracks_from="file" if tk is not None else "one",
    )  # fmt: skip


def _betas(arrays: dict, path: Path) -> np.ndarray:
    """(N, B) shape coefficients from the first of :data:`BETA_KEYS` present."""
    bkey = _first(arrays, BETA_KEYS)
    if bkey is None:
        raise InputError(f"{path}: no shape found; expected one of {', '.join(BETA_KEYS)}")
    betas = _float(arrays, bkey, path)
    return betas.reshape(len(betas), -1) if betas.ndim else betas.reshape(1, 1)


def _translation(arrays: dict, fmt: str, tkey, pose, n: int, intr, size_of, model, path):
    """(N, 3) camera-frame translations from whichever camera the file holds (a tool's own
    convention: HybrIK, EasyMocap, ROMP, VIBE's orig_cam, a crop camera, or a translation
    key), and the format name that convention implies; a jaxrefine result must be in the
    camera frame (camera_R = I)."""
    go, bp, betas = pose
    if "hybrik_root" in arrays:
        transl, fmt = _hybrik_transl(arrays, go, bp, betas, model, path), "hybrik"
    elif "easymocap_turn" in arrays:
        transl = _easymocap_transl(arrays, betas, model, size_of, path)
    elif "romp_cam" in arrays:
        transl, fmt = _romp_camera_transl(arrays, n, intr, size_of, path), "romp"
    elif "orig_cam" in arrays and tkey is None:
        transl, fmt = _orig_camera_transl(arrays, n, intr, size_of, path), "crop-camera"
    elif "pred_cam" in arrays and tkey is None:
        transl, fmt = _crop_camera_transl(arrays, n, intr, size_of, path), "crop-camera"
        if "frank_joints" in arrays:
            _check_frankmocap(arrays, go, bp, betas, model, size_of, path)
    elif tkey is not None:
        transl = _float(arrays, tkey, path).reshape(n, 3)
        if fmt == "jaxrefine" and "camera_t" in arrays:
            transl = transl + _float(arrays, "camera_t", path).reshape(n, 3)
        if tkey == "trans_cam" and "cam_ext" in arrays:  # BEDLAM's labels: the sum is SMPL's
            transl = transl + _float(arrays, "cam_ext", path).reshape(n, 4, 4)[:, :3, 3]
        if arrays.get(TRACKER_FORMAT) == "tram":
            _check_tram(transl, intr, size_of, path)
    else:
        raise InputError(
            f"{path}: no camera found; expected a translation ({', '.join(TRANSL_KEYS)}) or a "
            "crop camera 'pred_cam' with its box"
        )
    if fmt == "jaxrefine" and "camera_R" in arrays:
        R = _float(arrays, "camera_R", path).reshape(n, 3, 3)
        if not np.allclose(R, np.eye(3), atol=1e-5):
            raise InputError(f"{path}: only camera-frame results (camera_R = I) can be refined")
    return transl, fmt


def _fit_betas(betas: np.ndarray, num_betas: int | None, path: Path) -> np.ndarray:
    if num_betas is None or betas.shape[1] == num_betas:
        return betas
    if betas.shape[1] < num_betas:
        return np.pad(betas, ((0, 0), (0, num_betas - betas.shape[1])))
    if np.any(betas[:, num_betas:] != 0):
        raise InputError(
            f"{path}: {betas.shape[1]} betas given but the body model has {num_betas}; the "
            "extra ones are not zero (use the body model the estimates were made with)"
        )
    return betas[:, :num_betas]


def _frames(values, n: int, key: str, path: Path) -> np.ndarray:
    a = np.asarray(values).reshape(-1)
    if len(a) != n:
        raise InputError(f"{path}: {key!r} has {len(a)} entries for {n} estimates")
    if a.dtype.kind in "iu":
        return a.astype(object)
    if a.dtype.kind in "US":
        return np.asarray([Path(str(s)).stem for s in a], object)
    raise InputError(f"{path}: {key!r} must hold frame indices or image names, got {a.dtype}")
