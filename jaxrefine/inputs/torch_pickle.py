"""PyTorch tensors inside plain pickles (``np.save`` or ``pickle.dump`` of a dict holding
tensors, as TRAM writes its results) read as numpy arrays, without torch and running no code
from the file.

How a tensor pickles outside ``torch.save`` (read from PyTorch's ``Tensor._reduce_ex_internal``,
``TypedStorage.__reduce__`` and ``torch.serialization._legacy_save``; checked against torch
itself in ``tests/test_tram_files.py``):

- the tensor is ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
  requires_grad, backward_hooks[, metadata])``: a strided view, counted in elements, of a
  flat storage;
- the storage is ``torch.storage._load_from_bytes(raw)``, ``raw`` being the storage written by
  ``torch.save(..., _use_new_zipfile_serialization=False)``, PyTorch's legacy format: five
  pickles one after the other (a magic number, the protocol version 1001, a dict of system
  facts such as ``little_endian``, the object itself as a persistent id ``("storage",
  torch.FloatStorage, key, location, numel, view_metadata)``, the list of storage keys), then
  each storage in the keys' order as an int64 element count and its raw bytes.

Only the storage classes of numeric dtypes numpy has are read (bfloat16 and the quantized and
complex-half storages are refused by name); every count, offset and stride is checked
against the bytes the stream holds before any array is made.
"""

from __future__ import annotations

import io
import math
import pickle

import numpy as np

from jaxrefine import safepickle

# torch.serialization's legacy format
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
# the storage classes of the legacy format and the numpy dtype of their bytes (little endian)
STORAGE_DTYPES = {
    "DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2", "LongStorage": "<i8",
    "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?", "ComplexDoubleStorage": "<c16", "ComplexFloatStorage": "<c8",
}  # fmt: skip
# how a tensor pickles outside torch.save (what find_class maps to the functions below)
TENSOR_NAMES = {("torch._utils", "_rebuild_tensor_v2"), ("torch.storage", "_load_from_bytes")}


class Storage:
    """A storage read from the legacy format: its elements as a flat numpy array."""

    def __init__(self, data: np.ndarray):
        self.data = data


def find_class(module: str, name: str):
    """The reader's stand-in for a torch name a plain pickle's tensor uses, else None."""
    if (module, name) == ("torch.storage", "_load_from_bytes"):
        return load_storage
    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
        return rebuild_tensor
    return None


def load_storage(raw: bytes) -> Storage:
    """A storage written in PyTorch's legacy format (see the module docstring).

    Raises:
      pickle.UnpicklingError: another format, a big-endian file, an unknown storage class, or
        bytes that end before the data they declare.
    """
    if not isinstance(raw, bytes):
        raise pickle.UnpicklingError("a torch storage that is not bytes")
    fh = io.BytesIO(raw)
    magic, version, info = (_small_pickle(fh) for _ in range(3))
    if magic != MAGIC_NUMBER or version != PROTOCOL_VERSION:
        raise pickle.UnpicklingError("a torch storage in an unknown format (not torch's legacy "
                                     "serialization)")  # fmt: skip
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise pickle.UnpicklingError("a torch storage written on a big-endian machine")
    obj = _small_pickle(fh)
    keys = _small_pickle(fh)
    if not isinstance(obj, _StorageRef) or not isinstance(keys, list) or keys != [obj.key]:
        raise pickle.UnpicklingError("a torch storage stream that holds something else")
    count = int.from_bytes(_exactly(fh, 8), "little", signed=True)
    if count != obj.numel or count < 0:
        raise pickle.UnpicklingError(f"a torch storage of {obj.numel} elements whose data "
                                     f"declares {count}")  # fmt: skip
    dtype = np.dtype(obj.dtype)
    data = np.frombuffer(_exactly(fh, count * dtype.itemsize), dtype, count)
    return Storage(data.astype(dtype.newbyteorder("=")))


def rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None,
                   metadata=None) -> np.ndarray:  # fmt: skip
    """The (copied, C-ordered) array a pickled tensor views: ``size`` elements from
    ``storage`` at ``offset`` with ``stride`` (in elements, as torch counts them)."""
    del requires_grad, hooks, metadata  # autograd facts: nothing of the values
    if not isinstance(storage, Storage):
        raise pickle.UnpicklingError("a torch tensor without its storage")
    try:
        offset, size, stride = int(offset), tuple(map(int, size)), tuple(map(int, stride))
    except (TypeError, ValueError):
        raise pickle.UnpicklingError("a torch tensor with a damaged size or stride") from None
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size + stride):
        raise pickle.UnpicklingError(f"a torch tensor of size {size}, stride {stride}")
    data = storage.data
    if math.prod(size) == 0:
        return np.zeros(size, data.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= len(data):
        raise pickle.UnpicklingError(f"a torch tensor of size {size} beyond its storage of "
                                     f"{len(data)} elements")  # fmt: skip
    item = data.itemsize
    view = np.lib.stride_tricks.as_strided(data[offset:], size, [s * item for s in stride],
                                           writeable=False)  # fmt: skip
    return np.array(view, order="C")


class _StorageRef:
    """The persistent id of the legacy format's storage: its class's dtype, key and size."""

    def __init__(self, dtype: str, key: str, numel: int):
        self.dtype, self.key, self.numel = dtype, key, numel


class _StorageClass:
    def __init__(self, name: str):
        self.dtype = STORAGE_DTYPES[name]


class _LegacyUnpickler(pickle.Unpickler):
    """The legacy format's small pickles: plain values, the storage classes of
    :data:`STORAGE_DTYPES` and the storage's persistent id."""

    def __init__(self, fh):
        super().__init__(fh, encoding="latin1")

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageClass(name)
        what = "an unsupported dtype" if name.endswith("Storage") else "not a storage"
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} ({what})")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageClass) and isinstance(pid[4], int)):  # fmt: skip
            raise pickle.UnpicklingError(f"a torch storage's persistent id {pid!r:.80}")
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("a torch storage that views another (not written by "
                                         "PyTorch >= 1.0)")  # fmt: skip
        return _StorageRef(pid[1].dtype, str(pid[2]), pid[4])


def _small_pickle(fh: io.BytesIO):
    """The next pickle of ``fh``, its opcodes checked by :func:`safepickle.scan_stream` first."""
    safepickle.scan_stream(fh)
    return _LegacyUnpickler(fh).load()


def _exactly(fh: io.BytesIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise pickle.UnpicklingError("a torch storage whose bytes end before its data")
    return data
