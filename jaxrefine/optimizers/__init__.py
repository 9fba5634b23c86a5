"""Optimizers behind one contract (see :mod:`jaxrefine.optimizers.base`).

- Gradient family (optax): :func:`adam`, :func:`lbfgs`, :func:`optax_optimizer`.
- Least-squares family (optimistix, residual objectives): :func:`levenberg_marquardt`,
  :func:`gauss_newton`.
- Optional backend (needs the ``jaxopt`` extra): :func:`jaxopt_lbfgs`.
- By name: :mod:`jaxrefine.optimizers.registry` (:func:`make_optimizer`,
  :func:`optimizer_names`, :func:`register_optimizer`, :func:`resolve_optimizer`).

The fit engine that runs any of them is :mod:`jaxrefine.fit`.
"""

from jaxrefine.optimizers.base import (
    AbstractObjective,
    Objective,
    Optimizer,
    geman_mcclure_residual,
)
from jaxrefine.optimizers.gradient import (
    GradientState,
    OptaxOptimizer,
    adam,
    lbfgs,
    optax_optimizer,
)
from jaxrefine.optimizers.jaxopt_backend import JaxoptLBFGS, jaxopt_lbfgs
from jaxrefine.optimizers.least_squares import (
    LeastSquaresOptimizer,
    LeastSquaresState,
    gauss_newton,
    levenberg_marquardt,
)
from jaxrefine.optimizers.registry import (
    OPTIMIZERS,
    make_optimizer,
    optimizer_names,
    register_optimizer,
    resolve_optimizer,
)

__all__ = [
    "OPTIMIZERS",
    "AbstractObjective",
    "GradientState",
    "JaxoptLBFGS",
    "LeastSquaresOptimizer",
    "LeastSquaresState",
    "Objective",
    "OptaxOptimizer",
    "Optimizer",
    "adam",
    "gauss_newton",
    "geman_mcclure_residual",
    "jaxopt_lbfgs",
    "lbfgs",
    "levenberg_marquardt",
    "make_optimizer",
    "optax_optimizer",
    "optimizer_names",
    "register_optimizer",
    "resolve_optimizer",
]
