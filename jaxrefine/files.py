"""Atomic file writes: a crash or a full disk never leaves a half-written output behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _process_umask() -> int:
    """The process's umask (read once: ``os.umask`` can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _process_umask()


def file_in_the_way(path: str | os.PathLike) -> Path | None:
    """The nearest existing folder above ``path`` that is a file instead (writing under it
    would fail), or None."""
    for where in Path(path).parents:
        if where.exists():
            return None if where.is_dir() else where
    return None


def output_file_arg(path: str) -> str:
    """An output file flag's value (argparse ``type``, e.g. ``--json``): refused at once, as a
    usage error naming the flag, when it is an existing folder or lies under a file (it would
    fail only when the result is written, after the work)."""
    import argparse

    if Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise argparse.ArgumentTypeError(f"{path}: {blocker} is a file, not a folder")
    return path  # an existing file is replaced, as before


def output_folder_arg(path: str) -> str:
    """An output folder flag's value (argparse ``type``, e.g. ``--out`` of a run): refused at
    once, as a usage error naming the flag, when it is an existing file or lies under one
    (it would fail when the first file is written, after the inputs were read)."""
    import argparse

    if Path(path).exists() and not Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a folder")
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise argparse.ArgumentTypeError(f"{path}: {blocker} is a file, not a folder")
    return path


def atomic_write(path: str | os.PathLike, write: Callable) -> Path:
    """Call ``write(fh)`` on a temporary file next to ``path`` (binary mode), flush it to disk,
    then move it into place with ``os.replace`` (atomic on POSIX). Creates parent folders.
    The file gets the permissions a plain ``open(path, "w")`` would give (0o666 less the
    umask), not the owner-only mode of a temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_savez(path: str | os.PathLike, arrays: dict, compressed: bool = True) -> Path:
    """``numpy.savez[_compressed]`` to ``path``, atomically (see :func:`atomic_write`)."""
    save = np.savez_compressed if compressed else np.savez
    return atomic_write(path, lambda fh: save(fh, **arrays))


def read_npz(path: str | os.PathLike, error: type[Exception], what: str = "npz") -> dict:
    """Every array of an ``.npz`` (pickled object arrays refused), read through our own file
    handle (numpy leaks the one it opens when an archive is corrupt). Any failure -- missing
    file aside -- raises ``error`` with a message naming the file."""
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError("a single .npy array, not an .npz archive")
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip, zlib, npy-header errors: all a bad file
        raise error(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})") from None
