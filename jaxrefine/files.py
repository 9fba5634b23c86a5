"""Atomic file writes: a crash or a full disk never leaves a half-written output behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def atomic_write(path: str | os.PathLike, write: Callable) -> Path:
    """Call ``write(fh)`` on a temporary file next to ``path`` (binary mode), flush it to disk,
    then move it into place with ``os.replace`` (atomic on POSIX). Creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
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
