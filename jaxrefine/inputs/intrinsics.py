"""Camera intrinsics given by the user: four numbers, a JSON file or a jaxrefine result.

JSON forms: ``{"fx": .., "fy": .., "cx": .., "cy": ..}`` or ``{"K": [[fx, 0, cx], [0, fy, cy],
[0, 0, 1]]}`` (pixels, OpenCV convention, pixel centres at +0.5 as everywhere in jaxrefine).
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
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such intrinsics file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc})") from exc
    if isinstance(obj, dict) and all(k in obj for k in ("fx", "fy", "cx", "cy")):
        try:
            return _check([obj[k] for k in ("fx", "fy", "cx", "cy")], str(path))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: fx, fy, cx, cy must be numbers ({exc})") from exc
    if isinstance(obj, dict) and "K" in obj:
        try:
            K = np.asarray(obj["K"], np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: 'K' must be a 3x3 matrix of numbers") from exc
        if K.shape != (3, 3):
            raise InputError(f"{path}: 'K' must be 3x3, got shape {K.shape}")
        return _check([K[0, 0], K[1, 1], K[0, 2], K[1, 2]], str(path))
    raise InputError(f"{path}: expected keys fx, fy, cx, cy or K")


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
