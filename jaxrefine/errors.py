"""The base of jaxrefine's own exceptions (layer 1: imports nothing from the package).

Errors about what a user handed us (a model file, a mocap trial, a result file, an argument)
subclass :class:`JaxrefineError` and usually ``ValueError`` too, so ``except ValueError`` keeps
working. The command line prints them as one line naming the command and exits with 2
(:func:`jaxrefine.cli.main`); ``jaxrefine --debug`` or ``JAXREFINE_DEBUG=1`` shows the traceback.
Settings classes name their out-of-range numbers with :func:`fields_below`, command lines their
flags with :func:`refuse_below`.
"""

from __future__ import annotations


class JaxrefineError(Exception):
    """A documented failure caused by an input, with a message that names the input."""


def fields_below(settings, least: dict) -> list[str]:
    """``name=value (at least LOW)`` for each field of the dataclass ``settings`` named in
    ``least`` whose value is below its least (a value of None is not checked): what a settings
    class's ``__post_init__`` names in its ``ValueError``."""
    values = {k: getattr(settings, k) for k in least}
    return [f"{k}={v} (at least {least[k]})" for k, v in values.items()
            if v is not None and v < least[k]]  # fmt: skip


def refuse_below(parser, *flags) -> None:
    """Call ``parser.error`` (argparse's usage error, exit 2) for the first ``(flag, value,
    least)`` or ``(flag, value, least, why)`` whose value is below its least (None is not
    checked): ``FLAG must be at least LEAST[ why] (got VALUE)``."""
    for flag, value, least, *why in flags:
        if value is not None and value < least:
            parser.error(f"{flag} must be at least {least}{''.join(why)} (got {value})")
