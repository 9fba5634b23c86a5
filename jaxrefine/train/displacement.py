"""The displacement network's training task: loss, metrics, data and validation.

Loss. For every stack ``s`` of the network's output, the squared end-point error
``|F_s(p) - F*(p)|^2`` (crop pixels squared) averaged over the foreground pixels ``p`` of the
initial estimate's rendering (the only pixels with a ground-truth displacement); the stacks'
losses are *averaged* (intermediate supervision of every hourglass, as in stacked hourglass
training; the mean keeps the scale of one stack's loss whatever the stack count). Per example
first, then the mean over the batch, so a frame with a small silhouette weighs as much as a
large one and the value does not depend on how the batch is split over devices. With a
confidence head (``cfg.confidence``), the Laplace negative log-likelihood of the last stack's
error under the predicted per-pixel scale ``b = exp(log_scale)`` is added,
``(|e_x| + |e_y|) / b + 2 log b`` averaged over the foreground and weighted by
``confidence_weight``; the error is taken with its gradient stopped, so the head learns to
predict the field's error without changing what the field learns.

Metrics (per example, then batch mean): ``epe``, the mean end-point error ``|F - F*|`` in crop
pixels of the last stack on the foreground; ``zero_epe``, the same for the zero field (leaving
the initial estimate as it is: ``|F*|``) on the same frames, the baseline every EPE is read
against; ``epe_stack<i>`` for every stack.

Data. Training pairs come from :func:`jaxrefine.data.pairs.make_pairs` on poses of CMU
*training* subjects (the validation subjects :data:`~jaxrefine.data.poses.VALIDATION_SUBJECTS`
are excluded, and this is asserted); validation is a fixed set of ``medium`` initial estimates
on the validation subjects' poses with subjects (textures, shapes) of a separate bank, made once
with a fixed seed and cached in the run folder.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine import network
from jaxrefine.body_model import OPEN_MODEL_ID  # the model of runs begun before --model
from jaxrefine.data import pairs
from jaxrefine.data.poses import VALIDATION_SUBJECTS, PoseSet
from jaxrefine.files import atomic_savez
from jaxrefine.train.loop import Task

BATCH_KEYS = ("image", "renders", "field", "mask")
VAL_SEED = 20230915  # the validation set's seed (fixed for every run)
VAL_BANK_SEED = 1609  # the validation subjects' bank (textures, shapes) seed


def _fg_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of (S, S) ``x`` over the foreground ``mask`` (0 when the mask is empty)."""
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def example_loss(out: network.NetworkOutput, field: jax.Array, mask: jax.Array,
                 confidence_weight: float = 0.1) -> tuple[jax.Array, dict]:  # fmt: skip
    """Loss and metrics of ONE example (see the module docstring).

    Args:
      out: the network's output for one example: fields (stacks, S, S, 2), log_scale (S, S)
        or None.
      field: (S, S, 2) ground-truth displacement in crop pixels.
      mask: (S, S) foreground of the initial rendering (1 = supervised).

    Returns:
      scalar loss, {"epe", "zero_epe", "epe_stack<i>", "l2"(, "nll")} scalars.
    """
    if out.fields.ndim != 4 or field.shape != out.fields.shape[1:] or mask.shape != field.shape[:2]:
        raise ValueError(
            f"example_loss takes ONE example: fields (stacks, S, S, 2), field (S, S, 2), mask "
            f"(S, S); got {out.fields.shape}, {field.shape}, {mask.shape}"
        )
    mask = mask.astype(jnp.float32)
    err = out.fields - field[None]  # (stacks, S, S, 2)
    sq = jax.vmap(lambda e: _fg_mean(jnp.sum(e**2, -1), mask))(err)
    epe = jax.vmap(lambda e: _fg_mean(jnp.linalg.norm(e, axis=-1), mask))(err)
    loss = jnp.mean(sq)
    zero = _fg_mean(jnp.linalg.norm(field, axis=-1), mask)
    metrics = {"l2": loss, "epe": epe[-1], "zero_epe": zero}
    metrics.update({f"epe_stack{i}": epe[i] for i in range(err.shape[0])})
    if out.log_scale is not None:
        e1 = jax.lax.stop_gradient(jnp.sum(jnp.abs(err[-1]), -1))
        nll = _fg_mean(e1 * jnp.exp(-out.log_scale) + 2.0 * out.log_scale, mask)
        loss = loss + confidence_weight * nll
        metrics["nll"] = nll
    return loss, metrics


