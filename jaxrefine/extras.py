"""Optional extras: the packages only some commands need, and a clear failure without them.

``pip install jaxrefine`` is what refining needs (JAX, flax, optax, optimistix, imageio, ...).
Heavier parts come with extras of ``pyproject.toml`` (``make`` installs them all): ``train``
(grain, orbax-checkpoint, tensorboardX: training and training run folders), ``detect``
(BlazePose on photos), ``egl`` (the OpenGL rasterizer), ``ref`` (the PyTorch references),
``data``, ``jaxopt``, ``notebooks``. Training imports the ``train`` extra's packages with
:func:`require`, which names the extra to install when one is missing; the photo path names
``detect`` in its own error (:class:`jaxrefine.detect.models.ModelsUnavailableError`, which
also covers the model files); without ``egl`` the pure-JAX rasterizer runs and says so.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from jaxrefine.errors import JaxrefineError

TRAIN_PACKAGES = ("grain", "orbax.checkpoint", "tensorboardX")


class MissingExtraError(JaxrefineError, ImportError):
    """A command needs a package of an optional extra that is not installed."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``; :class:`MissingExtraError` naming ``extra`` when it is missing.

    ``purpose``: what needs it, for the message (e.g. "training")."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the optional extra '{extra}' ({module} is not installed: "
            f"{exc}); install it with: pip install 'jaxrefine[{extra}]'"
        ) from exc


def require_train(purpose: str = "training") -> None:
    """Check that the ``train`` extra's packages import (before a run starts any work)."""
    for module in TRAIN_PACKAGES:
        require(module, "train", purpose)
