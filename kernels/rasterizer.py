"""Headless triangle rasterizer on an EGL OpenGL context (numpy in, numpy out).

Framework-free: this module knows nothing about JAX. It rasterizes a batch of meshes that share
one face list, each seen by its own pinhole camera, and returns for every pixel the id of the
visible triangle, the exact barycentric coordinates of the pixel centre in that triangle and the
camera-space depth of the surface point.

Conventions (OpenCV): camera-space x right, y down, z forward; a world point ``X`` maps to
``R @ X + t`` and to pixel ``(fx x / z + cx, fy y / z + cy)``; pixel ``(row i, column j)``
covers ``[j, j + 1) x [i, i + 1)`` and its centre is ``(j + 0.5, i + 0.5)``.

How it works:

* The OpenGL context (moderngl + glcontext, ``backend="egl"``) belongs to one worker thread
  owned by :class:`EGLRasterizer`; every call runs on that thread, so the object can be used
  from any thread.
* All frames of a batch are drawn with ONE instanced draw call (one instance per frame) into
  layered targets (2D texture arrays, one layer per frame; the geometry shader sets
  ``gl_Layer``). Every frame sees exactly the same window transform, so results do not depend
  on the batch size or the frame's position in it (bit-identical). Batches larger than
  ``max_frames_per_pass`` are drawn in several passes.
* The fragment shader writes ``gl_PrimitiveID + 1`` into a 32-bit integer target cleared to 0
  and computes barycentrics and depth *exactly* for the pixel centre (ray-triangle
  intersection, see ``raster.frag``); pixel centres that the rasterizer's 1/256-pixel snapping
  covers although they lie just outside the triangle get the triangle's nearest point. The
  hardware depth test (32-bit float depth, perspective, ``znear`` / ``zfar``) only decides
  visibility.
* Triangles crossing the near plane are clipped by OpenGL (the part with ``z < znear`` is not
  drawn).

Three raw OpenGL calls moderngl does not expose (a layered float depth texture) go through
ctypes to the same libGL that glcontext loads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
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
_BYTES_PER_PIXEL = 4 + 12 + 4 + 4  # id, bary, depth, depth buffer
_MAX_PASS_BYTES = 512 << 20  # render-target memory per pass

# OpenGL enums used through ctypes.
_GL_TEXTURE_2D_ARRAY = 0x8C1A
_GL_DEPTH_COMPONENT32F = 0x8CAC
_GL_FRAMEBUFFER = 0x8D40
_GL_DEPTH_ATTACHMENT = 0x8D00
_GL_FRAMEBUFFER_COMPLETE = 0x8CD5
_GL_DEPTH_BUFFER_BIT = 0x100
_GL_MAX_ARRAY_TEXTURE_LAYERS = 0x88FF
_GL_MAX_FRAMEBUFFER_LAYERS = 0x9317


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


def _load_gl():
    """The few raw GL entry points needed (from libGL, which dispatches to the current context)."""
    lib = ctypes.CDLL(ctypes.util.find_library("GL") or "libGL.so.1")
    fns = {}
    for name, args in {
        "glGenTextures": [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)],
        "glDeleteTextures": [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)],
        "glBindTexture": [ctypes.c_uint, ctypes.c_uint],
        "glTexStorage3D": [ctypes.c_uint, ctypes.c_int, ctypes.c_uint] + [ctypes.c_int] * 3,
        "glFramebufferTexture": [ctypes.c_uint, ctypes.c_uint, ctypes.c_uint, ctypes.c_int],
        "glCheckFramebufferStatus": [ctypes.c_uint],
        "glClearDepth": [ctypes.c_double],
        "glDepthMask": [ctypes.c_ubyte],
        "glClear": [ctypes.c_uint],
        "glGetIntegerv": [ctypes.c_uint, ctypes.POINTER(ctypes.c_int)],
    }.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = ctypes.c_uint if name == "glCheckFramebufferStatus" else None
        fns[name] = fn
    return fns


class _Target:
    """Layered render targets for ``frames`` frames of H x W: id, bary, depth + depth buffer."""

    def __init__(self, ctx, gl, height: int, width: int, frames: int):
        self.gl = gl
        size = (width, height, frames)
        self.ids = ctx.texture_array(size, 1, dtype="i4")  # GL_R32I
        self.bary = ctx.texture_array(size, 3, dtype="f4")  # GL_RGB32F
        self.depth = ctx.texture_array(size, 1, dtype="f4")  # GL_R32F
        self.fbo = ctx.framebuffer(color_attachments=[self.ids, self.bary, self.depth])
        tex = ctypes.c_uint(0)
        gl["glGenTextures"](1, ctypes.byref(tex))
        gl["glBindTexture"](_GL_TEXTURE_2D_ARRAY, tex.value)
        gl["glTexStorage3D"](_GL_TEXTURE_2D_ARRAY, 1, _GL_DEPTH_COMPONENT32F, width, height, frames)
        gl["glBindTexture"](_GL_TEXTURE_2D_ARRAY, 0)
        self.zbuf = tex
        self.fbo.use()
        gl["glFramebufferTexture"](_GL_FRAMEBUFFER, _GL_DEPTH_ATTACHMENT, tex.value, 0)
        status = gl["glCheckFramebufferStatus"](_GL_FRAMEBUFFER)
        if status != _GL_FRAMEBUFFER_COMPLETE:
            self.release()
            raise RuntimeError(f"layered framebuffer incomplete (status {status:#x})")
        self.viewport = (0, 0, width, height)

    def clear(self) -> None:
        self.fbo.use()
        self.fbo.viewport = self.viewport
        self.fbo.clear(0.0, 0.0, 0.0, 0.0)  # all layers of the colour targets
        self.gl["glClearDepth"](1.0)  # the depth array is not known to moderngl
        self.gl["glDepthMask"](1)
        self.gl["glClear"](_GL_DEPTH_BUFFER_BIT)

    def release(self) -> None:
        for obj in (self.fbo, self.ids, self.bary, self.depth):
            obj.release()
        if self.zbuf is not None:
            self.gl["glDeleteTextures"](1, ctypes.byref(self.zbuf))
            self.zbuf = None


class EGLRasterizer:
    """A rasterizer that owns one headless EGL OpenGL context on one worker thread.

    Create one per process (it is cheap to reuse and costly to create, ~50-200 ms) and call
    :meth:`rasterize` as often as needed; :meth:`close` (or a ``with`` block) releases it.

    Args:
      device_index: which EGL device to use when several are present (e.g. several GPUs);
        0 is the first one (on a CPU-only machine: Mesa's llvmpipe).
      znear, zfar: range of the hardware depth test in metres (camera-space z). Geometry with
        ``z < znear`` or ``z > zfar`` is clipped.

    Raises:
      EGLUnavailableError: when no context can be made (the message names the missing
        packages).
    """

    def __init__(self, device_index: int = 0, znear: float = 0.05, zfar: float = 100.0):
        if not 0.0 < znear < zfar:
            raise ValueError(f"need 0 < znear < zfar, got znear={znear}, zfar={zfar}")
        self.device_index = int(device_index)
        self.znear = float(znear)
        self.zfar = float(zfar)
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="egl-raster")
        self._gl = None
        try:
            self._executor.submit(self._init_gl).result()
        except Exception:
            self._executor.shutdown(wait=True)
            self._executor = None
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
            raw = _load_gl()
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

        def integer(enum):
            v = ctypes.c_int(0)
            raw["glGetIntegerv"](enum, ctypes.byref(v))
            return v.value

        self._gl = {
            "ctx": ctx,
            "raw": raw,
            "program": program,
            "max_size": int(ctx.info["GL_MAX_TEXTURE_SIZE"]),
            "max_layers": min(
                integer(_GL_MAX_ARRAY_TEXTURE_LAYERS), integer(_GL_MAX_FRAMEBUFFER_LAYERS)
            ),
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

    def _target(self, height: int, width: int, frames: int) -> _Target:
        g = self._gl
        key = (height, width, frames)
        tgt = g["targets"].get(key)
        if tgt is None:
            if len(g["targets"]) >= 4:  # keep a few sizes alive, drop the oldest
                g["targets"].pop(next(iter(g["targets"]))).release()
            tgt = _Target(g["ctx"], g["raw"], height, width, frames)
            g["targets"][key] = tgt
        return tgt

    def _vertex_array(self, faces: np.ndarray):
        """Element buffer + vertex array for ``faces``, re-uploaded only when they change."""
        g = self._gl
        data = faces.tobytes()
        key = (faces.shape, hash(data))
        if g["faces_key"] != key:
            for name in ("vao", "index"):
                if g[name] is not None:
                    g[name].release()
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
        program = g["program"]
        n, nv = vertices.shape[0], vertices.shape[1]
        vao = self._vertex_array(faces)
        vbuf = self._buffer("vertices", vertices.nbytes)
        vbuf.write(vertices)
        cbuf = self._buffer("cameras", cams.nbytes)
        cbuf.write(cams)
        vbuf.bind_to_storage_buffer(0)
        cbuf.bind_to_storage_buffer(1)
        tgt = self._target(height, width, n)
        program["num_vertices"] = nv
        program["frame_size"] = (width, height)
        program["depth_range"] = (self.znear, self.zfar)
        program["cull_backfaces"] = int(cull)
        tgt.clear()
        g["ctx"].enable_only(moderngl.DEPTH_TEST)
        g["ctx"].depth_func = "<"
        vao.render(mode=moderngl.TRIANGLES, vertices=faces.size, instances=n)
        tgt.ids.read_into(out_ids, alignment=1)
        tgt.bary.read_into(out_bary, alignment=1)
        tgt.depth.read_into(out_depth, alignment=1)

    def _rasterize(self, vertices, faces, cams, height, width, cull):
        b = vertices.shape[0]
        tri_id = np.empty((b, height, width), np.int32)
        bary = np.empty((b, height, width, 3), np.float32)
        depth = np.empty((b, height, width), np.float32)
        per_pass = self.max_frames_per_pass(height, width)
        for s in range(0, b, per_pass):
            e = min(b, s + per_pass)
            self._draw(
                vertices[s:e], faces, cams[s:e], height, width, cull,
                tri_id[s:e], bary[s:e], depth[s:e],
            )  # fmt: skip
        tri_id -= 1  # the target holds id + 1 and 0 on background
        return tri_id, bary, depth

    # ------------------------------------------------------------------ caller side
    @property
    def renderer(self) -> str:
        """The OpenGL renderer string (e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)')."""
        return self._gl["renderer"]

    @property
    def max_size(self) -> int:
        """Largest image side in pixels."""
        return self._gl["max_size"]

    def max_frames_per_pass(self, height: int, width: int) -> int:
        """How many H x W frames one draw call renders (GL layer limit, 512 MB of targets)."""
        by_memory = _MAX_PASS_BYTES // (_BYTES_PER_PIXEL * height * width)
        return max(1, min(self._gl["max_layers"], by_memory))

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
        if self._executor is None:
            raise RuntimeError("this EGLRasterizer is closed")
        if height > self.max_size or width > self.max_size:
            raise ValueError(f"image {height}x{width} exceeds the GL limit {self.max_size}")
        b = vertices.shape[0]
        if b == 0 or faces.shape[0] == 0:
            return (
                np.full((b, height, width), -1, np.int32),
                np.zeros((b, height, width, 3), np.float32),
                np.zeros((b, height, width), np.float32),
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
                for tgt in g["targets"].values():
                    tgt.release()
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
        return f"EGLRasterizer(device_index={self.device_index}, {state})"


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
