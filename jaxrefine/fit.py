"""The generic fit engine: any objective, any optimizer, one sample or a batch, one or more stages.

A fit is a fixed number of optimizer steps run in one ``lax.scan`` (one compiled program; a
batch is the same program under ``vmap``). The engine adds, around any optimizer of
:mod:`jaxrefine.optimizers`:

- **NaN safety.** A step whose loss or params are not finite is rejected: params roll back to
  the previous iterate, the optimizer state to ``optimizer.reset(params, previous_state)``
  (optax optimizers forget their momentum / curvature memory and go on from there; the
  least-squares and jaxopt ones keep their state, so they repeat the rejected step, i.e. stay
  at the last good iterate; LM's trust region rejects non-finite proposals by itself), and the
  status records it.
- **Never worse than the start.** The best iterate by the objective's own loss is tracked and
  returned. At the end its loss is evaluated once more and, if it is not ``<=`` the loss of the
  start, the start itself is returned (status 2).
- **Frozen params.** ``trainable`` selects the optimised leaves; the others are partitioned
  out (the optimizer never sees them) and come back bit-identical.
- **Stages.** :func:`fit_stages` chains fits (e.g. SMPLify's camera stage, then its body stage),
  each with its own objective, optimizer (fresh state), step count and trainable set.

Example (fit y = a * x to data; any optimizer of :mod:`jaxrefine.optimizers` fits here):

>>> import jax.numpy as jnp
>>> from jaxrefine.optimizers import Objective, levenberg_marquardt
>>> obj = Objective.from_residuals(lambda p, d: p["a"] * d["x"] - d["y"])
>>> data = {"x": jnp.array([1.0, 2.0, 3.0]), "y": jnp.array([2.0, 4.0, 6.0])}
>>> res = fit(obj, {"a": jnp.array(0.0)}, data, levenberg_marquardt(), num_steps=10)
>>> round(float(res.params["a"]), 4), int(res.status), res.loss_curve.shape
(2.0, 0, (11,))

Loss curves have ``num_steps + 1`` entries: the loss of the start and of the iterate after each
step (a rejected step repeats the previous value). ``FitResult.status`` is one of the
``STATUS_*`` codes below: 0 ok (improved, no rejected step), 1 a non-finite loss or params was
met (start or step), 2 no improvement over the start (kept it); 3 (render failed) is set by
callers whose data came from a failed rendering. Combine codes with :func:`worst_status`, name
them with :func:`status_name`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxrefine.optimizers.base import (
    AbstractObjective,
    Data,
    Optimizer,
    Params,
    PyTree,
    check_objective_for,
    tree_all_finite,
)

# Status codes, one place for every fit and SMPLify result (values are stable: they are
# written to result files). Severity is NOT the numeric order: see STATUS_RANK / worst_status.
STATUS_OK = 0  # improved, nothing rejected
STATUS_NONFINITE = 1  # a non-finite loss or params was met (start or a rejected step)
STATUS_NO_IMPROVEMENT = 2  # kept its initial estimate (no iterate beat the start)
STATUS_RENDER_FAILED = 3  # the rendering the data came from failed or was degraded
STATUS_NAMES = {
    STATUS_OK: "ok",
    STATUS_NONFINITE: "non-finite",
    STATUS_NO_IMPROVEMENT: "kept initial",
    STATUS_RENDER_FAILED: "render failed",
}
# Severity by code (index = code): ok < kept initial < render failed < non-finite.
STATUS_RANK = (0, 3, 1, 2)

# A trainable spec: None (all), a set/list/tuple of top-level dict keys, or a pytree of bools
# that is a prefix of params.
Trainable = Any


@struct.dataclass
class FitResult:
    """Outcome of one fit (one stage, one sample; a batch adds a leading axis to every leaf).

    Attributes:
      params: the returned params (best iterate), same pytree and shapes as the start.
      loss_curve: (num_steps + 1,) loss of the start and of each iterate.
      term_curves: dict name -> (num_steps + 1,) per-term losses along the curve (empty if the
        objective has no terms or ``record_terms=False``).
      terms: dict name -> () per-term losses at the returned params.
      status: () int32; 0 ok, 1 non-finite met, 2 no improvement.
      init_loss: () loss at the start.
      final_loss: () loss at the returned params (``<= init_loss`` unless the start is not
        finite).
      num_rejected: () int32 number of rejected (non-finite) steps.
      iterates: None, or (with ``return_iterates=True``) the params after every step: the
        params pytree with a leading (num_steps + 1,) axis on every leaf (index 0 = the start;
        a rejected step repeats the previous iterate; frozen leaves are repeated).
    """

    params: PyTree
    loss_curve: jax.Array
    term_curves: dict[str, jax.Array]
    terms: dict[str, jax.Array]
    status: jax.Array
    init_loss: jax.Array
    final_loss: jax.Array
    num_rejected: jax.Array
    iterates: PyTree | None = None


SELECT_MODES = ("best", "last", "none")


class Stage(NamedTuple):
    """One stage of a multi-stage fit.

    Attributes:
      objective: the stage's objective (see :mod:`jaxrefine.optimizers.base`).
      optimizer: the stage's optimizer; its state starts fresh at the stage start.
      num_steps: number of optimizer steps (static int).
      trainable: which params are optimised (None = all; see :func:`trainable_mask`).
      select: "best" returns the best iterate by the stage's loss; "last" returns the last
        iterate (what SPIN / PyTorch loops return). Both fall back to the start when the
        chosen iterate is not finite or is worse than the start. "none" returns the last
        iterate as is, without that fallback (for training a learned optimizer through the
        fit: the result is a smooth function of the optimizer's weights). Non-finite steps are
        rejected in every mode.
    """

    objective: AbstractObjective
    optimizer: Optimizer
    num_steps: int
    trainable: Trainable = None
    select: str = "best"


def worst_status(*codes: jax.Array | int) -> jax.Array:
    """The most severe of several status codes (elementwise; shapes broadcast).

    Severity: non-finite > render failed > kept initial > ok (:data:`STATUS_RANK`), so a
    "kept initial" never hides a "non-finite".

    >>> int(worst_status(STATUS_NO_IMPROVEMENT, STATUS_NONFINITE, STATUS_OK))
    1
    """
    if not codes:
        raise ValueError("worst_status needs at least one code")
    rank = jnp.asarray(STATUS_RANK, jnp.int32)
    out = jnp.asarray(codes[0], jnp.int32)
    for c in codes[1:]:
        c = jnp.asarray(c, jnp.int32)
        out = jnp.where(rank[c] > rank[out], c, out)
    return out


class KeptResult(NamedTuple):
    """Outcome of :func:`keep_if_not_better` (one sample; batched under ``vmap``)."""

    params: PyTree  # the final params, or the initial ones when those were kept
    status: jax.Array  # () int32, at least "kept initial" when kept
    init_loss: jax.Array  # () objective at the initial params
    final_loss: jax.Array  # () objective at the returned params
    kept: jax.Array  # () bool, the initial params were returned


def keep_if_not_better(
    init_params: Params,
    params: Params,
    init_loss: jax.Array,
    final_loss: jax.Array,
    status: jax.Array | int = STATUS_OK,
) -> KeptResult:
    """Never worse for a whole refinement of ONE sample (several stages or fits).

    Each fit is never worse than its own start, but a chain of fits with different objectives
    (SMPLify's camera then body stage, or fits between re-computed targets) can end above
    where it began on the objective that matters. Given that objective at the start
    (``init_loss``) and at the end (``final_loss``), return the start when the end is not
    ``<=`` it (a non-finite end counts as worse; a non-finite start keeps the end), with the
    status raised to at least "kept initial" (:data:`STATUS_NO_IMPROVEMENT`).

    Args:
      init_params / params: the start and the end, same pytree.
      init_loss / final_loss: () the objective there.
      status: () the end's status so far.
    """
    init_loss, final_loss = jnp.asarray(init_loss), jnp.asarray(final_loss)
    kept = jnp.isfinite(init_loss) & ~(final_loss <= init_loss)
    end = KeptResult(params, jnp.asarray(status), init_loss, final_loss, jnp.asarray(False))
    return keep_initial(end, init_params, kept)


def keep_initial(result: KeptResult, init_params: Params, keep: jax.Array) -> KeptResult:
    """``result`` of ONE sample with its initial params returned where ``keep`` (a () bool):
    status raised to at least "kept initial", the final loss the initial one."""
    status = jnp.where(keep, worst_status(result.status, STATUS_NO_IMPROVEMENT), result.status)
    return KeptResult(
        params=_select(keep, init_params, result.params),
        status=status.astype(jnp.int32),
        init_loss=result.init_loss,
        final_loss=jnp.where(keep, result.init_loss, result.final_loss),
        kept=result.kept | keep,
    )


def status_name(code: int | jax.Array) -> str:
    """Human-readable name of ONE status code (e.g. ``"kept initial"``)."""
    c = int(code)
    if c not in STATUS_NAMES:
        raise ValueError(f"unknown status code {c}; known: {STATUS_NAMES}")
    return STATUS_NAMES[c]


# ---------------------------------------------------------------------------------------------
# Trainable partitioning


def trainable_mask(params: Params, trainable: Trainable) -> tuple[bool, ...]:
    """One bool per leaf of ``params`` (flattening order) saying whether it is optimised.

    Args:
      params: params pytree (a batched one is fine: only its structure is used).
      trainable: None (every leaf); a set / list / tuple of top-level keys when ``params`` is a
        dict (e.g. ``{"global_orient", "transl"}``); or a pytree of Python bools that is a
        prefix of ``params`` (a bool applies to the whole subtree under it).

    Returns:
      Tuple of bools, hashable (usable as a static jit argument).
    """
    leaves, _ = jax.tree_util.tree_flatten(params)
    if trainable is None:
        return (True,) * len(leaves)
    if isinstance(trainable, set | frozenset | list | tuple) and all(
        isinstance(k, str) for k in trainable
    ):
        if not isinstance(params, Mapping):
            raise ValueError("trainable given as keys needs params to be a dict")
        unknown = set(trainable) - set(params)
        if unknown:
            raise ValueError(f"trainable keys {sorted(unknown)} not in params {sorted(params)}")
        trainable = {k: (k in trainable) for k in params}
    try:
        per_leaf = jax.tree_util.tree_map(
            lambda m, sub: [bool(m)] * len(jax.tree_util.tree_leaves(sub)), trainable, params
        )
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"trainable must be None, a set of top-level keys, or a prefix pytree of bools "
            f"of params: {err}"
        ) from err
    mask = tuple(
        m
        for sub in jax.tree_util.tree_leaves(per_leaf, is_leaf=lambda x: isinstance(x, list))
        for m in sub
    )
    if len(mask) != len(leaves):  # pragma: no cover - guarded by tree_map above
        raise ValueError("trainable does not match params")
    return mask


@struct.dataclass
class _PartialObjective(AbstractObjective):
    """``inner`` seen as a function of the trainable leaves only (frozen leaves held here)."""

    inner: Any
    frozen: PyTree  # params with None at the trainable leaves

    @property
    def has_residuals(self) -> bool:  # type: ignore[override]
        return getattr(self.inner, "has_residuals", False)

    def residuals(self, params, data):
        return self.inner.residuals(eqx.combine(params, self.frozen), data)

    def loss(self, params, data):
        return self.inner.loss(eqx.combine(params, self.frozen), data)

    def terms(self, params, data):
        return self.inner.terms(eqx.combine(params, self.frozen), data)


def _select(pred: jax.Array, on_true: PyTree, on_false: PyTree) -> PyTree:
    return jax.tree_util.tree_map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


class _Carry(NamedTuple):
    x: PyTree  # current trainable params
    dyn: PyTree  # array part of the optimizer state
    loss: jax.Array  # () loss of x
    terms: dict[str, jax.Array]  # name -> () terms of x
    best_x: PyTree  # best trainable params so far
    best_loss: jax.Array  # () their loss (inf while none is finite)
    nonfinite: jax.Array  # () bool, a non-finite loss/params was met
    num_rejected: jax.Array  # () int32


def _run_stage(
    objective: AbstractObjective,
    optimizer: Optimizer,
    params: Params,
    data: Data,
    num_steps: int,
    mask: tuple[bool, ...],
    record_terms: bool,
    select: str = "best",
    return_iterates: bool = False,
) -> FitResult:
    _check_stage(objective, optimizer, num_steps, mask, select)
    obj, x0, frozen = _trainable_part(objective, params, data, mask)

    def terms_of(x):
        return obj.terms(x, data) if record_terms else {}

    carry0, static = _start(obj, optimizer, x0, data, terms_of)
    body = _guarded_step(obj, optimizer, data, static, terms_of, record_terms, return_iterates)
    c, (losses, term_hist, xs) = jax.lax.scan(body, carry0, None, length=num_steps)

    init_loss, init_terms = carry0.loss, carry0.terms
    chosen = c.best_x if select == "best" else c.x
    keep, chosen_loss = _keep_chosen(obj, data, chosen, init_loss, select)
    x_out = _select(keep, chosen, x0)
    final_loss = jnp.where(keep, chosen_loss, init_loss)
    # the terms where the losses were taken (XLA shares the model evaluation with those), not
    # a third evaluation at x_out
    start_terms = init_terms if record_terms else obj.terms(x0, data)
    final_terms = _select(keep, obj.terms(chosen, data), start_terms)
    status = jnp.where(
        c.nonfinite,
        STATUS_NONFINITE,
        jnp.where(keep & (final_loss < init_loss), STATUS_OK, STATUS_NO_IMPROVEMENT),
    ).astype(jnp.int32)
    return FitResult(
        params=x_out if frozen is None else eqx.combine(x_out, frozen),
        loss_curve=jnp.concatenate([init_loss[None], losses]),
        term_curves={k: jnp.concatenate([init_terms[k][None], term_hist[k]]) for k in init_terms},
        terms=final_terms,
        status=status,
        init_loss=init_loss,
        final_loss=final_loss,
        num_rejected=c.num_rejected,
        iterates=_stacked_iterates(x0, xs, frozen) if return_iterates else None,
    )


def _start(obj, optimizer: Optimizer, x0, data: Data, terms_of) -> tuple[_Carry, PyTree]:
    """The scan's first carry (the start as the best so far when finite) and the static part
    of the optimizer's state; refuses a loss that is not a scalar."""
    init_loss = obj.loss(x0, data)
    if jnp.ndim(init_loss) != 0:
        raise ValueError(f"objective.loss must return a scalar, got shape {jnp.shape(init_loss)}")
    init_terms = terms_of(x0)
    init_finite = jnp.isfinite(init_loss) & tree_all_finite(x0)
    dyn0, static = eqx.partition(optimizer.init(x0, obj, data), eqx.is_array)
    carry0 = _Carry(
        x=x0,
        dyn=dyn0,
        loss=init_loss,
        terms=init_terms,
        best_x=x0,
        best_loss=jnp.where(init_finite, init_loss, jnp.inf).astype(init_loss.dtype),
        nonfinite=~init_finite,
        num_rejected=jnp.asarray(0, jnp.int32),
    )
    return carry0, static


def _guarded_step(obj, optimizer, data, static, terms_of, record_terms, return_iterates):
    """The scan's body: one optimizer step, accepted only when its loss and parameters are
    finite (else the step is undone and the optimizer's state reset), the best iterate kept;
    it emits ``(loss, terms, iterate or None)``. Refuses an optimizer whose ``step`` or
    ``reset`` changes the structure of its state."""

    def body(c: _Carry, _):
        state = eqx.combine(c.dyn, static)
        x_new, state_new, loss_new = optimizer.step(c.x, state, obj, data)
        dyn_new, _ = eqx.partition(state_new, eqx.is_array)
        loss_new = jnp.asarray(loss_new).astype(c.loss.dtype)
        ok = jnp.isfinite(loss_new) & tree_all_finite(x_new)
        dyn_reset, _ = eqx.partition(optimizer.reset(c.x, state), eqx.is_array)
        for name, tree in (("step", dyn_new), ("reset", dyn_reset)):
            if jax.tree_util.tree_structure(tree) != jax.tree_util.tree_structure(c.dyn):
                raise ValueError(
                    f"{type(optimizer).__name__}.{name} changed the structure of its state"
                )
        x = _select(ok, x_new, c.x)
        loss = jnp.where(ok, loss_new, c.loss)
        terms = _select(ok, terms_of(x_new), c.terms) if record_terms else {}
        improved = ok & (loss_new < c.best_loss)
        carry = _Carry(
            x=x,
            dyn=_select(ok, dyn_new, dyn_reset),
            loss=loss,
            terms=terms,
            best_x=_select(improved, x_new, c.best_x),
            best_loss=jnp.where(improved, loss_new, c.best_loss),
            nonfinite=c.nonfinite | ~ok,
            num_rejected=c.num_rejected + (~ok).astype(jnp.int32),
        )
        return carry, (loss, terms, x if return_iterates else None)

    return body


def _check_stage(objective, optimizer, num_steps: int, mask: tuple[bool, ...], select: str):
    """Refuse, before tracing, a stage that cannot run: an objective the optimizer does not
    take, an unknown ``select``, a negative step count or nothing to fit."""
    check_objective_for(optimizer, objective)
    if select not in SELECT_MODES:
        raise ValueError(f"select must be one of {SELECT_MODES}, got {select!r}")
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    if not any(mask):
        raise ValueError("no trainable params: trainable selects no leaf")


def _trainable_part(objective, params: Params, data: Data, mask: tuple[bool, ...]):
    """``(objective of the trainable leaves, their start, the frozen leaves or None)``: with
    every leaf trainable the objective and ``params`` as they are; otherwise ``params`` split
    by ``mask`` (one bool per leaf) and the objective specialized to the frozen leaves (its
    ``specialize(frozen, data)`` when it has one: the SMPLify objective precomputes what they
    fix) and wrapped to take the trainable ones."""
    if all(mask):
        return objective, params, None
    treedef = jax.tree_util.tree_structure(params)
    mask_tree = jax.tree_util.tree_unflatten(treedef, list(mask))
    x0, frozen = eqx.partition(params, mask_tree)
    specialize = getattr(objective, "specialize", None)  # duck-typed objectives may lack it
    inner = objective if specialize is None else specialize(frozen, data)
    return _PartialObjective(inner, frozen), x0, frozen


def _keep_chosen(obj, data: Data, chosen, init_loss, select: str):
    """The final guard: ``(keep, loss)`` of the chosen iterate (the best, or the last),
    re-evaluated. It is kept only if finite and no worse than the start (any finite iterate
    beats a non-finite start); otherwise the stage returns its start. ``select="none"``: the
    last iterate as is (its loss may be above the start's)."""
    loss = obj.loss(chosen, data)
    if select == "none":
        return jnp.asarray(True), loss
    return jnp.isfinite(loss) & ((loss <= init_loss) | ~jnp.isfinite(init_loss)), loss


def _stacked_iterates(x0, xs, frozen):
    """Every iterate of a stage, the start first (leaves ``(num_steps + 1, ...)``), the
    frozen leaves repeated so that each row is a whole parameter set."""
    iterates = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), x0, xs)
    if frozen is None:
        return iterates
    n = jax.tree_util.tree_leaves(iterates)[0].shape[0]
    reps = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), frozen)
    return eqx.combine(iterates, reps)


