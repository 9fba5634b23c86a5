"""2D keypoint files: OpenPose BODY_25 JSON, EasyMocap's annots, COCO-17 JSON and MediaPipe-33
landmark JSON.

- OpenPose: one ``<frame>_keypoints.json`` per frame (a folder of them, or one file), each with
  ``people[i].pose_keypoints_2d`` = 25 x (x, y, confidence), pixels (BODY_25); 18 points of
  OpenPose's older COCO model (and its older key ``pose_keypoints``) are read into BODY_25's
  places (:data:`jaxrefine.keypoints.OPENPOSE_COCO18`).
- EasyMocap's 2D annotations: one ``<data>/annots/<camera>/<frame>.json`` per frame (a folder
  of them, or one file), ``{"annots": [{"personID", "bbox", "keypoints": 25 x [x, y, c]},
  ...]}`` in pixels, BODY_25 (what its ``extract_keypoints`` writes with OpenPose's model and
  its ``read_annot`` reads); hands and face (``handl2d``, ``face2d``) are left.
- COCO-17: a COCO results list ``[{"image_id", "keypoints": 17 x (x, y, v), "score"}]`` plus an
  annotation file for the image names, or a COCO annotation file with ``images`` and
  ``annotations`` (the ground-truth format; ``v`` = 0 absent, 1 occluded, 2 visible becomes
  confidence 0 / 1 / 1).
- MediaPipe Pose (33 landmarks): one JSON per frame (a folder of them, or one file), holding
  either the Tasks API's ``PoseLandmarkerResult`` as a dict (``{"pose_landmarks": [person,
  ...]}``, e.g. ``dataclasses.asdict(result)``), the legacy ``mp.solutions.pose`` result's
  landmark list (``{"landmark": [...]}``, ``json_format.MessageToDict(results.pose_landmarks)``:
  one person), or a list of people; a person is 33 ``{"x", "y", "visibility", ...}`` dicts with
  ``x``, ``y`` normalized by the image's width and height, as MediaPipe gives them. They become
  BODY_25 keypoints as the photo path maps BlazePose's (:func:`jaxrefine.keypoints.
  mediapipe33_keypoints`: hands and face corners left out, visibility below
  :data:`~jaxrefine.keypoints.MIN_LANDMARK_VISIBILITY` not fitted; a landmark without
  ``visibility`` counts as visible), in pixels once the image's size is known
  (:meth:`Keypoints2D.people`). The 33 landmarks themselves and, from a Tasks API result, its
  ``pose_world_landmarks`` (metres, hip-centred) are kept too (:meth:`Keypoints2D.
  mediapipe`): photos refined from such a file are initialized from them as from BlazePose's.

Points with confidence 0 are never fitted, nor points at exactly (0, 0) whatever their
confidence (how some detectors write a missing joint: a target at the image's corner would
drag the limb there). A file of a pixel format whose every other point lies within
[-1.5, 1.5] is refused: normalised coordinates (:func:`jaxrefine.keypoints.looks_normalised`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxrefine.inputs.errors import InputError
from jaxrefine.keypoints import (
    MAX_CONFIDENCE,
    NORMALISED_KEYPOINT_BOUND,
    OPENPOSE_COCO18,
    joint_names,
    looks_normalised,
    mediapipe33_keypoints,
)

SIZES = {"body25": 25, "coco17": 17}
MAX_VALUE = 1e8  # pixels and confidences are never this large: a damaged file
# MediaPipe's x, y are fractions of the image's size, a little beyond [0, 1] for landmarks it
# guesses outside the image; values beyond this are pixels (a file written in other units)
MAX_NORMALIZED = 10.0
# MediaPipe's world landmarks are metres around the hips' midpoint: a person spans about 2 m,
# so values beyond this are another unit (millimetres, pixels)
MAX_WORLD_M = 5.0
# A person of a keypoint file is refined when their score (:func:`person_scores`) is at least
# this. Detectors write every candidate: detectron2 keeps detections from a score of 0.05 for
# COCO's evaluation (which ranks them all), and OpenPose lists partial false people with low
# confidences. 0.2 drops those and keeps a person whose detected points average a fifth of
# full confidence; the pose tools' demos draw from 0.3 (mmpose's ``bbox_thr`` / ``kpt_thr``),
# we keep the lower bar and name the people left out. A user's ``--min-person-score`` moves it.
MIN_PERSON_SCORE = 0.2


@dataclasses.dataclass(frozen=True)
class Keypoints2D:
    """Detected people per frame.

    Attributes:
      set_name: "body25" or "coco17".
      frames: frame name -> (P, K, 3) float32 (x, y, confidence) of the P people seen.
      source: the file or folder read.
      normalized: x, y are fractions of the image's width and height (MediaPipe), not pixels.
      landmarks: MediaPipe files only: frame name -> (P, 33, 3) the landmarks x, y
        (normalized), visibility of the same P people.
      world: MediaPipe files only: frame name -> (P, 33, 3) world landmarks (metres,
        hip-centred, x right, y down, z away), or None where the file has none.
    """

    set_name: str
    frames: dict[str, np.ndarray]
    source: str
    normalized: bool = False
    landmarks: dict[str, np.ndarray] | None = None
    world: dict[str, np.ndarray | None] | None = None

    def __post_init__(self):
        if self.normalized or not self.frames:
            return
        pts = np.concatenate([p.reshape(-1, 3) for p in self.frames.values()])
        if looks_normalised(pts[:, :2], pts[:, 2]):
            b = NORMALISED_KEYPOINT_BOUND
            raise InputError(
                f"{self.source}: every keypoint lies within [-{b:g}, {b:g}]: normalised "
                "coordinates (OpenPose's --keypoint_scale 3 or 4?); pixels are expected (its "
                "default scale, 0)"
            )

    def people(self, frame: str | None, image_size: tuple[int, int] | None = None) -> np.ndarray:
        """(P, K, 3) of ``frame`` in pixels ((0, K, 3) if the file had no entry for it, or
        None). ``image_size``: the frame's (H, W), needed when the file is normalized."""
        pts = self.frames.get(frame, np.zeros((0, SIZES[self.set_name], 3), np.float32))
        if not self.normalized:
            return pts
        if image_size is None:
            raise ValueError(f"{self.source}: normalized keypoints need the image's size")
        h, w = image_size
        return pts * np.asarray([w, h, 1], np.float32)

    def mediapipe(self, frame: str, image_size: tuple[int, int]):
        """``(landmarks (P, 33, 3) in pixels, world (P, 33, 3) or None)`` of ``frame`` in a
        MediaPipe file; None for other files (or a frame the file does not have)."""
        if self.landmarks is None or frame not in self.landmarks:
            return None
        h, w = image_size
        return self.landmarks[frame] * np.asarray([w, h, 1], np.float32), self.world[frame]

    def frames_of(self, names: Sequence[str], images_source: str = "images") -> list[str | None]:
        """Per image name, the keypoint frame it reads: the frame of the same name, else the
        only frame whose name ends in the same number (OpenPose names a video's files
        ``<video>_<frame number>_keypoints.json``; a video's images are ``frame_<number>``);
        None where there is none. :class:`InputError` when no image finds a frame."""
        by_number: dict[int, list[str]] = {}
        for key in self.frames:
            if (num := _trailing_number(key)) is not None:
                by_number.setdefault(num, []).append(key)
        out = []
        for name in names:
            same = by_number.get(_trailing_number(name), [])
            out.append(name if name in self.frames else same[0] if len(same) == 1 else None)
        if names and all(k is None for k in out):
            raise InputError(
                f"{self.source}: no keypoint frame matches an image of {images_source} "
                f"(keypoint frames e.g. {_examples(self.frames)}, images e.g. "
                f"{_examples(names)}); name them after the images or end them in the frame number"
            )
        return out


