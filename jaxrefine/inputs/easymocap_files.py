"""EasyMocap's SMPL output (``output/smpl/<frame>.json``) with its calibration (``intri.yml``,
``extri.yml``) as one dict of arrays that :mod:`jaxrefine.inputs.estimates` reads like any
other.

What its files hold, from its code (``easymocap/mytools/file_utils.py`` ``write_smpl``,
``easymocap/mytools/camera_utils.py`` ``read_camera``, ``easymocap/smplmodel/body_model.py``
``SMPLlayer.forward``):

- ``<frame>.json``: a list with one dict per person: ``id`` (the person's track), ``poses``
  (1, 72) SMPL's axis-angle pose, root first (usually zero: the root's rotation is ``Rh``),
  ``shapes`` (1, 10), ``Rh`` (1, 3) axis-angle and ``Th`` (1, 3) metres, in the calibration's
  world frame. Its body is ``R(Rh) @ lbs(poses, shapes) + Th``: ``Rh`` turns the body about
  the model's origin, not about its root joint as SMPL's ``global_orient`` does, so SMPL's
  ``transl`` needs the shape's rest root joint ``J0`` (``convert_from_standard_smpl`` does
  the inverse): with the camera's ``R``, ``T`` (``x_cam = R x_world + T``), ``M = R R(Rh)``,
  the camera-frame body has ``global_orient = M R(poses[:3])`` and
  ``transl = M J0 - J0 + R Th + T``. SMPL+H (78) and SMPL-X (87 numbers, ``expression``)
  poses are refused by their length;
- ``intri.yml``: OpenCV ``FileStorage`` YAML (``%YAML:1.0``, ``!!opencv-matrix``): ``names``
  the cameras, ``K_<name>`` (3, 3), ``dist_<name>`` (OpenCV's k1, k2, p1, p2[, k3]), and
  optionally ``H_<name>`` / ``W_<name>`` the calibrated image size; ``extri.yml``:
  ``R_<name>`` the world-to-camera rotation as a (3, 1) Rodrigues vector (what EasyMocap
  reads; ``Rot_<name>`` beside it is left) and ``T_<name>`` (3, 1) metres.

The calibration is looked for in the json's folder and up to :data:`CAMERA_SEARCH_UP` folders
above it (EasyMocap's ``<data>/output/smpl/`` has it in ``<data>/``). Which camera: the only
one, or the one whose name is the images folder's (EasyMocap's ``<data>/images/<name>/``);
otherwise refused, naming the cameras. jaxrefine's camera is a pinhole: a calibration with lens
distortion is warned about (the fit is exact on undistorted images only).
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from jaxrefine.inputs.errors import InputError, finite_numbers
from jaxrefine.inputs.tracker_files import TRACKER_FORMAT

EASYMOCAP_KEYS = ("Rh", "Th", "poses", "shapes")
SMPL_POSES = 72
OTHER_LAYOUTS = {78: "SMPL+H", 87: "SMPL-X", 165: "SMPL-X", 156: "SMPL+H"}
CAMERA_FILES = ("intri.yml", "extri.yml")
CAMERA_SEARCH_UP = 3  # folders above the json's: <data>/output/smpl/ has them in <data>/
# a distortion coefficient below this moves a point at the image corner by well under a
# pixel for focal lengths near the image size: treated as none
DISTORTION_TOL = 1e-4
OPENCV_MATRIX = "tag:yaml.org,2002:opencv-matrix"  # OpenCV's !!opencv-matrix


def is_easymocap(obj) -> bool:
    """EasyMocap's SMPL json: a list of dicts, each with :data:`EASYMOCAP_KEYS` (an empty
    list is a frame without people)."""
    return isinstance(obj, list) and all(
        isinstance(p, dict) and all(k in p for k in EASYMOCAP_KEYS) for p in obj
    )


def read_json(path: Path):
    """A json file's value, naming the file when it is not json."""
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: not a readable json file ({exc})") from None


class _OpenCVLoader(yaml.SafeLoader):
    """PyYAML's safe loader with OpenCV's ``!!opencv-matrix`` as a numpy array."""


