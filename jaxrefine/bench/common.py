"""Timing helpers shared by the benchmarks (tables, JSON, machine: :mod:`jaxrefine.report`)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np


def interleaved(
    fns: dict[str, Callable[[], object]],
    *,
    min_reps: int = 5,
    max_reps: int = 200,
    budget_s: float = 3.0,
    block: int = 1,
) -> dict[str, np.ndarray]:
    """Time several callables alternately (round-robin) so they share machine noise.

    Each callable must block until its work is done. ``block``: calls of one callable in a
    row per turn (each timed alone). 1 = strict alternation, where every call finds the caches
    filled by the other sides' work; more = the steady state of a loop calling one function
    (a fit's iterations), still alternating between the sides. ``min_reps`` / ``max_reps``
    count turns. Returns per-name arrays of seconds.
    """
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    times: dict[str, list[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    reps = 0
    while reps < max_reps and (reps < min_reps or time.perf_counter() - start < budget_s):
        for k, f in fns.items():
            for _ in range(block):
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        reps += 1
    return {k: np.asarray(v) for k, v in times.items()}


def summary(t: np.ndarray) -> dict:
    return {
        "median_ms": float(np.median(t) * 1e3),
        "min_ms": float(t.min() * 1e3),
        "max_ms": float(t.max() * 1e3),
        "reps": len(t),
    }


def count(text: str) -> int:
    """An argparse ``type``: a whole number of at least 1 (repetitions, a batch size); less is
    argparse's usage error naming the flag (a batch of 0 or no repetition failed deep inside
    a benchmark, or printed a table of NaN)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seconds(text: str) -> float:
    """An argparse ``type``: a time budget in seconds, finite and at least 0 (0: the least
    repetitions only)."""
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def counts(text: str) -> list[int]:
    """An argparse ``type``: comma-separated :func:`count` values ("1,8,32")."""
    return [count(part) for part in text.split(",")]
