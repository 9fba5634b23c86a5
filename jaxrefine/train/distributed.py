"""Data parallelism over all devices (local and, with ``jax.distributed``, across hosts).

One mesh axis ``"data"`` over every device; a batch is sharded on its leading axis, parameters
and optimizer state are replicated. Each process generates only its own rows of the global
batch (its shard of the input stream) and :func:`global_batch` assembles the global array with
``jax.make_array_from_process_local_data``. The loss is a mean over the global batch computed by
XLA inside one jitted step, so its value does not depend on how the rows are split (up to the
order of floating-point sums).

Nothing that calls back to the host (the rasterizer) runs on these sharded arrays: batches are
generated on the host by the input pipeline, before sharding.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

# the set-up ``refine`` and ``eval`` use too; re-exported for ``train/run.py``
from jaxrefine.distributed import initialize as initialize

DATA_AXIS = "data"


def make_mesh(devices=None) -> Mesh:
    """A 1-D mesh with axis ``"data"`` over ``devices`` (default: every device of every
    process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding of parameters and optimizer state: a full copy on every device."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The sharding of a batch: rows split over the ``"data"`` axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def local_batch_size(global_batch: int, mesh: Mesh) -> int:
    """Rows this process generates: ``global_batch / process_count``, checked to split evenly
    over the mesh's devices."""
    if global_batch % mesh.devices.size:
        raise ValueError(
            f"batch {global_batch} does not split evenly over {mesh.devices.size} devices"
        )
    return global_batch // jax.process_count()


def global_batch(mesh: Mesh, local: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    """This process's rows ``{name: (B_local, ...)}`` -> global arrays ``(B, ...)`` sharded on
    the leading axis."""
    sharding = batch_sharding(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local.items()}


def replicate(mesh: Mesh, tree):
    """Place a pytree of host arrays (identical on every process) replicated on the mesh."""
    sharding = replicated(mesh)
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), tree
    )


def to_host(tree):
    """A replicated pytree as host numpy arrays (this process's copy; no communication)."""
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), tree)
