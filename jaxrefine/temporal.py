"""Temporal smoothness: the frames of one person's video track fitted as one problem.

A per-frame fit lets every frame's noise through: the refined joints jitter from frame to
frame although a real body moves smoothly. For a track of ``T`` consecutive frames the
:class:`SequenceObjective` is the sum of the per-frame body-stage objectives plus

    weight * sum_t || J_{t+1} - 2 J_t + J_{t-1} ||^2

over the 24 posed 3D joints ``J_t`` (camera frame, metres): the squared joint *accelerations*
(second differences), so constant-velocity motion costs nothing and only jitter is penalised.
A first-difference (velocity) penalty would instead pull every motion towards standing still.

:func:`smooth_track` runs it after the per-frame fits (starting from their results), with any
optimizer of the contract, as a residual objective (so the least-squares optimizers work too).
It is never worse on its own objective than its start (the engine's best-iterate rule), and
it runs once per track on the host: tracks of different lengths are separate programs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrefine.body_model import BodyModel, posed_joints
from jaxrefine.fit import Trainable, fit
from jaxrefine.objective import FitData, compact_dense
from jaxrefine.optimizers.base import AbstractObjective, Optimizer

MIN_TRACK = 3  # frames a track needs for one acceleration


def consecutive_runs(subjects, frame_index=None) -> np.ndarray:
    """(N,) run ids: each subject's frames, ordered by frame index, cut wherever the index
    does not grow by exactly 1 (a track that missed frames: a detector miss, a gap in a
    regressor's track); without ``frame_index`` every subject is one run. The acceleration
    penalty holds only within a run: across a gap the frames are not neighbours."""
    subjects = np.asarray(subjects)
    if frame_index is None:
        return np.unique(subjects, return_inverse=True)[1].reshape(-1).astype(np.int64)
    f = np.asarray(frame_index, np.int64)
    order = np.lexsort((f, subjects))  # by subject, then by frame
    s_o, f_o = subjects[order], f[order]
    new = np.ones(len(order), bool)
    new[1:] = (s_o[1:] != s_o[:-1]) | (f_o[1:] != f_o[:-1] + 1)
    runs = np.empty(len(order), np.int64)
    runs[order] = np.cumsum(new) - 1
    return runs


def joint_accelerations(joints: jnp.ndarray) -> jnp.ndarray:
    """Second differences of a joint sequence: (T, J, 3) -> (T - 2, J, 3) (per frame^2)."""
    return joints[2:] - 2.0 * joints[1:-1] + joints[:-2]


def sequence_joints(model: BodyModel, params: dict) -> jnp.ndarray:
    """Posed joints (T, 24, 3) of a sequence of SMPL params (each leaf with a leading T)."""

    def one(p):
        pose = jnp.concatenate([p["global_orient"][None], p["body_pose"]], 0)
        return posed_joints(model, pose, p["betas"], p["transl"])

    return jax.vmap(one)(params)


@struct.dataclass
class SequenceObjective(AbstractObjective):
    """T frames of one track: the per-frame objective summed over frames + the acceleration
    penalty (see the module docstring).

    Attributes:
      frame: the per-frame objective (one sample; e.g. SMPLify's body stage). It must have a
        residual form.
      model: the body model (for the joints of the penalty).
      weight: () penalty weight, in the frame objective's units per squared metre.
    """

    frame: AbstractObjective
    model: BodyModel
    weight: jax.Array

    has_residuals = True

    def residuals(self, params: dict, data: FitData) -> jax.Array:
        """(T * R + (T - 2) * 72,) residuals; ``params`` and ``data`` carry a leading T."""
        per_frame = jax.vmap(self.frame.residuals)(params, data).reshape(-1)
        acc = joint_accelerations(sequence_joints(self.model, params))
        return jnp.concatenate([per_frame, jnp.sqrt(self.weight) * acc.reshape(-1)])

    def terms(self, params: dict, data: FitData) -> dict[str, jax.Array]:
        frame = jnp.sum(jax.vmap(self.frame.loss)(params, data))
        acc = joint_accelerations(sequence_joints(self.model, params))
        return {"frames": frame, "smoothness": self.weight * jnp.sum(jnp.square(acc))}


def smooth_track(
    model: BodyModel,
    frame_objective: AbstractObjective,
    params: dict,
    data: FitData,
    optimizer: Optimizer,
    *,
    weight: float,
    num_steps: int,
    trainable: Trainable = None,
):
    """Fit one track's T frames together with the acceleration penalty.

    Args:
      model: body model.
      frame_objective: the per-frame objective (body stage), for one sample.
      params: the per-frame results, dict of (T, ...) arrays (the start).
      data: the frames' :class:`~jaxrefine.objective.FitData`, leading T (dense data is
        compacted here, on the host).
      optimizer: any optimizer of the contract.
      weight: penalty weight (> 0). num_steps: optimizer steps.
      trainable: which params move (default all; e.g. the preset's body-stage params).

    Returns:
      :class:`~jaxrefine.fit.FitResult` of the whole track (params with a leading T).

    Raises:
      ValueError: fewer than :data:`MIN_TRACK` frames or a non-positive weight.
    """
    t = int(np.shape(params["transl"])[0])
    if t < MIN_TRACK:
        raise ValueError(f"a track needs at least {MIN_TRACK} frames for smoothness, got {t}")
    if not weight > 0:
        raise ValueError(f"the smoothness weight must be > 0, got {weight}")
    if data.dense_targets is not None and data.dense_ids is None:
        data = compact_dense(data)
    objective = SequenceObjective(frame_objective, model, jnp.asarray(weight, jnp.float32))
    return _fit_track(objective, params, data, optimizer, int(num_steps), trainable)


_fit_jit = jax.jit(fit, static_argnames=("num_steps", "trainable", "record_terms"))


def _fit_track(objective, params, data, optimizer, num_steps, trainable):
    frozen = None if trainable is None else frozenset(trainable)
    return _fit_jit(objective, params, data, optimizer, num_steps=num_steps, trainable=frozen,
                    record_terms=False)  # fmt: skip
