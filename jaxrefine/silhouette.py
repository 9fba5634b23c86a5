"""A silhouette term: the fitted body's outline against a person mask (e.g. BlazePose's).

The form (ours; the paper has no silhouette term, it is issue #11's option for photos): a
two-sided chamfer between the projected visible vertices and the mask, in pixels.

- **outside**: every visible vertex that projects outside the mask pays its distance to the
  mask, read bilinearly from a distance transform of the mask's complement. The transform is
  stored on a fixed ``G x G`` grid over the mask's enlarged box (so frames of any image size
  batch together); a vertex beyond the grid reads the grid's edge plus its distance to it.
  Beyond the image nothing is known: it counts as person (a body cut by the border pays
  nothing for its parts out there).
- **cover**: ``P`` points sampled along the mask's boundary each pay the distance to their
  nearest projected visible vertex, so parts of the mask that the body does not reach pull
  the nearest vertices out.

Both halves go through the same Geman-McClure error as the dense term and are averaged over
their vertices / points, then scaled like the dense term (to weigh like 25 keypoints); the
weight is :attr:`jaxrefine.objective.Weights.silhouette` times the caller's option. Built on
the host from a mask (:func:`silhouette_target`), evaluated for one sample inside the jitted
fit (:func:`silhouette_residuals`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.ndimage import map_coordinates
from scipy import ndimage

from jaxrefine.optimizers.base import geman_mcclure_residual

GRID = 64  # cells per side of the distance grid (a 256-px person: 4-6 px per cell)
POINTS = 128  # boundary points of the cover half
BOX_ENLARGE = 1.5  # the grid covers the mask's box enlarged by this factor


@struct.dataclass
class SilhouetteTarget:
    """One frame's silhouette target (leaves get a batch axis in batched fits).

    Attributes:
      grid: (G, G) distance (px) from each cell centre to the mask, 0 inside.
      box: (3,) ``[x0, y0, cell]``: the grid's top-left corner and cell side, in pixels.
      points: (P, 2) pixels on the mask's boundary (padded by repeating the last one).
      point_weights: (P,) 1 for real points, 0 for padding.
    """

    grid: jnp.ndarray
    box: jnp.ndarray
    points: jnp.ndarray
    point_weights: jnp.ndarray


def silhouette_target(mask, *, grid: int = GRID, points: int = POINTS) -> SilhouetteTarget:
    """Build a frame's target from a person mask (H, W) (bool or probability, > 0.5 = person).

    Raises:
      ValueError: the mask is not 2-D or holds no person pixel.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"a silhouette mask is (H, W), got shape {m.shape}")
    m = m > 0.5 if m.dtype != bool else m
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        raise ValueError("the silhouette mask holds no person pixel")
    cx, cy = (xs.min() + xs.max() + 1) / 2.0, (ys.min() + ys.max() + 1) / 2.0
    side = BOX_ENLARGE * max(xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
    cell = side / grid
    x0, y0 = cx - side / 2.0, cy - side / 2.0
    centres = (np.arange(grid) + 0.5) * cell
    gx, gy = np.meshgrid(x0 + centres, y0 + centres)  # each cell reads its centre's pixel
    g = _distance_to_person(m, np.floor(gy).astype(int), np.floor(gx).astype(int))
    edge = m & ~ndimage.binary_erosion(m, border_value=0)
    by, bx = np.nonzero(edge)
    order = np.argsort(np.arctan2(by - cy, bx - cx), kind="stable")
    take = order[np.linspace(0, len(order) - 1, min(points, len(order))).astype(int)]
    pts = np.stack([bx[take] + 0.5, by[take] + 0.5], -1)
    w = np.ones(points, np.float32)
    if len(pts) < points:
        w[len(pts) :] = 0.0
        pts = np.concatenate([pts, np.repeat(pts[-1:], points - len(pts), 0)])
    return SilhouetteTarget(
        grid=jnp.asarray(g, jnp.float32),
        box=jnp.asarray([x0, y0, cell], jnp.float32),
        points=jnp.asarray(pts, jnp.float32),
        point_weights=jnp.asarray(w),
    )


def _distance_to_person(m: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Distance (px, between pixel centres) from pixels (``rows``, ``cols``; any shape, may lie
    beyond the image) to the nearest person pixel: a pixel of mask ``m`` (H, W) or any pixel
    beyond the image. Beyond the image nothing is known (a person cut by the border goes on
    there): it counts as person, so a body part that leaves the image pays nothing, and one
    near the border at most its distance to the border.

    Exactly the distance transform of the whole image padded with person pixels, computed on
    the window that holds the mask and the asked pixels (a phone photo's padded canvas was
    tens of megapixels): within it, the transform of the mask with the window's pixels beyond
    the image as person; beyond it only image-border pixels lie, whose nearest one is straight
    across the border (``min(r + 1, c + 1, H - r, W - c)`` for a pixel inside)."""
    h, w = m.shape
    ys, xs = np.nonzero(m)
    r0, r1 = min(rows.min(), ys.min()), max(rows.max(), ys.max()) + 1
    c0, c1 = min(cols.min(), xs.min()), max(cols.max(), xs.max()) + 1
    window = np.ones((r1 - r0, c1 - c0), bool)  # beyond the image: person
    ir0, ir1, ic0, ic1 = max(r0, 0), min(r1, h), max(c0, 0), min(c1, w)
    window[ir0 - r0 : ir1 - r0, ic0 - c0 : ic1 - c0] = m[ir0:ir1, ic0:ic1]
    inside = ndimage.distance_transform_edt(~window)[rows - r0, cols - c0]
    border = np.minimum(np.minimum(rows + 1, cols + 1), np.minimum(h - rows, w - cols))
    return np.minimum(inside, np.maximum(border, 0))


def stack_targets(targets: list[SilhouetteTarget]) -> SilhouetteTarget:
    """Frames' targets -> one batched target (leading axis N)."""
    return jax.tree.map(lambda *a: jnp.stack(a), *targets)


def outside_distance(target: SilhouetteTarget, proj: jnp.ndarray) -> jnp.ndarray:
    """Distance (px) to the mask of pixels (K, 2), bilinear on the grid; 0 inside. -> (K,).

    A pixel beyond the grid reads the nearest grid point plus its distance to that point (so
    the pull keeps its direction out there), unless that grid point lies beyond the image."""
    x0, y0, cell = target.box[0], target.box[1], target.box[2]
    g = target.grid.shape[0]
    lo = jnp.stack([x0, y0]) + 0.5 * cell  # first and last cell centres
    hi = lo + (g - 1) * cell
    inside = jnp.clip(proj, lo[None], hi[None])
    beyond = jnp.sqrt(jnp.sum(jnp.square(proj - inside), -1) + 1e-12) - 1e-6
    # grid index of a pixel: cell centres sit at (i + 0.5) * cell from the corner
    idx = (inside - lo[None]) / cell
    on_grid = map_coordinates(target.grid, [idx[:, 1], idx[:, 0]], order=1, mode="nearest")
    # where the grid's edge is person-compatible (beyond the image: 0) so is what lies past it
    fade = jnp.clip(on_grid / cell, 0.0, 1.0)
    return on_grid + jnp.maximum(beyond, 0.0) * fade


def mask_side(target: SilhouetteTarget) -> jnp.ndarray:
    """() the longer side (px) of the mask's box (the grid covers it enlarged)."""
    return target.box[2] * target.grid.shape[0] / BOX_ENLARGE


def gate_weights(target: SilhouetteTarget, points, weights, gate: float) -> jnp.ndarray:
    """Dense-target weights (K,) with the targets ``points`` (K, 2) that lie more than
    ``gate`` x :func:`mask_side` outside the mask set to 0 (the rest kept as given).

    A target that leaves the person's mask by more than a few percent of the person's size
    most likely follows something else (another player, an occluder, clothing the mask left
    out); beyond the image counts as person, as in :func:`outside_distance`."""
    keep = outside_distance(target, points) <= gate * mask_side(target)
    return jnp.where(keep, weights, 0.0)


def silhouette_residuals(
    target: SilhouetteTarget, proj: jnp.ndarray, visible: jnp.ndarray, sigma, scale
) -> jnp.ndarray:
    """Residuals (K + P,) of one frame: outside half then cover half (see module docstring).

    Args:
      target: the frame's :class:`SilhouetteTarget`.
      proj: (K, 2) projected vertices (pixels).
      visible: (K,) weights, > 0 for the vertices that take part (the visible ones).
      sigma: Geman-McClure scale (px, after ``scale``).
      scale: () the dense term's pixel scale (person-size normalisation).
    """
    vis = (visible > 0).astype(proj.dtype)
    n_vis = jnp.maximum(jnp.sum(vis), 1.0)
    outside = geman_mcclure_residual(outside_distance(target, proj) * scale, sigma)
    outside = outside * jnp.sqrt(vis / n_vis)
    d2 = jnp.sum(jnp.square(target.points[:, None, :] - proj[None, :, :]), -1)  # (P, K)
    d2 = jnp.where(vis[None, :] > 0, d2, 1e12)  # no visible vertex: a saturated error
    nearest = jnp.sqrt(jnp.min(d2, axis=1) + 1e-12)
    pw = target.point_weights
    cover = geman_mcclure_residual(nearest * scale, sigma)
    cover = cover * jnp.sqrt(pw / jnp.maximum(jnp.sum(pw), 1.0))
    return jnp.concatenate([outside, cover])
