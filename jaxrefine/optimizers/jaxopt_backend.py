"""jaxopt's L-BFGS as an optional backend (for optimizer comparisons only).

jaxopt is no longer maintained ("no longer maintained nor developed", its README), so it is
not a core dependency: install it with ``pip install 'jaxrefine[jaxopt]'``. It is imported
lazily, when a :class:`JaxoptLBFGS` is first used, so ``import jaxrefine`` works without it.

One step = one ``jaxopt.LBFGS.update`` (one L-BFGS iteration with its zoom line search);
``state.value`` of jaxopt is the loss at the new iterate. Once jaxopt's own stopping test
(gradient norm ``<= tol``) holds, further steps are no-ops.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrefine.optimizers.base import AbstractObjective, Data, Optimizer, Params


def import_jaxopt() -> Any:
    """Import jaxopt or raise an ImportError naming the extra that installs it."""
    try:
        return importlib.import_module("jaxopt")
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the jaxopt backend needs the optional package `jaxopt`; install it with "
            "`pip install 'jaxrefine[jaxopt]'` (or `pip install jaxopt`)"
        ) from err


class JaxoptState(NamedTuple):
    """State of :class:`JaxoptLBFGS`.

    Attributes:
      inner: ``jaxopt.LbfgsState`` (value (), grad like params, (history_size, ...) s/y
        histories, counters ()).
    """

    inner: Any


def _loss(params: Params, objective: AbstractObjective, data: Data) -> jax.Array:
    return objective.loss(params, data)


@struct.dataclass
class JaxoptLBFGS(Optimizer):
    """``jaxopt.LBFGS`` under the jaxrefine contract. All fields static.

    Attributes:
      history_size: number of (s, y) pairs kept.
      max_linesearch_steps: jaxopt's ``maxls``.
      linesearch: jaxopt line search name (``"zoom"``, ``"backtracking"``, ``"hager-zhang"``).
      tol: gradient-norm tolerance after which steps become no-ops.
    """

    history_size: int = struct.field(pytree_node=False, default=10)
    max_linesearch_steps: int = struct.field(pytree_node=False, default=30)
    linesearch: str = struct.field(pytree_node=False, default="zoom")
    tol: float = struct.field(pytree_node=False, default=1e-6)

    def solver(self) -> Any:
        """The ``jaxopt.LBFGS`` instance."""
        jaxopt = import_jaxopt()
        return jaxopt.LBFGS(
            fun=_loss,
            history_size=self.history_size,
            maxls=self.max_linesearch_steps,
            linesearch=self.linesearch,
            tol=self.tol,
            implicit_diff=False,
        )

    def init(self, params: Params, objective: AbstractObjective, data: Data) -> JaxoptState:
        return JaxoptState(self.solver().init_state(params, objective, data))

    def step(
        self, params: Params, state: JaxoptState, objective: AbstractObjective, data: Data
    ) -> tuple[Params, JaxoptState, jax.Array]:
        new_params, inner = self.solver().update(params, state.inner, objective, data)
        done = state.inner.error <= self.tol
        new_params = jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), params, new_params)
        inner = jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), state.inner, inner)
        return new_params, JaxoptState(inner), inner.value


def jaxopt_lbfgs(
    history_size: int = 10, max_linesearch_steps: int = 30, linesearch: str = "zoom"
) -> JaxoptLBFGS:
    """jaxopt's L-BFGS (optional backend; raises ImportError naming the extra if missing)."""
    import_jaxopt()
    return JaxoptLBFGS(int(history_size), int(max_linesearch_steps), str(linesearch))
