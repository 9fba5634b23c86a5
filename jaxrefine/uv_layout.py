"""A body model's UV layout (texture coordinates) read from a Wavefront OBJ file.

SMPL's model files carry no texture coordinates; SMPL's UV map comes as an OBJ mesh of the
model's topology (e.g. ``smpl_uv.obj``: ``vt u v`` lines and ``f v/vt`` or ``f v/vt/vn``
triangles). jaxrefine's synthetic scenes texture the body in such a layout (procedural clothing
drawn in UV space, :mod:`jaxrefine.data.textures`), so ``jaxrefine oracle``, ``eval``,
``eval-video`` and the network's training (``scripts/train.py --model``) need one:
``jaxrefine convert MODEL DST.npz --uv UV.obj`` stores it in the converted model as ``vt``
(T, 2) and ``ft`` (F, 3). Refinement does not (a model without one is rendered with per-vertex
colours).

The OBJ's triangles must be the model's faces: each is matched to the model's face of the same
three vertices, so the OBJ may list them in another order, starting at another corner or wound
the other way; ``ft`` follows the model's faces and corners. A face the model lacks, a face given
twice, a missing texture index, a polygon that is not a triangle, or a relative (negative) index
is refused, naming the file and the line.
"""

from __future__ import annotations

import os

import numpy as np

from jaxrefine.errors import JaxrefineError

MODEL_HELP = ("body model file with a UV layout, e.g. SMPL converted by `jaxrefine convert "
              "MODEL OUT.npz --uv smpl_uv.obj` (default: the open model)")  # fmt: skip


class UVLayoutError(JaxrefineError, ValueError):
    """A body model without a UV layout, or an OBJ file that is not a UV layout of its faces."""


def require_layout(model) -> None:
    """Raise :class:`UVLayoutError`, saying how to add one, when the body model (a
    :class:`~jaxrefine.body_model.BodyModel`) has no UV layout to texture it with."""
    if model.vt is None or model.ft is None:
        raise UVLayoutError(
            f"model {model.model_id!r} has no UV layout (vt, ft) to texture it with; add SMPL's "
            "UV map (an OBJ of the model's faces, e.g. smpl_uv.obj): jaxrefine convert MODEL "
            "OUT.npz --uv UV.obj, then use OUT.npz"
        )


def read_uv_obj(path: str | os.PathLike, faces) -> tuple[np.ndarray, np.ndarray]:
    """``(vt (T, 2) float32, ft (F, 3) int32)``: the UV layout of an OBJ file, with ``ft`` in
    the order of the model's ``faces`` (F, 3) and of their corners.

    Raises:
      FileNotFoundError: no such file.
      UVLayoutError: unreadable, or not a UV layout of ``faces`` (see the module docstring).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"UV layout file not found: {path} (expected an OBJ mesh)")
    vt, face_v, face_t, lines = _parse(path)
    faces = np.asarray(faces, np.int64)
    if len(face_v) != len(faces):
        raise UVLayoutError(f"{path}: {len(face_v)} faces; the model has {len(faces)}")
    if face_t.max() >= len(vt):
        raise UVLayoutError(f"{path}: a face uses texture coordinate {face_t.max() + 1}; the file "
                            f"has {len(vt)} 'vt' lines")  # fmt: skip
    return vt.astype(np.float32), _in_model_order(path, faces, face_v, face_t, lines)


def _parse(path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """The ``vt`` rows (T, 2) and the faces' 0-based vertex and texture indices (F, 3) each,
    with each face's line number."""
    vt, face_v, face_t, lines = [], [], [], []
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                parts = line.split()
                if parts[:1] == ["vt"]:
                    vt.append(_numbers(path, n, float, parts[1:3]))
                elif parts[:1] == ["f"]:
                    v, t = _face(path, n, parts[1:])
                    face_v.append(v)
                    face_t.append(t)
                    lines.append(n)
    except (OSError, UnicodeDecodeError) as exc:
        raise UVLayoutError(f"{path}: not a readable OBJ file ({exc})") from None
    if not face_v or not vt or any(len(r) != 2 for r in vt):
        found = f"found {len(vt)} vt lines, {len(face_v)} faces"
        raise UVLayoutError(f"{path}: a UV layout needs 'vt u v' lines and triangles "
                            f"'f v/vt v/vt v/vt' ({found})")  # fmt: skip
    vt = np.array(vt, np.float64)
    if not np.isfinite(vt).all():
        raise UVLayoutError(f"{path}: texture coordinates hold NaN or inf")
    return vt, np.array(face_v) - 1, np.array(face_t) - 1, lines


def _face(path, n: int, corners: list[str]) -> tuple[list[int], list[int]]:
    """One ``f`` line's 1-based vertex and texture indices."""
    split = [c.split("/") for c in corners]
    if len(split) != 3 or any(len(c) < 2 or not c[1] for c in split):
        raise UVLayoutError(f"{path}: line {n}: 'f {' '.join(corners)}' is not a triangle of "
                            "v/vt corners")  # fmt: skip
    v = _numbers(path, n, int, [c[0] for c in split])
    t = _numbers(path, n, int, [c[1] for c in split])
    if min(v + t) < 1:
        raise UVLayoutError(f"{path}: line {n}: indices must be absolute (1-based), got "
                            f"'f {' '.join(corners)}'")  # fmt: skip
    return v, t


def _numbers(path, n: int, kind, tokens: list[str]) -> list:
    """``tokens`` as numbers of ``kind`` (int or float), else an error naming the line."""
    try:
        return [kind(x) for x in tokens]
    except ValueError:
        raise UVLayoutError(f"{path}: line {n}: {' '.join(tokens)!r} is not {kind.__name__} "
                            "numbers") from None  # fmt: skip


# a face's corner orders: its rotations first, then those of the other winding
_CORNER_ORDERS = ((0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (2, 1, 0), (1, 0, 2))


def _in_model_order(path, faces: np.ndarray, face_v, face_t, lines) -> np.ndarray:
    """(F, 3) texture indices per model face and corner: the OBJ's own when its faces are the
    model's, in order; else each OBJ face matched to the model face of the same vertices."""
    if np.array_equal(face_v, faces):
        return face_t.astype(np.int32)
    index = {frozenset(f): i for i, f in enumerate(faces.tolist())}
    ft = np.full(faces.shape, -1, np.int64)
    for v, t, n in zip(face_v.tolist(), face_t.tolist(), lines, strict=True):
        i = index.get(frozenset(v))
        target = None if i is None else faces[i].tolist()
        order = next((p for p in _CORNER_ORDERS if [v[k] for k in p] == target), None)
        if order is None or ft[i, 0] >= 0:
            why = "is not a face of the model" if order is None else "repeats an earlier face"
            raise UVLayoutError(f"{path}: line {n}: the face of vertices {[x + 1 for x in v]} "
                                f"{why} (a UV layout of another topology?)")  # fmt: skip
        ft[i] = [t[k] for k in order]
    return ft.astype(np.int32)
