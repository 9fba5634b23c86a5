"""Reading SMPL-layout model files: official SMPL pickles (without chumpy), SMPL ``.npz`` and
jaxrefine's own ``.npz``; and writing a plain-numpy ``.npz`` (``jaxrefine convert``).

Official SMPL pickles (v1.0.0 with 10 betas, v1.1.0 with 300; neutral/male/female) store some
arrays as chumpy ``Ch`` objects and the joint regressor as a scipy sparse matrix. chumpy does not
import on modern numpy, so :class:`_SafeUnpickler` replaces chumpy's classes by a stand-in that
keeps the pickled state and reads the array out of it. It also refuses every class that is not
an array, a CSC / CSR / COO sparse matrix (rebuilt from checked components) or a plain
container, so loading a model file cannot run code or crash the interpreter.

Every file is validated before use (:func:`identify`): the family, each array's dtype and shape
against the vertex count, finite values (also in float32), index ranges, row sums and the
landmark table. Any failure, an unreadable file included, raises :class:`ModelFileError` naming
the file and what was expected.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import sys
from pathlib import Path

import numpy as np

from jaxrefine import safepickle
from jaxrefine.body_model import NUM_JOINTS, NUM_POSE_FEATURES, SMPL_PARENTS, BodyModel, from_arrays
from jaxrefine.errors import JaxrefineError
from jaxrefine.files import output_file_arg

ASSETS = Path(__file__).resolve().parent / "assets"
OPEN_MODEL_PATH = ASSETS / "open_body_model.npz"
GENDERS = ("neutral", "male", "female")

_REQUIRED = ("v_template", "shapedirs", "J_regressor", "weights", "f")

# (vertex count, joint count) -> model family, to name what a refused file is.
_KNOWN_FAMILIES = {
    (6890, 24): "SMPL",
    (6890, 52): "SMPL-H",
    (10475, 55): "SMPL-X",
    (778, 16): "MANO",
    (5023, 5): "FLAME",
}


class ModelFileError(JaxrefineError, ValueError):
    """A file that is not a usable SMPL-layout body model."""


class _ChumpyStub:
    """Stand-in for chumpy classes: keeps the pickled state, exposes the array it holds."""

    def __init__(self, *args, **kwargs):
        self._state = {}

    def __setstate__(self, state):
        self._state = state if isinstance(state, dict) else {"state": state}

    def to_numpy(self):
        st = self._state
        for key in ("x", "r", "_x"):
            if key in st:
                return np.asarray(_to_numpy(st[key]))
        if "a" in st:  # chumpy wrappers such as Select / reorder keep their input in "a"
            return _to_numpy(st["a"])
        raise ModelFileError(
            f"cannot read a chumpy object of type {type(self).__name__} (state keys "
            f"{sorted(st)}); convert the file with smplx's tools/clean_ch.py"
        )


_STUB_CLASSES: dict[str, type] = {}


def _stub_for(module: str, name: str) -> type:
    key = f"{module}.{name}"
    if key not in _STUB_CLASSES:
        _STUB_CLASSES[key] = type(name, (_ChumpyStub,), {"__module__": module})
    return _STUB_CLASSES[key]


class _SafeUnpickler(pickle.Unpickler):
    _ALLOWED_NUMPY = {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy", "core.multiarray._reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
        ("__builtin__", "object"), ("builtins", "object"),
        ("collections", "OrderedDict"), ("_codecs", "encode"),
        # protocol-2 pickles write an empty ``bytes`` (an empty array's data) as ``bytes()``
        *((m, n) for m in ("builtins", "__builtin__") for n in ("set", "frozenset", "slice",
                                                                 "bytes")),
    }  # fmt: skip

    def find_class(self, module, name):
        if (module, name) in _GUARDED:
            return _GUARDED[(module, name)]
        if module == "chumpy" or module.startswith("chumpy."):
            return _stub_for(module, name)
        if module.startswith("scipy.sparse"):
            sparse_class = _sparse_class(name)
            if sparse_class is not None:
                return sparse_class
        if (module, name) in self._ALLOWED_NUMPY:
            mod = module.replace("copy_reg", "copyreg").replace("__builtin__", "builtins")
            if mod.startswith("numpy.core") and not hasattr(np, "core"):
                mod = mod.replace("numpy.core", "numpy._core")
            import importlib

            obj = importlib.import_module(mod)
            for part in name.split("."):
                obj = getattr(obj, part)
            return obj
        raise ModelFileError(
            f"model file contains an object of type {module}.{name}, which a body-model file "
            "should not; refusing to load it"
        )


# Sparse formats a model pickle may use (SMPL's joint regressor is CSC). Their unpickled
# internals are untrusted: scipy's C routines would read out of bounds on a corrupted index
# array (a crash, not an exception), so :func:`_sparse_to_dense` rebuilds them in numpy.
_SPARSE_CLASSES = {f"{f}_{kind}" for f in ("csc", "csr", "coo") for kind in ("matrix", "array")}
# Largest dense size accepted from a sparse matrix (SMPL-X's regressor: 55 x 10,475 = 0.6e6).
_MAX_SPARSE_ELEMENTS = 10**8


def _empty_bytes(*args):
    """``bytes()`` as protocol-2 pickles call it for empty data; ``bytes(n)`` (n zero bytes, a
    way to exhaust memory) is refused."""
    if args:
        raise ModelFileError("pickle calls bytes() with arguments; refusing")
    return b""


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as protocol-2 pickles call it for binary data (latin-1 only)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ModelFileError("pickle calls _codecs.encode other than on latin-1 text; refusing")
    return text.encode("latin1")


_GUARDED = {
    **{(m, "bytes"): _empty_bytes for m in ("builtins", "__builtin__")},
    ("_codecs", "encode"): _latin1_encode,
}


def _sparse_class(name: str) -> type | None:
    """scipy's CSC / CSR / COO class called ``name``; None for anything else (functions such
    as ``scipy.sparse.save_npz`` would let a pickle touch files)."""
    import scipy.sparse

    return getattr(scipy.sparse, name, None) if name in _SPARSE_CLASSES else None


def _index_array(a, n: int, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() >= n)):
        raise ModelFileError(f"sparse matrix: {what} is not a 1-D index array in 0..{n - 1}")
    return a.astype(np.int64)


def _sparse_to_dense(value) -> np.ndarray:
    """A CSC / CSR / COO matrix as a dense array, from its checked components (numpy only)."""
    state = vars(value)
    shape = state.get("_shape", state.get("shape"))
    if not (
        isinstance(shape, tuple)
        and len(shape) == 2
        and all(type(d) is int and d >= 0 for d in shape)
        and shape[0] * shape[1] <= _MAX_SPARSE_ELEMENTS
    ):
        raise ModelFileError(f"sparse matrix with an invalid shape {shape!r:.60}")
    data = np.asarray(state.get("data"))
    if data.ndim != 1 or data.dtype.kind not in "iuf":
        raise ModelFileError("sparse matrix data is not a 1-D real array")
    fmt = type(value).__name__[:3]
    if fmt == "coo":
        coords = state.get("coords", (state.get("row"), state.get("col")))
        rows = _index_array(coords[0], shape[0], "row")
        cols = _index_array(coords[1], shape[1], "col")
    else:
        major, minor = shape if fmt == "csr" else shape[::-1]
        indptr = _index_array(state.get("indptr"), len(data) + 1, "indptr")
        minors = _index_array(state.get("indices"), minor, "indices")
        if len(indptr) != major + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ModelFileError("sparse matrix indptr is not a valid row / column pointer")
        majors = np.repeat(np.arange(major), np.diff(indptr))
        rows, cols = (majors, minors) if fmt == "csr" else (minors, majors)
    if not len(rows) == len(cols) == len(data):
        raise ModelFileError("sparse matrix index and data lengths disagree")
    dense = np.zeros(shape, data.dtype)
    np.add.at(dense, (rows, cols), data)
    return dense


def _to_numpy(value):
    if isinstance(value, _ChumpyStub):
        return value.to_numpy()
    if type(value).__name__ in _SPARSE_CLASSES and type(value).__module__.startswith("scipy"):
        return _sparse_to_dense(value)
    if isinstance(value, (str, bytes)):
        return value
    return np.asarray(value)


def read_pickle(path: str | os.PathLike) -> dict:
    """Read a model pickle (Python 2 or 3, with or without chumpy objects) into numpy arrays."""
    raw = Path(path).read_bytes()
    try:
        safepickle.scan(raw)
        obj = _SafeUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        what = f"{type(exc).__name__}: {exc}"
        raise ModelFileError(f"{path}: not a readable pickle ({what})") from None
    if not isinstance(obj, dict):
        raise ModelFileError(
            f"{path}: expected a pickled dict of model arrays, found {type(obj).__name__}"
        )
    out = {}
    for k, v in obj.items():
        try:
            out[str(k)] = _to_numpy(v)
        except Exception as exc:  # noqa: BLE001 - an entry that is no array is a bad file
            raise ModelFileError(f"{path}: entry {k!r} is not an array ({exc})") from None
    return out


def read_npz(path: str | os.PathLike) -> dict:
    """Read every array of an ``.npz`` (pickled object arrays refused)."""
    try:
        # our own handle: numpy leaks the one it opens when the archive is corrupt
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - zip, zlib, npy-header errors: all a bad file
        what = "holds pickled objects; refusing" if "allow_pickle" in str(exc) else "unreadable"
        raise ModelFileError(
            f"{path}: not a readable .npz model file ({what}: {type(exc).__name__}: {exc})"
        ) from None


# Expected rank and dtype kind of every array a model file may hold ("f": any real number,
# "i": integers). Strings (gender, model_id, landmarks JSON) are checked where they are used.
_ARRAY_SPECS = {
    "v_template": (2, "f"), "shapedirs": (3, "f"), "posedirs": (3, "f"),
    "J_regressor": (2, "f"), "weights": (2, "f"), "f": (2, "i"), "kintree_table": (2, "i"),
    "parents": (1, "i"), "vt": (2, "f"), "ft": (2, "i"),
}  # fmt: skip
# Rows of the skinning weights and of the joint regressor are convex / affine combinations:
# they sum to 1 (SMPL's files to float32 precision, ~1e-7); the bound leaves room for files
# stored at lower precision while refusing a damaged row.
_ROW_SUM_TOL = 1e-3
_F32_MAX = float(np.finfo(np.float32).max)


def _check_kinds(arrays: dict, source: str) -> None:
    """Every known array has the expected rank and a numeric dtype (before any indexing)."""
    for key, (ndim, kind) in _ARRAY_SPECS.items():
        if key not in arrays:
            continue
        a = arrays[key]
        kinds = "iu" if kind == "i" else "iuf"
        if not isinstance(a, np.ndarray) or a.dtype.kind not in kinds or a.ndim != ndim:
            what = "integer" if kind == "i" else "real"
            found = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
            raise ModelFileError(f"{source}: {key} must be a {ndim}-D {what} array, found {found}")
    for key in ("gender", "model_id", "landmarks"):
        if key in arrays and not (
            isinstance(arrays[key], (str, bytes))
            or (np.asarray(arrays[key]).ndim == 0 and np.asarray(arrays[key]).dtype.kind in "US")
        ):
            raise ModelFileError(f"{source}: {key} must be a string")


def _num_joints(arrays: dict) -> int | None:
    if "kintree_table" in arrays:
        return int(np.asarray(arrays["kintree_table"]).shape[-1])
    if "J_regressor" in arrays:
        return int(np.asarray(arrays["J_regressor"]).shape[0])
    return None


def _finite32(a: np.ndarray) -> bool:
    """All values finite, also once stored as float32 (no overflow to inf)."""
    a = np.asarray(a, np.float64)
    return bool(np.all(np.isfinite(a)) and np.all(np.abs(a) <= _F32_MAX))


def _check_shapes(arrays: dict, V: int, source: str) -> None:
    """Every array's shape agrees with the vertex count V and SMPL's 24 joints."""
    expect = {
        "v_template": "(V, 3)", "J_regressor": f"({NUM_JOINTS}, V)",
        "weights": f"(V, {NUM_JOINTS})", "f": "(F, 3) with F >= 1",
        "kintree_table": f"(2, {NUM_JOINTS})", "parents": f"({NUM_JOINTS},)",
        "shapedirs": "(V, 3, NB) with NB >= 1", "posedirs": f"(V, 3, {NUM_POSE_FEATURES})",
        "vt": "(T, 2)", "ft": "(F, 3), F as in f",
    }  # fmt: skip
    F = arrays["f"].shape[0]
    ok = {
        "v_template": lambda s: s == (V, 3) and V >= 1,
        "J_regressor": lambda s: s == (NUM_JOINTS, V),
        "weights": lambda s: s == (V, NUM_JOINTS),
        "f": lambda s: s[1:] == (3,) and s[0] >= 1,
        "kintree_table": lambda s: s == (2, NUM_JOINTS),
        "parents": lambda s: s == (NUM_JOINTS,),
        "shapedirs": lambda s: s[:2] == (V, 3) and s[2] >= 1,
        "posedirs": lambda s: s == (V, 3, NUM_POSE_FEATURES),
        "vt": lambda s: s[1:] == (2,),
        "ft": lambda s: s == (F, 3),
    }
    for key, test in ok.items():
        if key in arrays and not test(arrays[key].shape):
            raise ModelFileError(
                f"{source}: {key} has shape {arrays[key].shape}, expected {expect[key]} "
                f"(V = {V} vertices)"
            )
    if ("vt" in arrays) != ("ft" in arrays):
        raise ModelFileError(f"{source}: texture coordinates need both vt and ft")


def _check_values(arrays: dict, V: int, source: str) -> None:
    """Finite real arrays, face / texture indices in range, weight and regressor rows that sum
    to 1."""
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "vt"):
        if key in arrays and not _finite32(arrays[key]):
            raise ModelFileError(f"{source}: {key} holds NaN, inf or values beyond float32")
    indexed = {"f": ("vertices", V)}
    if "ft" in arrays:
        indexed["ft"] = ("texture coordinates", arrays["vt"].shape[0])
    for key, (what, n) in indexed.items():
        a = arrays[key]
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ModelFileError(
                f"{source}: {key} indexes {what} {int(a.min())}..{int(a.max())}; the model "
                f"has {n} {what} (expected indices 0..{n - 1})"
            )
    w = np.asarray(arrays["weights"], np.float64)
    if w.min() < -_ROW_SUM_TOL or np.max(np.abs(w.sum(1) - 1.0)) > _ROW_SUM_TOL:
        raise ModelFileError(
            f"{source}: skinning weights must be non-negative with rows summing to 1 "
            f"(+-{_ROW_SUM_TOL}); found row sums {w.sum(1).min():.4g}..{w.sum(1).max():.4g}"
        )
    r = np.asarray(arrays["J_regressor"], np.float64).sum(1)
    if np.max(np.abs(r - 1.0)) > _ROW_SUM_TOL:
        raise ModelFileError(
            f"{source}: J_regressor rows must sum to 1 (+-{_ROW_SUM_TOL}), found "
            f"{r.min():.4g}..{r.max():.4g}"
        )
    if "landmarks" in arrays:
        _check_landmarks(arrays["landmarks"], V, source)


def _finite_number(x) -> bool:
    """A JSON number that is finite as a float (bools and huge integers refused)."""
    if type(x) is int:
        return abs(x) <= _F32_MAX
    return type(x) is float and bool(np.isfinite(x))


def _check_landmarks(value, V: int, source: str) -> None:
    """``landmarks``: JSON ``{name: {"vertices": [ids], "weights": [floats]}}``, ids < V."""
    text = value.decode("latin1") if isinstance(value, bytes) else str(np.asarray(value))
    try:
        spec = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{source}: landmarks is not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise ModelFileError(f"{source}: landmarks must be a JSON object")
    for name, d in spec.items():
        ids = d.get("vertices") if isinstance(d, dict) else None
        ws = d.get("weights") if isinstance(d, dict) else None
        good = (
            isinstance(ids, list)
            and isinstance(ws, list)
            and len(ids) == len(ws) >= 1
            and all(type(i) is int and 0 <= i < V for i in ids)
            and all(_finite_number(x) for x in ws)
        )
        if not good:
            raise ModelFileError(
                f"{source}: landmark {name!r} must hold 'vertices' (ids 0..{V - 1}) and as "
                "many finite 'weights'"
            )


def identify(arrays: dict, source: str = "file") -> str:
    """Check arrays form a valid SMPL-layout model; return "SMPL" (6,890 vertices) or
    "SMPL-layout".

    Checks the family (24 joints, SMPL's kinematic tree), every array's dtype and shape against
    the vertex count, finite values (also in float32), face / texture indices in range,
    skinning-weight and joint-regressor rows summing to 1 and the landmark table.

    Raises:
      ModelFileError naming what the file looks like (SMPL-H, SMPL-X, MANO, FLAME, not a body
      model) or what is wrong, and what was expected.
    """
    expected = "an SMPL-layout body model (24 joints, SMPL's kinematic tree)"
    _check_kinds(arrays, source)
    missing = [k for k in _REQUIRED if k not in arrays]
    V = arrays["v_template"].shape[0] if "v_template" in arrays else None
    J = _num_joints(arrays)
    family = _KNOWN_FAMILIES.get((V, J))
    if any(k.startswith("hands_") for k in arrays) and family is None:
        family = "MANO" if V == 778 else "SMPL-H"
    if family not in (None, "SMPL"):
        raise ModelFileError(f"{source} is a {family} model; expected {expected}")
    if "kintree_table" not in arrays and "parents" not in arrays:
        missing.append("kintree_table (or parents)")
    if missing:
        raise ModelFileError(
            f"{source} is not a body-model file: missing {missing} (found keys "
            f"{sorted(arrays)[:12]}); expected {expected}"
        )
    if J != NUM_JOINTS:
        raise ModelFileError(f"{source} is a body model with {J} joints; expected {expected}")
    _check_shapes(arrays, V, source)
    parents = arrays["kintree_table"][0] if "kintree_table" in arrays else arrays.get("parents")
    if parents is not None and tuple(int(p) for p in parents[1:]) != SMPL_PARENTS[1:]:
        raise ModelFileError(
            f"{source} has 24 joints but not SMPL's kinematic tree; expected {expected}"
        )
    _check_values(arrays, V, source)
    return "SMPL" if V == 6890 else "SMPL-layout"


def _gender_from(arrays: dict, path: Path) -> str | None:
    if "gender" in arrays:
        g = str(np.asarray(arrays["gender"])).lower()
        if g in GENDERS:
            return g
    name = path.name.lower()
    if "neutral" in name:
        return "neutral"
    if "female" in name or re.search(r"(^|[_\-.])f([_\-.]|$)", name):
        return "female"
    if "male" in name or re.search(r"(^|[_\-.])m([_\-.]|$)", name):
        return "male"
    return None


def _resolve(path: Path, gender: str) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        g = gender.upper()
        short = {"neutral": "neutral", "male": "m", "female": "f"}[gender]
        candidates = [
            path / f"SMPL_{g}.pkl", path / f"SMPL_{g}.npz", path / "smpl" / f"SMPL_{g}.pkl",
            path / "smpl" / f"SMPL_{g}.npz",
            *sorted(path.glob(f"basic[Mm]odel_{short}_lbs_*.pkl")),
        ]  # fmt: skip
        for c in candidates:
            if c.is_file():
                return c
        raise FileNotFoundError(
            f"no {gender} SMPL model in {path}: looked for SMPL_{g}.pkl/.npz (also under smpl/) "
            f"and basicModel_{short}_lbs_*.pkl"
        )
    raise FileNotFoundError(f"body model file not found: {path}")


def read_model_file(path: str | os.PathLike) -> dict:
    """Read any supported model file into a dict of numpy arrays (no validation)."""
    path = Path(path)
    head = path.read_bytes()[:4]
    if head.startswith(b"PK"):
        return read_npz(path)
    return read_pickle(path)


def _file_id(path: Path) -> str:
    h = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"{path.stem}:{h}"


def load_body_model(
    path: str | os.PathLike | None = None,
    gender: str | None = "neutral",
    num_betas: int | None = 10,
) -> BodyModel:
    """Load a body model.

    Args:
      path: ``None`` for the shipped open model; a model file (``.pkl`` / ``.npz``); or a folder
        holding ``SMPL_{GENDER}.pkl`` (smplx's layout) or ``basicModel_{f,m,neutral}_lbs_*.pkl``.
      gender: "neutral", "male" or "female". Picks the file in a folder; for a file it must
        match the gender the file declares (or its name says), else an error is raised. ``None``
        accepts whatever the file is.
      num_betas: number of shape components to keep (<= the number stored; ``None`` = all).

    Returns:
      A :class:`~jaxrefine.body_model.BodyModel`. For real SMPL files (6,890 vertices) the
      landmarks are smplx's vertex ids.

    Raises:
      FileNotFoundError, ModelFileError (wrong family, missing arrays, wrong gender), ValueError.
    """
    if gender is not None and gender.lower() not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS} or None, got {gender!r}")
    gender = None if gender is None else gender.lower()
    if path is None:
        if gender not in (None, "neutral"):
            raise ModelFileError(
                f"gender {gender!r}: the shipped open body model is gender-neutral; a {gender} "
                "body needs an SMPL model file of your own (--model FILE on the command line, "
                "path=... in Python)"
            )
        if not OPEN_MODEL_PATH.is_file():
            raise FileNotFoundError(
                f"the shipped open body model is missing ({OPEN_MODEL_PATH}); reinstall jaxrefine "
                "or build it with scripts/build_open_body_model.py"
            )
        path = OPEN_MODEL_PATH
    path = _resolve(Path(path), gender or "neutral")
    arrays = read_model_file(path)
    family = identify(arrays, source=str(path))
    found = _gender_from(arrays, path)
    if gender is not None and found is not None and found != gender:
        raise ModelFileError(
            f"{path} is a {found} model but gender={gender!r} was asked for; pass "
            f"gender={found!r} (or None)"
        )
    if "model_id" in arrays:
        model_id = str(np.asarray(arrays["model_id"]))
    else:
        model_id = _file_id(path)
    if family == "SMPL" and "landmarks" not in arrays:
        from jaxrefine.keypoints import SMPL_LANDMARKS

        arrays["landmarks"] = json.dumps(
            {
                l.name: {"vertices": list(l.vertices), "weights": list(l.weights)}
                for l in SMPL_LANDMARKS
            }
        )
    return from_arrays(
        arrays, model_id=model_id, gender=found or gender or "neutral", num_betas=num_betas
    )


def to_npz_arrays(arrays: dict, *, model_id: str, gender: str) -> dict:
    """Plain-numpy arrays in jaxrefine's npz schema (float32 / int32, posedirs kept if non-zero)."""
    out = {
        "v_template": np.asarray(arrays["v_template"], np.float32),
        "shapedirs": np.asarray(arrays["shapedirs"], np.float32),
        "J_regressor": np.asarray(arrays["J_regressor"], np.float32),
        "weights": np.asarray(arrays["weights"], np.float32),
        "f": np.asarray(arrays["f"], np.int32),
        "kintree_table": np.stack([np.array((-1,) + SMPL_PARENTS[1:]), np.arange(24)]).astype(
            np.int64
        ),
        "model_type": np.array("smpl"),
        "gender": np.array(gender),
        "model_id": np.array(model_id),
    }
    if "posedirs" in arrays and np.any(arrays["posedirs"]):
        out["posedirs"] = np.asarray(arrays["posedirs"], np.float32)
    for k in ("vt", "ft", "landmarks"):
        if k in arrays:
            out[k] = np.asarray(arrays[k])
    return out


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    gender: str | None = None,
    uv: str | os.PathLike | None = None,
) -> Path:
    """Convert a model file (e.g. an official chumpy pickle) to a plain-numpy ``.npz``.

    The output loads with :func:`load_body_model` and with ``numpy.load`` (no pickles inside).
    ``uv``: an OBJ file of the model's faces whose texture coordinates become the model's UV
    layout (``vt``, ``ft``; :mod:`jaxrefine.uv_layout`), which synthetic scenes need; it
    replaces a layout the file has. The source and the converted float32 / int32 arrays are
    validated (:func:`identify`) before anything is written; the file is then written
    atomically (a temporary file renamed into place), so a failure leaves no output behind.

    Raises:
      FileNotFoundError, ModelFileError (see :func:`identify`; also a gender mismatch and a
      folder as ``src``), UVLayoutError (:func:`jaxrefine.uv_layout.read_uv_obj`).
    """
    src, dst = Path(src), Path(dst)
    if src.is_dir():  # load_body_model finds SMPL's file in a folder; convert takes the file
        raise ModelFileError(f"{src} is a folder: convert takes one model file (e.g. "
                             "SMPL_NEUTRAL.pkl)")  # fmt: skip
    if not src.is_file():
        raise FileNotFoundError(f"body model file not found: {src}")
    arrays = read_model_file(src)
    identify(arrays, source=str(src))
    if uv is not None:
        from jaxrefine.uv_layout import read_uv_obj

        vt, ft = read_uv_obj(uv, arrays["f"])
        arrays = {**arrays, "vt": vt, "ft": ft}
    found = _gender_from(arrays, src) or gender or "neutral"
    if gender is not None and found != gender:
        raise ModelFileError(f"{src} is a {found} model, not {gender}")
    model_id = str(np.asarray(arrays["model_id"])) if "model_id" in arrays else _file_id(src)
    out = to_npz_arrays(arrays, model_id=model_id, gender=found)
    identify(out, source=f"{src} (as float32 / int32)")
    from jaxrefine.files import atomic_savez

    return atomic_savez(dst, out)


def convert_main(argv: list[str]) -> int:
    """``jaxrefine convert SRC DST.npz [--gender G] [--uv UV.obj]``."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="jaxrefine convert",
        description="Convert an SMPL model file (.pkl with or without chumpy, or .npz) to a "
        "plain-numpy .npz that needs neither chumpy nor pickle.",
    )
    ap.add_argument("src")
    ap.add_argument("dst", type=output_file_arg)
    ap.add_argument("--gender", choices=GENDERS, default=None)
    ap.add_argument("--uv", default=None, metavar="UV.obj",
                    help="an OBJ mesh of the model's faces with texture coordinates (SMPL's UV "
                         "map, e.g. smpl_uv.obj): stored as the model's UV layout, which "
                         "synthetic scenes (oracle, eval, eval-video, training) need")  # fmt: skip
    args = ap.parse_args(argv)
    try:
        out = convert(args.src, args.dst, gender=args.gender, uv=args.uv)
    except (ValueError, OSError) as exc:  # ModelFileError, FileNotFoundError, unwritable dst
        print(f"jaxrefine convert: error: {exc}", file=sys.stderr)  # the CLI's one-line form
        return 2
    model = load_body_model(out, gender=None, num_betas=None)
    print(f"wrote {out}: {model.describe()}")
    if model.vt is not None:
        source = f" from {args.uv}" if args.uv else ""
        print(f"UV layout: {len(model.vt)} texture coordinates{source}")
    return 0
