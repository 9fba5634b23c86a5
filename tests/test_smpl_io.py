"""Reading SMPL files without chumpy, format detection, clear errors, and conversion."""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse

import jaxrefine
from jaxrefine.body_model import forward
from jaxrefine.smpl_io import ModelFileError, convert, convert_main, load_body_model


def _chumpy_standin():
    """A module named ``chumpy.ch`` whose ``Ch`` pickles the way chumpy's does: as an object
    whose state dict keeps the array under ``x`` (plus bookkeeping)."""
    pkg = types.ModuleType("chumpy")
    ch = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

        def __getstate__(self):
            return {"x": self.x, "_dirty_vars": self._dirty_vars, "terms": ["x"]}

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    ch.Ch = Ch
    pkg.ch = ch
    return pkg, ch


def _write_official_style_pickle(path, arrays, gender_key=None):
    """Write an SMPL-style pickle: shapedirs/v_template as chumpy objects, J_regressor sparse."""
    pkg, ch = _chumpy_standin()
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = pkg, ch
    try:
        obj = dict(arrays)
        obj["shapedirs"] = ch.Ch(arrays["shapedirs"])
        obj["v_template"] = ch.Ch(arrays["v_template"])
        obj["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
        obj["kintree_table"] = arrays["kintree_table"].copy()
        obj["kintree_table"][0, 0] = 4294967295  # the official files' unsigned "-1"
        obj["bs_style"] = "lbs"
        if gender_key:
            obj["gender"] = gender_key
        with open(path, "wb") as fh:
            pickle.dump(obj, fh, protocol=2)  # Python 2's cPickle highest protocol
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]


def test_reads_chumpy_pickle_without_chumpy(tmp_path, smpl_size_arrays):
    with pytest.raises(ImportError):
        __import__("chumpy")  # the point: chumpy is not importable here
    p = tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    _write_official_style_pickle(p, smpl_size_arrays)
    m = load_body_model(p, num_betas=10)
    assert m.gender == "neutral" and m.num_vertices == 6890 and m.num_betas == 10
    assert m.parents[0] == -1
    np.testing.assert_allclose(m.J_regressor, smpl_size_arrays["J_regressor"], atol=1e-7)
    # stored coefficient first: (NB, V * 3), see BodyModel
    shapedirs = np.asarray(m.shapedirs).T.reshape(6890, 3, 10)
    np.testing.assert_allclose(shapedirs, smpl_size_arrays["shapedirs"], atol=1e-7)
    # SMPL files get smplx's landmark vertices, so BODY_25 works
    out = forward(m, np.zeros((24, 3), np.float32), np.zeros(10, np.float32))
    assert out.keypoints("body25").shape == (25, 3)


def test_gender_and_betas_detection(tmp_path):
    from conftest import make_smpl_size_arrays

    arrays = make_smpl_size_arrays(seed=1, num_betas=300, posedirs=False)
    d = tmp_path / "models"
    (d / "smpl").mkdir(parents=True)
    _write_official_style_pickle(d / "smpl" / "SMPL_FEMALE.pkl", arrays)
    m = load_body_model(d, gender="female", num_betas=None)  # v1.1-style: 300 betas
    assert m.gender == "female" and m.num_betas == 300
    assert load_body_model(d, gender="female", num_betas=16).num_betas == 16
    with pytest.raises(ValueError, match="300 shape components"):
        load_body_model(d, gender="female", num_betas=400)
    with pytest.raises(FileNotFoundError, match="no male SMPL model"):
        load_body_model(d, gender="male")
    with pytest.raises(ModelFileError, match="female model but gender='neutral'"):
        load_body_model(d / "smpl" / "SMPL_FEMALE.pkl", gender="neutral")
    p = tmp_path / "basicmodel_m_lbs_10_207_0_v1.1.0.pkl"
    _write_official_style_pickle(p, make_smpl_size_arrays(seed=2, posedirs=False))
    assert load_body_model(p, gender=None).gender == "male"


def _save_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "family,V,J,extra",
    [
        ("SMPL-H", 6890, 52, {"hands_componentsl": np.zeros((45, 45))}),
        ("SMPL-X", 10475, 55, {}),
        ("MANO", 778, 16, {"hands_components": np.zeros((45, 45))}),
        ("FLAME", 5023, 5, {}),
    ],
)
def test_refuses_other_families_by_name(tmp_path, family, V, J, extra):
    arrays = {
        "v_template": np.zeros((V, 3)),
        "shapedirs": np.zeros((V, 3, 10)),
        "J_regressor": np.zeros((J, V)),
        "weights": np.zeros((V, J)),
        "f": np.zeros((10, 3), np.int32),
        "kintree_table": np.zeros((2, J), np.int64),
        **extra,
    }
    p = _save_npz(tmp_path / f"{family}.npz", **arrays)
    with pytest.raises(ModelFileError, match=f"is a {family} model; expected an SMPL-layout"):
        load_body_model(p, gender=None)


