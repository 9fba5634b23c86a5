"""PyTorch tensors read as numpy arrays, without torch and running no code from the file:
inside plain pickles (``np.save`` or ``pickle.dump`` of a dict holding tensors, as TRAM writes
its results) and in ``torch.save`` files (PyTorch >= 1.6's zip archive, ``.pt`` / ``.pth``).

How a tensor pickles outside ``torch.save`` (read from PyTorch's ``Tensor._reduce_ex_internal``,
``TypedStorage.__reduce__`` and ``torch.serialization._legacy_save``; checked against torch
itself in ``tests/test_torch_files.py``):

- the tensor is ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
  requires_grad, backward_hooks[, metadata])``: a strided view, counted in elements, of a
  flat storage;
- the storage is ``torch.storage._load_from_bytes(raw)``, ``raw`` being the storage written by
  ``torch.save(..., _use_new_zipfile_serialization=False)``, PyTorch's legacy format: five
  pickles one after the other (a magic number, the protocol version 1001, a dict of system
  facts such as ``little_endian``, the object itself as a persistent id ``("storage",
  torch.FloatStorage, key, location, numel, view_metadata)``, the list of storage keys), then
  each storage in the keys' order as an int64 element count and its raw bytes.

A ``torch.save`` file (``torch.serialization._save``, read from PyTorch's code and checked
against torch in ``tests/test_torch_files.py``) is a zip archive whose members lie, stored
without compression, under one folder ``<name>/``: ``data.pkl`` the object, each storage a
persistent id ``("storage", torch.FloatStorage, key, location, numel)``; ``data/<key>`` the
storage's raw bytes; ``byteorder`` ("little"; missing in files of older PyTorch, read as
little-endian, the byte order of the machines people run it on). Tensors are
``_rebuild_tensor_v2`` as above, ``nn.Parameter`` (in either kind of file)
``torch._utils._rebuild_parameter(tensor, requires_grad, hooks)``. Only
stored members are read (torch compresses none), so no member holds more bytes than the file;
the older whole-file legacy format (``_use_new_zipfile_serialization=False``) is refused.

Only the storage classes of numeric dtypes numpy has are read (bfloat16 and the quantized and
complex-half storages are refused by name); every count, offset and stride is checked
against the bytes the stream holds before any array is made.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import zipfile

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
ZIP_MAGIC = b"PK\x03\x04"
# a tensor may repeat its storage's elements (stride 0: an expanded tensor) but a regressor's
# output never holds this many times its storage: a larger one is a damaged size, which would
# otherwise allocate what it declares
MAX_REPEAT = 64


class Storage:
    """A storage (of the legacy format or a ``torch.save`` archive): its elements as a flat
    numpy array."""

    def __init__(self, data: np.ndarray):
        self.data = data


def find_class(module: str, name: str):
    """The reader's stand-in for a torch name a plain pickle's tensor uses, else None."""
    if (module, name) == ("torch.storage", "_load_from_bytes"):
        return load_storage
    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
        return rebuild_tensor
    if (module, name) == ("torch._utils", "_rebuild_parameter"):
        return rebuild_parameter
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
    return _storage(_exactly(fh, count * np.dtype(obj.dtype).itemsize), obj.dtype)


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
    if math.prod(size) > MAX_REPEAT * len(data):
        raise pickle.UnpicklingError(f"a torch tensor of size {size} from a storage of "
                                     f"{len(data)} elements")  # fmt: skip
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
        if (storage := _storage_class(module, name)) is not None:
            return storage
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not a storage)")

    def persistent_load(self, pid):
        return _storage_ref(pid)


def _storage_class(module: str, name: str) -> _StorageClass | None:
    """A storage class of :data:`STORAGE_DTYPES`; None for a name that is no storage.

    Raises:
      pickle.UnpicklingError: a torch storage class of a dtype numpy has not (bfloat16, ...).
    """
    if module == "torch" and name in STORAGE_DTYPES:
        return _StorageClass(name)
    if module == "torch" and name.endswith("Storage"):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (an unsupported dtype)")
    return None


def _storage_ref(pid) -> _StorageRef:
    """A storage's persistent id ``("storage", class, key, location, numel[, view])``."""
    if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
            and isinstance(pid[1], _StorageClass) and isinstance(pid[4], int)):  # fmt: skip
        raise pickle.UnpicklingError(f"a torch storage's persistent id {pid!r:.80}")
    if len(pid) > 5 and pid[5] is not None:
        raise pickle.UnpicklingError("a torch storage that views another (not written by "
                                     "PyTorch >= 1.0)")  # fmt: skip
    return _StorageRef(pid[1].dtype, str(pid[2]), pid[4])


