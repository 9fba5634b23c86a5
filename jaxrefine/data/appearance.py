"""Real-photo appearance on synthetic training crops: loose clothing and occluders.

Our synthetic people wear their texture painted on the body: the image's person silhouette IS
the body's silhouette. In real photos it is not: clothing, hair and bags stand out of the body
(an initial fit of the COCO skier has IoU 0.69 with the person's polygon, much of the rest is
jacket and trousers), and other people and objects hide
parts of it. A network that has only seen skin-tight silhouettes learns "move the body's
boundary onto the person's boundary" and pulls real bodies outward or onto occluders (the
real-photo table in the README). These two augmentations change only the image crop; the
ground-truth field (the body's true displacement over the initial rendering) stays exactly what
it was, so the network must learn to look through them.

* :func:`grow_clothing`: the person's region grows by ``steps`` pixels (4-neighbour dilation,
  one pixel per step) inside an ``allowed`` region, each new pixel copying the colour of the
  person pixel it grew from: a garment, a skirt, a hood or hair that extends the nearest
  clothing colour. The allowed region is a smooth random blob map (:func:`smooth_region`), so
  some limbs get loose clothing and others not.
* :func:`paste_occluder`: an ellipse of another background image (a photo crop or a procedural
  pattern from :mod:`jaxrefine.data.backgrounds`) pasted over the crop, centred on a person
  pixel (Sárándi et al. 2018's synthetic occlusion, with our background pool instead of
  Pascal VOC objects).

Both are host-side numpy on one crop (S, S, 3) and deterministic given their random numbers
(:func:`draw` makes them from a generator). :func:`jaxrefine.data.pairs.make_pairs` applies
them with probabilities ``PairConfig.p_clothing`` and ``p_occluder`` (0 by default; the
training CLI's ``--clothing`` / ``--occluders``), after the photometric distortion and never
to pixels outside the full image (those keep the padding value, as cropping a photo gives).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def _shift(a: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``a`` (H, W, ...) moved by (dy, dx): out[y, x] = a[y - dy, x - dx], ``fill`` outside."""
    out = np.full_like(a, fill)
    H, W = a.shape[:2]
    out[max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = a[
        max(-dy, 0) : H - max(dy, 0), max(-dx, 0) : W - max(dx, 0)
    ]
    return out


def grow_clothing(image: np.ndarray, person: np.ndarray, allowed: np.ndarray,
                  steps: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Grow the person's region ``steps`` pixels into ``allowed`` background pixels.

    Args:
      image: (S, S, 3) float image.
      person: (S, S) bool, the person's pixels in ``image``.
      allowed: (S, S) bool, where the person may grow.
      steps: pixels of growth (4-neighbour steps; 0 returns copies).

    Returns:
      (image, person) after growth: each new pixel has the colour of the person pixel it
      grew from (the first of down, up, right, left neighbours that is person).
    """
    img, grown = image.copy(), person.astype(bool).copy()
    for _ in range(int(steps)):
        take = np.zeros_like(grown)
        colour = np.zeros_like(img)
        for dy, dx in _NEIGHBOURS:
            from_nb = _shift(grown, dy, dx, False) & ~grown & ~take & allowed
            colour[from_nb] = _shift(img, dy, dx, 0.0)[from_nb]
            take |= from_nb
        if not take.any():
            break
        img[take] = colour[take]
        grown |= take
    return img, grown


def smooth_region(size: int, fraction: float, rng: np.random.Generator, cells: int = 4):
    """(size, size) bool: about ``fraction`` of the crop in smooth blobs (a ``cells`` x
    ``cells`` grid of uniform noise, bilinearly upsampled, below its ``fraction`` quantile)."""
    noise = ndimage.zoom(rng.random((cells, cells)), size / cells, order=1, mode="nearest")
    noise = noise[:size, :size]
    return noise <= np.quantile(noise, np.clip(fraction, 0.0, 1.0))


def ellipse(size: int, center, radii, angle: float) -> np.ndarray:
    """(size, size) bool ellipse (pixel centres) with ``center`` (x, y), ``radii`` (rx, ry) in
    pixels and its x axis at ``angle`` radians."""
    y, x = np.mgrid[0:size, 0:size] + 0.5
    dx, dy = x - center[0], y - center[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = (c * dx + s * dy) / radii[0], (-s * dx + c * dy) / radii[1]
    return u * u + v * v <= 1.0


def paste_occluder(image: np.ndarray, occluder: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """``image`` (S, S, 3) with ``patch`` (S, S, 3) where ``occluder`` (S, S) bool."""
    return np.where(occluder[..., None], patch, image).astype(image.dtype)


def draw(rng: np.random.Generator, size: int, person: np.ndarray, *, clothing: bool,
         occluder: bool, clothing_px: tuple[int, int], occluder_size: tuple[float, float],
         background_fn) -> dict:  # fmt: skip
    """Random numbers for one crop: ``steps`` and ``allowed`` of the clothing (steps 0 when
    ``clothing`` is False) and the ``occluder`` mask and ``patch`` (None when ``occluder`` is
    False or the crop shows no person). ``background_fn(rng)`` gives an (S, S, 3) patch."""
    out = {"steps": 0, "allowed": None, "occluder": None, "patch": None}
    if clothing:
        out["steps"] = int(rng.integers(clothing_px[0], clothing_px[1] + 1))
        out["allowed"] = smooth_region(size, rng.uniform(0.3, 1.0), rng)
    ys, xs = np.nonzero(person)
    if occluder and len(ys):
        i = int(rng.integers(len(ys)))
        radii = rng.uniform(*occluder_size, 2) * size / 2
        out["occluder"] = ellipse(size, (xs[i] + 0.5, ys[i] + 0.5), radii, rng.uniform(0, np.pi))
        out["patch"] = background_fn(rng)
    return out


def apply(image: np.ndarray, person: np.ndarray, inside: np.ndarray, numbers: dict) -> np.ndarray:
    """One crop's augmentation from :func:`draw`'s ``numbers``: clothing first, then the
    occluder; pixels outside the full image (``inside`` False) keep their value."""
    out = image
    if numbers["steps"]:
        out, _ = grow_clothing(out, person & inside, numbers["allowed"] & inside, numbers["steps"])
    if numbers["occluder"] is not None:
        out = paste_occluder(out, numbers["occluder"] & inside, numbers["patch"])
    return out
