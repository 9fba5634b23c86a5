"""Training input with grain: record ``k`` of the stream is a whole batch made from its own seed.

Generating a batch at once is much faster than sample by sample (one render call, one body
forward for all frames), so a grain record is a batch. Record ``k`` of process ``p`` of ``P`` is
the global record ``k * P + p`` and is made from :func:`batch_seed` ``(seed, k * P + p)``: the
stream is reproducible, each process feeds its own shard, and the iterator's position (saved in
checkpoints through grain's orbax handler) is all a resumed run needs to continue exactly.

Workers (``workers > 0``) are grain's multiprocess prefetch: separate Python processes (started
with ``spawn``), each producing every ``workers``-th record; the output order does not depend on
the worker count. Inside a worker, JAX is pinned to the CPU backend (:func:`worker_init`), so
workers never claim an accelerator nor its memory; the rasterizer's EGL context is per process.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable

import grain
import numpy as np

Batch = dict[str, np.ndarray]


def batch_seed(seed: int, record: int) -> int:
    """The seed of global record ``record`` of the stream ``seed`` (independent per record)."""
    return int(np.random.SeedSequence([int(seed), int(record)]).generate_state(1)[0])


@dataclasses.dataclass(frozen=True)
class BatchRecords:
    """A grain random-access source: record ``k`` is ``make_batch(batch_seed(seed, k*P + p))``.

    Attributes:
      make_batch: ``seed -> {name: (B_local, ...) ndarray}``; must be picklable (workers get a
        copy): a module-level function or a ``functools.partial`` of one.
      seed: stream seed.
      num_records: length of the stream (the number of training steps).
      process_index, process_count: this process's shard of the global stream.
    """

    make_batch: Callable[[int], Batch]
    seed: int
    num_records: int
    process_index: int = 0
    process_count: int = 1

    def __len__(self) -> int:
        return self.num_records

    def __getitem__(self, record: int) -> Batch:
        if not 0 <= record < self.num_records:
            raise IndexError(f"record {record} outside the stream [0, {self.num_records})")
        global_record = int(record) * self.process_count + self.process_index
        return self.make_batch(batch_seed(self.seed, global_record))


def worker_init(worker_index: int, worker_count: int) -> None:
    """Run first in every grain worker process: JAX on the CPU backend only (set before any
    JAX computation in the worker; the pickled batch maker is loaded after this)."""
    del worker_index, worker_count
    _exit_with_parent()
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ.pop("XLA_FLAGS", None)  # one host device per worker is enough
    from jaxrefine import xla_flags

    xla_flags.apply(host_devices=False)
    import jax  # grain may have imported it already: set the option, not only the variable

    jax.config.update("jax_platforms", "cpu")


def _exit_with_parent(poll_s: float = 2.0) -> None:
    """End this worker when the training process is gone (killed runs leave no orphan
    generating batches for nobody): a daemon thread polls the parent's pid."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def make_dataset(records: BatchRecords, workers: int = 0, buffer: int = 2) -> grain.IterDataset:
    """The grain pipeline over ``records``: in-process (``workers=0``: no threads, no
    prefetch; what tests use) or ``workers`` prefetching processes with ``buffer`` batches
    each. Iterate it with ``iter(...)``; the iterator's ``get_state``/``set_state`` (or
    grain's orbax handler) save and restore the position."""
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    ds = grain.MapDataset.source(records).to_iter_dataset(
        grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)
    )
    if workers == 0:
        return ds
    from absl import flags

    # grain 0.2.x reads an absl flag in the parent when workers start and raises if flags were
    # never parsed (scripts without absl.app; google/grain#1355): use the flags' defaults.
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    options = grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=buffer)
    return ds.mp_prefetch(options, worker_init_fn=worker_init)
