"""Result files other tools can read: one documented ``.npz`` per batch of fits, OBJ / PLY meshes.

Result ``.npz`` (all float32 unless noted; N = frames; written atomically):

| key | shape | meaning |
|---|---|---|
| ``global_orient`` | (N, 3) | axis-angle, camera frame (smplx's name) |
| ``body_pose`` | (N, 69) | axis-angle of joints 1..23 (smplx's layout) |
| ``betas`` | (N, NB) | shape coefficients |
| ``transl`` | (N, 3) | body translation (metres, camera frame) |
| ``joints`` | (N, 24, 3) | posed SMPL joints (metres, camera frame) |
| ``camera_K`` | (N, 3, 3) | pinhole intrinsics in pixels (OpenCV convention) |
| ``camera_R``, ``camera_t`` | (N, 3, 3), (N, 3) | world-to-camera (I and 0 in camera-frame fits) |
| ``model_id``, ``gender``, ``num_betas`` | () | the body model the parameters belong to |
| ``metric_<name>`` | (N,) | optional per-frame metrics (mm) |
| ``format`` | () | ``"jaxrefine-result-v1"`` |

Axes: metres; SMPL's body frame (y up, the body faces +z) posed into the camera frame (x right,
y down, z forward). Load with ``numpy.load`` (no pickles); :func:`load_result` checks the body
model matches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxrefine.body_model import BodyModel
from jaxrefine.errors import JaxrefineError
from jaxrefine.files import atomic_savez, atomic_write

RESULT_FORMAT = "jaxrefine-result-v1"


def save_result(
    path, model: BodyModel, params: dict, joints, camera, metrics=None, extra=None
) -> Path:
    """Write a batch of fits (params dict of (N, ...) arrays, joints (N, 24, 3), batched
    :class:`~jaxrefine.camera.Camera`) to the documented ``.npz``.

    ``extra``: more per-frame arrays (leading N) or scalars stored under their own names, e.g.
    ``jaxrefine refine``'s ``status`` (N,) int32 (:func:`jaxrefine.fit.status_name`),
    ``status_name`` (N,) str, ``frame`` (N,) str, ``track_id`` (N,) int64, ``init_loss`` /
    ``final_loss`` (N,) and ``render_backend`` (). They must not shadow a documented key."""
    n = np.asarray(params["betas"]).shape[0]
    K = np.asarray(camera.K, np.float32)
    arrays = {
        "format": np.array(RESULT_FORMAT),
        "global_orient": np.asarray(params["global_orient"], np.float32).reshape(n, 3),
        "body_pose": np.asarray(params["body_pose"], np.float32).reshape(n, 69),
        "betas": np.asarray(params["betas"], np.float32),
        "transl": np.asarray(params["transl"], np.float32).reshape(n, 3),
        "joints": np.asarray(joints, np.float32).reshape(n, 24, 3),
        "camera_K": np.broadcast_to(K, (n, 3, 3)).copy(),
        "camera_R": np.broadcast_to(np.asarray(camera.R, np.float32), (n, 3, 3)).copy(),
        "camera_t": np.broadcast_to(np.asarray(camera.t, np.float32), (n, 3)).copy(),
        "model_id": np.array(model.model_id),
        "gender": np.array(model.gender),
        "num_betas": np.array(model.num_betas),
    }
    for k, v in (metrics or {}).items():
        arrays[f"metric_{k}"] = np.asarray(v, np.float32).reshape(n)
    for k, v in (extra or {}).items():
        a = np.asarray(v)
        if k in arrays or (a.ndim and a.shape[0] != n) or a.dtype == object:
            raise ValueError(f"extra result array {k!r}: a new name, (N, ...) or () and no objects")
        arrays[k] = a
    return atomic_savez(Path(path), arrays)


class ResultFileError(JaxrefineError, ValueError):
    """A file that is not a readable jaxrefine result (the message names the file)."""


# Per-frame shape of each documented array (after the leading frame axis N).
_RESULT_SHAPES = {
    "global_orient": (3,), "body_pose": (69,), "transl": (3,), "joints": (24, 3),
    "camera_K": (3, 3), "camera_R": (3, 3), "camera_t": (3,),
}  # fmt: skip


def _scalar(out: dict, key: str, kinds: str, path) -> np.ndarray:
    a = out.get(key)
    if not isinstance(a, np.ndarray) or a.ndim != 0 or a.dtype.kind not in kinds:
        found = "nothing" if a is None else f"{a.dtype} {a.shape}"
        raise ResultFileError(f"{path}: {key} must be a scalar ({kinds} kind), found {found}")
    return a


def check_result(out: dict, path) -> None:
    """Check a result file's arrays against the documented layout (see the module docstring).

    Parameters and joints may hold NaN for frames whose fit diverged; the cameras, inputs of
    the fit, must be finite. Keys not documented here are passed through unchecked.

    Raises:
      ResultFileError naming ``path`` and what was expected.
    """
    fmt = out.get("format")
    if not isinstance(fmt, np.ndarray) or fmt.ndim != 0 or str(fmt) != RESULT_FORMAT:
        raise ResultFileError(f"{path}: not a jaxrefine result file (format {fmt!r})")
    _scalar(out, "model_id", "U", path)
    _scalar(out, "gender", "U", path)
    num_betas = int(_scalar(out, "num_betas", "iu", path))
    betas = out.get("betas")
    if not isinstance(betas, np.ndarray) or betas.ndim != 2 or betas.shape[1] != num_betas:
        found = None if betas is None else betas.shape
        raise ResultFileError(f"{path}: betas must be (N, {num_betas}), found {found}")
    n = betas.shape[0]
    shapes = {"betas": (num_betas,), **_RESULT_SHAPES}
    shapes.update({k: () for k in out if k.startswith("metric_")})
    for key, shape in shapes.items():
        a = out.get(key)
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or a.shape != (n, *shape):
            found = "nothing" if a is None else f"{a.dtype} {a.shape}"
            raise ResultFileError(
                f"{path}: {key} must be a float array of shape {(n, *shape)}, found {found}"
            )
    for key in ("camera_K", "camera_R", "camera_t"):
        if not np.all(np.isfinite(out[key])):
            raise ResultFileError(f"{path}: {key} holds NaN or inf")


def load_result(path, model: BodyModel | None = None) -> dict:
    """Read a result ``.npz`` and check its layout (:func:`check_result`); with ``model``,
    refuse results made with another body model.

    Raises:
      FileNotFoundError; ResultFileError (a ValueError) naming the file: unreadable, not a
      result, arrays missing or of the wrong dtype / shape, or fitted with another model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"result file not found: {path}")
    try:
        # our own handle: numpy leaks the one it opens when the archive is corrupt
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - zip, zlib, npy-header, pickle refusals alike
        raise ResultFileError(
            f"{path}: not a readable result .npz ({type(exc).__name__}: {exc})"
        ) from None
    check_result(out, path)
    why = None if model is None else model_mismatch(out, model, path)
    if why is not None:
        raise ResultFileError(why)
    return out


