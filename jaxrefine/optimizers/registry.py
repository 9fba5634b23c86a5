"""Optimizers by name: ONE registry read by ``smplify``, the oracle, the demo and the CLI.

A registry entry is a factory ``(learning_rate) -> Optimizer``: optimizers without a step size
(L-BFGS with its line search, the least-squares solvers) ignore the argument. Optimizers are
stateless pytrees (their state lives in the fit), so one object may serve several stages.

A learned optimizer is trained for one kind of observation, so its entry is registered with
``by_data_kind=True`` and called as ``factory(learning_rate, data_kind)``, with the fit's data
kind ("keypoints", "dense", "dense+keypoints"): ``"lgd"`` gives the sparse checkpoint for
keypoints, the dense one for dense targets and the dense_keypoints one for both
(:func:`jaxrefine.optimizers.learned.pretrained_for_data`).

>>> make_optimizer("adam", 1e-2).__class__.__name__
'OptaxOptimizer'
>>> "lm" in optimizer_names()
True

A user's own LGD checkpoint (``scripts/train_lgd.py``'s export, e.g. trained for their SMPL
files) is the name ``"lgd:PATH"`` (the checkpoint's ``.npz``, ``.json`` or their common stem):
it serves the data kind it was trained for and refuses the others
(:func:`jaxrefine.optimizers.learned.checkpoint_for_data`).

New optimizers register themselves (e.g. a learned one, when its module is imported)::

    register_optimizer("mine", lambda learning_rate: MyOptimizer(...))
"""

from __future__ import annotations

from collections.abc import Callable

from jaxrefine.optimizers.base import Optimizer
from jaxrefine.optimizers.gradient import adam, lbfgs
from jaxrefine.optimizers.jaxopt_backend import jaxopt_lbfgs
from jaxrefine.optimizers.learned import (
    checkpoint_files,
    checkpoint_for_data,
    pretrained_for_data,
    shipped_checkpoint,
)
from jaxrefine.optimizers.least_squares import gauss_newton, levenberg_marquardt

OptimizerFactory = Callable[[float], Optimizer]
# An optimizer given by name, as an object, or as a factory of one.
OptimizerSpec = str | Optimizer | OptimizerFactory

OPTIMIZERS: dict[str, OptimizerFactory] = {
    "adam": adam,  # PyTorch's eps, as SPIN
    "lbfgs": lambda learning_rate: lbfgs(),  # optax, zoom line search
    "lm": lambda learning_rate: levenberg_marquardt(),  # optimistix
    "gn": lambda learning_rate: gauss_newton(),  # optimistix
    "jaxopt-lbfgs": lambda learning_rate: jaxopt_lbfgs(),  # optional jaxopt backend
    "lgd": lambda learning_rate, data_kind: pretrained_for_data(data_kind),  # shipped weights
}
# Entries called as factory(learning_rate, data_kind) (learned for one kind of observation).
BY_DATA_KIND: set[str] = {"lgd"}
DEFAULT_DATA_KIND = "keypoints"  # what a by-data-kind entry gets when no data kind is given
LGD_PATH_PREFIX = "lgd:"  # "lgd:PATH": a user's LGD checkpoint (see the module docstring)


def _lgd_path(spec) -> str | None:
    """The PATH of an ``"lgd:PATH"`` spec, or None for any other spec."""
    if isinstance(spec, str) and spec.startswith(LGD_PATH_PREFIX):
        return spec[len(LGD_PATH_PREFIX) :]
    return None


