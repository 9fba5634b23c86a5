"""Dense 2D correspondences between a rendering of the current estimate and the image.

docs/METHOD.md, *The refinement method*: the per-vertex ground-truth displacement between two
parameter sets (Eq. 1), the per-pixel field by barycentric interpolation over the initial mesh's
rendering (Eq. 2), and the pixel-to-vertex transfer that turns a (predicted) field into
per-visible-vertex 2D targets (Eq. 5-6). All functions are for one frame; vmap for batches.

The ground truth that training, the oracle and evaluation share lives here too:
:func:`ground_truth_field` (the per-pixel field a network should predict over the rendering of
the initial estimate) and :func:`ground_truth_dense_targets` (that field transferred back to
per-vertex targets, the oracle's ``dense_gt`` input), plus the field metric
:func:`endpoint_error`.
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


def ground_truth_field(
    vertices_gt: jnp.ndarray,
    camera_gt: Camera,
    vertices_init: jnp.ndarray,
    camera_init: Camera,
    faces: jnp.ndarray,
    tri_id: jnp.ndarray,
    bary: jnp.ndarray,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The ground-truth displacement field over the rendering of the initial estimate (Eq. 1-2).

    Every foreground pixel of the initial mesh's rendering sees a point of one triangle; its
    displacement is the barycentric interpolation of that triangle's three per-vertex
    displacements ``proj_gt(v_gt_i) - proj_init(v_init_i)``. The rendering (``tri_id``, ``bary``)
    must come from ``vertices_init`` seen by ``camera_init``; for a crop, pass the crop camera
    as both cameras and the field is in crop pixels.

    Args:
      vertices_gt: (V, 3) ground-truth vertices; camera_gt: its camera.
      vertices_init: (V, 3) initial-estimate vertices; camera_init: its camera.
      faces: (F, 3) int32.
      tri_id: (H, W) int32 visible triangle of the initial mesh, -1 on background.
      bary: (H, W, 3) barycentrics of the pixel centres.

    Returns:
      field (H, W, 2) in pixels (0 on background) and the foreground (H, W) bool.
    """
    disp = vertex_displacements(vertices_gt, camera_gt, vertices_init, camera_init)
    return pixel_field(disp, faces, tri_id, bary)


def ground_truth_dense_targets(
    vertices_gt: jnp.ndarray,
    camera_gt: Camera,
    vertices_init: jnp.ndarray,
    camera_init: Camera,
    faces: jnp.ndarray,
    tri_id: jnp.ndarray,
    bary: jnp.ndarray,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Per-vertex dense targets from the ground-truth field (Eq. 1-2, then Eq. 5-6).

    What a perfect network would give dense SMPLify: the ground-truth field
    (:func:`ground_truth_field`) transferred to the visible vertices of the initial mesh.

    Args: as :func:`ground_truth_field`.

    Returns:
      targets (V, 2) pixels of ``camera_init`` and weights (V,) (1 visible, 0 otherwise).
    """
    field, _ = ground_truth_field(
        vertices_gt, camera_gt, vertices_init, camera_init, faces, tri_id, bary
    )
    return dense_targets(vertices_init, camera_init, field, faces, tri_id, bary)


def endpoint_error(pred: jnp.ndarray, gt: jnp.ndarray, mask: jnp.ndarray) -> jnp.ndarray:
    """Mean end-point error (pixels) over the foreground: ``mean_{mask} |pred - gt|_2``.

    Args:
      pred, gt: (..., H, W, 2) fields (any leading batch axes; the mean runs over all of them).
      mask: (..., H, W) foreground (bool or 0/1 weights).

    Returns:
      () the mean over masked pixels (0 when the mask is empty). The zero-field baseline is
      ``endpoint_error(jnp.zeros_like(gt), gt, mask)``.
    """
    if pred.shape != gt.shape or pred.shape[-1] != 2 or mask.shape != pred.shape[:-1]:
        raise ValueError(
            f"pred, gt (..., H, W, 2) and mask (..., H, W) expected, got {pred.shape}, "
            f"{gt.shape}, {mask.shape}"
        )
    w = jnp.asarray(mask, jnp.float32)
    err = jnp.linalg.norm(pred - gt, axis=-1)
    return jnp.sum(err * w) / jnp.maximum(jnp.sum(w), 1.0)
