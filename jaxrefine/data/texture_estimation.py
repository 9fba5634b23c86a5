"""Personal texture maps from a subject's frames and fits (docs/METHOD.md,
*The refinement method*, texture maps).

"Back-project the image colours of a subject's reference frames onto all visible vertices and
take the per-vertex (or per-texel) median; blurry and incomplete textures are fine."

For every frame, each surface point (a vertex, or the rest-pose point behind a texel of the UV
atlas, :func:`jaxrefine.data.textures.texel_atlas`) is placed on the fitted body, projected
into the image, and kept as a colour sample when it is *visible*:

* it projects inside the image, in front of the camera;
* it faces the camera: ``cos(normal, direction to the camera) >= min_cos`` (grazing views
  smear colours over many surface points);
* it is the rendered surface there: ``|z - depth(pixel)| <= depth_tol``, with the depth map
  of the fitted body rasterized by :func:`jaxrefine.render.rasterize` (triangle ids,
  barycentrics, depth);
* optionally, the pixel is inside a person mask (segmentation) of the frame.

The colour is the bilinearly interpolated image value at the projection. The estimate is the
per-channel **median** over the frames where the point was visible (robust to the colour
outliers that noisy fits produce at silhouettes and occlusion boundaries); ``coverage`` tells
where there was at least ``min_views`` samples. Points never seen are 0.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrefine.camera import Camera, to_camera_frame
from jaxrefine.render import rasterize
from jaxrefine.shading import vertex_normals


@struct.dataclass
class TextureEstimate:
    """A personal texture estimated from several frames.

    Attributes:
      colours: (V, 3) per-vertex or (S, S, 3) per-texel float32 median colours (0 where not
        covered).
      coverage: (V,) / (S, S) bool at least ``min_views`` visible samples.
      count: (V,) / (S, S) int32 number of frames where the point was visible.
    """

    colours: np.ndarray
    coverage: np.ndarray
    count: np.ndarray


def surface_points_of_vertices(faces: np.ndarray, num_vertices: int) -> tuple[np.ndarray, ...]:
    """(face, bary) of every vertex: a face containing it and the one-hot barycentric.

    Args:
      faces: (F, 3) int triangles.
      num_vertices: V.

    Returns:
      face (V,) int32 and bary (V, 3) float32. Vertices in no face get face 0, bary 0.
    """
    faces = np.asarray(faces)
    face = np.zeros(num_vertices, np.int32)
    bary = np.zeros((num_vertices, 3), np.float32)
    for k in range(3):  # later corners overwrite earlier ones: any containing face will do
        face[faces[:, k]] = np.arange(len(faces), dtype=np.int32)
    for k in range(3):
        hit = faces[face, k] == np.arange(num_vertices)
        bary[hit & (bary.sum(-1) == 0), k] = 1.0
    return face, bary


def _bilinear(image: jnp.ndarray, uv: jnp.ndarray) -> jnp.ndarray:
    """Image (H, W, C) at pixel coordinates (P, 2) (centres at +0.5), clamped at borders."""
    h, w = image.shape[:2]
    x = uv[:, 0] - 0.5
    y = uv[:, 1] - 0.5
    x0 = jnp.floor(x)
    y0 = jnp.floor(y)
    fx = (x - x0)[:, None]
    fy = (y - y0)[:, None]

    def at(yy, xx):
        return image[
            jnp.clip(yy, 0, h - 1).astype(jnp.int32), jnp.clip(xx, 0, w - 1).astype(jnp.int32)
        ]

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bot = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bot * fy


def frame_samples(
    image: jnp.ndarray,
    vertices: jnp.ndarray,
    faces: jnp.ndarray,
    camera: Camera,
    depth: jnp.ndarray,
    point_face: jnp.ndarray,
    point_bary: jnp.ndarray,
    person_mask: jnp.ndarray | None = None,
    *,
    min_cos: float = 0.3,
    depth_tol: float = 0.02,
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Colour samples of surface points in one frame (one example; ``vmap`` over frames).

    Args:
      image: (H, W, 3) float image.
      vertices: (V, 3) fitted body vertices (world frame of ``camera``).
      faces: (F, 3) int.
      camera: :class:`Camera` with scalar leaves.
      depth: (H, W) rendered depth of the fitted body (0 = background).
      point_face: (P,) int face of each surface point; point_bary: (P, 3) its barycentrics.
      person_mask: optional (H, W) bool segmentation of the person.
      min_cos: minimal cosine between the surface normal and the direction to the camera.
      depth_tol: metres between a point's depth and the rendered depth at its pixel.

    Returns:
      colours (P, 3) and visible (P,) bool.
    """
    if vertices.ndim != 2 or image.ndim != 3:
        raise ValueError(f"one frame expected, got vertices {vertices.shape}, image {image.shape}")
    h, w = depth.shape
    vc = to_camera_frame(camera, vertices)
    nc = vertex_normals(vc, faces)
    corners = faces[point_face]  # (P, 3)
    p = jnp.einsum("pk,pkc->pc", point_bary, vc[corners])
    n = jnp.einsum("pk,pkc->pc", point_bary, nc[corners])
    n = n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    z = p[:, 2]
    zs = jnp.where(z > 1e-6, z, 1.0)
    uv = jnp.stack([camera.fx * p[:, 0] / zs + camera.cx, camera.fy * p[:, 1] / zs + camera.cy], -1)
    inside = (z > 1e-6) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    to_cam = -p / jnp.maximum(jnp.linalg.norm(p, axis=-1, keepdims=True), 1e-12)
    facing = jnp.sum(n * to_cam, -1) >= min_cos
    col = jnp.clip(jnp.floor(uv[:, 0]), 0, w - 1).astype(jnp.int32)
    row = jnp.clip(jnp.floor(uv[:, 1]), 0, h - 1).astype(jnp.int32)
    d = depth[row, col]
    visible = inside & facing & (d > 0) & (jnp.abs(z - d) <= depth_tol)
    if person_mask is not None:
        visible &= person_mask[row, col]
    return _bilinear(image, uv), visible