def batch_loss(cfg: network.NetworkConfig, params, batch: dict, key: jax.Array, consts=None, *,
               confidence_weight: float = 0.1) -> tuple[jax.Array, dict]:  # fmt: skip
    """Mean over the batch of :func:`example_loss` (batch: ``image`` (B, S, S, 3), ``renders``
    (B, S, S, 11), ``field`` (B, S, S, 2), ``mask`` (B, S, S)). The task has no ``consts``."""
    del key, consts  # the network is deterministic (no dropout)
    out = network.apply_batch(cfg, params, batch["image"], batch["renders"])
    per = jax.vmap(functools.partial(example_loss, confidence_weight=confidence_weight))
    losses, metrics = per(out, batch["field"], batch["mask"])
    return jnp.mean(losses), jax.tree.map(jnp.mean, metrics)


# PairConfig fields added after runs had begun (sessions 15 and 18), at their defaults (= what
# those runs did): a run started before them resumes (loop.Task.added_settings)
_ADDED_PAIR_SETTINGS = {
    k: getattr(pairs.PairConfig(), k)
    for k in (
        "p_distractor",
        "distractor_shift",
        "distractor_scale",
        "p_close",
        "close_zoom",
        "close_top",
    )
}


def make_batch(model, poses: np.ndarray, bank: pairs.SubjectBank, config: pairs.PairConfig,
               seed: int, size: int) -> dict[str, np.ndarray]:  # fmt: skip
    """``size`` training pairs from ``seed`` (only what the loss needs: :data:`BATCH_KEYS`)."""
    out = pairs.make_pairs(model, poses, bank, size, seed, config)
    return {k: np.asarray(out[k], np.float32) for k in BATCH_KEYS}


def validation_config(config: pairs.PairConfig) -> pairs.PairConfig:
    """The validation pairs' settings: ``medium`` initial estimates, no augmentation."""
    return dataclasses.replace(config.no_augmentation(), mix=(0.0, 1.0, 0.0, 0.0))


def load_or_make_validation(path: str | os.PathLike, model, poses: np.ndarray,
                            bank: pairs.SubjectBank, config: pairs.PairConfig,
                            n: int) -> dict[str, np.ndarray]:  # fmt: skip
    """The validation set (:data:`BATCH_KEYS` + ``difficulty``), made once with
    :data:`VAL_SEED` and cached at ``path``; a cache of another size or crop raises."""
    path = Path(path)
    if path.exists():
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
        have = (len(data["image"]), data["image"].shape[1])
        if have != (n, config.crop_size):
            raise ValueError(
                f"{path}: cached validation set has (frames, crop) {have}, this run wants "
                f"{(n, config.crop_size)}; delete it or use another --out"
            )
        return data
    out = pairs.make_pairs(model, poses, bank, n, VAL_SEED, validation_config(config))
    data = {k: np.asarray(out[k], np.float32) for k in BATCH_KEYS}
    data["difficulty"] = np.asarray(out["difficulty"])
    atomic_savez(path, data)
    return data


def evaluate(cfg: network.NetworkConfig, params, data: dict, batch: int = 8) -> dict[str, float]:
    """Mean ``epe``, ``zero_epe`` (and the other metrics) of ``params`` over ``data`` (as
    :func:`batch_loss` sees a batch), in batches of ``batch`` frames."""
    fn = _eval_fn(cfg)
    n = len(data["image"])
    sums: dict[str, float] = {}
    for i in range(0, n, batch):
        chunk = {k: data[k][i : i + batch] for k in BATCH_KEYS}
        metrics = fn(params, chunk)
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + float(np.sum(v))
    return {k: v / n for k, v in sums.items()}


@functools.cache
def _eval_fn(cfg: network.NetworkConfig):
    def per_example(params, chunk):
        out = network.apply_batch(cfg, params, chunk["image"], chunk["renders"])
        _, metrics = jax.vmap(example_loss)(out, chunk["field"], chunk["mask"])
        return metrics

    return jax.jit(per_example)


