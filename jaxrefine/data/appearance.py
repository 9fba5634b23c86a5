"""Real-photo appearance on synthetic training crops: loose clothing, other people, occluders.

Our synthetic people wear their texture painted on the body: the image's person silhouette IS
the body's silhouette. In real photos it is not: clothing, hair and bags stand out of the body
(an initial fit of the COCO skier has IoU 0.69 with the person's polygon, much of the rest is
jacket and trousers), and other people and objects hide
parts of it. A network that has only seen skin-tight silhouettes learns "move the body's
boundary onto the person's boundary" and pulls real bodies outward, onto occluders or onto the
next player (the real-photo tables in docs/PHOTOS.md). These augmentations change only the image
crop; the
ground-truth field (the body's true displacement over the initial rendering) stays exactly what
it was, so the network must learn to look through them.

* :func:`grow_clothing`: the person's region grows by ``steps`` pixels (4-neighbour dilation,
  one pixel per step) inside an ``allowed`` region, each new pixel copying the colour of the
  person pixel it grew from: a garment, a skirt, a hood or hair that extends the nearest
  clothing colour. The allowed region is a smooth random blob map (:func:`smooth_region`), so
  some limbs get loose clothing and others not.
* :func:`paste_person` (a crowd): another synthetic person, from another crop of the same
  batch (:func:`draw_distractor`, :func:`warp_nearest`: scaled, maybe mirrored and moved
  sideways by a fraction of the crop), pasted in front of the person or behind it (then only
  over pixels that are not the person's, its clothing included). Crowded sports photos showed
  why: an initial fit next to or behind another player was pulled onto that player.
* :func:`paste_occluder`: an ellipse of another background image (a photo crop or a procedural
  pattern from :mod:`jaxrefine.data.backgrounds`) pasted over the crop, centred on a person
  pixel (Sárándi et al. 2018's synthetic occlusion, with our background pool instead of
  Pascal VOC objects).

Both are host-side numpy on one crop (S, S, 3) and deterministic given their random numbers
(:func:`draw` and :func:`draw_distractor` make them from generators).
:func:`jaxrefine.data.pairs.make_pairs` applies them with probabilities
``PairConfig.p_clothing``, ``p_distractor`` and ``p_occluder`` (0 by default; the training
CLI's ``--clothing`` / ``--distractors`` / ``--occluders``), after the photometric distortion,
in the order clothing, other person, occluder (:func:`apply`), and never to pixels outside the
full image (those keep the padding value, as cropping a photo gives).
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


def warp_nearest(a: np.ndarray, scale: float, dy: float, dx: float, mirror: bool,
                 fill) -> np.ndarray:  # fmt: skip
    """``a`` (S, S, ...) scaled by ``scale`` about the crop centre, mirrored left-right when
    ``mirror``, then moved by (dy, dx) pixels; nearest neighbour (pixel centres), ``fill``
    where no source pixel lands. ``scale`` 1, no mirror, integer moves equal a plain shift."""
    S = a.shape[0]
    c = S / 2.0
    y, x = np.mgrid[0:S, 0:S] + 0.5
    sy, sx = (y - c - dy) / scale + c, (x - c - dx) / scale + c
    if mirror:
        sx = S - sx
    iy, ix = np.floor(sy).astype(int), np.floor(sx).astype(int)
    valid = (iy >= 0) & (iy < S) & (ix >= 0) & (ix < S)
    out = np.full_like(a, fill)
    out[valid] = a[iy[valid], ix[valid]]
    return out


def paste_person(image: np.ndarray, person: np.ndarray, other: np.ndarray,
                 other_mask: np.ndarray, front: bool) -> np.ndarray:  # fmt: skip
    """``image`` (S, S, 3) with another person's pixels ``other`` (S, S, 3) where
    ``other_mask`` (S, S) bool: all of them when ``front``, else only over pixels that are not
    ``person`` (S, S) bool (the other stands behind)."""
    where = other_mask if front else other_mask & ~person
    return np.where(where[..., None], other, image).astype(image.dtype)


def draw_distractor(rng: np.random.Generator, index: int, count: int, size: int,
                    shift: tuple[float, float], scale: tuple[float, float]) -> dict:  # fmt: skip
    """Random numbers for another person in crop ``index`` of ``count``: ``source`` (another
    crop; the crop itself, mirrored or moved, when it is alone), ``scale`` U(scale), a sideways
    move ``dx`` of +-U(shift) crop sides and ``dy`` of +-0.1 side, ``mirror`` and ``front``
    (each with probability 1/2)."""
    source = (index + int(rng.integers(1, count))) % count if count > 1 else index
    side = 1.0 if rng.random() < 0.5 else -1.0
    return {
        "source": source,
        "scale": float(rng.uniform(*scale)),
        "dx": side * float(rng.uniform(*shift)) * size,
        "dy": float(rng.uniform(-0.1, 0.1)) * size,
        "mirror": bool(rng.random() < 0.5),
        "front": bool(rng.random() < 0.5),
    }


def place_person(image: np.ndarray, mask: np.ndarray, numbers: dict):
    """(pixels (S, S, 3), mask (S, S) bool, front) of the person ``image`` / ``mask`` moved as
    :func:`draw_distractor`'s ``numbers`` say: the ``distractor`` argument of :func:`apply`."""
    move = (numbers["scale"], numbers["dy"], numbers["dx"], numbers["mirror"])
    return warp_nearest(image, *move, 0.0), warp_nearest(mask, *move, False), numbers["front"]


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


def apply(image: np.ndarray, person: np.ndarray, inside: np.ndarray, numbers: dict,
          distractor=None) -> np.ndarray:  # fmt: skip
    """One crop's augmentation from :func:`draw`'s ``numbers``: clothing first, then the other
    person (``distractor``: :func:`place_person`'s triple, or None), then the occluder; pixels
    outside the full image (``inside`` False) keep their value."""
    out, person = image, person & inside
    if numbers["steps"]:
        out, person = grow_clothing(out, person, numbers["allowed"] & inside, numbers["steps"])
    if distractor is not None:
        pixels, mask, front = distractor
        out = paste_person(out, person, pixels, mask & inside, front)
    if numbers["occluder"] is not None:
        out = paste_occluder(out, numbers["occluder"] & inside, numbers["patch"])
    return out
