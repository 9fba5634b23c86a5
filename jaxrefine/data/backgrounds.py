"""Background images for synthetic frames: natural photos, CC0 HDRI crops, procedural patterns.

Sources, each optional:

* ``skimage``: the public-domain / CC0 pictures of ``skimage.data`` (coffee, chelsea, rocket,
  astronaut, camera, brick, grass, gravel, hubble_deep_field), when scikit-image is installed;
* ``hdri``: the CC0 equirectangular studio lights of Debian's ``blender-data``
  (``/usr/share/blender/datafiles/studiolights/world/*.exr``), read with the ``OpenEXR``
  package and tone-mapped (exposure + Reinhard + sRGB gamma), when both are there;
* ``procedural``: always available: gradients, value noise, stripes, checks, blobs.

:class:`BackgroundPool` loads what exists once (logging, logger ``jaxrefine.data.backgrounds``,
which sources were found) and :func:`sample_background` draws a random crop of a random source
with random scale, horizontal flip and colour jitter (brightness, contrast, saturation, tint).
Everything is numpy on the host and deterministic given the generator.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os

import numpy as np

logger = logging.getLogger(__name__)

SKIMAGE_NAMES = (
    "coffee",
    "chelsea",
    "rocket",
    "astronaut",
    "camera",
    "brick",
    "grass",
    "gravel",
    "hubble_deep_field",
)
HDRI_DIR = "/usr/share/blender/datafiles/studiolights/world"
SOURCES = ("skimage", "hdri", "procedural")


@dataclasses.dataclass(frozen=True)
class BackgroundPool:
    """Loaded background sources.

    Attributes:
      images: tuple of (H_i, W_i, 3) float32 sRGB images in [0, 1] (natural photos and
        tone-mapped HDRIs).
      names: tuple of "source:name" per image.
      weights: probability of drawing a procedural background instead of an image.
    """

    images: tuple
    names: tuple
    procedural_prob: float = 0.25

    @property
    def sources(self) -> tuple[str, ...]:
        found = sorted({n.split(":", 1)[0] for n in self.names})
        return tuple(found) + ("procedural",)


def _to_float_rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535.0
    a = a.astype(np.float32)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    return np.clip(a[..., :3], 0.0, 1.0)


def load_skimage_images() -> list[tuple[str, np.ndarray]]:
    """The ``skimage.data`` pictures as float32 RGB, or [] when scikit-image is missing."""
    try:
        import skimage.data as skd
    except ImportError:
        return []
    out = []
    for name in SKIMAGE_NAMES:
        try:
            out.append((f"skimage:{name}", _to_float_rgb(getattr(skd, name)())))
        except Exception as e:  # a missing data file (some are fetched on demand)
            logger.info("skimage.data.%s unavailable: %s", name, e)
    return out


def read_exr(path: str | os.PathLike) -> np.ndarray:
    """Read an RGB(A) OpenEXR file as (H, W, 3) float32 linear radiance (``OpenEXR`` >= 3)."""
    import OpenEXR

    with OpenEXR.File(os.fspath(path)) as f:
        channels = f.channels()
        if "RGB" in channels:
            return np.asarray(channels["RGB"].pixels, np.float32)[..., :3]
        if "RGBA" in channels:
            return np.asarray(channels["RGBA"].pixels, np.float32)[..., :3]
        try:
            return np.stack([np.asarray(channels[c].pixels, np.float32) for c in "RGB"], -1)
        except KeyError as e:
            raise ValueError(f"{path}: no RGB channels (found {sorted(channels)})") from e


def tone_map(radiance: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Linear HDR radiance -> sRGB in [0, 1]: exposure to a mean of 0.18, Reinhard, gamma."""
    x = np.maximum(np.asarray(radiance, np.float32), 0.0)
    x = x * (0.18 * exposure / max(float(np.mean(x)), 1e-6))
    x = x / (1.0 + x)
    return np.clip(x, 0.0, 1.0) ** (1.0 / 2.2)


def load_hdri_images(folder: str | os.PathLike = HDRI_DIR) -> list[tuple[str, np.ndarray]]:
    """The CC0 HDRI panoramas tone-mapped to sRGB (middle band: the horizon, no sky / floor),
    or [] when the folder or the ``OpenEXR`` package is missing."""
    files = sorted(glob.glob(os.path.join(os.fspath(folder), "*.exr")))
    if not files:
        return []
    try:
        import OpenEXR  # noqa: F401
    except ImportError:
        logger.info("OpenEXR not installed; skipping the %d HDRIs in %s", len(files), folder)
        return []
    out = []
    for path in files:
        try:
            img = read_exr(path)
        except Exception as e:
            logger.warning("could not read %s: %s", path, e)
            continue
        h = img.shape[0]
        band = img[int(0.2 * h) : int(0.8 * h)]
        name = os.path.splitext(os.path.basename(path))[0]
        out.append((f"hdri:{name}", tone_map(band)))
    return out


_POOL_CACHE: dict = {}


def default_pool(sources: tuple[str, ...] = SOURCES) -> BackgroundPool:
    """The :class:`BackgroundPool` of the requested sources that are available (cached).

    Args:
      sources: subset of ("skimage", "hdri", "procedural"). Procedural backgrounds are always
        possible; without "procedural" they are only used when no image source is found.
    """
    key = tuple(sources)
    if key in _POOL_CACHE:
        return _POOL_CACHE[key]
    bad = set(sources) - set(SOURCES)
    if bad:
        raise ValueError(f"unknown background sources {sorted(bad)}; choose from {SOURCES}")
    items: list[tuple[str, np.ndarray]] = []
    if "skimage" in sources:
        sk = load_skimage_images()
        if not sk:
            logger.info("backgrounds: scikit-image not installed; no natural images")
        items += sk
    if "hdri" in sources:
        hd = load_hdri_images()
        if not hd:
            logger.info("backgrounds: no HDRIs (blender-data / OpenEXR missing)")
        items += hd
    if items:
        prob = 0.25 if "procedural" in sources else 0.0
    else:
        prob = 1.0
    pool = BackgroundPool(
        images=tuple(i for _, i in items), names=tuple(n for n, _ in items), procedural_prob=prob
    )
    logger.info(
        "backgrounds: %d images (%s), procedural share %.2f",
        len(pool.images),
        ", ".join(sorted({n.split(":")[0] for n in pool.names})) or "none",
        prob,
    )
    _POOL_CACHE[key] = pool
    return pool


