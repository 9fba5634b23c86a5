"""Run the test suite one file per pytest process, a few at a time (``make test``).

Why: the suite compiles hundreds of XLA programs and drives native libraries (the EGL
rasterizer, LiteRT for BlazePose, torch for the references) in one process. A crash in
native code (a signal, not an exception) used to end the whole run with no summary, and the
suite's memory grew with every compiled program. One process per file:
- a crash fails its file, names it and shows its output;
- memory is given back after each file;
- two files run side by side on a 2-core machine.
Every file must pass. The exit code is 1 when any file failed or crashed.

Usage: ``python tests/run_suite.py [-j N] [--file-timeout S] [--files F ...] [PYTEST_ARGS ...]``
(arguments it does not know go to every pytest process).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TAIL_LINES = 200  # of a failed file's output, printed again at the end
# The slowest files first, so that the parallel workers finish together (measured order,
# clean clone, 2026-12-02, after the kinematic chain's rewrite halved the fits' compile time).
SLOW_FIRST = ("test_photo.py", "test_learned.py", "test_smplify.py", "test_train.py",
              "test_bench_smoke.py", "test_refine.py", "test_scaleout.py", "test_notebooks.py",
              "test_evaluate.py", "test_lgd_smplify.py", "test_network.py",
              "test_refine_files.py", "test_train_distributed.py", "test_render.py")  # fmt: skip


def test_files(names: list[str]) -> list[Path]:
    files = [Path(n) for n in names] if names else sorted(TESTS.glob("test_*.py"))
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    return sorted(files, key=lambda p: rank.get(p.name, len(rank)))


def run_file(path: Path, pytest_args: list[str], timeout: float) -> tuple[Path, int, float, str]:
    """One pytest process on ``path``: (path, return code, seconds, output)."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-X", "faulthandler", "-m", "pytest", str(path), *pytest_args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=TESTS.parent)  # fmt: skip
        code, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        code = -signal.SIGKILL
        out = f"{err.stdout or ''}{err.stderr or ''}\n{path.name}: killed after {timeout:.0f} s"
    return path, code, time.perf_counter() - t0, out


def describe(code: int) -> str:
    if code == 0:
        return "passed"
    if code == 5:
        return "no tests collected"
    if code < 0:
        return f"CRASHED ({signal.Signals(-code).name})"
    return f"failed (pytest exit {code})"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-j", "--jobs", type=int, default=2, help="files run side by side")
    ap.add_argument("--file-timeout", type=float, default=3600, help="seconds per file")
    ap.add_argument("--files", nargs="*", default=[], help="test files (default: all)")
    args, pytest_args = ap.parse_known_args(argv)
    files = test_files(args.files)
    print(f"{len(files)} test files, {args.jobs} at a time, one pytest process each", flush=True)
    t0, table, bad = time.perf_counter(), [], []
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = [pool.submit(run_file, f, pytest_args, args.file_timeout) for f in files]
        for fut in runs:
            path, code, secs, out = fut.result()
            last = out.strip().splitlines()[-1] if out.strip() else ""
            table.append(f"{path.name:<32} {secs:7.1f} s  {describe(code):<24} {last}")
            print(table[-1], flush=True)
            if code not in (0, 5):
                bad.append((path, code, out))
    for path, code, out in bad:  # the end of each failure's output, then the table again
        tail = "\n".join(out.splitlines()[-TAIL_LINES:])
        print(f"\n===== {path.name}: {describe(code)} (last {TAIL_LINES} lines) =====\n{tail}")
    print("\n" + "\n".join(table))
    verdict = (
        "all passed"
        if not bad
        else f"{len(bad)} file(s) failed: "
        + ", ".join(f"{p.name} ({describe(c)})" for p, c, _ in bad)
    )
    print(f"{verdict} in {time.perf_counter() - t0:.0f} s", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main(sys.argv[1:]))
