"""Training: the generic loop (grain input, orbax checkpoints, data parallel / multi-host,
logs) shared by the learned parts, and the displacement network's task."""

from jaxrefine.train.loop import Task, TrainConfig, TrainState, make_optimizer, train, train_step

__all__ = ["Task", "TrainConfig", "TrainState", "make_optimizer", "train", "train_step"]
