"""Rasterization for JAX: the EGL kernel behind ``jax.pure_callback`` and a pure-JAX fallback.

:func:`rasterize` returns, for one mesh seen by one camera, the visible triangle of every pixel,
the barycentric coordinates of the pixel centre in it and the camera-space depth
(:class:`Fragments`). Two backends give the same outputs:

* ``"egl"``: the OpenGL kernel of :mod:`kernels.rasterizer` (headless EGL; Mesa llvmpipe on a
  CPU machine, the GPU where there is one), called through :func:`jax.pure_callback` with
  ``vmap_method="expand_dims"``: under ``jit`` + ``vmap`` (also nested) a whole batch is ONE
  host call and one instanced draw (one layer per frame: results do not depend on the batch).
* ``"jax"``: a z-buffer written in JAX (:func:`rasterize_jax`; no callback, runs on any JAX
  device). Each triangle tests a fixed block of pixels, see :func:`rasterize_jax` for limits.
  It snaps projected corners to 1/256 pixel like OpenGL, so both backends give the same
  triangle on all but ~0.01-0.05 % of foreground pixels (pixel centres within float rounding
  of an edge), and barycentrics / depth to float32 rounding where they agree.

``"auto"`` uses EGL when a context can be made and JAX otherwise, and logs (``logging``, logger
``jaxrefine.render``) which backend runs; :attr:`Fragments.backend` records it.

Failures speak: a callback may not raise (undefined behaviour in JAX), so a failed EGL call
returns background fragments with :attr:`Fragments.flags` bit :data:`FLAG_EGL_FAILED` set, and
a JAX-fallback rendering that missed pixels of triangles larger than their block has bit
:data:`FLAG_TRUNCATED`. Callers propagate the per-frame flags (e.g. to
``smplify(render_flags=...)``, which marks those frames "render failed") or raise with
:func:`raise_on_render_failure`.

The EGL context is a resource: pass an :class:`kernels.rasterizer.EGLRasterizer` explicitly
(``rasterizer=``), or let :func:`default_rasterizer` create one per process and device index
and cache it (closed at interpreter exit). Nothing else is global.

Gradients: rasterization itself has none (outputs are ``stop_gradient``-ed; the callback has no
derivative rule). :func:`attach_gradients` recomputes barycentrics and depth of the rasterized
triangles as differentiable functions of the vertices and the camera (exact per pixel, same
formula as the kernel), so interpolated attributes get correct gradients w.r.t. vertex
positions everywhere except at visibility changes (silhouettes, occlusion boundaries).

Conventions: :mod:`jaxrefine.camera` (OpenCV; pixel centres at +0.5). Functions are written
for one example; ``jax.vmap`` them for batches (per-frame cameras = a :class:`Camera` whose
leaves have a leading batch axis), or use :func:`rasterize_batch`.
"""

from __future__ import annotations

import atexit
import functools
import logging
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrefine.camera import Camera, to_camera_frame

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "egl", "jax")
# Fragments.flags bits (per image; 0 = a complete rendering)
FLAG_EGL_FAILED = 1  # the EGL call raised: the fragments are all background
FLAG_TRUNCATED = 2  # JAX fallback: some triangle was larger than its block, pixels missing
FLAG_NAMES = {FLAG_EGL_FAILED: "EGL call failed", FLAG_TRUNCATED: "JAX fallback truncated"}
_MISSING_DEBIAN = "libegl1 libgl1"


@struct.dataclass
class Fragments:
    """Per-pixel rasterization result for one image.

    Attributes:
      tri_id: (H, W) int32 index of the visible triangle (row of ``faces``), -1 on background.
      bary: (H, W, 3) float32 barycentric coordinates of the pixel centre in that triangle, in
        the order of its ``faces`` row: non-negative, summing to 1; 0 on background.
      depth: (H, W) float32 camera-space z (metres) of the surface point; 0 on background.
      flags: () int32, 0 for a complete rendering, else a bitwise or of :data:`FLAG_EGL_FAILED`
        and :data:`FLAG_TRUNCATED` (see :func:`describe_flags`).
      backend: static, the backend that produced it ("egl" or "jax"; "auto" resolved).
    """

    tri_id: jnp.ndarray
    bary: jnp.ndarray
    depth: jnp.ndarray
    flags: jnp.ndarray
    backend: str = struct.field(pytree_node=False, default="")

    @property
    def mask(self) -> jnp.ndarray:
        """(H, W) bool foreground mask."""
        return self.tri_id >= 0


class EGLUnavailableError(RuntimeError):
    """``backend="egl"`` was requested but no EGL OpenGL context can be made."""


