"""Pictures: overlays of rendered meshes on images, colour maps, and PNG grids.

Plain numpy on the host (no JAX; PIL only to draw text labels and resize); PNGs are written with
``matplotlib.image.imsave`` (Agg, no display needed). Images are float arrays in [0, 1]
(H, W, 3) or uint8 (H, W, 3); every function accepts both and returns float32 in [0, 1].
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

# Pictures of larger images (a phone's 12 MP photo, a 4K video) are drawn at this longer side:
# the bodies are rendered for the smaller picture (a full-size one took ~20 s a person on 2
# cores and made 11 MB PNGs three photos wide); results are computed at full size regardless
MAX_PICTURE_SIDE = 1920


def picture_image(image, max_side: int | None = None):
    """``image`` resized (never enlarged) so that its longer side is at most ``max_side``
    (None: :data:`MAX_PICTURE_SIDE`): ``((H', W', 3) float32, (sx, sy))``, the scale per axis
    (W'/W, H'/H), 1 when unchanged."""
    from PIL import Image

    max_side = MAX_PICTURE_SIDE if max_side is None else max_side
    img = as_float_image(image)
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img, (1.0, 1.0)
    f = max_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    u8 = Image.fromarray((img * 255.0 + 0.5).astype(np.uint8)).resize(size, Image.LANCZOS)
    return np.asarray(u8, np.float32) / 255.0, (size[0] / w, size[1] / h)


def as_float_image(image) -> np.ndarray:
    """(H, W, 3) or (H, W) image (uint8 or float) -> (H, W, 3) float32 in [0, 1]."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    a = a.astype(np.float32)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    if a.ndim != 3 or a.shape[-1] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) image, got {a.shape}")
    return np.clip(a[..., :3], 0.0, 1.0)


def overlay(image, rendering, mask, alpha: float = 0.6) -> np.ndarray:
    """Alpha-blend a rendering over an image where the mask is set.

    Args:
      image: (H, W, 3) background picture.
      rendering: (H, W, 3) rendered colours (e.g. ``RenderChannels.rgb``).
      mask: (H, W) foreground (bool or weights in [0, 1]).
      alpha: opacity of the rendering.

    Returns:
      (H, W, 3) float32 ``image * (1 - alpha m) + rendering * alpha m``.
    """
    img = as_float_image(image)
    ren = as_float_image(rendering)
    if img.shape != ren.shape:
        raise ValueError(f"image {img.shape} and rendering {ren.shape} differ in size")
    m = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)[..., None] * float(alpha)
    return img * (1.0 - m) + ren * m


def draw_points(image, points, radius: int = 3, colour=(1.0, 0.2, 0.2)) -> np.ndarray:
    """Filled dots at ``points`` (N, 2) pixels (x, y) on a copy of ``image``; points outside
    the image or not finite are skipped. Returns (H, W, 3) float32."""
    img = as_float_image(image).copy()
    h, w = img.shape[:2]
    dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = dx**2 + dy**2 <= radius**2
    for x, y in np.asarray(points, np.float64).reshape(-1, 2):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        ys, xs = int(round(y)) + dy[disk], int(round(x)) + dx[disk]
        inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        img[ys[inside], xs[inside]] = colour
    return img