def test_refuses_unrelated_files(tmp_path):
    p = _save_npz(tmp_path / "weights.npz", conv1=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a body-model file: missing"):
        load_body_model(p, gender=None)
    p = tmp_path / "list.pkl"
    p.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ModelFileError, match="expected a pickled dict"):
        load_body_model(p, gender=None)
    p = tmp_path / "garbage.pkl"
    p.write_bytes(b"not a pickle at all")
    with pytest.raises(ModelFileError, match="not a readable pickle"):
        load_body_model(p, gender=None)
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"v_template": types.SimpleNamespace()}))
    with pytest.raises(ModelFileError, match="types.SimpleNamespace"):
        load_body_model(p, gender=None)
    with pytest.raises(FileNotFoundError):
        load_body_model(tmp_path / "nope.pkl")
    with pytest.raises(ValueError, match="gender must be one of"):
        load_body_model(gender="robot")
    with pytest.raises(ModelFileError, match="gender-neutral"):
        load_body_model(gender="male")


def test_refuses_wrong_tree_and_shapes(tmp_path, smpl_size_arrays):
    bad = dict(smpl_size_arrays)
    kt = bad["kintree_table"].copy()
    kt[0, 5] = 3
    bad["kintree_table"] = kt
    with pytest.raises(ModelFileError, match="kinematic tree"):
        load_body_model(_save_npz(tmp_path / "a.npz", **bad), gender=None)
    bad = dict(smpl_size_arrays, posedirs=np.zeros((6890, 3, 10)))
    with pytest.raises(ModelFileError, match="posedirs has shape"):
        load_body_model(_save_npz(tmp_path / "b.npz", **bad), gender=None)


def test_convert_roundtrip(tmp_path, smpl_size_arrays, capsys):
    src = tmp_path / "SMPL_MALE.pkl"
    _write_official_style_pickle(src, smpl_size_arrays)
    dst = tmp_path / "out" / "smpl_male.npz"
    assert convert_main([str(src), str(dst)]) == 0
    assert "wrote" in capsys.readouterr().out
    with np.load(dst, allow_pickle=False) as z:  # plain numpy, no pickles
        assert str(z["gender"]) == "male" and z["posedirs"].shape == (6890, 3, 207)
    a = load_body_model(src, gender="male")
    b = load_body_model(dst, gender="male")
    assert a.model_id == b.model_id
    pose = np.random.default_rng(0).normal(0, 0.4, (24, 3)).astype(np.float32)
    betas = np.ones(10, np.float32)
    np.testing.assert_array_equal(
        forward(a, pose, betas).vertices, forward(b, pose, betas).vertices
    )
    assert convert_main([str(tmp_path / "missing.pkl"), str(dst)]) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit, match="2"):  # a folder: once a temporary file beside the
        convert_main([str(src), str(tmp_path)])  # folder, then "[Errno 21] Is a directory"
    assert f"argument dst: {tmp_path} is a folder, not a file" in capsys.readouterr().err
    with pytest.raises(ModelFileError):
        convert(src, tmp_path / "x.npz", gender="female")


def test_public_api_names():
    assert callable(jaxrefine.load_body_model) and callable(jaxrefine.body_model.forward)


def _broken(arrays, key, edit):
    out = dict(arrays)
    out[key] = edit(np.array(arrays[key]))
    return out


def _set(a, index, value):
    a = a.astype(np.float64) if np.isnan(value) or np.isinf(value) else a
    a[index] = value
    return a


_BROKEN_MODELS = {
    "nan vertex": ("v_template", lambda a: _set(a, (5, 1), np.nan), "v_template holds NaN"),
    "inf shapedirs": ("shapedirs", lambda a: _set(a, (0, 0, 0), -np.inf), "shapedirs holds NaN"),
    "beyond float32": ("posedirs", lambda a: _set(a, (1, 2, 3), 1e39), "beyond float32"),
    "face index >= V": ("f", lambda a: _set(a, (7, 2), 6890), r"f indexes vertices 0\.\.6890"),
    "negative face index": ("f", lambda a: _set(a, (0, 0), -1), r"expected indices 0\.\.6889"),
    "23-joint regressor": ("J_regressor", lambda a: a[:23], r"J_regressor has shape \(23, 6890\)"),
    "float faces": ("f", lambda a: a.astype(np.float32), "f must be a 2-D integer array"),
    "weights not summing to 1": ("weights", lambda a: a * 1.5, "rows summing to 1"),
    "regressor not summing to 1": ("J_regressor", lambda a: a * 0.5, "J_regressor rows"),
    "string array": ("v_template", lambda a: np.array("abc"), "v_template must be a 2-D real"),
}


