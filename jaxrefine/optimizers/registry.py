"""Optimizers by name: ONE registry read by ``smplify``, the oracle, the demo and the CLI.

A registry entry is a factory ``(learning_rate) -> Optimizer``: optimizers without a step size
(L-BFGS with its line search, the least-squares solvers) ignore the argument. Optimizers are
stateless pytrees (their state lives in the fit), so one object may serve several stages.

>>> make_optimizer("adam", 1e-2).__class__.__name__
'OptaxOptimizer'
>>> "lm" in optimizer_names()
True

New optimizers register themselves (e.g. a learned one, when its module is imported)::

    register_optimizer("mine", lambda learning_rate: MyOptimizer(...))
"""

from __future__ import annotations

from collections.abc import Callable

from jaxrefine.optimizers.base import Optimizer
from jaxrefine.optimizers.gradient import adam, lbfgs
from jaxrefine.optimizers.jaxopt_backend import jaxopt_lbfgs
from jaxrefine.optimizers.learned import load_pretrained
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
    "lgd": lambda learning_rate: load_pretrained("sparse"),  # learned (shipped sparse weights)
}


def register_optimizer(name: str, factory: OptimizerFactory, *, replace: bool = False) -> None:
    """Make ``factory`` available as ``name`` everywhere an optimizer is chosen by name.

    Args:
      name: the name users type (``--optimizer NAME``).
      factory: ``(learning_rate: float) -> Optimizer``.
      replace: allow replacing an existing entry (else a ValueError names the clash).
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


def optimizer_names() -> tuple[str, ...]:
    """Registered names, in registration order (for argparse ``choices``)."""
    return tuple(OPTIMIZERS)


def make_optimizer(name: str, learning_rate: float = 1e-2) -> Optimizer:
    """A fresh optimizer of the registered ``name`` (KeyError listing the names otherwise)."""
    if name not in OPTIMIZERS:
        raise KeyError(f"unknown optimizer {name!r}; choose from {optimizer_names()}")
    return _checked(OPTIMIZERS[name](learning_rate), name)


def resolve_optimizer(spec: OptimizerSpec, learning_rate: float = 1e-2) -> Optimizer:
    """An optimizer from a name, an :class:`Optimizer` (returned as is) or a factory.

    Args:
      spec: a registered name, an optimizer object, or ``(learning_rate) -> Optimizer``.
      learning_rate: passed to names and factories (an object keeps its own).
    """
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        return make_optimizer(spec, learning_rate)
    if callable(spec):
        return _checked(spec(learning_rate), getattr(spec, "__name__", repr(spec)))
    raise TypeError(
        f"optimizer must be a name in {optimizer_names()}, an Optimizer or a factory "
        f"(learning_rate) -> Optimizer; got {type(spec).__name__}"
    )


def _checked(opt, what: str) -> Optimizer:
    if not isinstance(opt, Optimizer):
        raise TypeError(
            f"optimizer factory {what} returned {type(opt).__name__}, not an Optimizer "
            "(jaxrefine.optimizers.base.Optimizer)"
        )
    return opt
