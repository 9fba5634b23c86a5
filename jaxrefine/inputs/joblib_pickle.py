"""Files written by ``joblib.dump`` (VIBE's and PARE's demo output), read without joblib and
without running any code from the file.

What joblib writes (its ``numpy_pickle`` module, read here from its documented behaviour): a
pickle stream in which every numpy array is replaced by a ``NumpyArrayWrapper`` object (its
``shape``, ``order``, ``dtype``) and the array's raw bytes follow that object's BUILD opcode
directly in the file (joblib >= 1.2 first writes one byte holding a padding length, then that
many padding bytes, so that the data is aligned to 16 bytes). The stream is therefore not a
plain pickle: it is read with Python's pure-Python unpickler (whose memo is a dict: no memo
resize to guard against, unlike the C unpickler :mod:`jaxrefine.safepickle` guards), whose
BUILD step is extended to read the bytes. ``joblib.dump(..., compress=...)`` compresses the
whole stream; zlib, gzip, bz2 and xz/lzma files are decompressed first (lz4 is refused).

Only plain containers, numbers, strings and numeric arrays are accepted: any other class named
in the stream (and arrays of Python objects) is refused, as :mod:`jaxrefine.inputs.estimates`'
reader of plain pickles does. One exception: PyTorch tensors (PHALP / 4D-Humans store their
appearance embeddings as tensors) become :class:`Skipped` placeholders; their bytes are not
read as tensors and no torch code runs.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
import pickle
import zlib

import numpy as np

WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
# the classes a pickle of plain containers and numpy arrays names (this reader's and the plain
# pickles' reader of jaxrefine.inputs.estimates)
ARRAY_CLASSES = {
    ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict"),
    ("builtins", "slice"),
}  # fmt: skip
# dtype kinds whose bytes are plain numbers (no Python objects, no pointers)
NUMERIC_KINDS = "biufc"


# how a torch.Tensor pickles outside torch.save: these names become Skipped placeholders
TORCH_TENSOR = {("torch._utils", "_rebuild_tensor_v2"), ("torch.storage", "_load_from_bytes"),
                ("torch._utils", "_rebuild_tensor"), ("torch._tensor", "_rebuild_from_type_v2"),
                ("torch", "Tensor")}  # fmt: skip


class ArrayWrapper:
    """What a ``NumpyArrayWrapper`` unpickles into: its attributes only, no behaviour."""


class Skipped:
    """What a PyTorch tensor in the stream becomes: nothing of it is kept."""

    def __init__(self, *args, **kwargs):
        pass


def is_joblib(raw: bytes) -> bool:
    """True when ``raw`` (a file's bytes, decompressed) holds joblib's array wrappers."""
    return WRAPPER[0].encode() in raw and WRAPPER[1].encode() in raw


def decompress(raw: bytes) -> bytes:
    """``raw`` as joblib wrote it before compressing (unchanged when not compressed).

    Raises:
      pickle.UnpicklingError: lz4 (not in Python's standard library) or a damaged stream.
    """
    try:
        if raw[:1] == b"\x78":  # joblib's zlib compressor writes a bare zlib stream
            return zlib.decompress(raw)
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw)
        if raw[:3] == b"BZh":
            return bz2.decompress(raw)
        if raw[:6] == b"\xfd7zXZ\x00" or raw[:3] == b"\x5d\x00\x00":
            return lzma.decompress(raw)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise pickle.UnpicklingError(f"damaged compressed stream ({exc})") from None
    if raw[:4] == b"\x04\x22\x4d\x18":
        raise pickle.UnpicklingError("lz4-compressed joblib file: load it with joblib and "
                                     "save it uncompressed (joblib.dump(obj, path))")  # fmt: skip
    return raw


def load(raw: bytes):
    """The object of a joblib file's (decompressed) bytes, arrays as numpy arrays.

    Raises:
      pickle.UnpicklingError: a class other than plain containers and numeric arrays, an
        array of Python objects, or a stream that ends before its data.
    """
    return _Unpickler(io.BytesIO(raw)).load()


class _Unpickler(pickle._Unpickler):  # the pure-Python one: its BUILD step can be extended
    dispatch = pickle._Unpickler.dispatch.copy()

    def find_class(self, module, name):
        if (module, name) == WRAPPER:
            return ArrayWrapper
        if (module, name) in TORCH_TENSOR:
            return Skipped
        if (module, name) in ARRAY_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def load_build(self):
        pickle._Unpickler.load_build(self)
        if isinstance(self.stack[-1], ArrayWrapper):
            self.stack[-1] = _read_array(self.stack[-1], self._file)

    dispatch[pickle.BUILD[0]] = load_build

    def __init__(self, file):
        super().__init__(file, encoding="latin1")
        self._file = file


def _read_array(wrapper: ArrayWrapper, file: io.BytesIO) -> np.ndarray:
    """The array whose bytes follow ``wrapper`` in ``file`` (see the module docstring)."""
    dtype, shape = getattr(wrapper, "dtype", None), getattr(wrapper, "shape", None)
    if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple):
        raise pickle.UnpicklingError("an array wrapper without its dtype and shape")
    shape = tuple(int(s) for s in shape)
    if dtype.kind not in NUMERIC_KINDS or dtype.hasobject:
        raise pickle.UnpicklingError(f"refusing an array of {dtype} (numbers only)")
    if any(s < 0 for s in shape):
        raise pickle.UnpicklingError(f"array of negative shape {shape}")
    if getattr(wrapper, "numpy_array_alignment_bytes", None) is not None:
        pad = file.read(1)
        file.read(int.from_bytes(pad, "little") if pad else 0)
    count = math.prod(shape)  # Python ints: a damaged shape cannot overflow
    size = count * dtype.itemsize
    data = file.read(size)  # at most what the file holds
    if len(data) != size:
        raise pickle.UnpicklingError(f"the file ends inside an array of shape {shape}")
    array = np.frombuffer(data, dtype, count)
    if getattr(wrapper, "order", "C") == "F":
        array = array.reshape(shape[::-1]).transpose()
    return np.ascontiguousarray(array.reshape(shape)).astype(dtype.newbyteorder("="))
