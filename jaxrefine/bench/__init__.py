"""Benchmarks: ``jaxrefine bench NAME [--json FILE]``. Each prints a table with the reference
measured side by side in the same run (never asserted in tests)."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("body", "raster", "data", "smplify", "network")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHMARKS:
        ok = bool(argv) and argv[0] in ("-h", "--help")
        usage = f"usage: jaxrefine bench {{{'|'.join(BENCHMARKS)}}} [--json FILE] [options]"
        print(usage, file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 2
    try:
        mod = importlib.import_module(f"jaxrefine.bench.{argv[0]}")
    except ModuleNotFoundError as exc:
        print(f"benchmark {argv[0]!r} is not available: {exc}", file=sys.stderr)
        return 2
    return int(mod.main(argv[1:]) or 0)
