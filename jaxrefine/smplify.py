"""SMPLify as one jitted, vmapped program: camera stage then body stage
(docs/METHOD.md, *SMPLify as SPIN runs it*).

Usage: ``smplify(model, init_params, data, preset="spin", data_kind="keypoints")``.

``init_params`` and ``data`` carry a leading batch axis (B, ...); every sample is fitted
independently (as in SPIN, where losses are summed over the batch but Adam is element-wise).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from flax import struct

from jaxrefine.body_model import BodyModel
from jaxrefine.fit import (
    STATUS_OK,
    STATUS_RENDER_FAILED,
    FitResult,
    KeptResult,
    Stage,
    fit_chain_batch,
    keep_initial,
    worst_status,
)
from jaxrefine.fit import release_compiled_fits as _release_stage_fits
from jaxrefine.objective import (
    GMMResidualPrior,
    Preset,
    check_fit_data,
    check_joint_angles,
    check_params,
    compact_dense,
    get_preset,
    has_data,
    make_objectives,
)
from jaxrefine.optimizers.registry import OptimizerSpec, make_optimizer, resolve_optimizer

CAMERA_STAGE_PARAMS = ("transl", "global_orient")
__all__ = ["CAMERA_STAGE_PARAMS", "SMPLifyResult", "make_optimizer", "smplify"]


@struct.dataclass
class SMPLifyResult:
    """Per-sample results (leading batch axis on every leaf).

    Attributes:
      params: final parameter dict.
      camera_stage / body_stage: the :class:`~jaxrefine.fit.FitResult` of each stage (loss
        curves, per-term losses, status codes, iterates on request), or None for a stage that
        was skipped (0 steps).
      status: (B,) int32, the worst (:func:`~jaxrefine.fit.worst_status`) of the stages'
        codes, the render flags' and the whole-refinement check's: non-finite > render failed >
        kept initial > ok.
      init_loss: (B,) the final objective (the body stage's, or the camera stage's when the
        body stage is skipped) at the initial params.
      final_loss: (B,) the same objective at the returned params.
      kept_initial: (B,) bool, the whole refinement ended above ``init_loss``, or the sample
        had no data to fit (:func:`~jaxrefine.objective.has_data`), and the initial params
        were returned instead (status then at least "kept initial").
    """

    params: dict
    camera_stage: FitResult | None
    body_stage: FitResult | None
    status: jnp.ndarray
    init_loss: jnp.ndarray
    final_loss: jnp.ndarray
    kept_initial: jnp.ndarray


def smplify(
    model: BodyModel,
    init_params: dict,
    data,
    *,
    preset: str | Preset = "spin",
    data_kind: str = "keypoints",
    optimizer: OptimizerSpec = "adam",
    camera_optimizer: OptimizerSpec | None = None,
    gmm: GMMResidualPrior | None = None,
    keypoint_set: str = "body25",
    camera_steps: int | None = None,
    body_steps: int | None = None,
    chunk_size: int | None = None,
    record_terms: bool = False,
    select: str = "best",
    compact: bool = True,
    devices=None,
    return_iterates: bool = False,
    render_flags: jnp.ndarray | None = None,
) -> SMPLifyResult:
    """Run SMPLify on a batch: the camera stage, then the body stage, then a whole-refinement
    check (a frame whose final objective is above its initial one gets its start back).

    Jit- and grad-friendly: with ``compact=False``, or with data already compacted by
    :func:`~jaxrefine.objective.compact_dense` (a host-side step: call it before the jitted
    part), ``smplify`` runs under ``jax.jit`` / ``jax.grad`` (e.g. w.r.t. a learned optimizer's
    weights; use ``select="none"`` there for a smooth function of them).

    Args:
      model: body model.
      init_params: dict of (B, ...) arrays: global_orient (B,3), body_pose (B,23,3),
        betas (B,NB), transl (B,3).
      data: :class:`~jaxrefine.objective.FitData` with a leading batch axis.
      preset: "spin" or "dense" (see :mod:`jaxrefine.objective`) or a Preset.
      data_kind: "keypoints", "dense" or "dense+keypoints" (both terms, the keypoints with
        the preset's ``keypoint_weight_in_dense``; see :mod:`jaxrefine.objective`).
      optimizer: a name of :func:`~jaxrefine.optimizers.registry.optimizer_names`, an
        :class:`~jaxrefine.optimizers.base.Optimizer` object, or a factory
        ``(learning_rate) -> Optimizer``; names and factories get the preset's learning rate.
        Each stage starts from a fresh optimizer state (optimizers are stateless pytrees).
        Names registered by data kind get ``data_kind`` (``"lgd"``: the sparse checkpoint for
        keypoints, the dense one for dense data). The body stage is what the optimizer's
        :meth:`~jaxrefine.optimizers.base.Optimizer.adapt_stage` makes of it: unchanged for
        the classical ones; learned gradient descent runs its trained number of steps
        (unless ``body_steps`` is given) on the body objective's data term (no priors), so the
        body stage's losses and ``init_loss`` / ``final_loss`` are that data term.
      camera_optimizer: the camera stage's optimizer, same forms (None: ``optimizer``, or
        the classical optimizer it names in ``camera_stage_optimizer``: Adam for LGD).
      gmm: pose prior (None disables it).
      camera_steps / body_steps: override the preset's iteration counts (0 skips a stage).
      chunk_size: bound memory for large batches (``lax.map`` chunks).
      record_terms: record per-term losses after every step (costs one more evaluation).
      select: "best" (default) returns each stage's best iterate; "last" its last iterate, as
        SPIN does (for parity); either way a stage never returns worse than its start, the
        whole refinement neither, and a sample without data keeps its start. "none": the
        last iterates as they are, every fallback off (for training through the fit).
      compact: dense fits skin only each frame's visible vertices (same loss, less work;
        :func:`~jaxrefine.objective.compact_dense`, host-side: not on traced data).
      devices: split the batch over these devices (default: all local devices; see
        :func:`~jaxrefine.fit.fit_stages_batch`).
      return_iterates: each stage's ``FitResult.iterates`` (B, steps + 1, ...).
      render_flags: (B,) int, the flags of the renderings the data came from
        (:attr:`jaxrefine.render.Fragments.flags`); nonzero marks the frame "render failed".

    Raises:
      ValueError: both stages have 0 steps; ``compact=True`` on traced, uncompacted data;
        ``init_params`` or ``data`` of other shapes than the model and the data kind need
        (:func:`~jaxrefine.objective.check_params`, :func:`~jaxrefine.objective.check_fit_data`);
        a body pose in degrees (:func:`~jaxrefine.objective.check_joint_angles`).
    """
    p = get_preset(preset) if isinstance(preset, str) else preset
    init_params = check_params(init_params, model.num_betas, "smplify: init_params")
    check_joint_angles(init_params["body_pose"], "smplify: init_params")
    batch = jnp.shape(init_params["transl"])[0]
    check_fit_data(model, data, data_kind, keypoint_set, batch, "smplify: data")
    if "dense" in data_kind and compact:
        if isinstance(data.dense_weights, jax.core.Tracer) and data.dense_ids is None:
            raise ValueError(
                "smplify(compact=True) compacts dense data on the host, which traced data "
                "cannot be: call jaxrefine.objective.compact_dense(data) before the jitted "
                "part and pass its result, or use compact=False"
            )
        data = compact_dense(data)
    cam_obj, body_obj = make_objectives(model, p, data_kind, gmm, keypoint_set)
    body_opt = resolve_optimizer(optimizer, p.learning_rate, data_kind)
    if camera_optimizer is None:
        camera_optimizer = body_opt.camera_stage_optimizer or body_opt
    cam_opt = resolve_optimizer(camera_optimizer, p.learning_rate, data_kind)
    # a learned body optimizer runs the stage it was trained for (objective, steps, params)
    body_obj, n_body, body_params = body_opt.adapt_stage(
        body_obj, body_steps, set(p.body_stage_params)
    )
    p = _with_steps(p, camera_steps, n_body)
    stages = []
    if p.camera_steps > 0:
        stages.append(Stage(cam_obj, cam_opt, p.camera_steps, set(CAMERA_STAGE_PARAMS), select))
    if p.body_steps > 0:
        stages.append(Stage(body_obj, body_opt, p.body_steps, body_params, select))
    if not stages:
        raise ValueError("both stages have 0 steps: nothing to fit")
    # the stages and the whole refinement's never-worse check, in one sharded program
    results, kept = fit_chain_batch(
        stages,
        init_params,
        data,
        fallback=select != "none",
        chunk_size=chunk_size,
        record_terms=record_terms,
        devices=devices,
        return_iterates=return_iterates,
    )
    if select != "none":
        kept = _keep_without_data(kept, init_params, data, data_kind)
    status = kept.status if render_flags is None else _mark_render_failed(kept.status, render_flags)
    return SMPLifyResult(
        params=kept.params,
        camera_stage=results[0] if p.camera_steps > 0 else None,
        body_stage=results[-1] if p.body_steps > 0 else None,
        status=status,
        init_loss=kept.init_loss,
        final_loss=kept.final_loss,
        kept_initial=kept.kept,
    )


@functools.partial(jax.jit, static_argnames="data_kind")
def _keep_without_data(kept: KeptResult, init_params: dict, data, data_kind: str) -> KeptResult:
    """The samples without data (:func:`~jaxrefine.objective.has_data`: no visible vertex, no
    confident keypoint, e.g. a body behind the camera) keep their initial params, "kept
    initial": fitted, their priors alone pulled them toward the mean pose and shape (0.67 rad
    of body pose and 0.93 of betas on a body behind the camera, status "kept initial", before
    this check)."""
    return jax.vmap(keep_initial)(kept, init_params, ~has_data(data, data_kind))


@jax.jit
def _mark_render_failed(status, render_flags):
    """(B,) status raised to at least "render failed" where (B,) ``render_flags`` are nonzero
    (one compiled call: as a few eager ops it took 1.4 ms per batch of 32)."""
    failed = jnp.asarray(render_flags) != 0
    return worst_status(status, jnp.where(failed, STATUS_RENDER_FAILED, STATUS_OK))


def _with_steps(p: Preset, camera_steps: int | None, body_steps: int | None) -> Preset:
    return dataclasses.replace(
        p,
        camera_steps=p.camera_steps if camera_steps is None else int(camera_steps),
        body_steps=p.body_steps if body_steps is None else int(body_steps),
    )


def release_compiled_fits() -> None:
    """Drop this process's compiled SMPLify programs (the batched fits with their final
    checks; see :func:`jaxrefine.fit.release_compiled_fits`)."""
    _release_stage_fits()
