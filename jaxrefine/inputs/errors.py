"""The one error type of the input readers."""

from __future__ import annotations

from jaxrefine.errors import JaxrefineError


class InputError(JaxrefineError, ValueError):
    """A user's input file is missing, unreadable or inconsistent (the message names it)."""
