"""Training: the generic loop (grain input, orbax checkpoints, data parallel / multi-host,
logs) shared by the learned parts, and the displacement network's task."""

from jaxrefine.extras import require_train

require_train()  # grain, orbax, tensorboardX: the optional extra 'train' (named when missing)

from jaxrefine.train.loop import (  # noqa: E402
    Task,
    TrainConfig,
    TrainState,
    make_optimizer,
    train,
    train_step,
)

__all__ = ["Task", "TrainConfig", "TrainState", "make_optimizer", "train", "train_step"]
