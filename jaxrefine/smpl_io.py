"""Reading SMPL-layout model files: official SMPL pickles (without chumpy), SMPL ``.npz`` and
jaxrefine's own ``.npz``; and writing a plain-numpy ``.npz`` (``jaxrefine convert``).

Official SMPL pickles (v1.0.0 with 10 betas, v1.1.0 with 300; neutral/male/female) store some
arrays as chumpy ``Ch`` objects and the joint regressor as a scipy sparse matrix. chumpy does not
import on modern numpy, so :class:`_SafeUnpickler` replaces chumpy's classes by a stand-in that
keeps the pickled state and reads the array out of it. It also refuses every class that is not
an array, a sparse matrix or a plain container, so loading a model file cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
from pathlib import Path

import numpy as np

from jaxrefine.body_model import NUM_JOINTS, NUM_POSE_FEATURES, SMPL_PARENTS, BodyModel, from_arrays

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


class ModelFileError(ValueError):
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
        *((m, n) for m in ("builtins", "__builtin__") for n in ("set", "frozenset", "slice")),
    }  # fmt: skip

    def find_class(self, module, name):
        if module == "chumpy" or module.startswith("chumpy."):
            return _stub_for(module, name)
        if module.startswith("scipy.sparse"):
            import scipy.sparse

            if hasattr(scipy.sparse, name):
                return getattr(scipy.sparse, name)
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


def _to_numpy(value):
    if isinstance(value, _ChumpyStub):
        return value.to_numpy()
    if hasattr(value, "toarray") and hasattr(value, "tocsr"):  # scipy sparse
        return np.asarray(value.toarray())
    if isinstance(value, (str, bytes)):
        return value
    return np.asarray(value)


def read_pickle(path: str | os.PathLike) -> dict:
    """Read a model pickle (Python 2 or 3, with or without chumpy objects) into numpy arrays."""
    raw = Path(path).read_bytes()
    try:
        obj = _SafeUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ModelFileError(f"{path}: not a readable pickle ({exc})") from exc
    if not isinstance(obj, dict):
        raise ModelFileError(
            f"{path}: expected a pickled dict of model arrays, found {type(obj).__name__}"
        )
    return {k: _to_numpy(v) for k, v in obj.items()}


def read_npz(path: str | os.PathLike) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        raise ModelFileError(f"{path}: npz holds pickled objects; refusing ({exc})") from exc
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"{path}: not a readable .npz file ({exc})") from exc


def _num_joints(arrays: dict) -> int | None:
    if "kintree_table" in arrays:
        return int(np.asarray(arrays["kintree_table"]).shape[-1])
    if "J_regressor" in arrays:
        return int(np.asarray(arrays["J_regressor"]).shape[0])
    return None


def identify(arrays: dict, source: str = "file") -> str:
    """Check arrays form an SMPL-layout model; return "SMPL" (6,890 vertices) or "SMPL-layout".

    Raises:
      ModelFileError naming what the file looks like (SMPL-H, SMPL-X, MANO, FLAME, not a body
      model) and what was expected.
    """
    expected = "an SMPL-layout body model (24 joints, SMPL's kinematic tree)"
    missing = [k for k in _REQUIRED if k not in arrays]
    V = np.asarray(arrays["v_template"]).shape[0] if "v_template" in arrays else None
    J = _num_joints(arrays)
    family = _KNOWN_FAMILIES.get((V, J))
    if any(k.startswith("hands_") for k in arrays) and family is None:
        family = "MANO" if V == 778 else "SMPL-H"
    if family not in (None, "SMPL"):
        raise ModelFileError(f"{source} is a {family} model; expected {expected}")
    if missing:
        raise ModelFileError(
            f"{source} is not a body-model file: missing {missing} (found keys "
            f"{sorted(arrays)[:12]}); expected {expected}"
        )
    if J != NUM_JOINTS:
        raise ModelFileError(f"{source} is a body model with {J} joints; expected {expected}")
    parents = (
        np.asarray(arrays["kintree_table"])[0]
        if "kintree_table" in arrays
        else arrays.get("parents")
    )
    if parents is not None and tuple(int(p) for p in np.asarray(parents)[1:]) != SMPL_PARENTS[1:]:
        raise ModelFileError(
            f"{source} has 24 joints but not SMPL's kinematic tree; expected {expected}"
        )
    sd = np.asarray(arrays["shapedirs"])
    if sd.ndim != 3 or sd.shape[:2] != (V, 3):
        raise ModelFileError(f"{source}: shapedirs has shape {sd.shape}, expected ({V}, 3, NB)")
    if "posedirs" in arrays and np.asarray(arrays["posedirs"]).shape != (V, 3, NUM_POSE_FEATURES):
        raise ModelFileError(
            f"{source}: posedirs has shape {np.asarray(arrays['posedirs']).shape}, "
            f"expected ({V}, 3, {NUM_POSE_FEATURES})"
        )
    if np.asarray(arrays["weights"]).shape != (V, NUM_JOINTS):
        raise ModelFileError(f"{source}: weights must be ({V}, 24)")
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
                "the shipped open body model is gender-neutral; pass path=... to load a "
                f"{gender} SMPL model of your own"
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


def convert(src: str | os.PathLike, dst: str | os.PathLike, gender: str | None = None) -> Path:
    """Convert a model file (e.g. an official chumpy pickle) to a plain-numpy ``.npz``.

    The output loads with :func:`load_body_model` and with ``numpy.load`` (no pickles inside).
    Written atomically (a temporary file renamed into place).
    """
    src, dst = Path(src), Path(dst)
    arrays = read_model_file(src)
    identify(arrays, source=str(src))
    found = _gender_from(arrays, src) or gender or "neutral"
    if gender is not None and found != gender:
        raise ModelFileError(f"{src} is a {found} model, not {gender}")
    model_id = str(np.asarray(arrays["model_id"])) if "model_id" in arrays else _file_id(src)
    out = to_npz_arrays(arrays, model_id=model_id, gender=found)
    from jaxrefine.files import atomic_savez

    return atomic_savez(dst, out)


def convert_main(argv: list[str]) -> int:
    """``jaxrefine convert SRC DST.npz [--gender G]``."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="jaxrefine convert",
        description="Convert an SMPL model file (.pkl with or without chumpy, or .npz) to a "
        "plain-numpy .npz that needs neither chumpy nor pickle.",
    )
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--gender", choices=GENDERS, default=None)
    args = ap.parse_args(argv)
    try:
        out = convert(args.src, args.dst, gender=args.gender)
    except (ModelFileError, FileNotFoundError) as exc:
        print(f"error: {exc}")
        return 2
    model = load_body_model(out, gender=None, num_betas=None)
    print(f"wrote {out}: {model.describe()}")
    return 0