class RenderFailedError(RuntimeError):
    """A rendering failed or was degraded (see :func:`raise_on_render_failure`)."""


def describe_flags(flags: int) -> str:
    """Names of the bits set in one frame's flags, e.g. ``"EGL call failed"`` ("ok" for 0)."""
    f = int(flags)
    names = [n for bit, n in FLAG_NAMES.items() if f & bit]
    unknown = f & ~sum(FLAG_NAMES)
    if unknown:
        names.append(f"unknown flags {unknown:#x}")
    return ", ".join(names) or "ok"


def raise_on_render_failure(fragments: Fragments, what: str = "rendering") -> None:
    """Raise :class:`RenderFailedError` if any frame of ``fragments`` has a flag set.

    For callers that prefer an exception to a per-frame status. Host-side: call it on
    concrete fragments (outside ``jit``).

    Args:
      fragments: one image's or a batch's :class:`Fragments`.
      what: names the rendering in the message (e.g. ``"initial estimates"``).
    """
    flags = np.atleast_1d(np.asarray(fragments.flags))
    bad = np.flatnonzero(flags)
    if bad.size:
        shown = ", ".join(f"frame {i}: {describe_flags(flags[i])}" for i in bad[:8])
        more = f" (and {bad.size - 8} more)" if bad.size > 8 else ""
        raise RenderFailedError(
            f"{what}: {bad.size} of {flags.size} frames failed to render with the "
            f"{fragments.backend or 'unknown'} backend ({shown}{more})"
        )


# --------------------------------------------------------------------------- EGL resource
_DEFAULT_RASTERIZERS: dict = {}  # device index -> EGLRasterizer or the EGLUnavailableError


def default_rasterizer(device_index: int = 0):
    """The process-wide :class:`~kernels.rasterizer.EGLRasterizer` for ``device_index``.

    Created on first use, cached for the life of the process (one per device index, closed
    at exit). Raises :class:`EGLUnavailableError` (naming the Debian packages to install)
    when no context can be made; the failure is cached too, so later calls fail fast.
    """
    cached = _DEFAULT_RASTERIZERS.get(device_index)
    if cached is None:
        cached = _make_rasterizer(device_index)
        _DEFAULT_RASTERIZERS[device_index] = cached
    if isinstance(cached, Exception):
        raise cached
    return cached


def _make_rasterizer(device_index: int):
    try:
        from kernels.rasterizer import EGLRasterizer
        from kernels.rasterizer import EGLUnavailableError as KernelError
    except ImportError as e:  # pragma: no cover - the package ships with jaxrefine
        return EGLUnavailableError(f"the `kernels` package is not importable: {e}")
    try:
        raster = EGLRasterizer(device_index=device_index)
    except KernelError as e:
        return EGLUnavailableError(f"{e}\n(Debian/Ubuntu: `apt-get install {_MISSING_DEBIAN}`)")
    atexit.register(raster.close)
    logger.info("EGL rasterizer on device %d: %s", device_index, raster.renderer)
    return raster


def egl_available(device_index: int = 0) -> bool:
    """Whether an EGL context can be made (creates and caches it on success)."""
    try:
        default_rasterizer(device_index)
        return True
    except EGLUnavailableError:
        return False


