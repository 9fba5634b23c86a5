"""The contracts shared by every optimizer and the fit engine: objectives and optimizers.

**Objective.** An objective is a frozen pytree with up to three methods, all written for ONE
sample (no batch axis):

- ``residuals(params, data) -> (R,)``: optional residual vector. Least-squares optimizers
  (Gauss-Newton, Levenberg-Marquardt) need it; gradient optimizers do not.
- ``loss(params, data) -> ()``: the scalar minimised. If only residuals are given it is
  ``sum(residuals ** 2)`` (no factor 1/2). When both are given they must agree: least-squares
  solvers minimise the sum of squares and report it as the loss.
- ``terms(params, data) -> dict[str, ()]``: optional per-term losses, for reporting only.

``params`` is any pytree of float arrays (e.g. ``{"pose": (24, 3), "betas": (10,)}``) and
``data`` is the per-sample inputs pytree (targets, confidences, camera, ...). Everything that
differs between samples goes in ``data`` so that one compiled program serves every sample.
Arrays shared by every sample (a body model, a prior) are best held as array fields of the
objective pytree itself: they then enter a jitted program as arguments, not as constants baked
into it (baked constants bloat the program and recompile when they change).

Two ways to write one:

1. :class:`Objective` from plain functions (static fields, compared by identity)::

       obj = Objective.from_residuals(lambda p, d: p["x"] - d["target"])

2. A ``flax.struct.dataclass`` subclassing :class:`AbstractObjective` with array fields and
   methods, e.g. an SMPLify objective holding the body model and prior::

       @struct.dataclass
       class MyObjective(AbstractObjective):
           model: BodyModel
           has_residuals = True  # class attribute (not a field)
           def residuals(self, params, data): ...

**Robust terms as residuals.** A robust penalty ``sum_i rho(r_i)`` with ``rho >= 0`` equals
``sum_i r'_i ** 2`` for ``r'_i = sqrt(rho(r_i))``. For the Geman-McClure penalty of SMPLify
(``rho(r) = sigma^2 r^2 / (sigma^2 + r^2)``, docs/METHOD.md) the signed form
``r' = sigma * r / sqrt(sigma^2 + r^2)`` (see :func:`geman_mcclure_residual`) has the same square
and, unlike ``sqrt(rho)``, a finite Jacobian at ``r = 0``. A weight ``w`` on a term becomes a
factor ``sqrt(w)`` on its residuals. Gauss-Newton on ``r'`` is then the classic
iteratively-reweighted least-squares approximation of the robust problem.

**Optimizer.** One contract, optax-like but owning its function evaluations::

    state = optimizer.init(params, objective, data)
    params, state, loss = optimizer.step(params, state, objective, data)

``step`` returns the loss *of the returned params* (optimizers cache the value and gradient of
the current iterate in their state, so this costs nothing extra). ``state`` is a NamedTuple of
arrays plus, at most, static metadata that is the same after every step (the engine carries the
array part through ``lax.scan`` and keeps the static part of the initial state). Optimizers are
frozen pytrees: hyper-parameters that should not trigger recompilation (learning rates, the
weights of a learned optimizer) are array leaves; structural settings (memory sizes, solver
kinds) are static fields. An optional ``reset(params, state) -> state`` (default: identity) is
called by the engine after it rejected a non-finite step, to forget momentum or curvature
memory without evaluating the objective.

**Stages with frozen params.** When a fit trains only some leaves, the engine calls
``objective.specialize(frozen, data)`` once before the iterations (see
:meth:`AbstractObjective.specialize`): SMPLify's camera stage uses it to pose the body once and
then move it rigidly, instead of re-posing the whole mesh every iteration.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import struct

PyTree = Any
Params = PyTree
Data = PyTree
OptState = Any


class AbstractObjective:
    """Base class for objectives (see the module docstring for the contract).

    Subclasses override :meth:`residuals` (and set ``has_residuals = True``), or :meth:`loss`,
    or both, and optionally :meth:`terms`. Methods are written for one sample.
    """

    has_residuals: ClassVar[bool] = False

    def residuals(self, params: Params, data: Data) -> jax.Array:
        """Residual vector, shape (R,); ``loss == sum(residuals ** 2)``."""
        raise NotImplementedError(
            f"{type(self).__name__} has no residual form; least-squares optimizers "
            "(gauss_newton, levenberg_marquardt) need one. Use a gradient optimizer instead."
        )

    def loss(self, params: Params, data: Data) -> jax.Array:
        """Scalar loss, shape (). Defaults to ``sum(residuals ** 2)``."""
        r = self.residuals(params, data)
        if r.ndim != 1:
            raise ValueError(f"residuals must have shape (R,), got {r.shape}")
        return jnp.sum(jnp.square(r))

    def terms(self, params: Params, data: Data) -> dict[str, jax.Array]:
        """Per-term losses for reporting, each shape (). Default: no terms."""
        del params, data
        return {}

    def specialize(self, frozen: Params, data: Data) -> AbstractObjective:
        """The objective for a stage that holds ``frozen`` fixed, built once before its iterations.

        ``frozen`` is the params pytree with None at the trainable leaves. An objective may
        precompute here what depends on the frozen leaves only (work a loop would otherwise
        repeat every iteration); the result must give the same values for every params whose
        frozen leaves equal ``frozen``'s. Written for one sample. Default: itself.
        """
        del frozen, data
        return self


@struct.dataclass
class Objective(AbstractObjective):
    """An objective assembled from plain functions of ``(params, data)``.

    The functions are static fields: two objectives are the same jit cache entry only if they
    hold the very same function objects, so build an objective once and reuse it.

    Attributes:
      loss_fn: ``(params, data) -> ()`` or None (then ``sum(residual_fn(...) ** 2)``).
      residual_fn: ``(params, data) -> (R,)`` or None.
      terms_fn: ``(params, data) -> dict[str, ()]`` or None.
    """

    loss_fn: Callable[[Params, Data], jax.Array] | None = struct.field(
        pytree_node=False, default=None
    )
    residual_fn: Callable[[Params, Data], jax.Array] | None = struct.field(
        pytree_node=False, default=None
    )
    terms_fn: Callable[[Params, Data], dict[str, jax.Array]] | None = struct.field(
        pytree_node=False, default=None
    )

    def __post_init__(self):
        if self.loss_fn is None and self.residual_fn is None:
            raise ValueError("an Objective needs loss_fn, residual_fn or both")

    @classmethod
    def from_residuals(cls, residual_fn, terms_fn=None) -> Objective:
        """Objective with ``loss = sum(residual_fn(params, data) ** 2)``."""
        return cls(residual_fn=residual_fn, terms_fn=terms_fn)

    @classmethod
    def from_loss(cls, loss_fn, terms_fn=None) -> Objective:
        """Objective with a scalar loss only (gradient optimizers only)."""
        return cls(loss_fn=loss_fn, terms_fn=terms_fn)

    @property
    def has_residuals(self) -> bool:  # type: ignore[override]
        return self.residual_fn is not None

    def residuals(self, params, data):
        if self.residual_fn is None:
            return super().residuals(params, data)
        return self.residual_fn(params, data)

    def loss(self, params, data):
        if self.loss_fn is None:
            return super().loss(params, data)
        return self.loss_fn(params, data)

    def terms(self, params, data):
        if self.terms_fn is None:
            return {}
        return dict(self.terms_fn(params, data))


class Optimizer(abc.ABC):
    """Base class of every optimizer (see the module docstring for the contract).

    Subclasses are ``flax.struct.dataclass`` pytrees. Class attribute ``requires_residuals``
    says whether the optimizer needs ``objective.residuals``.
    """

    requires_residuals: ClassVar[bool] = False
    #: The registered optimizer a multi-stage fit (SMPLify) runs its camera stage with when it
    #: is given this one and no camera optimizer (None: this one). A learned optimizer trained
    #: for the body stage only names a classical one.
    camera_stage_optimizer: ClassVar[str | None] = None

    def adapt_stage(
        self, objective: AbstractObjective, num_steps: int | None, trainable: set[str] | None
    ) -> tuple[AbstractObjective, int | None, set[str] | None]:
        """The stage this optimizer runs when asked to minimise ``objective`` over
        ``trainable`` for ``num_steps`` steps (None: the caller's default). The default runs it
        as asked; a learned optimizer returns what it was trained for (its objective, its step
        count, the params it updates).
        """
        return objective, num_steps, trainable

    def stage_steps(self, num_steps: int | None) -> int | None:
        """The steps :meth:`adapt_stage` runs when asked for ``num_steps`` (None: the caller's
        default), for a caller that splits a stage into rounds and must know the count first
        (``refine --rerun-every``). A learned optimizer returns its trained count for None."""
        return num_steps

    @abc.abstractmethod
    def init(self, params: Params, objective: AbstractObjective, data: Data) -> OptState:
        """Initial state at ``params`` (may evaluate the objective there)."""

    @abc.abstractmethod
    def step(
        self, params: Params, state: OptState, objective: AbstractObjective, data: Data
    ) -> tuple[Params, OptState, jax.Array]:
        """One iteration.

        Returns:
          ``(new_params, new_state, loss)`` with ``loss`` = ``objective.loss(new_params, data)``
          (shape (), as computed by the optimizer).
        """

    def reset(self, params: Params, state: OptState) -> OptState:
        """State to continue from after the engine rejected a (non-finite) step.

        ``state`` is the state from *before* the rejected step, at ``params``. The default
        returns it unchanged, so a deterministic optimizer would repeat the rejected step;
        optimizers override this cheaply (no objective evaluation) to forget what led there
        (e.g. momentum or curvature memory). Must keep the structure of ``state``.
        """
        del params
        return state


def geman_mcclure_residual(r: jax.Array, sigma: float | jax.Array) -> jax.Array:
    """Residual whose square is the Geman-McClure penalty (elementwise, any shape).

    ``out ** 2 == sigma^2 r^2 / (sigma^2 + r^2)`` (SPIN's ``gmof``), with the sign of ``r`` kept
    so that the map is smooth at 0: ``out = sigma * r / sqrt(sigma^2 + r^2)``. The one
    implementation: the SMPLify objective's keypoint and dense terms use it too.

    Args:
      r: raw residuals, any shape.
      sigma: scale of the robust function (same unit as ``r``), shape () or broadcastable.

    Returns:
      Robust residuals, same shape as ``r``.
    """
    return sigma * r / jnp.sqrt(sigma**2 + r**2)


def tree_all_finite(tree: PyTree) -> jax.Array:
    """True (shape ()) when every inexact leaf of ``tree`` is finite."""
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree_util.tree_leaves(tree)
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
    ]
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack(leaves))


def check_objective_for(optimizer: Optimizer, objective: AbstractObjective) -> None:
    """Raise a clear ValueError when ``optimizer`` needs residuals that ``objective`` lacks."""
    if getattr(optimizer, "requires_residuals", False) and not getattr(
        objective, "has_residuals", False
    ):
        raise ValueError(
            f"{type(optimizer).__name__} needs an objective with a residual form "
            f"(has_residuals=True); {type(objective).__name__} has none"
        )
