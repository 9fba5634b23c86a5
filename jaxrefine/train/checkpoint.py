"""Orbax checkpoints of a training run: the train state and the input iterator's position.

A checkpoint ``OUT/checkpoints/<step>/`` holds three items: ``state`` (the :class:`TrainState`
pytree: step, params, optimizer state, rng), ``data`` (the grain iterator state, one JSON per
process, written by grain's orbax handler) and ``params`` (the parameters alone, what users of
a trained model load, e.g. ``jaxrefine.network.load_pretrained(OUT)``). Restoring ``state`` and
``data`` continues a run exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import grain
import jax
import orbax.checkpoint as ocp


def manager(directory: str | os.PathLike, keep: int = 3) -> ocp.CheckpointManager:
    """A checkpoint manager keeping the newest ``keep`` checkpoints; the caller decides when
    to save (synchronous saves: the train step donates the state's buffers)."""
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, create=True, enable_async_checkpointing=False
    )
    return ocp.CheckpointManager(
        Path(directory).absolute(), options=options, item_names=("state", "data", "params")
    )


def latest_step(directory: str | os.PathLike) -> int | None:
    """The newest finished checkpoint step in ``directory``, None when it holds none (or is not
    there). Reads the folder only: no manager is made (making one is a step every process of a
    distributed run must take together) and nothing is created."""
    return max(ocp.utils.checkpoint_steps(Path(directory).absolute()), default=None)


def save(mgr: ocp.CheckpointManager, step: int, state, iterator) -> bool:
    """Save ``state`` and the grain ``iterator``'s position at ``step``."""
    args = ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        data=grain.checkpoint.CheckpointSave(iterator),
        params=ocp.args.StandardSave(state.params),
    )
    return mgr.save(int(step), args=args, force=True)


def restore(mgr: ocp.CheckpointManager, abstract_state, iterator, step: int | None = None):
    """Restore the newest (or ``step``) checkpoint into the structure and shardings of
    ``abstract_state`` (a pytree of arrays or ``jax.ShapeDtypeStruct``); sets ``iterator``'s
    position in place. Returns the state.

    Raises:
      FileNotFoundError: when the manager's folder holds no checkpoint.
    """
    step = mgr.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint to resume from in {mgr.directory}")
    abstract = jax.tree.map(
        lambda x: x if isinstance(x, jax.ShapeDtypeStruct) else ocp.utils.to_shape_dtype_struct(x),
        abstract_state,
    )
    args = ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract), data=grain.checkpoint.CheckpointRestore(iterator)
    )
    return mgr.restore(step, args=args).state