def _resolve_backend(backend: str, rasterizer, device_index: int):
    """Return ("egl", rasterizer) or ("jax", None); log the choice (once per process at
    INFO, every later call at DEBUG: a run traces its renderings many times)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "jax":
        _log_choice("rasterize: JAX backend (requested)")
        return "jax", None
    if rasterizer is not None:
        _log_choice(f"rasterize: EGL backend ({rasterizer.renderer})")
        return "egl", rasterizer
    try:
        raster = default_rasterizer(device_index)
    except EGLUnavailableError as e:
        if backend == "egl":
            raise
        _log_choice(f"rasterize: no EGL context ({e}); using the JAX backend", logging.WARNING)
        return "jax", None
    _log_choice(f"rasterize: EGL backend ({raster.renderer})")
    return "egl", raster


_LOGGED_CHOICES: set[str] = set()


def _log_choice(message: str, level: int = logging.INFO) -> None:
    """``message`` at ``level`` the first time, at DEBUG after."""
    logger.log(level if message not in _LOGGED_CHOICES else logging.DEBUG, message)
    _LOGGED_CHOICES.add(message)


# --------------------------------------------------------------------------- validation
def _check_inputs(vertices, faces, camera: Camera, height, width) -> None:
    if not isinstance(height, int | np.integer) or not isinstance(width, int | np.integer):
        raise TypeError(f"height and width must be Python ints, got {height!r}, {width!r}")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if vertices.ndim != 2 or vertices.shape[-1] != 3:
        raise ValueError(
            f"vertices must be (V, 3) for one mesh, got {vertices.shape}; vmap over a batch"
        )
    if faces.ndim != 2 or faces.shape[-1] != 3:
        raise ValueError(f"faces must be (F, 3), got {faces.shape}")
    if not jnp.issubdtype(faces.dtype, jnp.integer):
        raise TypeError(f"faces must be integer, got {faces.dtype}")
    for name in ("fx", "fy", "cx", "cy"):
        if jnp.ndim(getattr(camera, name)) != 0:
            raise ValueError(f"camera.{name} must be a scalar for one image; vmap over a batch")
    if jnp.shape(camera.R) != (3, 3) or jnp.shape(camera.t) != (3,):
        raise ValueError(
            f"camera R, t must be (3, 3), (3,); got {camera.R.shape}, {camera.t.shape}"
        )
    if not isinstance(faces, jax.core.Tracer):
        f = np.asarray(faces)
        if f.size and (f.min() < 0 or f.max() >= vertices.shape[0]):
            raise ValueError("faces index vertices out of range")


# --------------------------------------------------------------------------- public entry
def rasterize(
    vertices: jnp.ndarray,
    faces: jnp.ndarray,
    camera: Camera,
    height: int,
    width: int,
    backend: str = "auto",
    *,
    cull_backfaces: bool = False,
    rasterizer=None,
    device_index: int = 0,
    block_size: int | None = None,
) -> Fragments:
    """Rasterize one triangle mesh seen by one pinhole camera.

    Args:
      vertices: (V, 3) float world-space vertex positions (metres).
      faces: (F, 3) int vertex indices per triangle.
      camera: a :class:`~jaxrefine.camera.Camera` with scalar intrinsics.
      height, width: image size in pixels (Python ints; static under ``jit``).
      backend: "auto" (EGL when possible, else JAX), "egl" or "jax".
      cull_backfaces: drop triangles whose normal ``(v1 - v0) x (v2 - v0)`` faces away from the
        camera. Correct and faster for closed outward-facing meshes (the body models) seen from
        outside; leave off for anything else.
      rasterizer: an explicit :class:`kernels.rasterizer.EGLRasterizer` (else the cached
        :func:`default_rasterizer`).
      device_index: EGL device of the cached rasterizer (several GPUs).
      block_size: JAX backend only, see :func:`rasterize_jax`.

    Returns:
      :class:`Fragments` with tri_id (H, W) int32 (-1 = background), bary (H, W, 3) float32,
      depth (H, W) float32 (camera-space z), all without gradient (see
      :func:`attach_gradients`), flags () int32 (0 = complete; a failed EGL call gives
      background with :data:`FLAG_EGL_FAILED`, a truncated JAX fallback
      :data:`FLAG_TRUNCATED`) and the backend used.

    Raises:
      ValueError / TypeError: malformed inputs (checked before any callback).
      EGLUnavailableError: ``backend="egl"`` and no EGL context can be made (the message names
        the Debian packages ``libegl1 libgl1``).
    """
    vertices = jnp.asarray(vertices)
    faces = jnp.asarray(faces)
    _check_inputs(vertices, faces, camera, height, width)
    which, raster = _resolve_backend(backend, rasterizer, device_index)
    vertices = jax.lax.stop_gradient(vertices.astype(jnp.float32))
    camera = jax.lax.stop_gradient(jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), camera))
    faces = faces.astype(jnp.int32)
    if which == "jax":
        frags, _ = _rasterize_jax_jit(
            vertices, faces, camera, height, width, block_size, cull_backfaces=cull_backfaces
        )
        return frags
    return _rasterize_egl(raster, vertices, faces, camera, height, width, cull_backfaces)


def rasterize_batch(
    vertices: jnp.ndarray,
    faces: jnp.ndarray,
    cameras: Camera,
    height: int,
    width: int,
    backend: str = "auto",
    *,
    cull_backfaces: bool = False,
) -> Fragments:
    """Jitted batch entry point: ``vmap`` of :func:`rasterize` over frames.

    Args:
      vertices: (B, V, 3) float world-space vertices.
      faces: (F, 3) int, shared by all frames.
      cameras: a :class:`Camera` whose leaves have a leading batch axis B.
      height, width, backend, cull_backfaces: as in :func:`rasterize`.

    Returns:
      :class:`Fragments` with a leading batch axis: tri_id (B, H, W), bary (B, H, W, 3),
      depth (B, H, W), flags (B,); ``.backend`` names the backend used ("auto" resolved).
      EGL: one host call for the batch; JAX: ``lax.map`` over frames (same results as
      ``vmap``, bounded memory).
    """
    which, _ = _resolve_backend(backend, None, 0)
    return _rasterize_batch_jit(vertices, faces, cameras, height, width, which, cull_backfaces)


@functools.partial(jax.jit, static_argnums=(3, 4, 5, 6))
def _rasterize_batch_jit(vertices, faces, cameras, height, width, backend, cull_backfaces):
    fn = functools.partial(
        rasterize, height=height, width=width, backend=backend, cull_backfaces=cull_backfaces
    )
    if backend == "jax":  # frame by frame: the z-buffer's (F, S, S) work arrays stay small
        return jax.lax.map(lambda vc: fn(vc[0], faces, vc[1]), (vertices, cameras))
    return jax.vmap(fn, in_axes=(0, None, 0))(vertices, faces, cameras)


# --------------------------------------------------------------------------- EGL boundary
def _egl_host(raster, height: int, width: int, cull: bool):
    """The host function behind the callback; accepts any leading batch axes."""

    def host(vertices, faces, intrinsics, R, t):
        vertices = np.asarray(vertices)
        faces = np.asarray(faces)
        batch = np.broadcast_shapes(
            vertices.shape[:-2], faces.shape[:-2], intrinsics.shape[:-1], R.shape[:-2], t.shape[:-1]
        )
        n = math.prod(batch)
        failed = (
            np.full(batch + (height, width), -1, np.int32),
            np.zeros(batch + (height, width, 3), np.float32),
            np.zeros(batch + (height, width), np.float32),
            np.full(batch, FLAG_EGL_FAILED, np.int32),
        )
        try:
            v = np.broadcast_to(vertices, batch + vertices.shape[-2:]).reshape(n, -1, 3)
            k = np.broadcast_to(intrinsics, batch + (4,)).reshape(n, 4)
            r = np.broadcast_to(R, batch + (3, 3)).reshape(n, 3, 3)
            tt = np.broadcast_to(t, batch + (3,)).reshape(n, 3)
            f = faces.reshape(-1, faces.shape[-2], 3)
            if f.shape[0] == 1 or all(np.array_equal(f[0], fi) for fi in f[1:]):
                res = raster.rasterize(v, f[0], k, r, tt, height, width, cull_backfaces=cull)
            else:  # per-frame faces (rare): one call per frame
                fb = np.broadcast_to(faces, batch + faces.shape[-2:]).reshape(n, -1, 3)
                parts = [
                    raster.rasterize(
                        v[i : i + 1],
                        fb[i],
                        k[i : i + 1],
                        r[i : i + 1],
                        tt[i : i + 1],
                        height,
                        width,
                        cull_backfaces=cull,
                    )
                    for i in range(n)
                ]
                res = tuple(np.concatenate(p) for p in zip(*parts))
            res = tuple(a.reshape(batch + a.shape[1:]) for a in res)
            return res + (np.zeros(batch, np.int32),)
        except Exception:  # never raise inside a callback: flag the frames, return background
            logger.exception("EGL rasterization failed; returning background, flagged")
            return failed

    return host


def _rasterize_egl(raster, vertices, faces, camera, height, width, cull) -> Fragments:
    intrinsics = jnp.stack([camera.fx, camera.fy, camera.cx, camera.cy])
    shapes = (
        jax.ShapeDtypeStruct((height, width), jnp.int32),
        jax.ShapeDtypeStruct((height, width, 3), jnp.float32),
        jax.ShapeDtypeStruct((height, width), jnp.float32),
        jax.ShapeDtypeStruct((), jnp.int32),
    )
    tri_id, bary, depth, flags = jax.pure_callback(
        _egl_host(raster, height, width, bool(cull)),
        shapes,
        vertices,
        faces,
        intrinsics,
        camera.R,
        camera.t,
        vmap_method="expand_dims",
    )
    return Fragments(tri_id=tri_id, bary=bary, depth=depth, flags=flags, backend="egl")


# --------------------------------------------------------------------------- exact per pixel
def _cross2(a, b):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _edge_point(a, b):
    """Nearest point to the origin on segment [a, b] (..., 2): weights (1 - s, s), squared dist."""
    e = b - a
    ee = jnp.sum(e * e, -1)
    s = jnp.where(ee > 0, jnp.clip(-jnp.sum(a * e, -1) / jnp.where(ee > 0, ee, 1.0), 0.0, 1.0), 0.0)
    q = a + s[..., None] * e
    return 1.0 - s, s, jnp.sum(q * q, -1)


def pixel_barycentrics(points: jnp.ndarray, intrinsics: jnp.ndarray, pixel: jnp.ndarray):
    """Exact barycentrics and depth of pixel centres in camera-space triangles.

    The kernel's fragment-shader formula, i.e. the intersection of the ray through the pixel
    centre with the triangle: with ``d_i`` the projected corners relative to the pixel centre
    (pixels), the screen-space weights are the 2D cross products ``l_0 = d_1 x d_2`` (etc.)
    and the perspective-correct barycentrics ``b_i = (l_i / z_i) / sum_j (l_j / z_j)``.
    Working in small pixel-relative numbers keeps float32 accurate (and insensitive to FMA
    contraction). When a corner is behind the camera (a triangle OpenGL clipped at the near
    plane) the homogeneous form ``d_i = (fx x + (cx - u) z, fy y + (cy - v) z)`` is used, whose
    cross products are proportional to ``l_i / z_i`` directly.

    Pixel centres outside the triangle (edge / silhouette pixels, covered by the rasterizer's
    sub-pixel snapping) get the triangle's nearest point in the image, perspective-corrected
    (its re-projection stays within the snapping distance, ~1/256 px); with a corner behind the
    camera, negative weights are clamped and renormalised instead.

    Args:
      points: (..., 3, 3) camera-space triangle corners (corner, xyz).
      intrinsics: (4,) (fx, fy, cx, cy).
      pixel: (..., 2) pixel-centre coordinates (u, v).

    Returns:
      bary (..., 3) float32, non-negative, summing to 1; depth (...,) camera-space z
      ``sum_i b_i z_i``.
    """
    fx, fy, cx, cy = intrinsics[0], intrinsics[1], intrinsics[2], intrinsics[3]
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    u, v = pixel[..., 0:1], pixel[..., 1:2]
    front = jnp.all(z > 0, -1, keepdims=True)  # (..., 1)
    zs = jnp.where(front, z, 1.0)
    d_front = jnp.stack([(fx * x / zs + cx) - u, (fy * y / zs + cy) - v], -1)
    d_homog = jnp.stack([fx * x + (cx - u) * z, fy * y + (cy - v) * z], -1)
    d = jnp.where(front[..., None], d_front, d_homog)  # (..., 3, 2)
    d0, d1, d2 = d[..., 0, :], d[..., 1, :], d[..., 2, :]
    w = jnp.stack([_cross2(d1, d2), _cross2(d2, d0), _cross2(d0, d1)], -1)
    w = jnp.where(front, w / zs, w)
    a = jnp.sum(w, -1, keepdims=True)
    bary = jnp.where(a != 0, w / jnp.where(a != 0, a, 1.0), 1.0 / 3.0)
    outside = jnp.min(bary, -1, keepdims=True) < 0
    # Nearest point of the projected triangle (used where outside and in front).
    a01, b01, e01 = _edge_point(d0, d1)
    a12, b12, e12 = _edge_point(d1, d2)
    a20, b20, e20 = _edge_point(d2, d0)
    zero = jnp.zeros_like(a01)
    lam = jnp.stack([a01, b01, zero], -1)
    best = e01
    lam = jnp.where((e12 < best)[..., None], jnp.stack([zero, a12, b12], -1), lam)
    best = jnp.minimum(best, e12)
    lam = jnp.where((e20 < best)[..., None], jnp.stack([b20, zero, a20], -1), lam)
    wn = lam / zs
    near = wn / jnp.sum(wn, -1, keepdims=True)
    clamped = jnp.maximum(bary, 0.0)
    cs = jnp.sum(clamped, -1, keepdims=True)
    clamped = jnp.where(cs > 0, clamped / jnp.where(cs > 0, cs, 1.0), 1.0 / 3.0)
    bary = jnp.where(outside, jnp.where(front, near, clamped), bary)
    depth = jnp.sum(bary * z, -1)
    return bary, depth


def _intrinsics(camera: Camera):
    return jnp.stack([camera.fx, camera.fy, camera.cx, camera.cy])


def _pixel_centres(height: int, width: int):
    v, u = jnp.meshgrid(
        jnp.arange(height, dtype=jnp.float32) + 0.5,
        jnp.arange(width, dtype=jnp.float32) + 0.5,
        indexing="ij",
    )
    return jnp.stack([u, v], -1)  # (H, W, 2)


def attach_gradients(
    fragments: Fragments, vertices: jnp.ndarray, faces: jnp.ndarray, camera: Camera
) -> Fragments:
    """Recompute barycentrics and depth of the rasterized triangles, differentiably.

    The triangle ids stay as rasterized (no gradient); barycentrics and depth become exact,
    differentiable functions of ``vertices`` and ``camera`` (the kernel's formula, so values
    agree with the rasterizer's to float32 rounding: exactly when both are compiled; called
    eagerly, unfused multiply-adds move barycentrics of sliver triangles by up to ~3e-5).

    Args:
      fragments: :class:`Fragments` of one image, tri_id (H, W).
      vertices: (V, 3) world-space vertices used for rasterizing.
      faces: (F, 3) int.
      camera: the camera used for rasterizing.

    Returns:
      :class:`Fragments` with differentiable bary (H, W, 3) and depth (H, W); background 0.
    """
    if fragments.tri_id.ndim != 2:
        raise ValueError(f"fragments must be for one image (H, W), got {fragments.tri_id.shape}")
    h, w = fragments.tri_id.shape
    mask = fragments.tri_id >= 0
    tri = jnp.where(mask, fragments.tri_id, 0)
    pts = to_camera_frame(camera, vertices)[faces[tri]]  # (H, W, 3, 3)
    bary, depth = pixel_barycentrics(pts, _intrinsics(camera), _pixel_centres(h, w))
    bary = jnp.where(mask[..., None], bary, 0.0)
    depth = jnp.where(mask, depth, 0.0)
    return fragments.replace(bary=bary, depth=depth)


# --------------------------------------------------------------------------- JAX fallback
def default_block_size(height: int, width: int) -> int:
    """Default per-triangle pixel block S of :func:`rasterize_jax`: 4 at 256 px, scaled."""
    return max(3, math.ceil(4 * max(height, width) / 256))


def rasterize_jax(
    vertices: jnp.ndarray,
    faces: jnp.ndarray,
    camera: Camera,
    height: int,
    width: int,
    block_size: int | None = None,
    *,
    cull_backfaces: bool = False,
    znear: float = 0.05,
    num_medium: int = 1024,
    num_large: int = 64,
    subpixel_bits: int | None = 8,
) -> tuple[Fragments, jnp.ndarray]:
    """Pure-JAX z-buffer rasterizer (no callback; jit / vmap / any device).

    Each triangle tests the ``S x S`` pixel block starting at the first pixel centre of its
    bounding box (``S = block_size``); the ``num_medium`` triangles with the largest bounding
    boxes are tested again on a ``2 S`` block and the ``num_large`` largest on an ``8 S`` block
    (fixed shapes, so it jits and vmaps). Coverage is the pixel centre inside the projected
    triangle (corners snapped like OpenGL's), visibility the largest perspective-correct
    ``1/z`` (ties: larger triangle id), resolved with one scatter-max of packed
    (depth, id) keys into a (H * W) buffer (two scatters for meshes of more than 2**20
    faces). Pixels of triangles larger than their block are missed: the second return value
    counts such triangles (0 = exact coverage; e.g. the body model at 256x256 filling the
    image height needs S = 4 with 1,024 medium ones). Barycentrics and depth are then
    computed exactly per pixel (:func:`pixel_barycentrics`, the kernel's formula). Triangles
    with a corner closer than ``znear`` are dropped (OpenGL clips them instead).

    Args:
      vertices: (V, 3) float32 world-space vertices.
      faces: (F, 3) int32.
      camera: :class:`Camera` with scalar leaves.
      height, width: image size (static).
      block_size: S; ``None`` = :func:`default_block_size` (4 at 256 px, 8 at 512 px).
      cull_backfaces: as in :func:`rasterize`.
      znear: near-plane distance in metres.
      num_medium: how many of the largest triangles also test a 2 S block (static).
      num_large: how many of the largest triangles also test an 8 S block (static).
      subpixel_bits: the coverage test snaps projected corners to ``2**-subpixel_bits`` pixel,
        as OpenGL rasterizers do (8 on Mesa llvmpipe and NVIDIA); this makes pixel centres
        within rounding of an edge go to the same triangle as in the EGL kernel. ``None``:
        no snapping. Barycentrics and depth are always computed unsnapped.

    Returns:
      (fragments, num_truncated): :class:`Fragments` as from :func:`rasterize` (flags
      :data:`FLAG_TRUNCATED` when ``num_truncated > 0``), and a () int32 count of triangles
      larger than their block (their far pixels are missing).
    """
    if vertices.ndim != 2:
        raise ValueError(f"vertices must be (V, 3) for one mesh, got {vertices.shape}")
    s = default_block_size(height, width) if block_size is None else int(block_size)
    faces = jnp.asarray(faces, jnp.int32)
    k = _intrinsics(camera).astype(jnp.float32)
    tri_s, tri_z, tri_p, valid = _screen_triangles(
        vertices, faces, camera, k, znear, subpixel_bits, cull_backfaces
    )
    lo = jnp.maximum(jnp.ceil(jnp.min(tri_s, 1) - 0.5), 0.0)  # first pixel centre >= min
    hi = jnp.floor(jnp.max(tri_s, 1) - 0.5)  # last pixel index whose centre is <= max
    hi = jnp.minimum(hi, jnp.array([[width - 1, height - 1]], jnp.float32))
    extent = jnp.max(hi - lo + 1, -1)  # pixels spanned (<= 0: none)
    valid &= extent > 0
    num_f = faces.shape[0]
    sets = _block_sets(valid, extent, s, min(num_medium, num_f), min(num_large, num_f))
    cands = []
    for sel, size in sets:
        pix, inv_z, ok = _block_candidates(
            tri_s[sel], tri_z[sel], lo[sel], valid[sel], size, height, width
        )
        idx = jnp.where(ok, pix, height * width).ravel()  # out of range = dropped
        cands.append((jnp.broadcast_to(sel[:, None, None], pix.shape).ravel(), idx, inv_z.ravel()))
    id_bits = int(num_f).bit_length()  # id + 1 <= num_f < 2**id_bits
    if 32 - id_bits >= _MIN_DEPTH_BITS:
        tri_id = _zbuffer_packed(cands, tri_z, valid, height * width, id_bits)
    else:
        tri_id = _zbuffer_two_pass(cands, height * width)
    tri_id = tri_id.reshape(height, width)
    limit = jnp.zeros(num_f, jnp.float32)
    for sel, size in sets:
        limit = limit.at[sel].max(float(size))
    truncated = valid & (extent > limit)
    mask = tri_id >= 0
    pts = tri_p[jnp.where(mask, tri_id, 0)]  # (H, W, 3, 3)
    bary, depth = pixel_barycentrics(pts, k, _pixel_centres(height, width))
    num_truncated = jnp.sum(truncated).astype(jnp.int32)
    frags = Fragments(
        tri_id=tri_id,
        bary=jnp.where(mask[..., None], bary, 0.0),
        depth=jnp.where(mask, depth, 0.0),
        flags=jnp.where(num_truncated > 0, FLAG_TRUNCATED, 0).astype(jnp.int32),
        backend="jax",
    )
    return frags, num_truncated


_MIN_DEPTH_BITS = 12  # packed z-buffer keys need at least this many bits of depth


def _screen_triangles(vertices, faces, camera: Camera, k, znear: float, subpixel_bits,
                      cull_backfaces: bool):  # fmt: skip
    """Per face its corners on screen (F, 3, 2) (snapped to ``2**-subpixel_bits`` px), their
    depths (F, 3) and camera-frame points (F, 3, 3), and (F,) whether it is drawn (every
    corner beyond ``znear``; front-facing when culling)."""
    pc = to_camera_frame(camera, jnp.asarray(vertices, jnp.float32))  # (V, 3)
    z = pc[:, 2]
    zs = jnp.where(z > znear, z, 1.0)
    scr = jnp.stack([k[0] * pc[:, 0] / zs + k[2], k[1] * pc[:, 1] / zs + k[3]], -1)
    if subpixel_bits is not None:  # snap like OpenGL rasterizers before the coverage test
        scale = float(2**subpixel_bits)
        scr = jnp.round(scr * scale) / scale
    tri_z, tri_p = z[faces], pc[faces]
    valid = jnp.all(tri_z > znear, -1)
    if cull_backfaces:
        n = jnp.cross(tri_p[:, 1] - tri_p[:, 0], tri_p[:, 2] - tri_p[:, 0])
        valid &= jnp.sum(n * tri_p[:, 0], -1) < 0
    return scr[faces], tri_z, tri_p, valid


def _block_sets(valid, extent, s: int, n_medium: int, n_large: int) -> list:
    """(face ids, block size) pairs: every face on an ``s`` block, the ``n_medium`` largest
    (by pixel extent) again on a ``2 s`` block and the ``n_large`` largest on ``8 s``."""
    num_f = valid.shape[0]
    sets = [(jnp.arange(num_f, dtype=jnp.int32), s)]
    if n_medium > 0 or n_large > 0:
        order = jnp.argsort(-jnp.where(valid, extent, -1.0)).astype(jnp.int32)  # largest first
        if n_medium > 0:
            sets.append((order[:n_medium], 2 * s))
        if n_large > 0:
            sets.append((order[:n_large], 8 * s))
    return sets


def _zbuffer_packed(cands, tri_z, valid, num_pixels: int, id_bits: int):
    """Visibility with one scatter-max of uint32 keys ``(quantised 1/z) << id_bits | id + 1``.

    1/z is quantised over the frame's range of valid corners with ``32 - id_bits`` bits (17
    for the 26,692-face body: ~1e-5 m at 3 m, like a 24-bit depth buffer); ties go to the
    larger triangle id. Returns (num_pixels,) int32 ids, -1 = empty.
    """
    depth_bits = 32 - id_bits
    inv = jnp.where(valid[:, None], 1.0 / jnp.where(valid[:, None], tri_z, 1.0), jnp.nan)
    lo = jnp.nanmin(inv)
    hi = jnp.nanmax(inv)
    levels = float(2**depth_bits - 1)
    scale = levels / jnp.maximum(hi - lo, 1e-30)
    kbuf = jnp.zeros(num_pixels, jnp.uint32)
    for tid, idx, inv_z in cands:
        q = jnp.clip(jnp.floor((inv_z - lo) * scale), 0.0, levels).astype(jnp.uint32)
        key = (q << id_bits) | (tid + 1).astype(jnp.uint32)
        kbuf = kbuf.at[idx].max(key, mode="drop")
    return (kbuf & jnp.uint32(2**id_bits - 1)).astype(jnp.int32) - 1


def _zbuffer_two_pass(cands, num_pixels: int):
    """Visibility with two scatters: max 1/z, then the max id among the candidates at it."""
    zbuf = jnp.zeros(num_pixels, jnp.float32)  # largest 1/z per pixel (0 = empty)
    for _, idx, inv_z in cands:
        zbuf = zbuf.at[idx].max(inv_z, mode="drop")
    idbuf = jnp.full(num_pixels, -1, jnp.int32)
    for tid, idx, inv_z in cands:
        win = inv_z == zbuf[jnp.minimum(idx, num_pixels - 1)]
        idbuf = idbuf.at[jnp.where(win, idx, num_pixels)].max(tid, mode="drop")
    return idbuf


def _block_candidates(tri_s, tri_z, lo, valid, size: int, height: int, width: int):
    """Coverage of each triangle's size x size pixel block starting at pixel ``lo``.

    Args:
      tri_s: (T, 3, 2) projected corners (pixels); tri_z: (T, 3) their camera-space z;
      lo: (T, 2) (column, row) of the block's first pixel; valid: (T,) bool.

    Returns:
      flat pixel index (T, S, S) int32, perspective-correct 1/z (T, S, S), coverage (T, S, S).
    """
    off = jnp.arange(size, dtype=jnp.float32)
    x = off[None, None, :]  # column offset in the block
    y = off[None, :, None]  # row offset
    o = lo + 0.5  # the block's first pixel centre; corners relative to it stay small
    s0 = tri_s[:, 0] - o
    s1 = tri_s[:, 1] - o
    s2 = tri_s[:, 2] - o
    area = _cross2(s1 - s0, s2 - s0)  # (T,) twice the signed area
    inv_area = jnp.where(area != 0, 1.0 / jnp.where(area != 0, area, 1.0), 0.0)[:, None, None]

    def edge(a, b):  # cross(b - a, p - a), affine in the pixel p = (x, y)
        e = b - a
        return e[:, 0, None, None] * (y - a[:, 1, None, None]) - e[:, 1, None, None] * (
            x - a[:, 0, None, None]
        )

    l0 = edge(s1, s2) * inv_area
    l1 = edge(s2, s0) * inv_area
    l2 = edge(s0, s1) * inv_area
    col = lo[:, 0, None, None] + x
    row = lo[:, 1, None, None] + y
    ok = (
        (l0 >= 0)
        & (l1 >= 0)
        & (l2 >= 0)
        & (area != 0)[:, None, None]
        & valid[:, None, None]
        & (col < width)
        & (row < height)
    )
    inv_z = (
        l0 / tri_z[:, 0, None, None] + l1 / tri_z[:, 1, None, None] + l2 / tri_z[:, 2, None, None]
    )
    pix = row.astype(jnp.int32) * width + col.astype(jnp.int32)
    return pix, inv_z, ok


# The fallback as used by :func:`rasterize`: compiled once per shape and setting (also when
# called eagerly; under an outer jit it is inlined).
_rasterize_jax_jit = jax.jit(
    rasterize_jax,
    static_argnames=(
        "height",
        "width",
        "block_size",
        "cull_backfaces",
        "znear",
        "num_large",
        "subpixel_bits",
    ),
)