def register_optimizer(
    name: str, factory: OptimizerFactory, *, replace: bool = False, by_data_kind: bool = False
) -> None:
    """Make ``factory`` available as ``name`` everywhere an optimizer is chosen by name.

    Args:
      name: the name users type (``--optimizer NAME``).
      factory: ``(learning_rate: float) -> Optimizer``, or with ``by_data_kind``
        ``(learning_rate: float, data_kind: str) -> Optimizer``.
      replace: allow replacing an existing entry (else a ValueError names the clash).
      by_data_kind: the factory also takes the fit's data kind (learned optimizers).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"optimizer name must be a non-empty string, got {name!r}")
    if not callable(factory) or isinstance(factory, Optimizer):
        raise TypeError(
            f"register_optimizer({name!r}, ...) needs a factory (learning_rate) -> Optimizer, "
            f"got {type(factory).__name__}"
        )
    if name in OPTIMIZERS and not replace:
        raise ValueError(f"optimizer {name!r} is already registered (pass replace=True)")
    OPTIMIZERS[name] = factory
    if by_data_kind:
        BY_DATA_KIND.add(name)
    else:
        BY_DATA_KIND.discard(name)


def optimizer_names() -> tuple[str, ...]:
    """Registered names, in registration order (for argparse ``choices``)."""
    return tuple(OPTIMIZERS)


def make_optimizer(
    name: str, learning_rate: float = 1e-2, data_kind: str | None = None
) -> Optimizer:
    """A fresh optimizer of the registered ``name`` (KeyError listing the names otherwise).

    Args:
      name: a registered name. learning_rate: its step size (ignored by some).
      data_kind: the fit's data kind, for entries registered ``by_data_kind`` (None:
        :data:`DEFAULT_DATA_KIND`); other entries ignore it.
    """
    kind = DEFAULT_DATA_KIND if data_kind is None else data_kind
    if (path := _lgd_path(name)) is not None:
        return checkpoint_for_data(path, kind)
    if name not in OPTIMIZERS:
        raise KeyError(
            f"unknown optimizer {name!r}; choose from {optimizer_names()} or "
            f"'{LGD_PATH_PREFIX}PATH' (a trained LGD checkpoint)"
        )
    if name in BY_DATA_KIND:
        return _checked(OPTIMIZERS[name](learning_rate, kind), name)
    return _checked(OPTIMIZERS[name](learning_rate), name)


def resolve_optimizer(
    spec: OptimizerSpec, learning_rate: float = 1e-2, data_kind: str | None = None
) -> Optimizer:
    """An optimizer from a name, an :class:`Optimizer` (returned as is) or a factory.

    Args:
      spec: a registered name, an optimizer object, or ``(learning_rate) -> Optimizer``.
      learning_rate: passed to names and factories (an object keeps its own).
      data_kind: passed to names registered ``by_data_kind`` (see :func:`make_optimizer`).
    """
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        return make_optimizer(spec, learning_rate, data_kind)
    if callable(spec):
        return _checked(spec(learning_rate), getattr(spec, "__name__", repr(spec)))
    raise TypeError(
        f"optimizer must be a name in {optimizer_names()}, an Optimizer or a factory "
        f"(learning_rate) -> Optimizer; got {type(spec).__name__}"
    )


def missing_version(spec: OptimizerSpec, data_kind: str) -> str | None:
    """Why ``spec`` cannot fit data of ``data_kind`` (a learned optimizer with no checkpoint for
    it: the ValueError of its factory), or None when it can. Lets a command refuse or skip
    such a fit before doing any work."""
    try:
        resolve_optimizer(spec, data_kind=data_kind)
    except ValueError as e:
        return str(e)
    return None


def optimizer_arg(text: str) -> str:
    """argparse ``type=`` of ``--optimizer``: a registered name, or ``lgd:PATH`` whose two
    checkpoint files exist (checked when the flags are read, before any work)."""
    import argparse

    if (path := _lgd_path(text)) is not None:
        files = checkpoint_files(path)
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise argparse.ArgumentTypeError(
                f"LGD checkpoint file(s) not found: {', '.join(missing)} (an export of "
                "scripts/train_lgd.py: its .npz and .json)"
            )
        return text
    if text not in OPTIMIZERS:
        raise argparse.ArgumentTypeError(
            f"unknown optimizer {text!r}; choose from {', '.join(optimizer_names())} or "
            f"{LGD_PATH_PREFIX}PATH (a trained LGD checkpoint)"
        )
    return text


def optimizer_help() -> str:
    """``--optimizer``'s help text: the registered names and the ``lgd:PATH`` form."""
    return (
        f"{', '.join(optimizer_names())}, or {LGD_PATH_PREFIX}PATH: your LGD checkpoint from "
        "scripts/train_lgd.py (e.g. trained for your --model); 'lgd' uses the shipped ones"
    )


def lgd_checkpoint(spec: OptimizerSpec, data_kind: str):
    """The checkpoint path (stem) an LGD spec uses for ``data_kind``: the shipped one for
    ``"lgd"``, the user's for ``"lgd:PATH"``; None for any other spec."""
    if spec == "lgd":
        return shipped_checkpoint(data_kind)
    if (path := _lgd_path(spec)) is not None:
        return checkpoint_files(path)[0].with_suffix("")
    return None


def _checked(opt, what: str) -> Optimizer:
    if not isinstance(opt, Optimizer):
        raise TypeError(
            f"optimizer factory {what} returned {type(opt).__name__}, not an Optimizer "
            "(jaxrefine.optimizers.base.Optimizer)"
        )
    return opt