# ---------------------------------------------------------------------------------------------
# Public entry points


def fit(
    objective: AbstractObjective,
    init_params: Params,
    data: Data,
    optimizer: Optimizer,
    *,
    num_steps: int,
    trainable: Trainable = None,
    record_terms: bool = True,
    select: str = "best",
    return_iterates: bool = False,
) -> FitResult:
    """Fit ONE sample: ``num_steps`` optimizer steps in one ``lax.scan``.

    Not jitted (a library function): wrap it in ``jax.jit`` / ``jax.vmap`` yourself, or use
    :func:`fit_batch`.

    Args:
      objective: see :mod:`jaxrefine.optimizers.base`.
      init_params: start, any pytree of float arrays (no batch axis).
      data: per-sample inputs pytree passed to the objective.
      optimizer: any :class:`~jaxrefine.optimizers.base.Optimizer`.
      num_steps: number of steps (static).
      trainable: which params are optimised (None = all; see :func:`trainable_mask`);
        the others are returned bit-identical.
      record_terms: record ``objective.terms`` after every step (one extra objective
        evaluation per step); the final ``terms`` are always computed.
      select: "best", "last" or "none" (see :class:`Stage`).
      return_iterates: also return every iterate (``FitResult.iterates``, leading
        (num_steps + 1,) axis), e.g. for a training loss over all states of a learned optimizer.

    Returns:
      :class:`FitResult`. Differentiable w.r.t. the array leaves of ``init_params``, ``data``,
      ``objective`` and ``optimizer`` (``select="none"`` for a smooth function of them).
    """
    mask = trainable_mask(init_params, trainable)
    return _run_stage(
        objective,
        optimizer,
        init_params,
        data,
        int(num_steps),
        mask,
        record_terms,
        select,
        return_iterates,
    )


