"""Body-model parameters of a posed mesh of the model's own topology (a regressor's saved
mesh): pose, shape and translation whose vertices match the mesh's, one to one.

The start is exact for rigid parts: each joint's part (the vertices it weighs most in
skinning) is aligned to the mesh by Kabsch's rotation, in the kinematic order, and a joint's
own rotation is its part's relative to its parent's. From there Levenberg-Marquardt
(optimistix) solves the vertex residuals over pose, betas and translation (betas lightly held
near zero), which takes up the blending between parts, pose correctives and the shape: a
model's own meshes come back to within 0.002 mm in at most 20 steps (Adam's 800
steps left up to 2.9 mm mean on 12 poses; docs/measurements/2026-12-04/s36_xeon/).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import BodyModel, forward, shape_vertices
from jaxrefine.optimizers.least_squares import LINEAR_SOLVERS

FIT_STEPS = 20  # Levenberg-Marquardt steps at most (the recorded checks end within 0.002 mm)
# its stopping tolerances (atol in metres: 0.01 mm); 1e-6 / 1e-7 reach the same 0.0001 mm in
# 0.68 s per SMPL-size mesh on 2 Xeon cores against 0.23 (the open model: 0.76 against 0.52;
# docs/measurements/2026-12-05/s39_xeon/vertex_fit_check_s39.txt)
FIT_RTOL, FIT_ATOL = 1e-4, 1e-5
# each step's damped system through its normal equations (85 x 85 for SMPL's parameters)
# rather than a QR of the tall (3V, 85) Jacobian: the same fits to 0.0001 mm, 2.4x faster on
# the open model and 1.65x on an SMPL-size one (docs/measurements/2026-12-05/s39_xeon/
# vertex_fit_solver.txt); the damping and the betas' pull keep the squared system well posed
FIT_LINEAR_SOLVER = LINEAR_SOLVERS["cholesky"]  # as SMPLify's Levenberg-Marquardt
# betas drift only where the mesh asks for them: a small pull to the mean shape (a residual)
BETA_WEIGHT = 1e-3
MIN_PART_VERTICES = 4  # a part with fewer is turned with its parent


@dataclasses.dataclass(frozen=True)
class VertexFit:
    """Parameters of N meshes. pose: (N, 24, 3) axis-angle; betas: (N, NB); transl: (N, 3);
    miss_mm: (N,) the fitted body's mean vertex distance to its mesh, millimetres."""

    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    miss_mm: np.ndarray


def _kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation R minimising |R (a - mean a) - (b - mean b)| for (K, 3) point sets."""
    h = (a - a.mean(0)).T @ (b - b.mean(0))
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def initial_pose(model: BodyModel, target: np.ndarray) -> np.ndarray:
    """(24, 3) axis-angle from each part's Kabsch rotation (mean shape) to ``target`` (V, 3)."""
    rest = np.asarray(shape_vertices(model, jnp.zeros(model.num_betas)), np.float64)
    part = np.argmax(np.asarray(model.lbs_weights), 1)
    turns = np.zeros((len(model.parents), 3, 3))
    local = np.zeros((len(model.parents), 3))
    for j, parent in enumerate(model.parents):  # parents come before their children
        own = part == j
        inherited = np.eye(3) if parent < 0 else turns[parent]
        turns[j] = _kabsch(rest[own], target[own]) if own.sum() >= MIN_PART_VERTICES else inherited
        local[j] = Rotation.from_matrix(inherited.T @ turns[j]).as_rotvec()
    return local


def _polish(model: BodyModel, target, pose, steps: int):
    """Levenberg-Marquardt from ``pose`` (betas 0, the translation of the mean offset) to
    ``target`` (V, 3); ``(params, mean vertex distance in mm)``."""
    betas = jnp.zeros(model.num_betas, target.dtype)
    transl = jnp.mean(target - forward(model, pose, betas).vertices, 0)

    def residuals(p, _):
        v = forward(model, p["pose"], p["betas"], p["transl"]).vertices
        return v - target, BETA_WEIGHT * p["betas"]

    start = {"pose": pose, "betas": betas, "transl": transl}
    solver = optx.LevenbergMarquardt(rtol=FIT_RTOL, atol=FIT_ATOL,
                                     linear_solver=FIT_LINEAR_SOLVER)  # fmt: skip
    params = optx.least_squares(residuals, solver, start, max_steps=steps, throw=False).value
    v = forward(model, params["pose"], params["betas"], params["transl"]).vertices
    return params, 1000.0 * jnp.mean(jnp.linalg.norm(v - target, axis=-1))


_polish_batch = jax.jit(jax.vmap(_polish, in_axes=(None, 0, 0, None)), static_argnums=3)


def fit_vertices(model: BodyModel, meshes: np.ndarray, steps: int = FIT_STEPS) -> VertexFit:
    """Fit ``meshes`` (N, V, 3), metres, in the model's vertex order (:class:`VertexFit`)."""
    meshes = np.asarray(meshes, np.float32)
    start = np.stack([initial_pose(model, m.astype(np.float64)) for m in meshes]).astype(np.float32)
    params, miss = _polish_batch(model, jnp.asarray(meshes), jnp.asarray(start), steps)
    pose, betas, transl = (np.asarray(params[k]) for k in ("pose", "betas", "transl"))
    return VertexFit(pose, betas, transl, np.asarray(miss))