def draw_labels(image, labels: Sequence[str], anchors, size: int = 12) -> np.ndarray:
    """Text ``labels`` (white, outlined in black) on a copy of ``image``, each centred above its
    anchor (N, 2) pixels (x, y), moved inside the picture where it would leave it; anchors
    not finite are skipped. ``size``: text height in pixels. Returns (H, W, 3) float32."""
    from PIL import Image, ImageDraw, ImageFont

    img = as_float_image(image)
    pic = Image.fromarray((img * 255).round().astype(np.uint8))
    draw, font = ImageDraw.Draw(pic), ImageFont.load_default(size=size)
    stroke = max(1, size // 8)
    for text, (x, y) in zip(labels, np.asarray(anchors, np.float64).reshape(-1, 2), strict=True):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
        left = min(max(x - (x1 - x0) / 2, 0), pic.width - (x1 - x0))
        top = min(max(y - (y1 - y0) - stroke, 0), pic.height - (y1 - y0))
        draw.text((left - x0, top - y0), text, fill=(255, 255, 255), font=font,
                  stroke_width=stroke, stroke_fill=(0, 0, 0))  # fmt: skip
    return np.asarray(pic, np.float32) / 255.0


def normals_to_rgb(normals, mask=None) -> np.ndarray:
    """(H, W, 3) unit normals -> colours ``(n + 1) / 2`` (background black)."""
    n = np.asarray(normals, np.float32)
    rgb = (n + 1.0) * 0.5
    if mask is not None:
        rgb = np.where(np.asarray(mask, bool)[..., None], rgb, 0.0)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def depth_to_rgb(depth, mask=None, cmap: str = "viridis") -> np.ndarray:
    """(H, W) depth -> colours, near = bright, normalised over the foreground."""
    from matplotlib import colormaps

    d = np.asarray(depth, np.float32)
    m = (d > 0) if mask is None else np.asarray(mask, bool)
    out = np.zeros(d.shape + (3,), np.float32)
    if m.any():
        lo, hi = float(d[m].min()), float(d[m].max())
        x = 1.0 - (d - lo) / max(hi - lo, 1e-9)
        out = colormaps[cmap](np.clip(x, 0, 1))[..., :3].astype(np.float32)
        out = np.where(m[..., None], out, 0.0)
    return out


def image_grid(images: Sequence, ncols: int | None = None, pad: int = 2, fill=1.0) -> np.ndarray:
    """Tile images (same size) into one (rows x cols) picture separated by ``pad`` pixels.

    Args:
      images: sequence of (H, W, 3) / (H, W) images.
      ncols: columns (default: all in one row, i.e. side by side).
      pad: gap in pixels.
      fill: gap colour (grey level in [0, 1]).

    Returns:
      (rows * (H + pad) - pad, cols * (W + pad) - pad, 3) float32.
    """
    ims = [as_float_image(i) for i in images]
    if not ims:
        raise ValueError("no images")
    h, w = ims[0].shape[:2]
    if any(i.shape[:2] != (h, w) for i in ims):
        raise ValueError(f"images differ in size: {[i.shape for i in ims]}")
    ncols = len(ims) if ncols is None else int(ncols)
    nrows = -(-len(ims) // ncols)
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad, 3), fill, np.float32)
    for n, im in enumerate(ims):
        r, c = divmod(n, ncols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = im
    return out


def save_png(path: str | os.PathLike, image) -> str:
    """Write an (H, W, 3) image as PNG, atomically (:func:`~jaxrefine.files.atomic_write`;
    parent folders are created). Returns the path."""
    from matplotlib import image as mpimg

    from jaxrefine.files import atomic_write

    picture = as_float_image(image)
    atomic_write(path, lambda fh: mpimg.imsave(fh, picture, format="png"))
    return os.fspath(path)


def save_grid(path: str | os.PathLike, images: Sequence, ncols: int | None = None, pad: int = 2):
    """Side-by-side (or ``ncols``-column grid) PNG of several images. Returns the path."""
    return save_png(path, image_grid(images, ncols=ncols, pad=pad))


def channels_picture(channels, image=None, alpha: float = 0.6) -> np.ndarray:
    """The paper's render channels side by side (one row).

    Args:
      channels: a :class:`~jaxrefine.shading.RenderChannels` of one image.
      image: optional (H, W, 3) photo; adds an overlay of ``channels.rgb`` on it first.
      alpha: overlay opacity.

    Returns:
      (H, k (W + 2) - 2, 3) float32: [overlay,] rgb, depth, normals, unique vertex colours, mask.
    """
    mask = np.asarray(channels.mask) > 0.5
    tiles = []
    if image is not None:
        tiles.append(overlay(image, channels.rgb, mask, alpha))
    tiles += [
        as_float_image(channels.rgb),
        depth_to_rgb(channels.depth, mask),
        normals_to_rgb(channels.normals, mask),
        as_float_image(channels.uvc),
        as_float_image(mask.astype(np.float32)),
    ]
    return image_grid(tiles, pad=2)


def flow_to_rgb(flow, mask=None, max_norm: float | None = None, background=1.0) -> np.ndarray:
    """Colour-code a 2D displacement field: hue = direction, saturation = length.

    The usual optical-flow picture on an HSV wheel with value 1: a displacement pointing right
    (+x) is red, down (+y, image rows) yellow-green, left cyan, up violet; zero is white and a
    displacement of length ``max_norm`` or more is fully saturated.

    Args:
      flow: (H, W, 2) displacements (x, y) in pixels.
      mask: optional (H, W) foreground; pixels outside get ``background``.
      max_norm: length shown fully saturated (default: the largest length in the foreground,
        so two pictures compare only when given the same value).
      background: grey level (or (3,) colour) of masked-out pixels.

    Returns:
      (H, W, 3) float32 in [0, 1].
    """
    from matplotlib.colors import hsv_to_rgb

    f = np.asarray(flow, np.float32)
    if f.ndim != 3 or f.shape[-1] != 2:
        raise ValueError(f"expected an (H, W, 2) field, got {f.shape}")
    m = np.ones(f.shape[:2], bool) if mask is None else np.asarray(mask, bool)
    if m.shape != f.shape[:2]:
        raise ValueError(f"mask {m.shape} does not match the field {f.shape[:2]}")
    norm = np.linalg.norm(f, axis=-1)
    if max_norm is None:
        max_norm = float(norm[m].max()) if m.any() else 0.0
    hue = (np.arctan2(f[..., 1], f[..., 0]) / (2 * np.pi)) % 1.0
    sat = np.clip(norm / max(float(max_norm), 1e-9), 0.0, 1.0)
    rgb = hsv_to_rgb(np.stack([hue, sat, np.ones_like(sat)], -1)).astype(np.float32)
    return np.where(m[..., None], rgb, np.asarray(background, np.float32)).astype(np.float32)


def flow_wheel(size: int = 64) -> np.ndarray:
    """(size, size, 3) legend of :func:`flow_to_rgb`: the colour of every direction and length
    up to the circle's radius (outside the circle white)."""
    r = (np.arange(size, dtype=np.float32) + 0.5 - size / 2) / (size / 2)
    x, y = np.meshgrid(r, r)
    return flow_to_rgb(np.stack([x, y], -1), np.hypot(x, y) <= 1.0, max_norm=1.0)


def values_to_rgb(values, vmax: float | None = None, cmap: str = "viridis") -> np.ndarray:
    """(N,) values (e.g. per-vertex errors) -> (N, 3) colours of ``cmap`` over [0, vmax]
    (default vmax: the largest value)."""
    from matplotlib import colormaps

    v = np.asarray(values, np.float32)
    vmax = float(v.max()) if vmax is None and v.size else float(vmax or 0.0)
    return colormaps[cmap](np.clip(v / max(vmax, 1e-9), 0.0, 1.0))[..., :3].astype(np.float32)
