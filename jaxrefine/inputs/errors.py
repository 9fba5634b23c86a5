"""The one error type of the input readers, and their check of a file's numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxrefine.errors import JaxrefineError

MAX_VALUE = 1e8  # no parameter, focal, box or joint of a sound file is this large


class InputError(JaxrefineError, ValueError):
    """A user's input file is missing, unreadable or inconsistent (the message names it)."""


def finite_numbers(a: np.ndarray, what: str, path: Path) -> np.ndarray:
    """``a`` as float64, refused (naming ``path`` and ``what`` it is) when it is not numbers or
    holds NaN, inf or values beyond :data:`MAX_VALUE`."""
    try:
        a = np.asarray(a, np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: {what} must hold numbers ({exc})") from None
    if not np.all(np.isfinite(a)) or np.any(np.abs(a) > MAX_VALUE):
        raise InputError(f"{path}: {what} holds NaN, inf or values beyond {MAX_VALUE:g}")
    return a