@functools.partial(jax.jit, static_argnames=("height", "width", "backend", "use_mask"))
def _samples_batch(
    images, vertices, faces, cameras, point_face, point_bary, masks, min_cos, depth_tol,
    *, height, width, backend, use_mask,
):  # fmt: skip
    def one(img, v, cam, m):
        frags = rasterize(v, faces, cam, height, width, backend, cull_backfaces=True)
        return frame_samples(
            img, v, faces, cam, frags.depth, point_face, point_bary, m if use_mask else None,
            min_cos=min_cos, depth_tol=depth_tol,
        )  # fmt: skip

    return jax.vmap(one)(images, vertices, cameras, masks)


def median_of_samples(
    colours: np.ndarray, visible: np.ndarray, min_views: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-point median over frames of the visible samples.

    Args:
      colours: (N, P, C) samples; visible: (N, P) bool.
      min_views: points with fewer visible samples are not covered.

    Returns:
      median (P, C) float32 (0 where not covered), coverage (P,) bool, count (P,) int32.
    """
    c = np.where(visible[..., None], np.asarray(colours, np.float32), np.nan)
    count = visible.sum(0).astype(np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN points: never seen
        med = np.nanmedian(c, axis=0)
    coverage = count >= max(1, int(min_views))
    med = np.where(coverage[:, None], np.nan_to_num(med), 0.0).astype(np.float32)
    return med, coverage, count


def estimate_texture(
    model,
    images: np.ndarray,
    vertices: np.ndarray,
    cameras: Camera,
    *,
    per: str = "texel",
    size: int = 256,
    masks: np.ndarray | None = None,
    min_cos: float = 0.3,
    depth_tol: float = 0.02,
    min_views: int = 1,
    backend: str = "auto",
) -> TextureEstimate:
    """A subject's personal texture from several frames and their (possibly noisy) fits.

    Args:
      model: body model (faces; for ``per="texel"`` also its UV layout ``vt``, ``ft``).
      images: (N, H, W, 3) float images in [0, 1] (uint8 is converted).
      vertices: (N, V, 3) fitted body vertices per frame (``forward(...).vertices``).
      cameras: batched :class:`Camera` (leaves with a leading N axis).
      per: "texel" (UV texture map, (S, S, 3)) or "vertex" ((V, 3) colours).
      size: texture side S for ``per="texel"``.
      masks: optional (N, H, W) bool person segmentation; samples outside are dropped.
      min_cos, depth_tol: visibility test, see :func:`frame_samples`.
      min_views: frames a point must be seen in to count as covered.
      backend: rasterizer backend.

    Returns:
      :class:`TextureEstimate`.
    """
    from jaxrefine.data.scenes import resolve_backend
    from jaxrefine.data.textures import texel_atlas

    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    vertices = np.asarray(vertices, np.float32)
    if images.ndim != 4 or vertices.ndim != 3 or len(images) != len(vertices):
        raise ValueError(
            f"images (N, H, W, 3) and vertices (N, V, 3) expected, got {images.shape}, "
            f"{vertices.shape}"
        )
    n, h, w = images.shape[:3]
    faces = np.asarray(model.faces, np.int32)
    if per == "vertex":
        pf, pb = surface_points_of_vertices(faces, vertices.shape[1])
        shape = (vertices.shape[1],)
    elif per == "texel":
        atlas = texel_atlas(model, size)
        covered = atlas.covered.reshape(-1)
        pf = atlas.face.reshape(-1)[covered]
        pb = atlas.bary.reshape(-1, 3)[covered]
        shape = (size, size)
    else:
        raise ValueError(f"per must be 'texel' or 'vertex', got {per!r}")
    use_mask = masks is not None
    m = np.asarray(masks, bool) if use_mask else np.ones((n, 1, 1), bool)
    cols, vis = _samples_batch(
        jnp.asarray(images, jnp.float32), jnp.asarray(vertices), jnp.asarray(faces), cameras,
        jnp.asarray(pf), jnp.asarray(pb), jnp.asarray(m), float(min_cos), float(depth_tol),
        height=h, width=w, backend=resolve_backend(backend), use_mask=use_mask,
    )  # fmt: skip
    med, cov, count = median_of_samples(np.asarray(cols), np.asarray(vis), min_views)
    if per == "vertex":
        return TextureEstimate(colours=med, coverage=cov, count=count)
    tex = np.zeros((size * size, 3), np.float32)
    cv = np.zeros(size * size, bool)
    ct = np.zeros(size * size, np.int32)
    tex[covered], cv[covered], ct[covered] = med, cov, count
    return TextureEstimate(
        colours=tex.reshape(*shape, 3), coverage=cv.reshape(shape), count=ct.reshape(shape)
    )


def fill_uncovered(texture: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Fill uncovered texels with the nearest covered texel's colour (for rendering the
    estimate; nearest in the texture image, so it may cross UV islands).

    Args:
      texture: (S, S, 3); coverage: (S, S) bool.

    Returns:
      (S, S, 3) float32.
    """
    from scipy import ndimage

    if not np.any(coverage):
        return np.asarray(texture, np.float32)
    _, (iy, ix) = ndimage.distance_transform_edt(~np.asarray(coverage, bool), return_indices=True)
    return np.asarray(texture, np.float32)[iy, ix]
