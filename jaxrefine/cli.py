"""``jaxrefine`` command line: a thin dispatcher; each command lives in a library module.

Failures end as one line on stderr, ``jaxrefine COMMAND: error: MESSAGE``, and a non-zero exit:
2 for bad input (a documented :class:`~jaxrefine.errors.JaxrefineError`, ``ValueError``,
``KeyError``, a missing or unreadable file, a broken archive), 1 for any other failure, 130 when
interrupted. ``jaxrefine --debug COMMAND ...`` or ``JAXREFINE_DEBUG=1`` re-raises instead, with
the full traceback. Warnings (people left out, frames without keypoints, ...) print as
``jaxrefine COMMAND: warning: MESSAGE``, one line each (Python's form under ``--debug``).
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import zipfile

from jaxrefine import xla_flags
from jaxrefine.errors import JaxrefineError

# command -> (module:function taking argv, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("jaxrefine.demo:main", "the main job on the embedded defaults: refined frames, PNGs"),
    "convert": ("jaxrefine.smpl_io:convert_main", "convert an SMPL .pkl/.npz to plain numpy .npz"),
    "mocap": ("jaxrefine.data.mocap:main", "convert CMU BVH / ASF+AMC trials to SMPL-layout poses"),
    "oracle": ("jaxrefine.oracle:main", "sparse vs dense ground-truth refinement (paper Table 2)"),
    "shards": ("jaxrefine.data.shards:main", "write cached synthetic evaluation shards"),
    "contact-sheet": (
        "jaxrefine.data.contact_sheet:main",
        "PNG grid of synthetic samples: image, ground truth, initial estimate",
    ),
    "fetch-models": ("jaxrefine.detect.models:fetch_main", "fetch the BlazePose photo models"),
    "refine": ("jaxrefine.refine_cli:main", "refine initial estimates against your images"),
    "eval": ("jaxrefine.evaluate:main", "learned refinement vs keypoints and GT (paper Table 1)"),
    "eval-video": ("jaxrefine.evaluate_video:main", "temporal smoothness on synthetic videos"),
    "eval-real": ("jaxrefine.evaluate_real_cli:main", "photo pipeline on real photos (PCK, IoU)"),
    "train": ("jaxrefine.train.run:main", "train the displacement network (scripts/train.py)"),
    "train-lgd": ("jaxrefine.train.lgd:main", "train a learned optimizer (scripts/train_lgd.py)"),
    "bench": ("jaxrefine.bench:main", "run a benchmark: body | raster | data | smplify | network"),
    "info": ("jaxrefine.info:main", "what this install has: versions, extras, rasterizer, assets"),
}


def _usage() -> str:
    lines = ["usage: jaxrefine [--debug] COMMAND [ARGS...] | --version", "", "commands:"]
    width = max(map(len, COMMANDS))  # the help texts start in one column
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'jaxrefine COMMAND --help' for a command's options; --debug (or"]
    lines += ["JAXREFINE_DEBUG=1) shows the Python traceback of a failure."]
    return "\n".join(lines)


def _enable_compilation_cache() -> None:
    """Persistent XLA compilation cache for command-line runs (the edge, not the library):
    ``$JAXREFINE_CACHE_DIR`` or ``~/.cache/jaxrefine/jax``; JAX's own
    ``JAX_COMPILATION_CACHE_DIR`` wins; ``JAXREFINE_CACHE_DIR=off`` disables it."""
    from pathlib import Path

    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    where = os.environ.get("JAXREFINE_CACHE_DIR", str(Path.home() / ".cache/jaxrefine/jax"))
    if where.lower() == "off":
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", where)


# Failures caused by what the user handed a command: exit code 2.
INPUT_ERRORS = (
    JaxrefineError, ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile,
    pickle.UnpicklingError,
)  # fmt: skip


def error_message(exc: BaseException) -> str:
    """The message of a failure, for one line: file errors as ``PATH: reason``; the type is
    named for errors that are not input errors (they may be bugs)."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        msg = f"{exc.filename}: {exc.strerror}"
    elif isinstance(exc, KeyError) and len(exc.args) == 1:
        msg = str(exc.args[0])  # str(KeyError) would quote the message
    else:
        msg = str(exc)
    if not isinstance(exc, INPUT_ERRORS) or not msg:
        msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    return _one_line(msg)


def _one_line(msg: str) -> str:
    """``msg`` on one line: two lines joined; more (e.g. ffmpeg's whole log inside an imageio
    error) cut to the first and the last, which says what failed (``--debug`` shows all)."""
    lines = [line.strip() for line in msg.splitlines() if line.strip()]
    if len(lines) > 2:
        return f"{lines[0]} ... {lines[-1]}"
    return " ".join(lines)


def _debug_requested(argv: list[str]) -> tuple[bool, list[str]]:
    """``--debug`` before the command, or ``JAXREFINE_DEBUG`` set to 1 / true / yes."""
    debug = os.environ.get("JAXREFINE_DEBUG", "").lower() in ("1", "true", "yes")
    while argv and argv[0] == "--debug":
        debug, argv = True, argv[1:]
    return debug, argv


def warning_line(name: str):
    """A ``warnings.formatwarning`` for command ``name``: ``jaxrefine NAME: warning: MESSAGE``
    on one line, without the Python file, line and source that the default shows."""

    def format_warning(message, category, filename, lineno, line=None) -> str:
        return f"jaxrefine {name}: warning: {message}\n"

    return format_warning


def run_command(name: str, rest: list[str], debug: bool = False) -> int:
    """Run one command; failures become a one-line message and an exit code, warnings one
    line each (see the module docstring). ``debug`` re-raises failures and shows warnings as
    Python does."""
    import warnings

    module, func = COMMANDS[name][0].split(":")
    before = warnings.formatwarning
    if not debug:
        warnings.formatwarning = warning_line(name)
    try:
        return int(getattr(importlib.import_module(module), func)(rest) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"jaxrefine {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        code = 2 if isinstance(exc, INPUT_ERRORS) else 1
        hint = "" if code == 2 else " (run 'jaxrefine --debug ...' for the traceback)"
        print(f"jaxrefine {name}: error: {error_message(exc)}{hint}", file=sys.stderr)
        return code
    finally:
        warnings.formatwarning = before


def run_script(name: str, argv: list[str] | None = None) -> int:
    """A thin script's entry (``scripts/train.py``): command ``name`` with the command line's
    arguments, failures as one line and an exit code as under ``jaxrefine`` (``--debug`` first,
    or ``JAXREFINE_DEBUG=1``, for the traceback). The command applies its own XLA flags."""
    debug, rest = _debug_requested(sys.argv[1:] if argv is None else list(argv))
    return run_command(name, rest, debug)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug, argv = _debug_requested(argv)
    xla_flags.apply(host_devices=True)  # before JAX starts: see jaxrefine/xla_flags.py
    _enable_compilation_cache()
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        from jaxrefine.info import version

        print(f"jaxrefine {version() or 'not installed as a package (run from a source tree)'}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"jaxrefine: error: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return run_command(name, rest, debug)


if __name__ == "__main__":
    sys.exit(main())
