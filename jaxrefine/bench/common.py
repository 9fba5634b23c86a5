"""Timing and table helpers shared by the benchmarks."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence

import numpy as np


def machine_info() -> dict:
    import jax

    try:
        cpu = next(
            (
                l.split(":", 1)[1].strip()
                for l in open("/proc/cpuinfo")
                if l.startswith("model name")
            ),
            platform.processor(),
        )
    except OSError:
        cpu = platform.processor()
    import os

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "python": platform.python_version(),
    }


def machine_line(info: dict) -> str:
    """One line naming the machine a benchmark ran on."""
    return (
        f"machine: {info['cpu']} ({info['cores']} cores), jax {info['jax']} "
        f"on {info['jax_backend']}"
    )


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


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for n, r in enumerate(cells):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    text = "\n".join(out)
    print(text)
    return text


def write_json(path: str | None, payload: dict) -> None:
    if path:
        with open(path, "w") as fh:
            json.dump(payload, fh, indent=2)
        print(f"wrote {path}")