def load_zip(raw: bytes, allowed: set) -> object:
    """The object of a ``torch.save`` file (see the module docstring), its tensors as numpy
    arrays; other classes only those named in ``allowed`` (``(module, name)`` pairs).

    Raises:
      pickle.UnpicklingError: another format, a big-endian file, a compressed member, a class
        not allowed, or storages that do not hold what the object declares.
    """
    if not raw.startswith(ZIP_MAGIC):
        raise pickle.UnpicklingError(
            "not a torch.save file of PyTorch >= 1.6 (a zip archive); save it again with "
            "torch.save's defaults, or as .npz / .pkl of numpy arrays"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise pickle.UnpicklingError(f"a damaged zip archive ({exc})") from None
    with archive:
        pkls = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise pickle.UnpicklingError("a zip archive without torch.save's <name>/data.pkl")
        prefix = pkls[0].removesuffix("data.pkl")
        if prefix + "byteorder" in archive.namelist():
            if _member(archive, prefix + "byteorder") != b"little":
                raise pickle.UnpicklingError("a torch.save file written on a big-endian machine")
        data = _member(archive, pkls[0])
        safepickle.scan(data)
        return _ZipUnpickler(data, archive, prefix, allowed).load()


def _member(archive: zipfile.ZipFile, name: str, size: int | None = None) -> bytes:
    """A stored (uncompressed) member's bytes, ``size`` of them when given."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise pickle.UnpicklingError(f"a torch.save file without its member {name}") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise pickle.UnpicklingError(f"a torch.save member {name} that is compressed (torch "
                                     "stores every member as it is)")  # fmt: skip
    if size is not None and info.file_size != size:
        raise pickle.UnpicklingError(f"a torch storage {name} of {info.file_size} bytes where "
                                     f"its tensor declares {size}")  # fmt: skip
    try:
        data = archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise pickle.UnpicklingError(f"a damaged member {name} ({exc})") from None
    if len(data) != info.file_size:
        raise pickle.UnpicklingError(f"a damaged member {name} (its bytes end early)")
    return data


def rebuild_parameter(data, requires_grad=False, hooks=None, *_) -> np.ndarray:
    """An ``nn.Parameter``'s values (its tensor, already rebuilt)."""
    del requires_grad, hooks
    if not isinstance(data, np.ndarray):
        raise pickle.UnpicklingError("a torch parameter without its tensor")
    return data


def latin1_bytes(text, encoding="latin1") -> bytes:
    """Bytes as protocol 2 pickles them (``_codecs.encode(text, "latin1")``: numpy arrays'
    data in a ``torch.save`` file); no other codec."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"refusing to load _codecs.encode with {encoding!r:.20}")
    return text.encode("latin1")


class _ZipUnpickler(pickle.Unpickler):
    """``data.pkl`` of a ``torch.save`` file: tensors, parameters, their storages from the
    archive's ``data/<key>`` (each read once), and the classes of ``allowed``."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, allowed: set):
        super().__init__(io.BytesIO(data), encoding="latin1")
        self.archive, self.prefix, self.allowed = archive, prefix, allowed
        self.storages: dict[str, Storage] = {}

    def find_class(self, module, name):
        if (storage := _storage_class(module, name)) is not None:
            return storage
        if (tensor := find_class(module, name)) is not None:
            return tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("_codecs", "encode"):
            return latin1_bytes
        if (module, name) in self.allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        ref = _storage_ref(pid)
        if ref.key not in self.storages:
            size = ref.numel * np.dtype(ref.dtype).itemsize
            raw = _member(self.archive, f"{self.prefix}data/{ref.key}", size)
            self.storages[ref.key] = _storage(raw, ref.dtype)
        storage = self.storages[ref.key]
        if storage.data.dtype != np.dtype(ref.dtype).newbyteorder("="):
            raise pickle.UnpicklingError(f"a torch storage {ref.key} read as two dtypes")
        return storage


def _storage(raw: bytes, dtype: str) -> Storage:
    """A storage of the little-endian ``raw`` bytes (sized by the caller), in native order."""
    dtype = np.dtype(dtype)
    return Storage(np.frombuffer(raw, dtype).astype(dtype.newbyteorder("=")))


def _small_pickle(fh: io.BytesIO):
    """The next pickle of ``fh``, its opcodes checked by :func:`safepickle.scan_stream` first."""
    safepickle.scan_stream(fh)
    return _LegacyUnpickler(fh).load()


def _exactly(fh: io.BytesIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise pickle.UnpicklingError("a torch storage whose bytes end before its data")
    return data
