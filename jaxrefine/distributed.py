"""One job over several processes (machines): ``jax.distributed`` set-up, each process's share
of a collection's frames, and the merge of the processes' results.

Commands that work frame by frame (``refine``, ``eval``) split their frames over processes:
:func:`share` gives each process a contiguous, deterministic run of whole groups (subjects,
tracks, saved chunks), so everything computed per group -- a subject's texture, its shared
shape -- stays inside one process and comes out as in a one-process run. Each process computes
its share alone (its own devices only, no collective), then :func:`gather` hands every process
the results of all: each process's dict of numpy arrays goes through ``npz`` bytes and one
``process_allgather`` (exact for every dtype, strings included, and no shared filesystem
needed), after a coordination-service barrier that waits, with an explicit timeout, for the
slowest process -- shares rarely finish together, and the cross-process collectives' own
wait is not a setting we can give. :func:`merge` puts the rows back in the one-process order.

Training uses :func:`initialize` as well (``jaxrefine.train.distributed``).
"""

from __future__ import annotations

import io
import itertools

import jax
import numpy as np

WAIT_S = 24 * 3600.0  # the longest a process waits for the others at a merge
_merges = itertools.count()  # every process merges in the same order, so names agree


def initialize(coordinator: str | None, num_processes: int, process_id: int) -> None:
    """``jax.distributed.initialize`` for a multi-process run (no-op for one process).

    Args:
      coordinator: ``host:port`` of process 0's coordination service.
      num_processes: total number of processes.
      process_id: this process's index in ``[0, num_processes)``.
    """
    if num_processes <= 1:
        return
    if not coordinator:
        raise ValueError("a multi-process run needs --coordinator HOST:PORT")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process id {process_id} outside [0, {num_processes})")
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
    )


def shares(n: int, num_processes: int, groups=None) -> list[np.ndarray]:
    """Every process's frames: contiguous runs of whole groups, balanced by frame count.

    Groups are taken in the order of their first frame; a group goes to the process into whose
    ``[p n / P, (p + 1) n / P)`` range its middle frame falls, so the split is deterministic,
    keeps a group together and gives each process about ``n / P`` frames (a process may get
    none when there are fewer groups than processes).

    Args:
      n: number of frames.
      num_processes: P >= 1.
      groups: optional (n,) group id per frame (subject, track, chunk); default: one group per
        frame.

    Returns:
      P sorted int64 index arrays that together hold every frame once.
    """
    if num_processes < 1:
        raise ValueError(f"num_processes must be >= 1, got {num_processes}")
    groups = np.arange(n) if groups is None else np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must be ({n},), got {groups.shape}")
    _, first, inverse, sizes = np.unique(
        groups, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first, kind="stable")  # groups by first appearance
    middle = np.cumsum(sizes[order]) - sizes[order] / 2.0
    owner = np.empty(len(sizes), np.int64)
    owner[order] = np.minimum((middle * num_processes / max(n, 1)).astype(np.int64),
                              num_processes - 1)  # fmt: skip
    frame_owner = owner[inverse.reshape(-1)]
    return [np.flatnonzero(frame_owner == p) for p in range(num_processes)]


def share(n: int, num_processes: int, process_id: int, groups=None) -> np.ndarray:
    """This process's sorted frame indices (see :func:`shares`)."""
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process id {process_id} outside [0, {num_processes})")
    return shares(n, num_processes, groups)[process_id]


def process() -> tuple[int, int]:
    """``(process_id, num_processes)`` of the running JAX runtime."""
    return jax.process_index(), jax.process_count()


def _to_bytes(arrays: dict) -> np.ndarray:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return np.frombuffer(buf.getvalue(), np.uint8)


def _from_bytes(data: np.ndarray) -> dict:
    with np.load(io.BytesIO(data.tobytes()), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def barrier(name: str, timeout_s: float = WAIT_S) -> None:
    """Wait until every process reaches ``name`` (at most ``timeout_s``; one process: no-op).

    Uses the coordination service's barrier, the call JAX's own array serialization waits on
    (``jax.distributed`` exposes no public one with a timeout)."""
    if jax.process_count() == 1:
        return
    from jax._src.distributed import global_state

    global_state.client.wait_at_barrier(f"jaxrefine/{name}", int(timeout_s * 1000))


def gather(local: dict, timeout_s: float = WAIT_S) -> list[dict]:
    """Every process's ``local`` (a dict of numpy arrays, any shapes and dtypes), in process
    order; all processes must call it, and every one gets the full list."""
    if jax.process_count() == 1:
        return [{k: np.asarray(v) for k, v in local.items()}]
    from jax.experimental.multihost_utils import process_allgather

    barrier(f"gather-{next(_merges)}", timeout_s)
    data = _to_bytes(local)
    if data.size >= 2**31:  # lengths travel as int32 (JAX's default integer)
        raise ValueError(f"{data.size} bytes of results in one process: use more processes")
    lengths = np.asarray(process_allgather(np.array([data.size], np.int32))).reshape(-1)
    padded = np.zeros(int(lengths.max()), np.uint8)
    padded[: data.size] = data
    everyone = np.asarray(process_allgather(padded))
    return [_from_bytes(everyone[p, : lengths[p]]) for p in range(len(lengths))]


def merge(parts: list[dict], index: str = "index") -> dict:
    """Concatenate the per-row arrays of ``parts`` and order the rows by ``parts[p][index]``
    (each part's global row numbers); raises when a row is missing or repeated."""
    parts = [p for p in parts if len(p[index])]
    if not parts:
        raise ValueError("nothing to merge: every part is empty")
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(out[index], kind="stable")
    if not np.array_equal(out[index][order], np.arange(len(order))):
        raise ValueError(f"merged rows are not 0..{len(order) - 1} once each")
    return {k: v[order] for k, v in out.items()}


def add_process_flags(parser) -> None:
    """``--coordinator HOST:PORT --num-processes P --process-id I`` on an argparse parser (the
    flags ``jaxrefine train`` takes too); pass them to :func:`initialize`."""
    parser.add_argument("--coordinator", default=None,
                        help="HOST:PORT of process 0 (a run over several processes)")  # fmt: skip
    parser.add_argument("--num-processes", type=int, default=1, help="processes in the run")
    parser.add_argument("--process-id", type=int, default=0, help="this process, 0..P-1")