def _matrix(loader: yaml.SafeLoader, node) -> np.ndarray:
    m = loader.construct_mapping(node, deep=True)
    try:
        data = np.array([float(x) for x in m["data"]], np.float64)
        return data.reshape(int(m["rows"]), int(m["cols"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise yaml.YAMLError(f"a damaged !!opencv-matrix ({type(exc).__name__}: {exc})") from None


_OpenCVLoader.add_constructor(OPENCV_MATRIX, _matrix)


def read_opencv_yaml(path: Path) -> dict:
    """An OpenCV ``FileStorage`` YAML file as a dict (matrices as numpy arrays). OpenCV's
    ``%YAML:1.0`` first line is not YAML's directive syntax and is dropped."""
    try:
        text = path.read_text(encoding="utf-8")
        if text.startswith("%YAML"):
            text = text.split("\n", 1)[1] if "\n" in text else ""
        out = yaml.load(text, Loader=_OpenCVLoader)  # noqa: S506 (a safe loader's subclass)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise InputError(f"{path}: not a readable OpenCV YAML file ({exc})") from None
    if not isinstance(out, dict):
        raise InputError(f"{path}: expected OpenCV's YAML of named entries")
    return out


def camera_folder(path: Path) -> Path:
    """The folder holding :data:`CAMERA_FILES` for the json ``path``: its own or one of the
    :data:`CAMERA_SEARCH_UP` above it."""
    folders = [path.parent, *list(path.parent.parents)[:CAMERA_SEARCH_UP]]
    for folder in folders:
        if all((folder / name).is_file() for name in CAMERA_FILES):
            return folder
    raise InputError(
        f"{path}: EasyMocap's bodies are in its calibration's world frame, and no "
        f"{' + '.join(CAMERA_FILES)} was found beside it or in the {CAMERA_SEARCH_UP} folders "
        f"above (looked in {', '.join(str(f) for f in folders)}): keep the json in its "
        "dataset's output folder"
    )


@functools.lru_cache(maxsize=8)
def _cameras(folder: str, stamp: tuple) -> dict:
    """Every camera of ``folder``'s calibration: ``name -> (K (3, 3), dist (D,) or None, R
    (3, 3), T (3,), (H, W) or None)``. ``stamp`` (the files' sizes and times) keys the cache."""
    intri, extri = (read_opencv_yaml(Path(folder) / name) for name in CAMERA_FILES)
    names = intri.get("names")
    listed = isinstance(names, list) and all(isinstance(n, (str, int, float)) for n in names)
    if not listed or not names:
        raise InputError(f"{Path(folder) / CAMERA_FILES[0]}: no 'names' list of cameras")
    return {_name(n): _camera(intri, extri, _name(n), Path(folder)) for n in names}


def _name(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _entry(d: dict, key: str, shape: tuple, path: Path) -> np.ndarray:
    a = d.get(key)
    if not isinstance(a, np.ndarray) or a.size != int(np.prod(shape)):
        raise InputError(f"{path}: {key!r} must be a {'x'.join(map(str, shape))} !!opencv-matrix")
    return finite_numbers(a, repr(key), path).reshape(shape)


def _camera(intri: dict, extri: dict, name: str, folder: Path) -> tuple:
    ipath, epath = (folder / f for f in CAMERA_FILES)
    K = _entry(intri, f"K_{name}", (3, 3), ipath)
    if not (K[0, 0] > 0 and K[1, 1] > 0):
        raise InputError(f"{ipath}: 'K_{name}' must have positive focal lengths")
    dist = intri.get(f"dist_{name}", intri.get(f"D_{name}"))
    if dist is not None:
        dist = finite_numbers(dist, f"'dist_{name}'", ipath).reshape(-1)
    R = Rotation.from_rotvec(_entry(extri, f"R_{name}", (3,), epath)).as_matrix()
    T = _entry(extri, f"T_{name}", (3,), epath)
    h, w = intri.get(f"H_{name}"), intri.get(f"W_{name}")
    size = (int(h), int(w)) if isinstance(h, int) and isinstance(w, int) and h > 0 else None
    return K, dist, R, T, size


def read_camera(path: Path, hint: str | None) -> tuple:
    """The camera of the json ``path``'s calibration (:func:`camera_folder`): the only one, or
    the one named ``hint`` (the images folder's name)."""
    folder = camera_folder(path)
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in
                  (folder / name for name in CAMERA_FILES))  # fmt: skip
    cameras = _cameras(str(folder), stamp)
    if len(cameras) == 1:
        return next(iter(cameras.values()))
    if hint in cameras:
        return cameras[hint]
    raise InputError(
        f"{folder / CAMERA_FILES[0]}: EasyMocap's calibration has {len(cameras)} cameras "
        f"({', '.join(cameras)}) and the images folder's name ({hint!r}) is none of them: give "
        "the images of one camera as their folder, <data>/images/<camera>/"
    )


def _numbers(person: dict, key: str, path: Path) -> np.ndarray:
    try:
        a = np.asarray(person[key], np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: EasyMocap's {key!r} must hold numbers ({exc})") from None
    return finite_numbers(a, f"EasyMocap's {key!r}", path)


def _person(person: dict, path: Path) -> tuple:
    poses = _numbers(person, "poses", path)
    if poses.size != SMPL_POSES or "expression" in person:
        layout = OTHER_LAYOUTS.get(poses.size, f"a {poses.size}-number pose")
        raise InputError(
            f"{path}: EasyMocap's 'poses' has {poses.size} numbers ({layout}); SMPL's has "
            f"{SMPL_POSES}: jaxrefine refines SMPL-layout bodies (run EasyMocap with "
            "--body smpl, or convert the bodies to SMPL)"
        )
    rh, th = _numbers(person, "Rh", path), _numbers(person, "Th", path)
    if rh.size != 3 or th.size != 3:
        raise InputError(f"{path}: EasyMocap's 'Rh' and 'Th' must hold 3 numbers each")
    return poses.reshape(24, 3), _numbers(person, "shapes", path), rh, th


def _track(person: dict, path: Path) -> int:
    track = person.get("id", 0)
    if isinstance(track, bool) or not isinstance(track, int) or abs(track) >= 2**62:
        raise InputError(f"{path}: EasyMocap's 'id' must be an integer, got {track!r}")
    return track


def easymocap_rows(people: list, path: Path, camera_hint: str | None) -> dict:
    """EasyMocap's frame file as one dict of arrays in the camera frame: ``pose`` (N, 24, 3)
    (the root's rotation ``M R(poses[:3])``), ``betas``, ``easymocap_turn`` (N, 3, 3) ``M``
    and ``easymocap_shift`` (N, 3) ``R Th + T`` (the estimates reader makes SMPL's
    ``transl`` of them with the body model's rest root joint), ``intrinsics``, ``frame`` (the
    file's stem), ``track_id`` (its ``id``), and ``easymocap_size`` the calibrated (H, W)
    when the file has it. The camera: :func:`read_camera`."""
    K, dist, R, T, size = read_camera(path, camera_hint)
    if dist is not None and np.any(np.abs(dist) > DISTORTION_TOL):
        warnings.warn(
            f"{path.parent}: the camera's lens distortion ({', '.join(f'{d:.3g}' for d in dist)})"
            " is left out (jaxrefine's camera is a pinhole): refine undistorted images "
            "(EasyMocap's Undistort.image) for an exact fit", stacklevel=2)  # fmt: skip
    rows = [_person(p, path) for p in people]
    n = len(rows)
    pose = np.stack([r[0] for r in rows]) if n else np.zeros((0, 24, 3))
    turn = R @ Rotation.from_rotvec(np.array([r[2] for r in rows]).reshape(n, 3)).as_matrix()
    if n:
        root = turn @ Rotation.from_rotvec(pose[:, 0]).as_matrix()
        pose[:, 0] = Rotation.from_matrix(root).as_rotvec()
    out = {"pose": pose, "betas": np.stack([r[1] for r in rows]) if n else np.zeros((0, 10)),
           "easymocap_turn": turn.reshape(n, 3, 3),
           "easymocap_shift": np.array([R @ r[3] + T for r in rows]).reshape(n, 3),
           "intrinsics": np.tile([K[0, 0], K[1, 1], K[0, 2], K[1, 2]], (n, 1)),
           "frame": np.array([path.stem] * n, str),
           "track_id": np.array([_track(p, path) for p in people], np.int64),
           TRACKER_FORMAT: "easymocap"}  # fmt: skip
    if size is not None:
        out["easymocap_size"] = np.array(size, np.int64)
    return out


def check_image_size(calibrated, size: tuple[int, int], k: np.ndarray, path: Path) -> None:
    """An image of the calibration's size (its ``H_`` / ``W_``), or, without them, one whose
    (H, W) ``size`` holds the principal point of ``k`` (fx, fy, cx, cy)."""
    h, w = size
    if calibrated is not None and tuple(int(x) for x in calibrated) != (h, w):
        raise InputError(
            f"{path}: the camera was calibrated for {calibrated[1]}x{calibrated[0]} images and "
            f"its image is {w}x{h}: give the frames at the calibrated size"
        )
    if not (0 < k[2] < w and 0 < k[3] < h):
        raise InputError(
            f"{path}: the camera's principal point ({k[2]:.1f}, {k[3]:.1f}) lies outside its "
            f"{w}x{h} image: the calibration is for frames of another size"
        )
