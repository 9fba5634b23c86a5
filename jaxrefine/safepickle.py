"""Checks on a pickle stream before it is unpickled (model files, SMPLify's GMM pickle).

The restricted unpicklers of :mod:`jaxrefine.smpl_io` and :mod:`jaxrefine.priors` decide which
classes a pickle may name; they cannot stop the unpickler itself from allocating memory for
what the stream's opcodes declare. A damaged opcode argument can make CPython's unpickler
resize its memo to billions of entries (``LONG_BINPUT 4000000000`` filled ~13 GB in a fuzz
run). :func:`scan` walks the opcodes in pure Python first (``pickletools``), which reads no
more than the stream holds, and refuses such streams.
"""

from __future__ import annotations

import io
import pickle
import pickletools


def scan(raw: bytes) -> None:
    """Check the opcodes of a pickle stream before unpickling it.

    Refuses a stream that is truncated or malformed (``pickletools`` cannot walk it) or that
    stores memo entries at indices beyond its own opcode count (a legitimate pickler numbers
    them 0, 1, 2, ... as it goes).

    Raises:
      pickle.UnpicklingError: with what is wrong (callers add the file name).
    """
    scan_stream(io.BytesIO(raw))


def scan_stream(fh: io.BytesIO) -> None:
    """:func:`scan` of the pickle that starts at ``fh``'s position (a stream may hold several
    one after the other); the position is left where it was."""
    count, top, start = 0, -1, fh.tell()
    try:
        for op, arg, _ in pickletools.genops(fh):
            count += 1
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                top = max(top, int(arg))
    except Exception as exc:  # noqa: BLE001 - ValueError and friends from a malformed stream
        raise pickle.UnpicklingError(f"malformed pickle stream ({exc})") from None
    finally:
        fh.seek(start)
    if top >= count:
        raise pickle.UnpicklingError(
            f"pickle stores a memo entry at index {top} with only {count} opcodes"
        )