@dataclasses.dataclass(frozen=True)
class DisplacementData:
    """What the task trains and validates on.

    Attributes:
      model: the body model.
      train_poses, val_poses: :class:`PoseSet` of training / validation subjects.
      bank, val_bank: subject banks (textures, shapes) for training / validation pairs.
      pairs: :class:`~jaxrefine.data.pairs.PairConfig` of training pairs.
      validation: the fixed validation set (:func:`load_or_make_validation`) or None.
    """

    model: object
    train_poses: PoseSet
    val_poses: PoseSet
    bank: pairs.SubjectBank
    val_bank: pairs.SubjectBank
    pairs: pairs.PairConfig
    validation: dict | None = None


def check_split(train_poses: PoseSet, val_poses: PoseSet) -> None:
    """Raise when a validation subject is among the training poses."""
    leaked = sorted(set(train_poses.subjects) & set(VALIDATION_SUBJECTS))
    if leaked:
        raise ValueError(f"validation subjects {leaked} are in the training poses")
    if set(val_poses.subjects) - set(VALIDATION_SUBJECTS):
        raise ValueError(f"validation poses hold other subjects: {val_poses.subjects}")


def make_task(cfg: network.NetworkConfig, data: DisplacementData,
              confidence_weight: float = 0.1, val_batch: int = 8) -> Task:  # fmt: skip
    """The :class:`~jaxrefine.train.loop.Task` training ``cfg`` on ``data``."""
    check_split(data.train_poses, data.val_poses)
    if data.pairs.crop_size != cfg.crop_size:
        raise ValueError(f"pair crop {data.pairs.crop_size} != network crop {cfg.crop_size}")
    validate = None
    if data.validation is not None:
        validate = functools.partial(evaluate, cfg, data=data.validation, batch=val_batch)
    describe = {
        "network": cfg.to_dict(),
        "pairs": dataclasses.asdict(data.pairs),
        "model_id": data.model.model_id,
        "confidence_weight": confidence_weight,
        "train_subjects": list(data.train_poses.subjects),
        "train_frames": len(data.train_poses),
        "validation_subjects": list(data.val_poses.subjects),
        "validation_frames": 0 if data.validation is None else len(data.validation["image"]),
        "validation": f"medium initial estimates, no augmentation, seed {VAL_SEED}",
        "num_params": network.count_params(network.init_params(cfg, jax.random.PRNGKey(0))),
    }
    return Task(
        init=functools.partial(network.init_params, cfg),
        loss=functools.partial(batch_loss, cfg, confidence_weight=confidence_weight),
        make_batch=functools.partial(
            make_batch, data.model, data.train_poses.pose, data.bank, data.pairs
        ),
        validate=validate,
        describe=describe,
        added_settings={"pairs": _ADDED_PAIR_SETTINGS, "model_id": OPEN_MODEL_ID},
    )


def _constant(params, key: jax.Array):
    del key
    return params


def load_start(cfg: network.NetworkConfig, path) -> tuple[dict, dict]:
    """Weights to fine-tune from: ``(params, origin)``, read from ``path`` (an exported
    ``.npz`` or a run folder, as :func:`jaxrefine.network.load_pretrained` reads them; None =
    the shipped checkpoint). ``origin`` (path, step, command) describes them for ``run.json``.

    Raises:
      ValueError: the checkpoint's network config differs from ``cfg`` (naming the fields).
    """
    loaded, params, meta = network.load_pretrained(path)
    source = "shipped" if path is None else str(path)
    if loaded != cfg:
        a, b = loaded.to_dict(), cfg.to_dict()
        diff = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
        raise ValueError(f"{source} checkpoint: its network config differs from the run's: "
                         f"{diff} (checkpoint, run)")  # fmt: skip
    origin = {"path": source, "step": meta.get("step"), "command": meta.get("command")}
    return jax.tree.map(np.asarray, params), origin


def warm_start(task: Task, start: tuple[dict, dict]) -> Task:
    """``task`` beginning at the weights of :func:`load_start` instead of a random
    initialisation: fine-tuning. The optimizer state, the schedule and the data stream start
    afresh (use a new ``--seed`` to see new samples); the origin goes to ``task.describe``."""
    params, origin = start
    describe = {**task.describe, "init_from": origin}
    return dataclasses.replace(task, init=functools.partial(_constant, params), describe=describe)
