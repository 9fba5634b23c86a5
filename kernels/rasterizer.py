"""Headless triangle rasterizer on an EGL OpenGL context (numpy in, numpy out).

Framework-free: this module knows nothing about JAX. It rasterizes a batch of meshes that share
one face list, each seen by its own pinhole camera, and returns for every pixel the id of the
visible triangle, the exact barycentric coordinates of the pixel centre in that triangle and the
camera-space depth of the surface point.

Conventions (OpenCV): camera-space x right, y down, z forward; a world point ``X`` maps to
``R @ X + t`` and to pixel ``(fx x / z + cx, fy y / z + cy)``; pixel ``(row i, column j)``
covers ``[j, j + 1) x [i, i + 1)`` and its centre is ``(j + 0.5, i + 0.5)``.

How it works (see ``../shared/docs/RENDERING.md``):

* The OpenGL context belongs to one worker thread owned by :class:`EGLRasterizer`; every call is
  executed on that thread, so the object can be used from any thread.
* All frames of a batch are drawn with one instanced draw call into a target that stacks the
  frames vertically (frame ``b`` occupies rows ``[b H, (b + 1) H)``); clip distances keep each
  triangle inside its frame. Batches taller than the maximum texture size are split in passes.
* The fragment shader writes ``gl_PrimitiveID + 1`` into a 32-bit integer target cleared to 0
  and computes barycentrics and depth *exactly* for the pixel centre (ray-triangle intersection
  in camera space); slightly negative barycentrics of silhouette pixels are clamped and
  renormalised. The hardware depth test (24-bit, perspective, ``znear``/``zfar``) only decides
  visibility.
* Edge pixels and the batch: with the default ``mode="stacked"`` the frame offset ``b H`` enters
  the window coordinates in float32, so whether a pixel centre lying (within rounding) on a
  triangle edge is covered can depend on the frame's position in the stack, i.e. on the batch
  size: typically 0-3 silhouette/edge pixels per frame. ``mode="exact"`` draws each frame alone
  at the origin of the target (one draw and one read-back per frame, slower); its results do
  not depend on the batch at all.

Triangles crossing the near plane are clipped by OpenGL (the part with ``z < znear`` is not
drawn).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

_SHADER_DIR = Path(__file__).resolve().parent
MISSING_PACKAGES_HINT = (
    "install the Debian packages `libegl1 libgl1` (apt-get install libegl1 libgl1; they bring "
    "Mesa's EGL and llvmpipe) and the Python packages `moderngl` and `glcontext` "
    "(pip install 'jaxrefine[egl]')"
)
MODES = ("stacked", "exact")


class EGLUnavailableError(RuntimeError):
    """No headless EGL OpenGL context could be created."""


def load_shader(name: str) -> str:
    """Return the GLSL source ``kernels/<name>``."""
    return (_SHADER_DIR / name).read_text()


def _camera_block(intrinsics: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pack per-frame cameras into the (B, 16) float32 layout the shaders read."""
    b = intrinsics.shape[0]
    out = np.empty((b, 16), np.float32)
    out[:, 0:4] = intrinsics
    out[:, 4:13] = R.reshape(b, 9)
    out[:, 13:16] = t
    return out