def fit_stages(
    stages: Sequence[Stage | tuple],
    init_params: Params,
    data: Data,
    *,
    record_terms: bool = True,
    return_iterates: bool = False,
) -> tuple[FitResult, ...]:
    """Fit ONE sample through consecutive stages (each starts where the previous ended, with a
    fresh optimizer state).

    Args:
      stages: sequence of :class:`Stage` or ``(objective, optimizer, num_steps, trainable)``
        tuples.
      init_params: start of the first stage (no batch axis).
      data: per-sample inputs shared by every stage's objective.
      record_terms, return_iterates: as in :func:`fit` (every stage).

    Returns:
      One :class:`FitResult` per stage; the last one's ``params`` is the final answer.
    """
    stages = tuple(Stage(*s) for s in stages)
    results = []
    params = init_params
    for s in stages:
        r = fit(
            s.objective,
            params,
            data,
            s.optimizer,
            num_steps=s.num_steps,
            trainable=s.trainable,
            record_terms=record_terms,
            select=s.select,
            return_iterates=return_iterates,
        )
        results.append(r)
        params = r.params
    return tuple(results)


def release_compiled_fits() -> None:
    """Drop this process's compiled batched fit programs. On CPU each holds hundreds of JIT
    code sections (a dense fit of the open model at batch 32: ~950 memory maps, against Linux's
    default ``vm.max_map_count`` of 65,530), so a long process that fits many different shapes
    (data kinds, compacted widths) releases the ones it no longer needs; the next fit of a
    dropped shape compiles again (or reads the persistent compilation cache)."""
    _fit_stages_batch_jit.clear_cache()