# --------------------------------------------------------------------------- sampling
def _bilinear_crop(img: np.ndarray, y0, x0, ch, cw, height, width, flip) -> np.ndarray:
    """Resample the crop [y0, y0 + ch) x [x0, x0 + cw) of ``img`` to (height, width)."""
    ys = y0 + (np.arange(height, dtype=np.float32) + 0.5) * (ch / height) - 0.5
    xs = x0 + (np.arange(width, dtype=np.float32) + 0.5) * (cw / width) - 0.5
    if flip:
        xs = xs[::-1]
    H, W = img.shape[:2]
    ys = np.clip(ys, 0, H - 1)
    xs = np.clip(xs, 0, W - 1)
    y0i = np.minimum(np.floor(ys).astype(np.int64), H - 2 if H > 1 else 0)
    x0i = np.minimum(np.floor(xs).astype(np.int64), W - 2 if W > 1 else 0)
    fy = (ys - y0i)[:, None, None]
    fx = (xs - x0i)[None, :, None]
    y1i = np.minimum(y0i + 1, H - 1)
    x1i = np.minimum(x0i + 1, W - 1)
    top = img[y0i][:, x0i] * (1 - fx) + img[y0i][:, x1i] * fx
    bot = img[y1i][:, x0i] * (1 - fx) + img[y1i][:, x1i] * fx
    return top * (1 - fy) + bot * fy


def random_crop(img: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop (30-100 % of the shorter side, the output's aspect), resized and maybe
    flipped horizontally. Returns (height, width, 3) float32."""
    H, W = img.shape[:2]
    aspect = width / height
    scale = rng.uniform(0.3, 1.0)
    ch = scale * min(H, W / aspect)
    cw = ch * aspect
    y0 = rng.uniform(0, max(H - ch, 0))
    x0 = rng.uniform(0, max(W - cw, 0))
    return _bilinear_crop(img, y0, x0, ch, cw, height, width, rng.random() < 0.5)


def colour_jitter(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Brightness, contrast, saturation and tint jitter; returns float32 in [0, 1]."""
    s = float(strength)
    out = img * rng.uniform(1 - 0.4 * s, 1 + 0.3 * s)
    mean = out.mean()
    out = (out - mean) * rng.uniform(1 - 0.4 * s, 1 + 0.3 * s) + mean
    grey = out.mean(-1, keepdims=True)
    out = grey + (out - grey) * rng.uniform(1 - 0.7 * s, 1 + 0.4 * s)
    out = out * (1 + rng.normal(0, 0.06 * s, 3))
    return np.clip(out, 0, 1).astype(np.float32)


def procedural_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A procedural background: gradient, value noise, stripes, checks or blobs.

    Returns:
      (height, width, 3) float32 in [0, 1].
    """
    from jaxrefine.data.textures import random_colour, value_noise

    kind = rng.choice(["gradient", "noise", "stripes", "checks", "blobs"])
    c1, c2 = random_colour(rng), random_colour(rng)
    yy, xx = np.meshgrid(
        (np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width, indexing="ij"
    )
    if kind == "gradient":
        ang = rng.uniform(0, 2 * np.pi)
        t = (np.cos(ang) * xx + np.sin(ang) * yy)[..., None]
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    elif kind == "noise":
        pts = np.stack([xx - 0.5, yy - 0.5, np.zeros_like(xx)], -1)
        t = value_noise(pts, rng.uniform(3, 25), rng)[..., None]
    elif kind == "stripes":
        ang = rng.uniform(0, np.pi)
        period = rng.uniform(0.03, 0.3)
        t = (((np.cos(ang) * xx + np.sin(ang) * yy) / period) % 1.0 < 0.5)[..., None]
    elif kind == "checks":
        p = rng.uniform(0.04, 0.25)
        t = ((np.floor(xx / p) + np.floor(yy / p)) % 2)[..., None]
    else:
        pts = np.stack([xx - 0.5, yy - 0.5, np.zeros_like(xx)], -1)
        t = (value_noise(pts, rng.uniform(3, 10), rng) > 0.5)[..., None]
    out = c1 * (1 - t) + c2 * t
    out = out + rng.normal(0, rng.uniform(0, 0.04), out.shape)
    return np.clip(out, 0, 1).astype(np.float32)


def sample_background(
    height: int, width: int, rng: np.random.Generator, pool: BackgroundPool | None = None
) -> tuple[np.ndarray, str]:
    """One random background.

    Args:
      height, width: output size in pixels.
      rng: random generator (consumed; deterministic).
      pool: sources (default :func:`default_pool`).

    Returns:
      image (height, width, 3) float32 in [0, 1] and the name of its source ("skimage:coffee",
      "hdri:forest", "procedural").
    """
    pool = default_pool() if pool is None else pool
    if not pool.images or rng.random() < pool.procedural_prob:
        return procedural_background(height, width, rng), "procedural"
    i = int(rng.integers(len(pool.images)))
    img = random_crop(pool.images[i], height, width, rng)
    return colour_jitter(img, rng), pool.names[i]