class EGLRasterizer:
    """A rasterizer that owns one headless EGL OpenGL context on one worker thread.

    Create one per process (it is cheap to reuse and costly to create, ~50-200 ms) and call
    :meth:`rasterize` as often as needed; :meth:`close` (or a ``with`` block) releases it.

    Args:
      device_index: which EGL device to use when several are present (e.g. several GPUs);
        0 is the first one (on a CPU-only machine: Mesa's llvmpipe).
      znear, zfar: range of the hardware depth test in metres (camera-space z). Geometry with
        ``z < znear`` or ``z > zfar`` is clipped. The 24-bit depth test resolves surfaces about
        ``z**2 / znear * 6e-8`` m apart (1e-5 m at z = 3 m with the default 0.05).
      mode: "stacked" (one instanced draw for the whole batch; fastest) or "exact" (one draw
        per frame; results independent of the batch size). See the module docstring.

    Raises:
      EGLUnavailableError: when no context can be made (the message names the missing
        packages).
    """

    def __init__(
        self,
        device_index: int = 0,
        znear: float = 0.05,
        zfar: float = 100.0,
        mode: str = "stacked",
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if not 0.0 < znear < zfar:
            raise ValueError(f"need 0 < znear < zfar, got znear={znear}, zfar={zfar}")
        self.device_index = int(device_index)
        self.znear = float(znear)
        self.zfar = float(zfar)
        self.mode = mode
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="egl-raster")
        self._gl = None
        try:
            self._executor.submit(self._init_gl).result()
        except Exception:
            self._executor.shutdown(wait=True)
            raise

    # ------------------------------------------------------------------ worker-thread side
    def _init_gl(self) -> None:
        try:
            import moderngl
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise EGLUnavailableError(
                f"moderngl is not importable ({e}); {MISSING_PACKAGES_HINT}"
            ) from e
        try:
            ctx = moderngl.create_context(
                standalone=True, backend="egl", require=430, device_index=self.device_index
            )
        except Exception as e:
            raise EGLUnavailableError(
                f"could not create an EGL OpenGL 4.3 context on device {self.device_index} "
                f"({type(e).__name__}: {e}); {MISSING_PACKAGES_HINT}"
            ) from e
        program = ctx.program(
            vertex_shader=load_shader("raster.vert"),
            geometry_shader=load_shader("raster.geom"),
            fragment_shader=load_shader("raster.frag"),
        )
        max_size = int(ctx.info["GL_MAX_TEXTURE_SIZE"])
        max_rb = ctx.info.get("GL_MAX_RENDERBUFFER_SIZE")
        if max_rb:
            max_size = min(max_size, int(max_rb))
        self._gl = {
            "ctx": ctx,
            "program": program,
            "max_size": max_size,
            "buffers": {},
            "targets": {},
            "faces_key": None,
            "vao": None,
            "index": None,
            "renderer": ctx.info["GL_RENDERER"],
        }

    def _buffer(self, name: str, nbytes: int):
        """A storage buffer of at least ``nbytes``, reused across calls."""
        g = self._gl
        buf = g["buffers"].get(name)
        if buf is None or buf.size < nbytes:
            if buf is not None:
                buf.release()
            buf = g["ctx"].buffer(reserve=max(nbytes, 4))
            g["buffers"][name] = buf
        return buf

    def _target(self, height: int, width: int, frames: int):
        """Framebuffer and its targets (ids, bary, depth) for ``frames`` stacked frames."""
        g = self._gl
        key = (height, width, frames)
        tgt = g["targets"].get(key)
        if tgt is None:
            ctx = g["ctx"]
            if len(g["targets"]) >= 4:  # keep a few sizes alive, drop the oldest
                for obj in g["targets"].pop(next(iter(g["targets"]))):
                    obj.release()
            size = (width, height * frames)
            ids = ctx.texture(size, 1, dtype="i4")  # GL_R32I
            bary = ctx.texture(size, 3, dtype="f4")  # GL_RGB32F
            depth = ctx.texture(size, 1, dtype="f4")  # GL_R32F
            zbuf = ctx.depth_renderbuffer(size)
            fbo = ctx.framebuffer(color_attachments=[ids, bary, depth], depth_attachment=zbuf)
            tgt = (fbo, ids, bary, depth, zbuf)
            g["targets"][key] = tgt
        return tgt

    def _vertex_array(self, faces: np.ndarray):
        """Element buffer + vertex array for ``faces``, re-uploaded only when they change."""
        g = self._gl
        data = faces.tobytes()
        key = (faces.shape, hash(data))
        if g["faces_key"] != key:
            for name in ("vao", "index"):
                old = g.pop(name, None)
                if old is not None:
                    old.release()
            g["index"] = g["ctx"].buffer(data)
            g["vao"] = g["ctx"].vertex_array(
                g["program"], [], index_buffer=g["index"], index_element_size=4
            )
            g["faces_key"] = key
        return g["vao"]

    def _draw(self, vertices, faces, cams, height, width, cull, out_ids, out_bary, out_depth):
        """Rasterize ``n`` frames (vertices (n, V, 3)) into the output slices (n, H, W[, 3])."""
        import moderngl

        g = self._gl
        ctx, program = g["ctx"], g["program"]
        n, nv = vertices.shape[0], vertices.shape[1]
        vao = self._vertex_array(faces)
        vbuf = self._buffer("vertices", vertices.nbytes)
        vbuf.write(vertices)
        cbuf = self._buffer("cameras", cams.nbytes)
        cbuf.write(cams)
        vbuf.bind_to_storage_buffer(0)
        cbuf.bind_to_storage_buffer(1)
        fbo, ids, bary, depth, _ = self._target(height, width, n)
        program["num_vertices"] = nv
        program["frame_size"] = (width, height)
        program["target_size"] = (width, height * n)
        program["depth_range"] = (self.znear, self.zfar)
        program["cull_backfaces"] = int(cull)
        fbo.use()
        fbo.viewport = (0, 0, width, height * n)
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        ctx.enable_only(moderngl.DEPTH_TEST)
        ctx.depth_func = "<"
        vao.render(mode=moderngl.TRIANGLES, vertices=faces.size, instances=n)
        ids.read_into(out_ids, alignment=1)
        bary.read_into(out_bary, alignment=1)
        depth.read_into(out_depth, alignment=1)

    def _rasterize(self, vertices, faces, cams, height, width, cull):
        b = vertices.shape[0]
        tri_id = np.empty((b, height, width), np.int32)
        bary = np.empty((b, height, width, 3), np.float32)
        depth = np.empty((b, height, width), np.float32)
        per_pass = 1 if self.mode == "exact" else max(1, self._gl["max_size"] // height)
        for s in range(0, b, per_pass):
            e = min(b, s + per_pass)
            self._draw(
                vertices[s:e],
                faces,
                cams[s:e],
                height,
                width,
                cull,
                tri_id[s:e],
                bary[s:e],
                depth[s:e],
            )
        tri_id -= 1  # the target holds id + 1 and 0 on background
        return tri_id, bary, depth

    # ------------------------------------------------------------------ caller side
    @property
    def renderer(self) -> str:
        """The OpenGL renderer string (e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)')."""
        return self._gl["renderer"]

    @property
    def max_size(self) -> int:
        """Largest render-target side in pixels."""
        return self._gl["max_size"]

    def rasterize(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        intrinsics: np.ndarray,
        R: np.ndarray,
        t: np.ndarray,
        height: int,
        width: int,
        cull_backfaces: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rasterize a batch of meshes with shared faces.

        Args:
          vertices: (B, V, 3) float32 world-space vertex positions.
          faces: (F, 3) int32 vertex indices, shared by all frames.
          intrinsics: (B, 4) float32 ``(fx, fy, cx, cy)`` in pixels.
          R: (B, 3, 3) float32 world-to-camera rotations.
          t: (B, 3) float32 world-to-camera translations.
          height, width: image size in pixels.
          cull_backfaces: drop triangles whose normal ``(p1 - p0) x (p2 - p0)`` points away from
            the camera. Exact and faster for closed meshes with outward-facing triangles seen
            from outside (the body models); leave off for other meshes.

        Returns:
          tri_id: (B, H, W) int32 id of the visible triangle (row of ``faces``), -1 where no
            triangle covers the pixel centre.
          bary: (B, H, W, 3) float32 barycentric coordinates of the pixel centre in that
            triangle, in the order of the triangle's ``faces`` row; non-negative, summing to 1;
            0 on background.
          depth: (B, H, W) float32 camera-space z of the surface point, 0 on background.
        """
        vertices = np.ascontiguousarray(vertices, np.float32)
        faces = np.ascontiguousarray(faces, np.int32)
        intrinsics = np.asarray(intrinsics, np.float32)
        R = np.asarray(R, np.float32)
        t = np.asarray(t, np.float32)
        check_inputs(vertices, faces, intrinsics, R, t, height, width)
        if height > self.max_size or width > self.max_size:
            raise ValueError(f"image {height}x{width} exceeds the GL limit {self.max_size}")
        b = vertices.shape[0]
        if b == 0:
            return (
                np.full((0, height, width), -1, np.int32),
                np.zeros((0, height, width, 3), np.float32),
                np.zeros((0, height, width), np.float32),
            )
        cams = _camera_block(intrinsics, R, t)
        with self._lock:
            fut = self._executor.submit(
                self._rasterize, vertices, faces, cams, int(height), int(width), cull_backfaces
            )
            return fut.result()

    def close(self) -> None:
        """Release the context and stop the worker thread (idempotent)."""
        if self._executor is None:
            return

        def _release():
            g, self._gl = self._gl, None
            if g is not None:
                g["ctx"].release()

        try:
            self._executor.submit(_release).result()
        except RuntimeError:  # interpreter exit already stopped the worker thread
            pass
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    def __enter__(self) -> EGLRasterizer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._executor is None else self._gl["renderer"]
        return f"EGLRasterizer(device_index={self.device_index}, mode={self.mode!r}, {state})"


def check_inputs(vertices, faces, intrinsics, R, t, height, width) -> None:
    """Raise ValueError unless the arrays have the shapes :meth:`EGLRasterizer.rasterize` needs."""
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must be (B, V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[-1] != 3:
        raise ValueError(f"faces must be (F, 3), got {faces.shape}")
    b = vertices.shape[0]
    if intrinsics.shape != (b, 4) or R.shape != (b, 3, 3) or t.shape != (b, 3):
        raise ValueError(
            f"cameras must be intrinsics (B, 4), R (B, 3, 3), t (B, 3) with B={b}, got "
            f"{intrinsics.shape}, {R.shape}, {t.shape}"
        )
    if int(height) <= 0 or int(width) <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if faces.size and (faces.min() < 0 or faces.max() >= vertices.shape[1]):
        raise ValueError("faces index vertices out of range")
    if faces.shape[0] >= 1 << 24:
        raise ValueError("at most 2**24 - 1 triangles")
