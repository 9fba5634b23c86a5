"""The crop convention of the displacement network (pure JAX, one example).

The network sees a square box of the full image, resampled to ``crop_size`` x ``crop_size``
(square, so the aspect ratio is kept). The box has centre ``center`` (x, y) and side ``size`` in
full-image pixels; its left/top edge ``center - size / 2`` maps to crop coordinate 0 and its
right/bottom edge to ``crop_size``. With ``k = crop_size / size``:

    p_crop = (p_image - center) * k + crop_size / 2

for continuous pixel coordinates in the convention of :mod:`jaxrefine.camera` (pixel (i, j)
covers [j, j + 1) x [i, i + 1), centre at +0.5), in both images. A displacement (a difference of
two points) scales by ``k`` alone. The network predicts in crop pixels; everything downstream
(pixel-to-vertex transfer, SMPLify) stays in full-image pixels, via
:func:`crop_field_to_image` and :func:`crop_to_image_points`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.ndimage

from jaxrefine import camera as camera_lib
from jaxrefine.camera import Camera


def person_box(
    points2d: jnp.ndarray, weights: jnp.ndarray, enlarge: float = 1.2, min_size: float = 16.0
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The square box around the points with positive weight, enlarged.

    Args:
      points2d: (N, 2) full-image pixels, e.g. the projected vertices of the initial estimate.
      weights: (N,) only points with weight > 0 count (e.g. visibility or in-front-of-camera).
      enlarge: side = ``enlarge`` x the longer side of the points' bounding box.
      min_size: smallest side in pixels (also the side when no point has a positive weight).

    Returns:
      center (2,) (x, y) and size () in full-image pixels.
    """
    if points2d.ndim != 2 or points2d.shape[-1] != 2 or weights.shape != points2d.shape[:1]:
        raise ValueError(
            f"person_box takes points (N, 2) and weights (N,), got {points2d.shape} and "
            f"{weights.shape}"
        )
    on = (weights > 0)[:, None]
    lo = jnp.min(jnp.where(on, points2d, jnp.inf), axis=0)
    hi = jnp.max(jnp.where(on, points2d, -jnp.inf), axis=0)
    any_on = jnp.any(on)
    center = jnp.where(any_on, (lo + hi) / 2, 0.0)
    size = jnp.where(any_on, jnp.max(hi - lo) * enlarge, 0.0)
    return center, jnp.maximum(size, min_size)


def image_box(
    points2d: jnp.ndarray, image_hw, enlarge: float = 1.2, min_size: float = 16.0
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The person box of a body in an image: :func:`person_box` around the points that lie
    inside the image (all points when none does).

    A body cut by the image border (an upper-body photo, a frame the person leaves) is boxed
    around its visible part, so that the crop shows the person at the scale of training, not a
    small patch at the top of a box that is mostly padding. Session 18 found the box around the
    whole projection 2.8 times the side of the demo's upper-body photo, and the network's
    few-pixel displacements scaled by it to ~80 image pixels
    (``docs/measurements/2026-12-01/s18_upper_body``). A body inside the image gets exactly
    :func:`person_box`'s box.

    Args:
      points2d: (N, 2) full-image pixels (the projected vertices of the initial estimate).
      image_hw: (2,) the image's height and width in pixels.
      enlarge, min_size: see :func:`person_box`.
    """
    hw = jnp.asarray(image_hw, jnp.float32)
    x, y = points2d[:, 0], points2d[:, 1]
    inside = (x >= 0) & (x < hw[1]) & (y >= 0) & (y < hw[0])
    weights = jnp.where(jnp.any(inside), inside, True).astype(jnp.float32)
    return person_box(points2d, weights, enlarge, min_size)


def image_to_crop_points(p_image, center, size, crop_size: int) -> jnp.ndarray:
    """(..., 2) full-image pixel coordinates -> crop pixel coordinates."""
    return camera_lib.full_to_crop_pixels(p_image, center, size, crop_size)


def crop_to_image_points(p_crop, center, size, crop_size: int) -> jnp.ndarray:
    """(..., 2) crop pixel coordinates -> full-image pixel coordinates (the inverse)."""
    return camera_lib.crop_to_full_pixels(p_crop, center, size, crop_size)


def crop_field_to_image(field_crop: jnp.ndarray, size, crop_size: int) -> jnp.ndarray:
    """A displacement field (..., 2) in crop pixels -> the same displacements in full-image
    pixels (multiplied by ``size / crop_size``). The field stays on the crop's pixel grid."""
    return field_crop * (size / crop_size)


def crop_camera(camera: Camera, center, size, crop_size: int) -> Camera:
    """The camera whose projections are crop pixels (see :func:`jaxrefine.camera.crop_camera`)."""
    return camera_lib.crop_camera(camera, center, size, crop_size)


def crop_image(image: jnp.ndarray, center, size, crop_size: int) -> jnp.ndarray:
    """Resample the square box of an image to (crop_size, crop_size, C), bilinearly.

    Crop pixel (i, j) takes the image's value at the full-image point of its centre, read
    bilinearly between the image's pixel centres; points outside the image read zeros (a pixel
    near the border blends with them). No anti-aliasing: boxes much larger than the crop alias.

    Args:
      image: (H, W, C) float image.
      center: (2,) box centre (x, y) in full-image pixels; size: () box side in pixels.
      crop_size: output side.
    """
    if image.ndim != 3:
        raise ValueError(f"crop_image takes one (H, W, C) image, got shape {image.shape}")
    centres = jnp.arange(crop_size, dtype=jnp.float32) + 0.5
    grid = jnp.stack(jnp.meshgrid(centres, centres, indexing="xy"), -1)  # (S, S, 2) (x, y)
    p = crop_to_image_points(grid, center, size, crop_size) - 0.5  # image pixel-index units
    coords = [p[..., 1], p[..., 0]]  # rows, columns

    def one_channel(ch):
        return jax.scipy.ndimage.map_coordinates(ch, coords, order=1, mode="constant", cval=0.0)

    return jax.vmap(one_channel, in_axes=-1, out_axes=-1)(image)
