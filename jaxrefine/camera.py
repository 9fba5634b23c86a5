"""The one camera of jaxrefine: a full-image pinhole camera in pixels.

Convention (OpenCV): camera-space x right, y down, z forward. A world point ``X`` maps to
``X_cam = R @ X + t`` and to pixel coordinates ``u = fx * x / z + cx``, ``v = fy * y / z + cy``.
Pixel ``(row i, column j)`` covers ``[j, j + 1) x [i, i + 1)``; its centre is
``(j + 0.5, i + 0.5)``.

The camera is a frozen pytree with array leaves, so a batch of cameras is a ``Camera`` whose
leaves carry a leading batch axis, and functions here are written for one camera (``vmap`` at
the edge).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class Camera:
    """Pinhole camera.

    Attributes:
      fx, fy: focal lengths in pixels, shape ().
      cx, cy: principal point in pixels, shape ().
      R: world-to-camera rotation, shape (3, 3).
      t: world-to-camera translation, shape (3,).
    """

    fx: jnp.ndarray
    fy: jnp.ndarray
    cx: jnp.ndarray
    cy: jnp.ndarray
    R: jnp.ndarray
    t: jnp.ndarray

    @classmethod
    def create(cls, fx, fy=None, cx=0.0, cy=0.0, R=None, t=None, dtype=jnp.float32) -> Camera:
        """Build a camera from plain numbers (``fy`` defaults to ``fx``, ``R`` to I, ``t`` to 0)."""
        fy = fx if fy is None else fy
        R = np.eye(3) if R is None else R
        t = np.zeros(3) if t is None else t
        return cls(
            fx=jnp.asarray(fx, dtype),
            fy=jnp.asarray(fy, dtype),
            cx=jnp.asarray(cx, dtype),
            cy=jnp.asarray(cy, dtype),
            R=jnp.asarray(R, dtype),
            t=jnp.asarray(t, dtype),
        )

    @property
    def K(self) -> jnp.ndarray:
        """Intrinsic matrix, shape (..., 3, 3)."""
        z = jnp.zeros_like(self.fx)
        o = jnp.ones_like(self.fx)
        return jnp.stack(
            [
                jnp.stack([self.fx, z, self.cx], -1),
                jnp.stack([z, self.fy, self.cy], -1),
                jnp.stack([z, z, o], -1),
            ],
            -2,
        )


def focal_from_image_size(height: float, width: float) -> float:
    """The paper's focal-length approximation ``f = sqrt(w^2 + h^2)`` for a full image."""
    return float(np.sqrt(float(width) ** 2 + float(height) ** 2))


def to_camera_frame(camera: Camera, points: jnp.ndarray) -> jnp.ndarray:
    """World points (N, 3) -> camera-space points (N, 3)."""
    return points @ camera.R.T + camera.t


def project(camera: Camera, points: jnp.ndarray) -> jnp.ndarray:
    """Project world points (N, 3) to pixel coordinates (N, 2) (see module docstring)."""
    pc = to_camera_frame(camera, points)
    z = pc[:, 2]
    return jnp.stack(
        [camera.fx * pc[:, 0] / z + camera.cx, camera.fy * pc[:, 1] / z + camera.cy], -1
    )
