"""Rotations and small geometric helpers, written for one example (vmap at the edge).

Rotation conventions follow smplx: axis-angle vectors ``r`` with angle ``|r|``; rotation
matrices act on column vectors (``x' = R @ x``).
"""

from __future__ import annotations

import jax.numpy as jnp

# Below this angle (radians) the Rodrigues coefficients use their Taylor series. At 1e-4 the
# neglected terms (a^4/120 etc.) are below 1e-18, far under float32/float64 resolution.
_SMALL_ANGLE = 1e-4


def skew(v: jnp.ndarray) -> jnp.ndarray:
    """Cross-product matrix: (..., 3) -> (..., 3, 3) with ``skew(a) @ b == cross(a, b)``."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    o = jnp.zeros_like(x)
    return jnp.stack(
        [jnp.stack([o, -z, y], -1), jnp.stack([z, o, -x], -1), jnp.stack([-y, x, o], -1)], -2
    )


def rodrigues(r: jnp.ndarray) -> jnp.ndarray:
    """Axis-angle (..., 3) -> rotation matrix (..., 3, 3).

    ``R = I + a(t) K + b(t) K^2`` with ``K = skew(r)``, ``t = |r|``, ``a = sin t / t`` and
    ``b = (1 - cos t) / t^2``. This is the same matrix as smplx's ``batch_rodrigues`` (which
    normalises ``r + 1e-8``; the difference is < 1e-8), but exact at ``r = 0`` with finite,
    correct gradients there: near zero ``a`` and ``b`` use their Taylor series and the
    ``sqrt`` is guarded (the "double where" trick) so no NaN reaches the backward pass.
    """
    t2 = jnp.sum(r * r, axis=-1)
    small = t2 < _SMALL_ANGLE**2
    t2_safe = jnp.where(small, 1.0, t2)
    t = jnp.sqrt(t2_safe)
    a = jnp.where(small, 1.0 - t2 / 6.0, jnp.sin(t) / t)
    b = jnp.where(small, 0.5 - t2 / 24.0, (1.0 - jnp.cos(t)) / t2_safe)
    K = skew(r)
    eye = jnp.eye(3, dtype=r.dtype)
    return eye + a[..., None, None] * K + b[..., None, None] * (K @ K)


def matrix_to_axis_angle(R: jnp.ndarray) -> jnp.ndarray:
    """Rotation matrix (..., 3, 3) -> axis-angle (..., 3), angle in [0, pi].

    Goes through the unit quaternion (robust near 0 and near pi).
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(R))


def matrix_to_quaternion(R: jnp.ndarray) -> jnp.ndarray:
    """Rotation matrix (..., 3, 3) -> unit quaternion (..., 4) as (w, x, y, z), w >= 0.

    Shepperd's method: of the four candidate formulas the one with the largest denominator is
    used, so the result is accurate for every rotation.
    """
    m00, m11, m22 = R[..., 0, 0], R[..., 1, 1], R[..., 2, 2]
    tr = m00 + m11 + m22
    cands = jnp.stack(
        [
            jnp.stack(
                [
                    1 + tr,
                    R[..., 2, 1] - R[..., 1, 2],
                    R[..., 0, 2] - R[..., 2, 0],
                    R[..., 1, 0] - R[..., 0, 1],
                ],
                -1,
            ),
            jnp.stack(
                [
                    R[..., 2, 1] - R[..., 1, 2],
                    1 + m00 - m11 - m22,
                    R[..., 0, 1] + R[..., 1, 0],
                    R[..., 0, 2] + R[..., 2, 0],
                ],
                -1,
            ),
            jnp.stack(
                [
                    R[..., 0, 2] - R[..., 2, 0],
                    R[..., 0, 1] + R[..., 1, 0],
                    1 - m00 + m11 - m22,
                    R[..., 1, 2] + R[..., 2, 1],
                ],
                -1,
            ),
            jnp.stack(
                [
                    R[..., 1, 0] - R[..., 0, 1],
                    R[..., 0, 2] + R[..., 2, 0],
                    R[..., 1, 2] + R[..., 2, 1],
                    1 - m00 - m11 + m22,
                ],
                -1,
            ),
        ],
        -2,
    )  # (..., 4 candidates, 4)
    diag = jnp.stack([1 + tr, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = jnp.argmax(diag, axis=-1)
    q = jnp.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = q / jnp.linalg.norm(q, axis=-1, keepdims=True)
    return q * jnp.where(q[..., :1] < 0, -1.0, 1.0)


def quaternion_to_axis_angle(q: jnp.ndarray) -> jnp.ndarray:
    """Unit quaternion (..., 4) (w, x, y, z) -> axis-angle (..., 3)."""
    q = q * jnp.where(q[..., :1] < 0, -1.0, 1.0)
    v = q[..., 1:]
    s2 = jnp.sum(v * v, -1)
    small = s2 < 1e-12
    s = jnp.sqrt(jnp.where(small, 1.0, s2))
    angle = 2.0 * jnp.arctan2(s, q[..., 0])
    scale = jnp.where(small, 2.0 / jnp.maximum(q[..., 0], 1e-12), angle / s)
    return v * scale[..., None]


def rotation_about_axis(axis: str, angle) -> jnp.ndarray:
    """Rotation matrix (3, 3) about a named world axis ``'x'``, ``'y'`` or ``'z'``."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    o, z = jnp.ones_like(c), jnp.zeros_like(c)
    rows = {
        "x": [[o, z, z], [z, c, -s], [z, s, c]],
        "y": [[c, z, s], [z, o, z], [-s, z, c]],
        "z": [[c, -s, z], [s, c, z], [z, z, o]],
    }[axis]
    return jnp.stack([jnp.stack(r, -1) for r in rows], -2)
