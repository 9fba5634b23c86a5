"""The generic training loop shared by every learned part of jaxrefine (the displacement
network, learned gradient descent).

A :class:`Task` is four pure functions: ``init(key) -> params``; ``loss(params, batch, key,
consts) -> (scalar, metrics)`` over a whole (global) batch; ``make_batch(seed, size) ->
{name: ndarray}`` on the host (numpy, no device work that must be sharded); optional
``validate(params) -> metrics`` on host copies of the parameters; and ``consts``, arrays the
loss reads but does not train (e.g. a body model), handed to the jitted step as an argument: a
closure would bake them into the compiled program as constants, which XLA then folds at compile
time (minutes for a body model's skinning weights). :func:`train` runs it: Adam (optax) with a
warmup + cosine or constant schedule and optional gradient clipping, one jitted data-parallel
step (:mod:`.distributed`), grain input (:mod:`.input`), orbax checkpoints (:mod:`.checkpoint`) and
logs (:mod:`.logs`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrefine.errors import JaxrefineError, fields_below
from jaxrefine.train import checkpoint, distributed, logs
from jaxrefine.train import input as input_pipeline

Params = Any
Batch = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Task:
    """What to train: pure functions (see the module docstring), the loss's constants and a
    description for ``run.json``. ``make_batch`` must be picklable (grain workers receive a
    copy). ``loss`` receives ``consts`` as its fourth argument (None when the task has none).
    ``added_settings``: entries of ``describe`` (same nesting) that jaxrefine gained after runs
    had begun, each at the value that reproduces those runs; a resumed run whose
    ``settings.json`` lacks one accepts it at that value (:func:`check_settings`)."""

    init: Callable[[jax.Array], Params]
    loss: Callable[[Params, dict, jax.Array, Any], tuple[jax.Array, dict]]
    make_batch: Callable[[int, int], Batch]
    validate: Callable[[Params], dict] | None = None
    describe: dict = dataclasses.field(default_factory=dict)
    consts: Any = None
    added_settings: dict = dataclasses.field(default_factory=dict)


# The least value of each numeric TrainConfig field: lr 0 is a run that leaves the weights as
# they are (a check of a fine-tune's start); intervals 0 mean only at the end.
_LEAST = {"steps": 1, "batch": 1, "lr": 0, "warmup": 0, "final_lr_fraction": 0, "clip": 0,
          "workers": 0, "ckpt_every": 0, "val_every": 0, "log_every": 0, "keep": 1}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of a run (everything :func:`train` needs besides the task).

    Attributes:
      steps: optimizer steps in the whole run (the schedule spans them).
      batch: global batch size (over all devices and processes).
      lr: peak learning rate of Adam.
      warmup: linear warmup steps.
      schedule: ``"cosine"`` (decay to ``lr * final_lr_fraction`` at ``steps``) or
        ``"constant"``.
      clip: global gradient-norm clipping (0 = off).
      seed: seeds the parameters, the step keys and the data stream.
      workers: grain worker processes generating batches (0 = in the main process).
      ckpt_every, val_every, log_every: intervals in steps (0 = only at the end).
      keep: checkpoints kept.

    Raises:
      ValueError: a value below its least (:data:`_LEAST`), naming each.
    """

    steps: int = 1000
    batch: int = 8
    lr: float = 1e-3
    warmup: int = 100
    schedule: str = "cosine"
    final_lr_fraction: float = 0.05
    clip: float = 1.0
    seed: int = 0
    workers: int = 0
    ckpt_every: int = 500
    val_every: int = 500
    log_every: int = 10
    keep: int = 3

    def __post_init__(self):
        bad = fields_below(self, _LEAST)
        if bad:
            raise ValueError(f"train config: {', '.join(bad)}")