def _batch_size(tree: PyTree, what: str) -> int:
    sizes = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in jax.tree_util.tree_leaves(tree)}
    if None in sizes:
        raise ValueError(f"every leaf of {what} needs a leading batch axis")
    if len(sizes) > 1:
        raise ValueError(f"leaves of {what} disagree on the batch size: {sorted(sizes)}")
    return sizes.pop() if sizes else 0


def _chain_check(objective, params0, results, data, mode: str) -> KeptResult:
    """The whole chain's never-worse check for ONE sample: ``objective`` (the last stage's) at
    the start, against the last stage's own loss at its returned params (the same objective
    there, so one evaluation, not two), the stages' worst status; "keep" falls back to the
    start (:func:`keep_if_not_better`), "measure" only measures (``kept`` False)."""
    params1, l1 = results[-1].params, results[-1].final_loss
    status = worst_status(*(r.status for r in results))
    l0 = objective.loss(params0, data)
    if mode == "keep":
        return keep_if_not_better(params0, params1, l0, l1, status)
    return KeptResult(params1, status, l0, l1, jnp.asarray(False))


@functools.partial(
    jax.jit, static_argnames=("spec", "chunk_size", "record_terms", "return_iterates", "check")
)
def _fit_stages_batch_jit(
    dyn_stages, init_params, data, *, spec, chunk_size, record_terms, return_iterates, check
):
    def one(args):
        params0, d = args
        params, results = params0, []
        for (objective, optimizer), (num_steps, mask, select) in zip(dyn_stages, spec):
            r = _run_stage(
                objective,
                optimizer,
                params,
                d,
                num_steps,
                mask,
                record_terms,
                select,
                return_iterates,
            )
            results.append(r)
            params = r.params
        if check is None:
            return tuple(results)
        return tuple(results), _chain_check(dyn_stages[-1][0], params0, results, d, check)

    if chunk_size is None:
        return jax.vmap(one)((init_params, data))
    return jax.lax.map(one, (init_params, data), batch_size=chunk_size)


