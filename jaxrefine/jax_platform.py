"""The JAX platform a command runs on: ``--platform`` / ``--device`` ``cpu`` or ``gpu``.

A program that owns its process picks the platform before JAX starts a backend
(:func:`select`) and, once ``jax.distributed`` is initialized (it must come before JAX's first
backend), checks that a device of that platform answers (:func:`check`). Without the check,
``gpu`` on a machine whose JAX has no CUDA plugin failed deep inside JAX's first computation
(jax 0.10 raised a bare ``AssertionError`` there), far from the flag that caused it.
"""

from __future__ import annotations

import os

from jaxrefine.errors import JaxrefineError

PLATFORMS = {"cpu": "cpu", "gpu": "cuda"}  # the flag's value -> JAX's platform name
GPU_HINT = (
    "the GPU extra installs JAX's CUDA plugin: pip install 'jaxrefine[cuda]' (jax[cuda12], "
    "with an NVIDIA driver); or run on the CPU"
)


class PlatformUnavailableError(JaxrefineError, RuntimeError):
    """The platform asked for has no device here (names the flag)."""


def select(platform: str) -> None:
    """Point JAX at ``platform`` (a key of :data:`PLATFORMS`); call before JAX's first
    backend (a later call is too late for the environment variable)."""
    os.environ["JAX_PLATFORMS"] = PLATFORMS[platform]
    import jax

    jax.config.update("jax_platforms", PLATFORMS[platform])


def check(platform: str, flag: str) -> list:
    """The devices of ``platform`` (JAX's first backend starts here).

    Raises:
      PlatformUnavailableError: JAX has no such backend here, naming ``flag`` and the way out.
    """
    import jax

    try:
        devices = jax.devices()
    except (RuntimeError, AssertionError) as exc:  # jax 0.10: AssertionError, no message
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        hint = GPU_HINT if platform == "gpu" else "check JAX's installation"
        raise PlatformUnavailableError(
            f"{flag} {platform}: JAX (jax {jax.__version__}) has no {PLATFORMS[platform]} "
            f"backend on this machine ({why}); {hint}"
        ) from None
    return devices