def model_mismatch(arrays: dict, model: BodyModel, path) -> str | None:
    """Why a result's arrays were not fitted with ``model`` (model id, gender, number of
    betas), or None when they were."""
    got = tuple(str(np.asarray(arrays.get(k, "?"))) for k in ("model_id", "gender", "num_betas"))
    want = (model.model_id, model.gender, str(model.num_betas))
    if got == want:
        return None
    return (f"{path} was fitted with model {got[0]!r} ({got[1]}, {got[2]} betas), not with "
            f"{want[0]!r} ({want[1]}, {want[2]} betas)")  # fmt: skip


def save_obj(path, vertices, faces) -> Path:
    """Wavefront OBJ of one mesh: vertices (V, 3), faces (F, 3) (0-based in, 1-based out),
    written atomically (:func:`~jaxrefine.files.atomic_write`)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64) + 1
    lines = [f"v {a:.6f} {b:.6f} {c:.6f}" for a, b, c in v]
    lines += [f"f {a} {b} {c}" for a, b, c in f]
    return atomic_write(path, lambda fh: fh.write(("\n".join(lines) + "\n").encode()))


def save_ply(path, vertices, faces, colors=None) -> Path:
    """Binary little-endian PLY of one mesh, optional per-vertex colours (V, 3) in [0, 1],
    written atomically (:func:`~jaxrefine.files.atomic_write`)."""
    v = np.asarray(vertices, np.float32)
    f = np.asarray(faces, np.int32)
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(v)}",
              "property float x", "property float y", "property float z"]  # fmt: skip
    vdt = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
        vdt += [("r", "u1"), ("g", "u1"), ("b", "u1")]
    header += [f"element face {len(f)}", "property list uchar int vertex_indices", "end_header"]
    vert = np.empty(len(v), dtype=vdt)
    vert["x"], vert["y"], vert["z"] = v[:, 0], v[:, 1], v[:, 2]
    if colors is not None:
        c = np.clip(np.asarray(colors) * 255 + 0.5, 0, 255).astype(np.uint8)
        vert["r"], vert["g"], vert["b"] = c[:, 0], c[:, 1], c[:, 2]
    face = np.empty(len(f), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    face["n"], face["i"] = 3, f
    data = ("\n".join(header) + "\n").encode("ascii") + vert.tobytes() + face.tobytes()
    return atomic_write(path, lambda fh: fh.write(data))