def person_scores(people: np.ndarray) -> np.ndarray:
    """(P,) each person's score: the mean confidence of their detected keypoints (confidence
    > 0), 0 for a person with none. ``people``: (P, K, 3) x, y, confidence.

    A COCO result's confidences are its keypoint values times its ``score``
    (:func:`read_coco`), so for a result with unit keypoint values this is the detector's
    score; ground-truth annotations score 1; OpenPose people the mean of their joints'."""
    conf = np.asarray(people, np.float32)[..., 2]
    found = conf > 0
    total = np.where(found, conf, 0.0).sum(-1)
    return np.where(found.any(-1), total / np.maximum(found.sum(-1), 1), 0.0).astype(np.float32)


def _trailing_number(name: str) -> int | None:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else None


def _examples(names) -> str:
    names = list(names)
    return ", ".join(repr(n) for n in names[:2]) + (", ..." if len(names) > 2 else "")


def _load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such keypoint file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc})") from exc


def _points(values, k: int, where: str) -> np.ndarray:
    try:
        a = np.asarray(values, np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: keypoints must be numbers") from exc
    if a.size != 3 * k:
        raise InputError(f"{where}: expected {k} x (x, y, c) = {3 * k} numbers, got {a.size}")
    a = a.reshape(k, 3)
    if np.all(np.abs(a) <= MAX_VALUE):
        a = a.astype(np.float32)
    if not np.all(np.abs(a) <= MAX_VALUE):  # NaN compares False
        raise InputError(f"{where}: keypoints hold NaN, inf or values beyond {MAX_VALUE:g}")
    a[(a[:, 0] == 0) & (a[:, 1] == 0), 2] = 0  # a missing joint, never a target
    return a


def _openpose_person(person, where: str) -> np.ndarray:
    """One OpenPose person -> (25, 3) BODY_25: ``pose_keypoints_2d`` (or the older
    ``pose_keypoints``) of 25 points, or 18 of the COCO model (:data:`~jaxrefine.keypoints.
    OPENPOSE_COCO18`, placed at their BODY_25 indices; mid hip and feet confidence 0)."""
    keys = ("pose_keypoints_2d", "pose_keypoints")
    key = next((k for k in keys if k in person), None) if isinstance(person, dict) else None
    if key is None:
        raise InputError(f"{where} has no 'pose_keypoints_2d'")
    values = person[key]
    if np.size(values) != 3 * len(OPENPOSE_COCO18):
        return _points(values, 25, f"{where} (BODY_25: 25 points, or the COCO model's 18)")
    out = np.zeros((25, 3), np.float32)
    out[[joint_names("body25").index(n) for n in OPENPOSE_COCO18]] = _points(values, 18, where)
    return out


def _openpose_file(path: Path) -> np.ndarray:
    obj = _load_json(path)
    if not isinstance(obj, dict) or not isinstance(obj.get("people"), list):
        raise InputError(f"{path}: not an OpenPose file (expected a 'people' list)")
    people = [_openpose_person(p, f"{path} people[{i}]") for i, p in enumerate(obj["people"])]
    return np.stack(people) if people else np.zeros((0, 25, 3), np.float32)


def _easymocap_file(path: Path) -> np.ndarray:
    obj = _load_json(path)
    if not isinstance(obj, dict) or not isinstance(obj.get("annots"), list):
        raise InputError(f"{path}: not an EasyMocap annotation file (expected an 'annots' list)")
    people = []
    for i, person in enumerate(obj["annots"]):
        where = f"{path} annots[{i}]"
        if not isinstance(person, dict) or "keypoints" not in person:
            raise InputError(f"{where} has no 'keypoints'")
        people.append(_points(person["keypoints"], 25, f"{where} (BODY_25: 25 points)"))
    return np.stack(people) if people else np.zeros((0, 25, 3), np.float32)


def _per_frame(path: Path, read_file, what: str) -> dict[str, np.ndarray]:
    """``read_file`` of a folder's ``*.json`` files, or of one file, by frame name (the file's
    stem without ``_keypoints``)."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise InputError(f"{path}: no {what} *.json files in the folder")
    frames = {f.stem.removesuffix("_keypoints"): read_file(f) for f in files}
    return _clip_confidences(frames, path, what)


def _clip_confidences(frames: dict[str, np.ndarray], path: Path, what: str) -> dict:
    """``frames``' (P, K, 3) confidences clipped to [0, 1] in place, with a warning naming
    their range when it passes :data:`~jaxrefine.keypoints.MAX_CONFIDENCE` or 0 (another
    scale)."""
    conf = [p[..., 2] for p in frames.values() if p.size]
    lo, hi = (min(c.min() for c in conf), max(c.max() for c in conf)) if conf else (0, 0)
    if hi > MAX_CONFIDENCE or lo < 0:
        warnings.warn(f"{path}: {what} confidences from {lo:g} to {hi:g}, not fractions of 1 "
                      "(percent? a detector's unnormalised scores?): they are clipped to [0, "
                      "1], so every keypoint at 1 or more counts as sure and none below 0 "
                      "counts; divide them by their scale to keep their weighting",
                      stacklevel=4)  # fmt: skip
    for p in frames.values():
        p[..., 2] = np.clip(p[..., 2], 0.0, 1.0)
    return frames


def read_openpose(path: str | os.PathLike) -> Keypoints2D:
    """A folder of ``*_keypoints.json`` files, or one such file; frame name = file stem without
    ``_keypoints``."""
    return Keypoints2D("body25", _per_frame(Path(path), _openpose_file, "OpenPose"), str(path))


def read_easymocap(path: str | os.PathLike) -> Keypoints2D:
    """EasyMocap's ``annots/<camera>/`` folder of ``<frame>.json`` files, or one of them."""
    return Keypoints2D("body25", _per_frame(Path(path), _easymocap_file, "EasyMocap"), str(path))


def _coco_entry(entry, where: str) -> tuple[object, np.ndarray]:
    if not isinstance(entry, dict) or "keypoints" not in entry or "image_id" not in entry:
        raise InputError(f"{where}: expected 'image_id' and 'keypoints'")
    pts = _points(entry["keypoints"], 17, where)
    pts[:, 2] = np.where(pts[:, 2] > 0, np.minimum(pts[:, 2], 1.0), 0.0)
    if "score" in entry and entry.get("num_keypoints", 1) != 0:
        pts[:, 2] *= np.float32(min(max(float(entry["score"]), 0.0), 1.0))
    return entry["image_id"], pts


def _image_list(path: Path) -> list:
    """The ``images`` list (id, file_name) of a COCO file naming a results list's image ids."""
    doc = _load_json(path)
    images = doc.get("images") if isinstance(doc, dict) else None
    if not isinstance(images, list) or not all(
        isinstance(im, dict) and "id" in im and "file_name" in im for im in images
    ):
        raise InputError(f"{path}: expected a COCO file with an 'images' list of "
                         "{'id', 'file_name'} to name the results' image ids")  # fmt: skip
    return images


def read_coco(path: str | os.PathLike, images_json: str | os.PathLike | None = None) -> Keypoints2D:
    """A COCO annotation file, or a results list (with ``images_json`` naming the images).
    Frame name = image file stem (or the image id when no names are known)."""
    path = Path(path)
    obj = _load_json(path)
    names: dict = {}
    if isinstance(obj, dict):
        if not isinstance(obj.get("annotations"), list):
            raise InputError(f"{path}: a COCO file needs an 'annotations' list")
        entries, images = obj["annotations"], obj.get("images", [])
    elif isinstance(obj, list):
        entries = obj
        images = _image_list(Path(images_json)) if images_json else []
    else:
        raise InputError(f"{path}: expected a COCO annotation dict or a results list")
    for im in images:
        if isinstance(im, dict) and "id" in im and "file_name" in im:
            names[im["id"]] = Path(str(im["file_name"])).stem
    frames: dict[str, list] = {}
    for i, entry in enumerate(entries):
        image_id, pts = _coco_entry(entry, f"{path} entry {i}")
        frames.setdefault(names.get(image_id, str(image_id)), []).append(pts)
    return Keypoints2D("coco17", {k: np.stack(v) for k, v in frames.items()}, str(path))


def _mediapipe_person(person, where: str) -> np.ndarray:
    """33 landmark dicts -> (33, 3) x, y (normalized), visibility."""
    if not isinstance(person, list) or len(person) != 33:
        got = f"{len(person)} entries" if isinstance(person, list) else type(person).__name__
        raise InputError(f"{where}: expected 33 MediaPipe landmarks, got {got}")
    rows = []
    for k, lm in enumerate(person):
        if not isinstance(lm, dict) or "x" not in lm or "y" not in lm:
            raise InputError(f"{where} landmark {k}: expected a dict with 'x' and 'y'")
        vis = lm.get("visibility")
        rows.append([lm["x"], lm["y"], 1.0 if vis is None else vis])
    pts = _points(rows, 33, where)
    pts[:, 2] = np.clip(pts[:, 2], 0.0, 1.0)
    if np.abs(pts[:, :2]).max() > MAX_NORMALIZED:
        raise InputError(
            f"{where}: x, y up to {np.abs(pts[:, :2]).max():g}: MediaPipe's landmarks are "
            "fractions of the image's width and height (pixels divided by them)"
        )
    return pts


def _mediapipe_people(obj) -> list | None:
    """The people of a MediaPipe JSON object, or None when it is not one."""
    if isinstance(obj, dict) and isinstance(obj.get("pose_landmarks"), list):
        return obj["pose_landmarks"]
    if isinstance(obj, dict) and isinstance(obj.get("landmark"), list):
        return [obj["landmark"]]
    if isinstance(obj, list) and all(isinstance(p, list) for p in obj):
        return obj
    return None


def _world_person(person, where: str) -> np.ndarray:
    """33 world landmark dicts -> (33, 3) x, y, z (metres)."""
    if not isinstance(person, list) or len(person) != 33:
        got = f"{len(person)} entries" if isinstance(person, list) else type(person).__name__
        raise InputError(f"{where}: expected 33 MediaPipe world landmarks, got {got}")
    if not all(isinstance(lm, dict) and all(k in lm for k in "xyz") for lm in person):
        raise InputError(f"{where}: every world landmark needs 'x', 'y' and 'z' (metres)")
    pts = _points([[lm["x"], lm["y"], lm["z"]] for lm in person], 33, where)
    if np.abs(pts).max() > MAX_WORLD_M:
        raise InputError(f"{where}: world landmarks up to {np.abs(pts).max():g} m from the hips; "
                         "MediaPipe's are metres around the hips' midpoint")  # fmt: skip
    return pts


def _mediapipe_world(obj, n: int, path: Path) -> np.ndarray | None:
    """(n, 33, 3) world landmarks of a Tasks API result, or None when it has none."""
    world = obj.get("pose_world_landmarks") if isinstance(obj, dict) else None
    if not world:
        return None
    if not isinstance(world, list) or len(world) != n:
        got = len(world) if isinstance(world, list) else type(world).__name__
        raise InputError(f"{path}: 'pose_world_landmarks' has {got} people, 'pose_landmarks' {n}")
    return np.stack([_world_person(p, f"{path} world person {i}") for i, p in enumerate(world)])


def _mediapipe_file(path: Path, obj) -> tuple[np.ndarray, np.ndarray | None]:
    """``(landmarks (P, 33, 3) normalized, world (P, 33, 3) or None)`` of one file."""
    people = _mediapipe_people(obj)
    if people is None:
        raise InputError(f"{path}: not a MediaPipe file (expected 'pose_landmarks', 'landmark' "
                         "or a list of people)")  # fmt: skip
    pts = [_mediapipe_person(p, f"{path} person {i}") for i, p in enumerate(people)]
    return np.asarray(pts, np.float32).reshape(-1, 33, 3), _mediapipe_world(obj, len(pts), path)


def read_mediapipe(path: str | os.PathLike) -> Keypoints2D:
    """A folder of MediaPipe Pose ``*.json`` files, or one; frame name = file stem (without
    ``_keypoints``). BODY_25 keypoints, normalized, with the landmarks and world landmarks
    (see the module's docstring)."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise InputError(f"{path}: no MediaPipe *.json files in the folder")
    read = {f.stem.removesuffix("_keypoints"): _mediapipe_file(f, _load_json(f)) for f in files}
    frames = {k: mediapipe33_keypoints(lm, "body25") for k, (lm, _) in read.items()}
    return Keypoints2D("body25", frames, str(path), normalized=True,
                       landmarks={k: lm for k, (lm, _) in read.items()},
                       world={k: wl for k, (_, wl) in read.items()})  # fmt: skip


def _format_of(path: Path, obj) -> str:
    if isinstance(obj, dict) and "people" in obj:
        return "openpose"
    if isinstance(obj, dict) and "annots" in obj:
        return "easymocap"
    if _mediapipe_people(obj) is not None:
        return "mediapipe"
    if isinstance(obj, list) or (isinstance(obj, dict) and "annotations" in obj):
        return "coco"
    raise InputError(f"{path}: neither an OpenPose file ('people'), EasyMocap's ('annots'), "
                     "COCO ('annotations') nor MediaPipe ('pose_landmarks', "
                     "'landmark')")  # fmt: skip


def read_keypoints(path: str | os.PathLike, images_json=None, *, only_results=True) -> Keypoints2D:
    """Detect the format (OpenPose, EasyMocap or MediaPipe folder/file, or COCO) and read it; a
    folder's format is its first file's. ``images_json``: a COCO file whose ``images`` name the
    image ids of a COCO results list; refused for other files unless ``only_results`` is False
    (then unused for them)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such keypoint file or folder")
    first = min(path.glob("*.json"), default=None) if path.is_dir() else path
    if first is None:
        raise InputError(f"{path}: no keypoint *.json files in the folder")
    obj = _load_json(first)
    fmt = _format_of(first, obj)
    results = fmt == "coco" and isinstance(obj, list)
    if images_json is not None and not results and only_results:
        raise InputError(f"{images_json}: image names are for a COCO results list (image ids); "
                         f"{path} is {'a COCO annotation file' if fmt == 'coco' else fmt}, "
                         "which names its images itself")  # fmt: skip
    if fmt == "coco":
        if path.is_dir():
            raise InputError(f"{path}: a folder of COCO files; give the one COCO file")
        return read_coco(path, images_json if results else None)
    readers = {"mediapipe": read_mediapipe, "easymocap": read_easymocap}
    return readers.get(fmt, read_openpose)(path)
