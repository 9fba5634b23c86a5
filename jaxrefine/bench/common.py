"""Timing helpers shared by the benchmarks (tables, JSON, machine: :mod:`jaxrefine.report`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def interleaved(
    fns: dict[str, Callable[[], object]],
    *,
    min_reps: int = 5,
    max_reps: int = 200,
    budget_s: float = 3.0,
) -> dict[str, np.ndarray]:
    """Time several callables alternately (round-robin) so they share machine noise.

    Each callable must block until its work is done. Returns per-name arrays of seconds.
    """
    times: dict[str, list[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    reps = 0
    while reps < max_reps and (reps < min_reps or time.perf_counter() - start < budget_s):
        for k, f in fns.items():
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
