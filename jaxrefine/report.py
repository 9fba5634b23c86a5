"""Reporting for experiments and benchmarks: text tables, JSON and CSV result files, the
machine line.

Used by the oracle, the demo and the benchmarks alike (layer 7), so none of them borrows it
from another.

>>> print(format_table(["row", "mm"], [["init", "12.5"], ["dense", 3]]))
| row   | mm   |
|-------|------|
| init  | 12.5 |
| dense | 3    |
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxrefine.files import atomic_write


def format_table(headers: Sequence[object], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pipes, one header rule) with left-aligned, padded columns.

    Args:
      headers: H column titles (any objects; ``str`` is applied).
      rows: rows of exactly H cells each.

    Raises:
      ValueError: a row's length differs from the header's.
    """
    cells = [[str(h) for h in headers]]
    for n, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"table row {n} has {len(row)} cells, the header has {len(headers)}")
        cells.append([str(c) for c in row])
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def print_table(headers: Sequence[object], rows: Sequence[Sequence[object]], file=None) -> str:
    """Print :func:`format_table` (to stdout unless ``file`` is given) and return the text."""
    text = format_table(headers, rows)
    print(text, file=file or sys.stdout)
    return text


def _jsonable(obj):
    """``json.dump`` fallback for numpy scalars and arrays and paths."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write a {type(obj).__name__} to JSON")


def write_json(path: str | os.PathLike | None, payload: dict, announce: bool = True) -> Path | None:
    """Write ``payload`` as indented JSON, atomically (no half-written file on failure).

    Numpy scalars and arrays become numbers and lists. ``path=None`` writes nothing (a
    command's optional ``--json``). Prints ``wrote PATH`` when ``announce``.

    Returns:
      The path written, or None.
    """
    if path is None:
        return None
    text = json.dumps(payload, indent=1, default=_jsonable).encode()
    out = atomic_write(path, lambda fh: fh.write(text))
    if announce:
        print(f"wrote {out}")
    return out


def append_json_line(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one JSON line and sync it to disk (a journal of finished work that
    an interruption cuts at most in its last line; numpy values as :func:`write_json`)."""
    with open(path, "a") as fh:
        fh.write(json.dumps(record, default=_jsonable) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def write_csv(path: str | os.PathLike | None, columns: dict, announce: bool = True) -> Path | None:
    """Write ``columns`` (name -> equal-length sequence) as a CSV with a header, one row per
    index, atomically; ``path=None`` writes nothing. Prints ``wrote PATH`` when ``announce``."""
    if path is None:
        return None
    names = list(columns)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(names)
    writer.writerows(zip(*(np.asarray(columns[k]).tolist() for k in names)))
    data = text.getvalue().encode()
    out = atomic_write(path, lambda fh: fh.write(data))
    if announce:
        print(f"wrote {out}")
    return out


_VECTOR_ISAS = ("avx512f", "avx2", "avx", "asimd", "neon")  # widest first


def cpu_details(cpuinfo: str) -> dict:
    """CPU model name, family/model numbers and the widest vector instruction set named in the
    text of ``/proc/cpuinfo`` (x86 and Arm spellings). Two machines with the same model name
    can differ there (e.g. AVX2 vs AVX-512 EPYC generations), which changes every speed
    figure, so results record it."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip()
        if sep and key not in fields:
            fields[key] = value.strip()
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    return {
        "cpu": fields.get("model name") or platform.processor(),
        "cpu_family": fields.get("cpu family"),
        "cpu_model": fields.get("model"),
        "vector_isa": next((isa for isa in _VECTOR_ISAS if isa in flags), None),
    }


def machine_info() -> dict:
    """The machine a figure was measured on: CPU (model, family/model numbers, widest vector
    instruction set), core count, JAX version and devices."""
    import jax

    try:
        with open("/proc/cpuinfo") as fh:
            cpu = cpu_details(fh.read())
    except OSError:
        cpu = cpu_details("")
    return {
        **cpu,
        "cores": os.cpu_count(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "python": platform.python_version(),
    }


def machine_line(info: dict) -> str:
    """One line naming the machine of :func:`machine_info`."""
    detail = []
    if info.get("cpu_family") is not None:
        detail.append(f"family {info['cpu_family']} model {info.get('cpu_model')}")
    if info.get("vector_isa"):
        detail.append(info["vector_isa"].upper())
    detail.append(f"{info['cores']} cores")
    return (
        f"machine: {info['cpu']} ({', '.join(detail)}), jax {info['jax']} on {info['jax_backend']}"
    )
