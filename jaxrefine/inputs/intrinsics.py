"""Camera intrinsics given by the user: four numbers, a file, or a jaxrefine result.

JSON forms: ``{"fx": .., "fy": .., "cx": .., "cy": ..}`` or ``{"K": [[fx, 0, cx], [0, fy, cy],
[0, 0, 1]]}`` (pixels, OpenCV convention, pixel centres at +0.5 as everywhere in jaxrefine).
Matrix files as calibration scripts save them: a 3x3 ``K`` as text (``numpy.savetxt``, any
file that is not JSON: 9 numbers, rows on lines), a JSON list, or ``.npy`` (``numpy.save``),
or the four numbers ``fx fy cx cy`` in any of them. ``K``'s skew is not used (a pinhole
camera); its last row must be ``0 0 1`` (a transposed ``K`` is refused).
A jaxrefine result (``refined.npz``, :mod:`jaxrefine.io`) gives its ``camera_K``, the camera
its meshes (``refine --obj`` / ``--ply``) were made for, when all its rows share one.
Without intrinsics jaxrefine uses the focal approximation ``sqrt(w^2 + h^2)`` and the image
centre (:func:`jaxrefine.camera.focal_from_image_size`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxrefine.camera import intrinsics_from_K
from jaxrefine.inputs.errors import InputError
from jaxrefine.io import ResultFileError, load_result


def _check(values: Sequence[float], source: str) -> tuple[float, float, float, float]:
    fx, fy, cx, cy = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (fx, fy, cx, cy)):
        raise InputError(f"{source}: intrinsics must be finite numbers, got {values}")
    if fx <= 0 or fy <= 0:
        raise InputError(f"{source}: focal lengths must be positive, got fx={fx}, fy={fy}")
    return fx, fy, cx, cy


def read_intrinsics(
    spec: str | os.PathLike | Sequence[float],
) -> tuple[float, float, float, float]:
    """``(fx, fy, cx, cy)`` in pixels from four numbers, a JSON file or a jaxrefine result
    ``.npz`` (see module docstring)."""
    if not isinstance(spec, (str, os.PathLike)):
        if len(spec) != 4:
            raise InputError(f"--intrinsics takes 4 numbers fx fy cx cy, got {len(spec)}")
        return _check(spec, "--intrinsics")
    path = Path(spec)
    if path.suffix == ".npz":
        return _result_camera(path)
    if path.suffix == ".npy":
        return _matrix_file(path)
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such intrinsics file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON or text intrinsics file ({exc})") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return _matrix_text(text, path, exc)
    if isinstance(obj, dict) and all(k in obj for k in ("fx", "fy", "cx", "cy")):
        try:
            return _check([obj[k] for k in ("fx", "fy", "cx", "cy")], str(path))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: fx, fy, cx, cy must be numbers ({exc})") from exc
    if isinstance(obj, list):  # a bare matrix or four numbers
        try:
            values = np.asarray(obj, np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: a list that is not a 3x3 K or fx fy cx cy") from exc
        return _from_numbers(values, path)
    if isinstance(obj, dict) and "K" in obj:
        try:
            K = np.asarray(obj["K"], np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: 'K' must be a 3x3 matrix of numbers") from exc
        if K.shape != (3, 3):
            raise InputError(f"{path}: 'K' must be 3x3, got shape {K.shape}")
        return _from_K(K, path)
    raise InputError(f"{path}: expected keys fx, fy, cx, cy or K")


def _from_K(K: np.ndarray, source: Path) -> tuple[float, float, float, float]:
    """``(fx, fy, cx, cy)`` of a 3x3 ``K`` whose last row is ``0 0 1``
    (:func:`jaxrefine.camera.intrinsics_from_K`; a transposed K is refused)."""
    try:
        values = intrinsics_from_K(K).tolist()
    except ValueError as exc:
        raise InputError(f"{source}: {exc}") from None
    return _check(values, str(source))


def _from_numbers(values: np.ndarray, source: Path) -> tuple[float, float, float, float]:
    """``(fx, fy, cx, cy)`` from a 3x3 ``K`` or the four numbers themselves (any layout)."""
    if values.size == 9:
        return _from_K(values.reshape(3, 3), source)
    if values.size == 4:
        return _check(values.ravel(), str(source))
    raise InputError(f"{source}: expected a 3x3 K (9 numbers) or fx fy cx cy (4), got "
                     f"{values.size} numbers")  # fmt: skip


def _matrix_text(text: str, path: Path, json_error) -> tuple[float, float, float, float]:
    """A text file that is not JSON: whitespace- or comma-separated numbers (``#`` comments)."""
    lines = [line.split("#", 1)[0].replace(",", " ") for line in text.splitlines()]
    try:
        values = np.array(" ".join(lines).split(), np.float64)
    except ValueError:
        raise InputError(f"{path}: neither JSON ({json_error}) nor numbers (a 3x3 K or fx fy "
                         "cx cy)") from None  # fmt: skip
    return _from_numbers(values, path)


def _matrix_file(path: Path) -> tuple[float, float, float, float]:
    """A ``.npy`` array: a 3x3 K or fx fy cx cy."""
    try:
        values = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such intrinsics file") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from exc
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        raise InputError(f"{path}: expected numbers, got an array of {values.dtype}")
    return _from_numbers(np.asarray(values, np.float64), path)


def _result_camera(path: Path) -> tuple[float, float, float, float]:
    """The one ``camera_K`` of a jaxrefine result's rows."""
    try:
        K = load_result(path)["camera_K"]
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such intrinsics file") from exc
    except ResultFileError as exc:
        raise InputError(f"{exc} (--intrinsics takes a jaxrefine result's camera)") from None
    cameras = np.unique(K.reshape(len(K), 9), axis=0)
    if len(cameras) != 1:
        raise InputError(f"{path}: its rows hold {len(cameras)} cameras (camera_K), not one: "
                         "give the images' camera as fx fy cx cy")  # fmt: skip
    K = cameras[0].reshape(3, 3)
    return _check([K[0, 0], K[1, 1], K[0, 2], K[1, 2]], str(path))