@pytest.mark.parametrize("case", sorted(_BROKEN_MODELS))
def test_refuses_broken_arrays_naming_the_file(tmp_path, smpl_size_arrays, case):
    key, edit, message = _BROKEN_MODELS[case]
    p = _save_npz(tmp_path / "broken.npz", **_broken(smpl_size_arrays, key, edit))
    with pytest.raises(ModelFileError, match=str(p) + ".*" + message):
        load_body_model(p, gender=None)


def test_refuses_bad_landmarks(tmp_path, smpl_size_arrays):
    import json

    for spec, message in [
        ("{not json", "not valid JSON"),
        (json.dumps({"nose": {"vertices": [9999], "weights": [1.0]}}), "landmark 'nose'"),
        (json.dumps({"nose": {"vertices": [1, 2], "weights": [1.0]}}), "landmark 'nose'"),
    ]:
        p = _save_npz(tmp_path / "lm.npz", **smpl_size_arrays, landmarks=np.array(spec))
        with pytest.raises(ModelFileError, match=message):
            load_body_model(p, gender=None)


def test_protocol2_pickle_with_empty_arrays_loads(tmp_path, smpl_size_arrays):
    """Official files hold empty arrays; protocol 2 pickles their data as ``bytes()``."""
    p = tmp_path / "SMPL_NEUTRAL.pkl"
    p.write_bytes(pickle.dumps(dict(smpl_size_arrays, J=np.zeros((0, 3))), protocol=2))
    assert b"__builtin__\nbytes" in p.read_bytes()
    assert load_body_model(p, num_betas=None).num_vertices == 6890


class _CallsSaveNpz:
    def __reduce__(self):
        return scipy.sparse.save_npz, ("/nonexistent/x.npz", scipy.sparse.eye(2).tocsr())


def test_pickle_refuses_sparse_functions_and_corrupt_sparse_matrices(tmp_path, smpl_size_arrays):
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps(dict(smpl_size_arrays, x=_CallsSaveNpz()), protocol=2))
    with pytest.raises(ModelFileError, match=f"{p}.*save_npz.*refusing"):
        load_body_model(p, gender=None)
    # out-of-range indices in a CSC regressor made scipy read out of bounds (a crash)
    reg = scipy.sparse.csc_matrix(smpl_size_arrays["J_regressor"])
    reg.indices[3] = 10**6
    p = tmp_path / "corrupt.pkl"
    p.write_bytes(pickle.dumps(dict(smpl_size_arrays, J_regressor=reg), protocol=2))
    with pytest.raises(ModelFileError, match=f"{p}.*'J_regressor'.*indices"):
        load_body_model(p, gender=None)


def test_convert_validates_before_writing(tmp_path, smpl_size_arrays):
    out_dir = tmp_path / "out"
    for name, arrays in [
        ("nan.npz", _broken(smpl_size_arrays, "v_template", lambda a: _set(a, (0, 0), np.nan))),
        ("f32.npz", _broken(smpl_size_arrays, "shapedirs", lambda a: _set(a, (0, 0, 0), 1e39))),
    ]:
        src = _save_npz(tmp_path / name, **arrays)
        with pytest.raises(ModelFileError, match=str(src)):
            convert(src, out_dir / "converted.npz")
        assert not out_dir.exists() or not list(out_dir.iterdir())  # no output, no temp file
    assert convert_main([str(src), str(out_dir / "converted.npz")]) == 2
    # a folder (as --model takes): named as one, not "body model file not found"
    with pytest.raises(ModelFileError, match=f"{tmp_path} is a folder: convert takes one model"):
        convert(tmp_path, out_dir / "converted.npz")


def test_refuses_missing_kinematic_tree(tmp_path, smpl_size_arrays):
    arrays = {k: v for k, v in smpl_size_arrays.items() if k != "kintree_table"}
    p = _save_npz(tmp_path / "no_tree.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"missing \['kintree_table \(or parents\)'\]"):
        load_body_model(p, gender=None)


def test_pickle_memory_bombs_refused_before_unpickling(tmp_path):
    """Opcode arguments that would make the unpickler allocate gigabytes are refused."""
    memo_bomb = b"\x80\x02}r" + (4_000_000_000).to_bytes(4, "little") + b"."
    # {"v_template": bytes(10**9)}: PROTO 2, EMPTY_DICT, MARK, BINUNICODE, GLOBAL, BININT,
    # TUPLE1, REDUCE, SETITEMS, STOP
    zeros = (b"\x80\x02}(X\x0a\x00\x00\x00v_templatec__builtin__\nbytes\n"
             b"J\x00\xca\x9a;\x85Ru.")  # fmt: skip
    for name, raw, message in [
        ("memo.pkl", memo_bomb, "memo entry at index 4000000000"),
        ("zeros.pkl", zeros, r"bytes\(\) with arguments"),
        ("truncated.pkl", memo_bomb[:6], "malformed pickle stream"),
    ]:
        p = tmp_path / name
        p.write_bytes(raw)
        with pytest.raises(ModelFileError, match=f"{p}: .*{message}"):
            load_body_model(p, gender=None)