def _run_batch(stages, init_params, data, chunk_size, record_terms, devices, return_iterates,
               *, check):  # fmt: skip
    """Shared by :func:`fit_stages_batch` and :func:`fit_chain_batch` (see the former)."""
    stages = tuple(Stage(*s) for s in stages)
    b = _batch_size(init_params, "init_params")
    if devices is None:
        devices = jax.local_devices()
    sharded = len(devices) > 1 and b % len(devices) == 0 and chunk_size is None
    if sharded:
        mesh = Mesh(np.asarray(devices), ("batch",))
        init_params, data = jax.device_put((init_params, data), NamedSharding(mesh, P("batch")))
    b_data = _batch_size(data, "data") if jax.tree_util.tree_leaves(data) else b
    if b != b_data:
        raise ValueError(f"init_params has batch size {b} but data has {b_data}")
    if chunk_size is not None and int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    spec = tuple(
        (int(s.num_steps), trainable_mask(init_params, s.trainable), s.select) for s in stages
    )
    dyn = tuple((s.objective, s.optimizer) for s in stages)
    out = _fit_stages_batch_jit(
        dyn,
        init_params,
        data,
        spec=spec,
        chunk_size=None if chunk_size is None else int(chunk_size),
        record_terms=bool(record_terms),
        return_iterates=bool(return_iterates),
        check=check,
    )
    # The split is internal: hand back ordinary single-device arrays, so that later programs
    # (e.g. a rasterizer's host callback, which runs on one device) never see sharded inputs.
    return jax.device_put(out, devices[0]) if sharded else out


