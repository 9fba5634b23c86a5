"""Meshes a regressor saved instead of parameters, as estimates: 4D-Humans' (HMR 2.0's)
``demo.py --save_mesh`` writes ``<image>_<person>.obj`` per person, and TokenHMR's demo (a
copy of it) the same file. CameraHMR's demo builds its mesh from the vertices alone, without
the camera translation: such a mesh cannot be placed in its image and is refused. PLY meshes
(``.ply``, ASCII or binary, read with plyfile: trimesh's and Open3D's exports, jaxrefine's
own ``refine --ply``) are read the same way: the ``x y z`` properties of their ``vertex``
element, in the camera frame of either axes convention, named ``<image>_<person>``; they
come from no regressor whose focal could be assumed, so their camera must be given.

What such a file holds, from 4D-Humans' code (``demo.py``, ``hmr2/utils/renderer.py``
``vertices_to_trimesh``): the body's vertices plus its full-image camera translation
``pred_cam_t_full`` (the camera frame), turned 180 degrees about x (trimesh's and OpenGL's
axes: y up, z towards the viewer), in the body model's vertex order; no camera: the demo's
focal is ``5000 / 256 * max(h, w)`` at the image centre (:data:`~jaxrefine.inputs.
tracker_files.HMR2_FOCAL_PER_SIDE`), which is used unless ``--intrinsics`` is given.

The parameters are fitted to the vertices (:func:`jaxrefine.vertex_fit.fit_vertices`) with
the run's body model, which must have the mesh's vertices (SMPL's 6,890: give its file with
``--model``). A mesh in front of the camera has every z of one sign: all negative is
OpenGL's axes (turned back), all positive OpenCV's; a mesh around z = 0 was saved without
its camera translation and is refused.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import plyfile

from jaxrefine.inputs.errors import InputError, finite_numbers
from jaxrefine.inputs.tracker_files import TRACKER_FORMAT

MESH_SUFFIXES = (".obj", ".ply")
MESH_NAME = re.compile(r"(.+)_(\d+)")  # 4D-Humans' <image>_<person> (person: detection order)
# the most mean vertex distance (mm) the fit may leave: a body model's own meshes are fitted
# to within 0.002 mm at every vertex (12 random CMU poses each, the open model and an
# SMPL-size one with pose correctives: docs/measurements/2026-12-04/s36_xeon/
# vertex_fit_check.txt), another model's meshes of the same vertex count stay 260-272 mm off;
# the margin is for a file's rounding and a near-identical model (another SMPL release)
MESH_MISS_TOL_MM = 10.0


def read_obj(path: Path) -> np.ndarray:
    """(V, 3) the ``v`` lines of an OBJ file (extra numbers, vertex colours, left)."""
    rows = []
    try:
        with open(path, encoding="utf-8", errors="strict") as fh:
            for line in fh:
                parts = line.split()
                if parts and parts[0] == "v":  # not vt / vn; spaces or tabs
                    rows.append([float(x) for x in parts[1:4]])
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable OBJ mesh ({exc})") from None
    if not rows or any(len(r) != 3 for r in rows):
        raise InputError(f"{path}: an OBJ mesh needs 'v x y z' vertex lines")
    return finite_numbers(np.array(rows), "the mesh's vertices", path)


def read_ply(path: Path) -> np.ndarray:
    """(V, 3) the ``x y z`` properties of a PLY file's ``vertex`` element (ASCII or binary;
    other properties and elements left)."""
    try:  # plyfile meets damaged data with numpy's errors and warnings as well as its own
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ply = plyfile.PlyData.read(str(path), mmap=False)  # read, not mapped: it closes
    except (OSError, plyfile.PlyParseError, ValueError, OverflowError, UnicodeDecodeError,
            Warning) as exc:  # fmt: skip
        raise InputError(f"{path}: not a readable PLY mesh ({exc})") from None
    names = [e.name for e in ply.elements]
    if "vertex" not in names:
        raise InputError(f"{path}: a PLY mesh needs a 'vertex' element (it has: "
                         f"{', '.join(names) or 'none'})")  # fmt: skip
    vertex = ply["vertex"]
    have = [p.name for p in vertex.properties]
    if not {"x", "y", "z"} <= set(have) or vertex.count == 0:
        raise InputError(f"{path}: a PLY mesh needs vertices with x, y and z properties (it "
                         f"has {vertex.count} with: {', '.join(have) or 'none'})")  # fmt: skip
    with np.errstate(invalid="ignore"):  # a signalling NaN's cast: NaN, refused just below
        v = np.stack([np.asarray(vertex[a], np.float64) for a in "xyz"], -1)
    return finite_numbers(v, "the mesh's vertices", path)


def read_mesh(path: Path) -> np.ndarray:
    """(V, 3) the vertices of an ``.obj`` or ``.ply`` file."""
    return read_ply(path) if path.suffix == ".ply" else read_obj(path)


def camera_frame(v: np.ndarray, path: Path) -> np.ndarray:
    """``v`` (V, 3) in OpenCV's camera axes: OpenGL's (every z negative) turned back."""
    if np.all(v[:, 2] < 0):
        return v * [1.0, -1.0, -1.0]
    if np.all(v[:, 2] > 0):
        return v
    raise InputError(
        f"{path}: the mesh lies around the camera's plane (z from {v[:, 2].min():.2f} to "
        f"{v[:, 2].max():.2f}): it was saved without its camera translation, and its place "
        "in the image cannot be known"
    )


def mesh_rows(path: Path) -> dict:
    """One mesh file as a dict: ``mesh_vertices`` (1, V, 3) camera frame, ``imgname`` its
    image (the file's stem without 4D-Humans' ``_<person>``)."""
    v = camera_frame(read_mesh(path), path)
    m = MESH_NAME.fullmatch(path.stem)
    return {"mesh_vertices": v[None], "imgname": np.array([m.group(1) if m else path.stem]),
            TRACKER_FORMAT: "mesh"}  # fmt: skip


def check_camera_given(path: Path, given: bool) -> None:
    """A PLY mesh names no regressor whose camera could be assumed: its camera is asked for
    (an OBJ is taken for 4D-Humans', with that demo's focal)."""
    if path.suffix == ".ply" and not given:
        raise InputError(
            f"{path}: a PLY mesh holds no camera: give the one it was made for with "
            "--intrinsics FX FY CX CY (a jaxrefine result's meshes: --intrinsics its refined.npz)"
        )


def check_vertex_count(count: int, model_count: int, model_id: str, path: Path) -> None:
    if count != model_count:
        raise InputError(
            f"{path}: a mesh of {count} vertices, and the body model ({model_id}) has "
            f"{model_count}: give the body model the mesh was made with (--model; SMPL's file "
            "for 4D-Humans' 6,890-vertex meshes)"
        )


def check_fit(miss_mm: np.ndarray, path: Path) -> None:
    """The fitted body must lie on the mesh (:data:`MESH_MISS_TOL_MM`)."""
    if not np.all(miss_mm <= MESH_MISS_TOL_MM):  # NaN (a fit that diverged) fails too
        raise InputError(
            f"{path}: the body model fitted to the mesh stays {np.max(miss_mm):.1f} mm (mean) "
            f"from its vertices (at most {MESH_MISS_TOL_MM:g}): the mesh is not a pose of this "
            "body model (another model, gender or vertex order)"
        )
