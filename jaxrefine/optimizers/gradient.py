"""Gradient optimizers: optax transformations behind the jaxrefine optimizer contract.

:class:`OptaxOptimizer` wraps any ``optax.GradientTransformation``. Its state caches the loss
and gradient of the current iterate, so a step costs one ``value_and_grad`` and returns the
loss of the new iterate (see :mod:`jaxrefine.optimizers.base`). The transformation is rebuilt
inside the traced program from ``factory(**static_kwargs, **hyperparams)``: ``hyperparams``
(learning rate, ...) are pytree leaves, so changing them does not recompile, while
``factory`` and ``static_kwargs`` are static and hashable.

Factories:

- :func:`adam`: Kingma & Ba (2015), with PyTorch's defaults ``eps=1e-8``, ``b1=0.9``,
  ``b2=0.999`` (SPIN's SMPLify, docs/METHOD.md). optax's update
  ``lr * m_hat / (sqrt(v_hat) + eps)`` is ``torch.optim.Adam``'s (eps added after the bias
  corrected square root; no weight decay, no amsgrad).
- :func:`lbfgs`: ``optax.lbfgs`` (Nocedal & Wright, Numerical Optimization, Alg. 7.4/7.5) with
  optax's zoom line search (strong Wolfe conditions, Alg. 3.5/3.6). One step = one L-BFGS
  iteration including its line search (up to ``max_linesearch_steps`` evaluations); the value
  and gradient at the accepted point come from the line-search state at no extra cost.
- :func:`optax_optimizer`: any other optax transformation (e.g. ``optax.sgd(1e-3)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import optax
from flax import struct

from jaxrefine.optimizers.base import AbstractObjective, Data, Optimizer, Params, PyTree


class GradientState(NamedTuple):
    """State of :class:`OptaxOptimizer`.

    Attributes:
      inner: the optax transformation's own state (pytree of arrays).
      value: loss at the current params; shape (), params' float dtype.
      grad: gradient of the loss at the current params; same pytree/shapes as params.
    """

    inner: optax.OptState
    value: jax.Array
    grad: PyTree


@dataclasses.dataclass(frozen=True)
class _ConstantTx:
    """Hashable factory returning a fixed transformation (for :func:`optax_optimizer`)."""

    tx: optax.GradientTransformation

    def __call__(self) -> optax.GradientTransformation:
        return self.tx


@struct.dataclass
class OptaxOptimizer(Optimizer):
    """An optax transformation as a jaxrefine optimizer.

    Attributes:
      factory: ``(**static_kwargs, **hyperparams) -> GradientTransformation``; static.
      static_kwargs: keyword arguments fixed at trace time, a tuple of ``(name, value)`` pairs
        with hashable values (ints, floats, strings).
      hyperparams: keyword arguments that are pytree leaves (e.g. ``learning_rate``).
      value_from_state: static; True when the transformation runs a line search that stores
        ``value`` and ``grad`` of the new iterate in its state (``optax.lbfgs``), which are then
        reused instead of evaluating the objective again.
    """

    factory: Callable[..., optax.GradientTransformation] = struct.field(pytree_node=False)
    static_kwargs: tuple[tuple[str, Any], ...] = struct.field(pytree_node=False, default=())
    hyperparams: dict[str, Any] = struct.field(default_factory=dict)
    value_from_state: bool = struct.field(pytree_node=False, default=False)

    def transformation(self) -> optax.GradientTransformation:
        """The optax transformation (built with the current, possibly traced, hyperparams)."""
        tx = self.factory(**dict(self.static_kwargs), **self.hyperparams)
        return optax.with_extra_args_support(tx)

    def init(self, params: Params, objective: AbstractObjective, data: Data) -> GradientState:
        value, grad = jax.value_and_grad(objective.loss)(params, data)
        return GradientState(self.transformation().init(params), value, grad)

    def step(
        self, params: Params, state: GradientState, objective: AbstractObjective, data: Data
    ) -> tuple[Params, GradientState, jax.Array]:
        tx = self.transformation()

        def value_fn(p):
            return objective.loss(p, data)

        updates, inner = tx.update(
            state.grad,
            state.inner,
            params,
            value=state.value,
            grad=state.grad,
            value_fn=value_fn,
        )
        new_params = optax.apply_updates(params, updates)
        if self.value_from_state:
            value = optax.tree_utils.tree_get(inner, "value")
            grad = optax.tree_utils.tree_get(inner, "grad")
        else:
            value, grad = jax.value_and_grad(value_fn)(new_params)
        return new_params, GradientState(inner, value, grad), value

    def reset(self, params: Params, state: GradientState) -> GradientState:
        """Fresh optax state (no momentum / curvature memory), cached value and gradient kept."""
        return GradientState(self.transformation().init(params), state.value, state.grad)


def adam(
    learning_rate: float = 1e-2, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> OptaxOptimizer:
    """Adam with PyTorch's defaults (``optax.adam``; SPIN uses ``learning_rate=1e-2``).

    Args:
      learning_rate: step size; a pytree leaf (changing it does not recompile).
      b1, b2: exponential decay rates of the first and second moments (static).
      eps: added to the bias-corrected root of the second moment (static; PyTorch's 1e-8).
    """
    return OptaxOptimizer(
        factory=optax.adam,
        static_kwargs=(("b1", float(b1)), ("b2", float(b2)), ("eps", float(eps))),
        hyperparams={"learning_rate": learning_rate},
    )


def _lbfgs_tx(
    memory_size: int,
    max_linesearch_steps: int,
    initial_guess_strategy: str,
    scale_init_precond: bool,
    learning_rate: float | None = None,
) -> optax.GradientTransformation:
    linesearch = optax.scale_by_zoom_linesearch(
        max_linesearch_steps=max_linesearch_steps,
        initial_guess_strategy=initial_guess_strategy,
    )
    return optax.lbfgs(
        learning_rate=learning_rate,
        memory_size=memory_size,
        scale_init_precond=scale_init_precond,
        linesearch=linesearch,
    )


def lbfgs(
    memory_size: int = 10,
    max_linesearch_steps: int = 20,
    initial_guess_strategy: str = "one",
    scale_init_precond: bool = True,
) -> OptaxOptimizer:
    """L-BFGS with a zoom (strong Wolfe) line search (``optax.lbfgs``; optax's defaults).

    Args:
      memory_size: number of (s, y) pairs kept for the inverse-Hessian approximation.
      max_linesearch_steps: most objective evaluations in one line search.
      initial_guess_strategy: ``"one"`` (unit step first, as in scipy / PyTorch) or ``"keep"``.
      scale_init_precond: scale the initial inverse Hessian by ``s.y / y.y``.
    """
    return OptaxOptimizer(
        factory=_lbfgs_tx,
        static_kwargs=(
            ("memory_size", int(memory_size)),
            ("max_linesearch_steps", int(max_linesearch_steps)),
            ("initial_guess_strategy", str(initial_guess_strategy)),
            ("scale_init_precond", bool(scale_init_precond)),
        ),
        value_from_state=True,
    )


def optax_optimizer(
    tx: optax.GradientTransformation, *, value_from_state: bool = False
) -> OptaxOptimizer:
    """Wrap a ready-made optax transformation (static: reuse the same ``tx`` object to hit the
    jit cache; its hyper-parameters are baked into the compiled program)."""
    return OptaxOptimizer(factory=_ConstantTx(tx), value_from_state=value_from_state)
