"""Framework-free compute kernels of jaxrefine (numpy in, numpy out).

``kernels.rasterizer.EGLRasterizer`` rasterizes triangle meshes on a headless EGL OpenGL
context; the GLSL sources are the ``*.vert`` / ``*.frag`` files next to it.
"""

from kernels.rasterizer import MISSING_PACKAGES_HINT, EGLRasterizer, EGLUnavailableError

__all__ = ["EGLRasterizer", "EGLUnavailableError", "MISSING_PACKAGES_HINT"]