@flax.struct.dataclass
class TrainState:
    """The whole state of a run, replicated on every device.

    Attributes:
      step: () int32, optimizer steps taken.
      params: the task's parameter pytree (float32).
      opt_state: optax state.
      rng: (2,) uint32 key; step ``s`` uses ``fold_in(rng, s)``.
    """

    step: jax.Array
    params: Params
    opt_state: Any
    rng: jax.Array


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam with the configured schedule, after global-norm clipping when ``clip > 0``."""
    warmup = min(config.warmup, max(config.steps - 1, 0))
    if config.schedule == "cosine":
        lr = optax.warmup_cosine_decay_schedule(
            0.0, config.lr, warmup, max(config.steps, warmup + 1),
            end_value=config.lr * config.final_lr_fraction,
        )  # fmt: skip
    elif config.schedule == "constant":
        lr = optax.join_schedules(
            [optax.linear_schedule(0.0, config.lr, warmup), optax.constant_schedule(config.lr)],
            [warmup],
        )
    else:
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {config.schedule!r}")
    adam = optax.adam(lr)
    return optax.chain(optax.clip_by_global_norm(config.clip), adam) if config.clip > 0 else adam


def init_state(task: Task, optimizer: optax.GradientTransformation, seed: int) -> TrainState:
    """Parameters from ``task.init`` and a fresh optimizer state, at step 0."""
    k_params, k_train = jax.random.split(jax.random.PRNGKey(seed))
    params = task.init(k_params)
    return TrainState(jnp.zeros((), jnp.int32), params, optimizer.init(params), k_train)


def train_step(loss: Callable, optimizer: optax.GradientTransformation, state: TrainState,
               batch: dict, consts: Any = None) -> tuple[TrainState, dict]:  # fmt: skip
    """One optimizer step on ``batch`` (``consts``: the task's, see :class:`Task`). Returns the
    new state and ``{"loss", **metrics, "grad_norm"}`` (scalars)."""
    key = jax.random.fold_in(state.rng, state.step)
    value_and_grad = jax.value_and_grad(loss, has_aux=True)
    (value, metrics), grads = value_and_grad(state.params, batch, key, consts)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
    return new, {"loss": value, **metrics, "grad_norm": optax.tree.norm(grads)}


def _due(step: int, every: int, last: int) -> bool:
    return step == last or (every > 0 and step % every == 0)


def _floats(tree: dict) -> dict[str, float]:
    return {k: float(v) for k, v in distributed.to_host(tree).items()}


def _check_finite(step: int, metrics: dict[str, float], mgr) -> None:
    """Raise FloatingPointError when the step's loss or gradient norm is not finite.

    Checked at every log and checkpoint step: a NaN gradient makes the parameters NaN, and
    then every later loss, so no checkpoint is written after one and the newest kept
    checkpoint is the one to resume from (named in the message)."""
    bad = [k for k in ("loss", "grad_norm") if not np.isfinite(metrics[k])]
    if bad:
        raise FloatingPointError(
            f"training step {step}: non-finite {' and '.join(bad)}; stopped before writing "
            f"another checkpoint (newest kept: step {mgr.latest_step()} in {mgr.directory})"
        )


# the TrainConfig fields that decide a run's numbers (the others: speed, logging, retention)
NUMBER_FIELDS = ("steps", "batch", "lr", "warmup", "schedule", "final_lr_fraction", "clip", "seed")
SETTINGS_FILE = "settings.json"


class ResumeMismatchError(JaxrefineError, ValueError):
    """A resumed run was given settings that differ from the run's own (names each one)."""


def run_settings(task: Task, config: TrainConfig) -> dict:
    """What decides a run's numbers, as JSON values: the task's description (without its
    ``init_from``: a resumed run restores its weights from its checkpoint) and the config's
    :data:`NUMBER_FIELDS`."""
    settings = {
        "task": {k: v for k, v in task.describe.items() if k != "init_from"},
        "config": {k: getattr(config, k) for k in NUMBER_FIELDS},
    }
    return _json_values(settings)


def _json_values(tree: dict) -> dict:
    """``tree`` as it reads back from JSON (tuples become lists, other objects strings)."""
    return json.loads(json.dumps(tree, default=str))


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_settings(out: Path, settings: dict, resume: bool, lead: bool,
                   added: dict | None = None) -> None:  # fmt: skip
    """Keep ``out/settings.json`` (written when a run starts) and, on ``resume``, refuse
    settings that differ from it, naming each with the run's value: a resumed run continues
    the same run exactly. A run folder written before this file existed gets it on its next
    resume (nothing to compare then). ``added`` (nested as ``settings``, e.g.
    ``{"task": task.added_settings}``): settings newer than some run folders, accepted when the
    folder's file lacks them and they have the given value (what those runs did)."""
    path = out / SETTINGS_FILE
    if resume and path.exists():
        saved, now = _flat(json.loads(path.read_text())), _flat(settings)
        added = _flat(_json_values(added or {}))
        diff = [f"{k} {now.get(k)} (run: {saved.get(k)})" for k in sorted(saved.keys() | now.keys())
                if saved.get(k) != now.get(k)
                and not (k not in saved and k in added and now.get(k) == added[k])]  # fmt: skip
        if diff:
            raise ResumeMismatchError(
                f"{out}: resuming with settings that differ from the run's {SETTINGS_FILE}: "
                f"{', '.join(diff)}. Repeat the run's settings, or start a new run from its "
                "weights (--init-from) in another folder"
            )
    elif lead:
        logs.write_json(path, settings)


def check_out(out: str | os.PathLike, resume: bool) -> None:
    """Refuse a new run in a folder that holds one, and ``resume`` of a folder that holds
    none; callers check this before their training data are made.

    Raises:
      FileExistsError: ``out`` holds checkpoints and ``resume`` is False.
      FileNotFoundError: ``resume`` and ``out`` holds no checkpoint.
    """
    step = checkpoint.latest_step(Path(out) / "checkpoints")
    if not resume and step is not None:
        raise FileExistsError(f"{out}/checkpoints holds a run: pass --resume or a new --out")
    if resume and step is None:
        raise FileNotFoundError(f"--resume: no checkpoint to resume from in {out}/checkpoints")


def train(task: Task, config: TrainConfig, out: str | os.PathLike, *, resume: bool = False,
          run_info: dict | None = None, mesh=None) -> dict:  # fmt: skip
    """Train ``task`` for ``config.steps`` steps, writing everything under ``out``.

    Writes ``out/checkpoints/`` (orbax; every ``ckpt_every`` steps and at the end),
    ``out/log.csv``, ``out/tb/``, ``out/curves.png`` and ``out/run.json`` (``run_info`` merged
    in: command line, task settings...). With ``resume`` it continues from the newest
    checkpoint (state and data position) and appends to the logs.

    Returns:
      the run summary written to ``run.json`` (``final`` holds the last metrics).

    Raises:
      FileExistsError, FileNotFoundError: see :func:`check_out`.
      ResumeMismatchError: ``resume`` with settings other than the run's (:func:`check_settings`).
    """
    out = Path(out)
    mesh = distributed.make_mesh() if mesh is None else mesh
    lead = jax.process_index() == 0
    check_out(out, resume)
    mgr = checkpoint.manager(out / "checkpoints", config.keep)
    check_settings(out, run_settings(task, config), resume, lead, {"task": task.added_settings})
    optimizer = make_optimizer(config)
    rep = distributed.replicated(mesh)
    fresh = functools.partial(init_state, task, optimizer, config.seed)
    records = input_pipeline.BatchRecords(
        functools.partial(task.make_batch, size=distributed.local_batch_size(config.batch, mesh)),
        config.seed, config.steps, jax.process_index(), jax.process_count(),
    )  # fmt: skip
    iterator = iter(input_pipeline.make_dataset(records, config.workers))
    state = _start_state(fresh, mgr, iterator, mesh, resume)
    start = int(distributed.to_host(state.step))
    step_fn = jax.jit(functools.partial(train_step, task.loss, optimizer),
                      in_shardings=(rep, distributed.batch_sharding(mesh), rep),
                      out_shardings=(rep, rep), donate_argnums=0)  # fmt: skip
    consts = distributed.replicate(mesh, task.consts)
    logger = logs.RunLogger(out, start, config.steps, enabled=lead)
    final: dict[str, float] = {}
    t_start = time.perf_counter()
    try:
        for step in range(start + 1, config.steps + 1):
            batch = distributed.global_batch(mesh, next(iterator))
            state, metrics = step_fn(state, batch, consts)
            row = _step_row(step, metrics, state, task, config, mgr, lead)
            if row:
                final.update(logger.log(step, row))
            else:
                logger.tick(step)
            if _due(step, config.ckpt_every, config.steps):
                checkpoint.save(mgr, step, state, iterator)
        mgr.wait_until_finished()
    finally:
        logger.close()
        mgr.close()
        if hasattr(iterator, "close"):
            iterator.close()
    chunk_s = time.perf_counter() - t_start
    summary = {
        **(run_info or {}),
        **_run_record(task, config, start if resume else None, chunk_s, logger.wall()),
        "final": final,
    }
    if lead:
        if logger.rows:
            logs.plot_curves(logger.rows, out / "curves.png")
        logs.write_json(out / "run.json", summary)
    return summary


def _start_state(fresh: Callable, mgr, iterator, mesh, resume: bool):
    """The replicated train state: the newest checkpoint's (and its data position, restored
    into ``iterator``) when resuming, else ``fresh()``."""
    if resume:  # only shapes are needed: no initialisation is computed
        rep = distributed.replicated(mesh)
        abstract = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=rep), jax.eval_shape(fresh)
        )
        return checkpoint.restore(mgr, abstract, iterator)
    # eagerly (compiling a network's initialisation costs more than running it once)
    return distributed.replicate(mesh, jax.device_get(fresh()))


def _step_row(step: int, metrics, state, task: Task, config: TrainConfig, mgr, lead: bool):
    """The step's log row (empty when nothing is due): its metrics on logging steps (checked
    finite on logging and checkpoint steps) and the validation metrics when due."""
    row = {}
    log_due = _due(step, config.log_every, config.steps)
    if log_due or _due(step, config.ckpt_every, config.steps):
        floats = _floats(metrics)
        _check_finite(step, floats, mgr)
        if log_due:
            row = floats
    if task.validate is not None and _due(step, config.val_every, config.steps):
        val = task.validate(distributed.to_host(state.params)) if lead else {}
        row.update({f"val_{k}": float(v) for k, v in val.items()})
    return row


def _run_record(task: Task, config: TrainConfig, resumed_from, chunk_s: float, total_s: float):
    """The run's settings, wall times and machine, as ``run.json`` keeps them."""
    return {
        "config": dataclasses.asdict(config),
        "task": task.describe,
        "seed": config.seed,
        "steps": config.steps,
        "resumed_from": resumed_from,
        "wall_s_this_chunk": round(chunk_s, 3),
        "wall_s_total": round(total_s, 3),
        "machine": logs.machine_info(),
    }