def fit_stages_batch(
    stages: Sequence[Stage | tuple],
    init_params: Params,
    data: Data,
    *,
    chunk_size: int | None = None,
    record_terms: bool = True,
    devices: Sequence | None = None,
    return_iterates: bool = False,
) -> tuple[FitResult, ...]:
    """Jitted, batched :func:`fit_stages` over a leading batch axis of params and data.

    The objectives and optimizers enter the compiled program as pytree arguments (their array
    leaves are traced; their static fields are part of the cache key), so a second call with
    new arrays of the same shapes and the same objective/optimizer objects does not retrace.

    Args:
      stages: as in :func:`fit_stages`.
      init_params: start, every leaf with a leading batch axis (B, ...).
      data: per-sample inputs, every leaf with the same leading batch axis (B, ...).
      chunk_size: if given, process the batch in chunks of this many samples
        (``lax.map(..., batch_size=chunk_size)``: bounded memory; results are identical).
      record_terms, return_iterates: as in :func:`fit` (``iterates`` leaves get (B, T + 1, ...)).
      devices: devices to split the batch over (default: all local devices). With several
        (GPUs, or CPU cores exposed as host devices by ``jaxrefine``'s command line) and a
        batch divisible by their number, the batch axis is sharded across them (samples are
        independent, so results equal the one-device run up to float rounding). Not combined
        with ``chunk_size``.

    Returns:
      One :class:`FitResult` per stage, each leaf with a leading (B,) axis.
    """
    options = (chunk_size, record_terms, devices, return_iterates)
    return _run_batch(stages, init_params, data, *options, check=None)


