"""SMPLify as one jitted, vmapped program: camera stage then body stage
(docs/METHOD.md, *SMPLify as SPIN runs it*).

Usage: ``smplify(model, init_params, data, preset="spin", data_kind="keypoints")``.

``init_params`` and ``data`` carry a leading batch axis (B, ...); every sample is fitted
independently (as in SPIN, where losses are summed over the batch but Adam is element-wise).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import struct

from jaxrefine.body_model import BodyModel
from jaxrefine.fit import FitResult, Stage, fit_stages_batch
from jaxrefine.objective import (
    GMMResidualPrior,
    Preset,
    compact_dense,
    get_preset,
    make_objectives,
)
from jaxrefine.optimizers import (
    adam,
    gauss_newton,
    jaxopt_lbfgs,
    lbfgs,
    levenberg_marquardt,
)

CAMERA_STAGE_PARAMS = ("transl", "global_orient")
OPTIMIZERS = ("adam", "lbfgs", "lm", "gn", "jaxopt-lbfgs")


def make_optimizer(name: str, learning_rate: float = 1e-2):
    """Optimizer by name: "adam" (PyTorch's eps), "lbfgs" (optax, zoom line search), "lm"
    (Levenberg-Marquardt), "gn" (Gauss-Newton), "jaxopt-lbfgs" (optional jaxopt backend)."""
    if name == "adam":
        return adam(learning_rate)
    if name == "lbfgs":
        return lbfgs()
    if name == "lm":
        return levenberg_marquardt()
    if name == "gn":
        return gauss_newton()
    if name == "jaxopt-lbfgs":
        return jaxopt_lbfgs()
    raise KeyError(f"unknown optimizer {name!r}; choose from {OPTIMIZERS}")


@struct.dataclass
class SMPLifyResult:
    """Per-sample results (leading batch axis on every leaf).

    Attributes:
      params: final parameter dict.
      camera_stage / body_stage: the :class:`~jaxrefine.fit.FitResult` of each stage (loss
        curves, per-term losses, status codes).
    """

    params: dict
    camera_stage: FitResult
    body_stage: FitResult

    @property
    def final_loss(self) -> jnp.ndarray:
        return self.body_stage.final_loss

    @property
    def status(self) -> jnp.ndarray:
        return jnp.maximum(self.camera_stage.status, self.body_stage.status)


def smplify(
    model: BodyModel,
    init_params: dict,
    data,
    *,
    preset: str | Preset = "spin",
    data_kind: str = "keypoints",
    optimizer: str = "adam",
    gmm: GMMResidualPrior | None = None,
    keypoint_set: str = "body25",
    camera_steps: int | None = None,
    body_steps: int | None = None,
    chunk_size: int | None = None,
    record_terms: bool = False,
    select: str = "best",
    compact: bool = True,
    devices=None,
) -> SMPLifyResult:
    """Run SMPLify on a batch.

    Args:
      model: body model.
      init_params: dict of (B, ...) arrays: global_orient (B,3), body_pose (B,23,3),
        betas (B,NB), transl (B,3).
      data: :class:`~jaxrefine.objective.FitData` with a leading batch axis.
      preset: "spin" or "dense" (see :mod:`jaxrefine.objective`) or a Preset.
      data_kind: "keypoints" or "dense".
      optimizer: one of :data:`OPTIMIZERS` (fresh state per stage).
      gmm: pose prior (None disables it).
      camera_steps / body_steps: override the preset's iteration counts (0 skips a stage).
      chunk_size: bound memory for large batches (``lax.map`` chunks).
      record_terms: record per-term losses after every step (costs one more evaluation).
      select: "best" (default) returns each stage's best iterate; "last" its last iterate, as
        SPIN does (for parity). Either way a stage never returns worse than its start.
      compact: dense fits skin only each frame's visible vertices (same loss, less work;
        :func:`~jaxrefine.objective.compact_dense`).
      devices: split the batch over these devices (default: all local devices; see
        :func:`~jaxrefine.fit.fit_stages_batch`).
    """
    p = get_preset(preset) if isinstance(preset, str) else preset
    if camera_steps is not None or body_steps is not None:
        p = dataclasses.replace(
            p,
            camera_steps=p.camera_steps if camera_steps is None else camera_steps,
            body_steps=p.body_steps if body_steps is None else body_steps,
        )
    if data_kind == "dense" and compact:
        data = compact_dense(data)
    cam_obj, body_obj = make_objectives(model, p, data_kind, gmm, keypoint_set)
    stages = []
    if p.camera_steps > 0:
        opt = make_optimizer(optimizer, p.learning_rate)
        stages.append(Stage(cam_obj, opt, p.camera_steps, set(CAMERA_STAGE_PARAMS), select))
    if p.body_steps > 0:
        opt = make_optimizer(optimizer, p.learning_rate)
        stages.append(Stage(body_obj, opt, p.body_steps, set(p.body_stage_params), select))
    if not stages:
        raise ValueError("both stages have 0 steps: nothing to fit")
    results = fit_stages_batch(
        stages,
        init_params,
        data,
        chunk_size=chunk_size,
        record_terms=record_terms,
        devices=devices,
    )
    cam = results[0] if p.camera_steps > 0 else None
    body = results[-1] if p.body_steps > 0 else None
    return SMPLifyResult(
        params=results[-1].params,
        camera_stage=cam if cam is not None else body,
        body_stage=body if body is not None else cam,
    )
