"""Dense 2D correspondences between a rendering of the current estimate and the image.

PAPER.md section 1: the per-vertex ground-truth displacement between two parameter sets
(Eq. 1), the per-pixel field by barycentric interpolation over the initial mesh's rendering
(Eq. 2), and the pixel-to-vertex transfer that turns a (predicted) field into per-visible-vertex
2D targets (Eq. 5-6). All functions are for one frame; vmap for batches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrefine.camera import Camera, project


def vertex_displacements(
    vertices_gt: jnp.ndarray, camera_gt: Camera, vertices_init: jnp.ndarray, camera_init: Camera
) -> jnp.ndarray:
    """Eq. 1: ``proj_gt(v_gt_i) - proj_init(v_init_i)`` for every vertex, (V, 2) pixels."""
    return project(camera_gt, vertices_gt) - project(camera_init, vertices_init)


def pixel_field(
    vertex_values: jnp.ndarray, faces: jnp.ndarray, tri_id: jnp.ndarray, bary: jnp.ndarray
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Eq. 2: interpolate per-vertex values (V, C) over a rendering.

    Args:
      vertex_values: (V, C), e.g. displacements (V, 2).
      faces: (F, 3) int32.
      tri_id: (H, W) int32 visible triangle per pixel, -1 for background.
      bary: (H, W, 3) barycentric coordinates of the pixel in its triangle.

    Returns:
      field (H, W, C) (zeros on background) and the foreground mask (H, W) bool.
    """
    fg = tri_id >= 0
    tri = jnp.where(fg, tri_id, 0)
    corners = faces[tri]  # (H, W, 3)
    vals = jnp.einsum("hwk,hwkc->hwc", bary, vertex_values[corners])
    return jnp.where(fg[..., None], vals, 0.0), fg


@struct.dataclass
class VertexTargets:
    """Per-vertex targets from a field.

    Attributes:
      displacement: (V, 2) barycentric-weighted mean displacement (0 where not visible).
      weight: (V,) total barycentric weight of the pixels that saw the vertex (0 = invisible).
      visible: (V,) bool, ``weight > min_weight``.
    """

    displacement: jnp.ndarray
    weight: jnp.ndarray
    visible: jnp.ndarray


def pixels_to_vertices(
    field: jnp.ndarray,
    faces: jnp.ndarray,
    tri_id: jnp.ndarray,
    bary: jnp.ndarray,
    num_vertices: int,
    min_weight: float = 1e-3,
) -> VertexTargets:
    """Eq. 5-6: per visible vertex i, the barycentric-weighted average of the displacements of
    all pixels whose visible triangle contains i (weight = that pixel's barycentric coordinate
    of i). Vertices no pixel saw (weight <= ``min_weight``) are invisible.

    Args:
      field: (H, W, 2) per-pixel displacement (only foreground pixels are used).
      faces: (F, 3); tri_id: (H, W); bary: (H, W, 3) — the rendering of the initial mesh.
      num_vertices: V (static).
    """
    fg = (tri_id >= 0).reshape(-1)
    tri = jnp.where(fg, tri_id.reshape(-1), 0)
    corners = faces[tri].reshape(-1)  # (H*W*3,)
    w = (bary.reshape(-1, 3) * fg[:, None]).reshape(-1)
    f = jnp.repeat(field.reshape(-1, field.shape[-1]), 3, axis=0)  # (H*W*3, 2)
    wsum = jax.ops.segment_sum(w, corners, num_segments=num_vertices)
    acc = jax.ops.segment_sum(w[:, None] * f, corners, num_segments=num_vertices)
    visible = wsum > min_weight
    disp = jnp.where(visible[:, None], acc / jnp.maximum(wsum, 1e-12)[:, None], 0.0)
    return VertexTargets(displacement=disp, weight=wsum, visible=visible)


def dense_targets(
    vertices_init: jnp.ndarray,
    camera: Camera,
    field: jnp.ndarray,
    faces: jnp.ndarray,
    tri_id: jnp.ndarray,
    bary: jnp.ndarray,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Target pixels (V, 2) = projection of the initial vertex + its transferred displacement,
    and the visibility weights (V,) (1 for visible vertices, 0 otherwise)."""
    vt = pixels_to_vertices(field, faces, tri_id, bary, vertices_init.shape[0])
    targets = project(camera, vertices_init) + vt.displacement
    return targets, vt.visible.astype(targets.dtype)