def fit_chain_batch(
    stages: Sequence[Stage | tuple],
    init_params: Params,
    data: Data,
    *,
    fallback: bool = True,
    chunk_size: int | None = None,
    record_terms: bool = True,
    devices: Sequence | None = None,
    return_iterates: bool = False,
) -> tuple[tuple[FitResult, ...], KeptResult]:
    """:func:`fit_stages_batch` plus the never-worse check of the whole chain, in the same
    compiled (and sharded) program: the last stage's objective at the start and at the end of
    the chain, each sample's worst stage status, and with ``fallback`` the start returned
    where the end is not better (:func:`keep_if_not_better`); without it the check only
    measures (``kept`` all False; for training through the fit).

    Inside the program the check costs one objective evaluation per sample (at the start; the
    end's loss is the last stage's ``final_loss``) on the devices the fit already runs on,
    instead of a second program with two evaluations on one device.

    Returns:
      (one :class:`FitResult` per stage, a :class:`KeptResult`), every leaf with a leading
      (B,) axis.
    """
    options = (chunk_size, record_terms, devices, return_iterates)
    return _run_batch(stages, init_params, data, *options, check="keep" if fallback else "measure")


def fit_batch(
    objective: AbstractObjective,
    init_params: Params,
    data: Data,
    optimizer: Optimizer,
    *,
    num_steps: int,
    trainable: Trainable = None,
    chunk_size: int | None = None,
    record_terms: bool = True,
) -> FitResult:
    """Jitted :func:`fit` over a leading batch axis of ``init_params`` and ``data``.

    Each sample is fitted independently (``vmap``; ``result[i]`` equals ``fit`` on sample i).
    See :func:`fit_stages_batch` for ``chunk_size`` and recompilation.

    Returns:
      :class:`FitResult` with a leading (B,) axis on every leaf.
    """
    stage = Stage(objective, optimizer, num_steps, trainable)
    return fit_stages_batch(
        (stage,), init_params, data, chunk_size=chunk_size, record_terms=record_terms
    )[0]
