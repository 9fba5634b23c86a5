"""Every loader fails loudly and cleanly on bad input: hypothesis fuzzers over mutated files.

Each fuzzer starts from a small valid file of its format, applies one mutation (truncation,
byte flips, zeroed / inserted / deleted / duplicated runs, an empty file, another format's
content under the right extension; for text formats deleted / duplicated / swapped lines and
NaN / inf / huge numbers in place of a number; for array files NaN / inf / huge values,
dropped keys, wrong shapes, dtypes and index ranges), and loads the result. The load must
either succeed with content that passes an independent validity check, or raise the loader's
documented exception with the file named. Any other exception fails the test; so does a
warning (numpy overflow and the like), and a hang (hypothesis ``deadline``).

Runs are reproducible (``derandomize=True``). The number of examples tried and the outcomes
per loader are collected in ``STATS`` and printed at the end of the module (``pytest -s``).
"""

from __future__ import annotations

import collections
import io
import json
import pickle
import re
import tempfile
import warnings
import zipfile
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from jaxrefine.body_model import NUM_POSE_FEATURES, SMPL_PARENTS
from jaxrefine.data import asfamc, bvh, shards
from jaxrefine.io import ResultFileError, check_result, load_result, save_result
from jaxrefine.priors import PriorFileError, load_gmm
from jaxrefine.smpl_io import ModelFileError, convert, load_body_model

pytestmark = pytest.mark.filterwarnings("error")  # a loader that warns is a loader that failed

STATS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

# A hang shows as a deadline failure; the bound is generous for a loaded 2-core CI machine.
_FUZZ = settings(
    derandomize=True,
    deadline=timedelta(seconds=20),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

# ----------------------------------------------------------------------------- mutations
_SEEDS = st.integers(0, 2**32 - 1)
_BYTE_KINDS = ("truncate", "flip", "zero_run", "insert", "delete_run", "duplicate_run",
               "empty", "foreign")  # fmt: skip
_TEXT_KINDS = ("delete_line", "duplicate_line", "swap_lines", "number", "number", "truncate",
               "flip", "empty", "foreign", "duplicate_run")  # fmt: skip
_ARRAY_KINDS = ("nan", "inf", "huge", "drop_key", "truncate_axis", "transpose", "to_str",
                "to_object", "to_scalar", "to_int", "out_of_range", "scale_entry",
                "add_axis")  # fmt: skip
_BAD_NUMBERS = ("nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e400", "1e300", "-1e12",
                "99999999999999999999999999", "-0", "0", "1e-320", "", "x", "1.2.3")  # fmt: skip


def _foreign(rng) -> bytes:
    """Content of another format, as found under a wrong extension."""
    buf = io.BytesIO()
    np.savez(buf, conv1=np.zeros(3))
    choices = [
        buf.getvalue(),
        pickle.dumps([1, 2, 3], protocol=2),
        pickle.dumps({"means": "abc"}, protocol=2),
        json.dumps({"format": "x"}).encode(),
        _TWO_JOINTS.encode(),
        _ASF.encode(),
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
        bytes(rng.integers(0, 256, 64, dtype=np.uint8)),
        b"\xff\xfe\x00\x00binary",
    ]
    return choices[int(rng.integers(len(choices)))]


def mutate_bytes(data: bytes, kind: str, seed: int) -> bytes:
    """One byte-level mutation of ``data`` (see ``_BYTE_KINDS``)."""
    rng = np.random.default_rng(seed)
    n = len(data)
    i = int(rng.integers(0, n))
    run = int(rng.integers(1, 64))
    if kind == "truncate":
        return data[:i]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 5))):
            out[int(rng.integers(0, n))] ^= 1 << int(rng.integers(0, 8))
        return bytes(out)
    if kind == "zero_run":
        return data[:i] + bytes(len(data[i : i + run])) + data[i + run :]
    if kind == "insert":
        return data[:i] + bytes(rng.integers(0, 256, run, dtype=np.uint8)) + data[i:]
    if kind == "delete_run":
        return data[:i] + data[i + run :]
    if kind == "duplicate_run":
        return data[: i + run] + data[i : i + run] + data[i + run :]
    if kind == "empty":
        return b""
    if kind == "foreign":
        return _foreign(rng)
    raise AssertionError(kind)


def mutate_text(text: str, kind: str, seed: int) -> bytes:
    """One mutation of a text file (see ``_TEXT_KINDS``), as the bytes to write."""
    rng = np.random.default_rng(seed)
    lines = text.splitlines(keepends=True)
    k, m = (int(x) for x in rng.integers(0, len(lines), 2))
    if kind == "delete_line":
        return "".join(lines[:k] + lines[k + 1 :]).encode()
    if kind == "duplicate_line":
        return "".join(lines[: k + 1] + lines[k:]).encode()
    if kind == "swap_lines":
        lines[k], lines[m] = lines[m], lines[k]
        return "".join(lines).encode()
    if kind == "number":
        spans = [mt.span() for mt in re.finditer(r"-?\d+(\.\d+)?([eE]-?\d+)?", text)]
        a, b = spans[int(rng.integers(len(spans)))]
        bad = _BAD_NUMBERS[int(rng.integers(len(_BAD_NUMBERS)))]
        return (text[:a] + bad + text[b:]).encode()
    return mutate_bytes(text.encode(), kind, seed)


def mutate_arrays(arrays: dict, kind: str, seed: int) -> dict:
    """One mutation of one array of a dict of arrays (see ``_ARRAY_KINDS``)."""
    rng = np.random.default_rng(seed)
    keys = sorted(arrays)
    key = keys[int(rng.integers(len(keys)))]
    out = dict(arrays)
    a = np.asarray(arrays[key])
    flat = a.reshape(-1).copy() if a.size else a.reshape(-1)
    j = int(rng.integers(0, max(a.size, 1)))
    numeric = a.dtype.kind in "iuf" and a.size > 0
    if kind in ("nan", "inf", "huge") and numeric:
        value = {"nan": np.nan, "inf": -np.inf if seed % 2 else np.inf, "huge": 1e300}[kind]
        flat = flat.astype(np.float64)
        flat[j] = value
        out[key] = flat.reshape(a.shape)
    elif kind == "drop_key":
        del out[key]
    elif kind == "truncate_axis" and a.ndim:
        out[key] = a[: int(rng.integers(0, a.shape[0]))] if a.shape[0] else a
    elif kind == "transpose" and a.ndim >= 2:
        out[key] = np.swapaxes(a, 0, 1)
    elif kind == "to_str":
        out[key] = np.array(str(a.tolist())[:200])
    elif kind == "to_object":
        out[key] = np.array([a, "x"], dtype=object)
    elif kind == "to_scalar":
        out[key] = np.array(7.0)
    elif kind == "to_int" and a.dtype.kind == "f":
        out[key] = np.round(a).astype(np.int64)
    elif kind == "out_of_range" and numeric:
        flat[j] = flat.max() + int(rng.integers(1, 10)) if seed % 2 else -1 - int(seed % 7)
        out[key] = flat.reshape(a.shape)
    elif kind == "scale_entry" and numeric:
        flat = flat.astype(np.float64)
        flat[j] = flat[j] * 1e6 + 1.0
        out[key] = flat.reshape(a.shape)
    elif kind == "add_axis":
        out[key] = a[None]
    return out


def _npz_bytes(arrays: dict, compressed: bool) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _mutated_npz(arrays: dict, how: tuple, compressed: bool = True) -> bytes:
    """The bytes of a mutated ``.npz``: ``how`` = (layer, kind, seed)."""
    layer, kind, seed = how
    if layer == "arrays":
        return _npz_bytes(mutate_arrays(arrays, kind, seed), compressed)
    return mutate_bytes(_npz_bytes(arrays, compressed), kind, seed)


def _how(kinds_bytes=_BYTE_KINDS, kinds_arrays=_ARRAY_KINDS):
    return st.one_of(
        st.tuples(st.just("bytes"), st.sampled_from(kinds_bytes), _SEEDS),
        st.tuples(st.just("arrays"), st.sampled_from(kinds_arrays), _SEEDS),
    )


def _outcome(name: str, load, path: Path, errors, check) -> None:
    """Load ``path``: a documented error naming the file, or content that ``check`` accepts."""
    STATS[name]["examples"] += 1
    try:
        result = load(path)
    except errors as exc:
        assert str(path) in str(exc), f"{type(exc).__name__} does not name the file: {exc}"
        STATS[name]["refused"] += 1
        return
    check(result)
    STATS[name]["loaded valid"] += 1


@pytest.fixture(scope="module", autouse=True)
def _print_stats():
    yield
    print("\nfuzzed loaders: examples / refused with the documented error / loaded valid")
    for name, c in sorted(STATS.items()):
        print(f"  {name:24s} {c['examples']:4d} {c['refused']:4d} {c['loaded valid']:4d}")


# ----------------------------------------------------------------------------- body models
def _tiny_model_arrays(V: int = 30, F: int = 20, NB: int = 2) -> dict:
    """A valid SMPL-layout model with V vertices (24 joints, SMPL's tree), correctives,
    texture coordinates and a landmark table: every array the loader validates."""
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(24), V)
    J_reg = rng.dirichlet(np.ones(V), 24)
    kintree = np.stack([np.array((-1,) + SMPL_PARENTS[1:]), np.arange(24)]).astype(np.int64)
    landmarks = {"nose": {"vertices": [1, 2], "weights": [0.5, 0.5]}}
    return {
        "v_template": rng.normal(0, 0.3, (V, 3)),
        "shapedirs": rng.normal(0, 0.01, (V, 3, NB)),
        "posedirs": rng.normal(0, 0.01, (V, 3, NUM_POSE_FEATURES)),
        "J_regressor": J_reg,
        "weights": weights,
        "f": rng.integers(0, V, (F, 3)).astype(np.int32),
        "kintree_table": kintree,
        "vt": rng.uniform(0, 1, (V + 5, 2)),
        "ft": rng.integers(0, V + 5, (F, 3)).astype(np.int32),
        "landmarks": np.array(json.dumps(landmarks)),
        "model_id": np.array("tiny-test-model"),
        "gender": np.array("neutral"),
    }


_F32_MAX = float(np.finfo(np.float32).max)


def _check_model(m) -> None:
    """Independent validity check of a loaded BodyModel."""
    V = m.v_template.shape[0]
    assert m.v_template.shape == (V, 3) and V >= 1
    for a in (m.v_template, m.shapedirs, m.J_regressor, m.lbs_weights, m.posedirs, m.vt):
        if a is not None:
            assert np.all(np.isfinite(np.asarray(a)))
    assert m.J_regressor.shape == (24, V) and m.lbs_weights.shape == (V, 24)
    assert m.shapedirs.ndim == 2 and m.shapedirs.shape[1] == V * 3 and m.shapedirs.shape[0] >= 1
    faces = np.asarray(m.faces)
    assert faces.ndim == 2 and faces.shape[1] == 3 and faces.min() >= 0 and faces.max() < V
    np.testing.assert_allclose(np.asarray(m.lbs_weights).sum(1), 1.0, atol=2e-3)
    np.testing.assert_allclose(np.asarray(m.J_regressor).sum(1), 1.0, atol=2e-3)
    assert np.all(np.isfinite(np.asarray(m.joint_template)))
    for lm in m.landmarks:
        assert all(0 <= v < V for v in lm.vertices)
    if m.ft is not None:
        assert np.asarray(m.ft).max() < m.vt.shape[0]


def _load_model(path):
    return load_body_model(path, gender=None, num_betas=None)


def test_tiny_model_is_valid(tmp_path):
    """The fuzzers' starting points load (else every mutation would be 'refused')."""
    arrays = _tiny_model_arrays()
    p = tmp_path / "tiny.npz"
    p.write_bytes(_npz_bytes(arrays, True))
    _check_model(_load_model(p))
    p = tmp_path / "tiny.pkl"
    p.write_bytes(_model_pickle(arrays))
    _check_model(_load_model(p))


@settings(_FUZZ, max_examples=120)
@given(how=_how())
def test_fuzz_model_npz(tmp_path, how):
    p = tmp_path / "model.npz"
    p.write_bytes(_mutated_npz(_tiny_model_arrays(), how, compressed=how[2] % 2 == 0))
    _outcome("model .npz", _load_model, p, ModelFileError, _check_model)


def _model_pickle(arrays: dict) -> bytes:
    """An official-style protocol-2 pickle: sparse regressor, an empty array, plain strings."""
    obj = {k: (str(v) if np.asarray(v).dtype.kind == "U" else v) for k, v in arrays.items()}
    if "J_regressor" in obj and np.asarray(obj["J_regressor"]).ndim == 2:
        if np.asarray(obj["J_regressor"]).dtype.kind in "f":
            obj["J_regressor"] = scipy.sparse.csc_matrix(obj["J_regressor"])
    obj["bs_style"] = "lbs"
    obj["J"] = np.zeros((0, 3))  # empty arrays pickle their data as __builtin__.bytes()
    return pickle.dumps(obj, protocol=2)


@settings(_FUZZ, max_examples=80)
@given(how=_how())
def test_fuzz_model_pickle(tmp_path, how):
    layer, kind, seed = how
    arrays = _tiny_model_arrays()
    if layer == "arrays":
        data = _model_pickle(mutate_arrays(arrays, kind, seed))
    else:
        data = mutate_bytes(_model_pickle(arrays), kind, seed)
    p = tmp_path / "model.pkl"
    p.write_bytes(data)
    _outcome("model .pkl", _load_model, p, ModelFileError, _check_model)


@settings(_FUZZ, max_examples=40)
@given(how=_how())
def test_fuzz_convert_writes_nothing_on_failure(tmp_path, how):
    layer, kind, seed = how
    arrays = _tiny_model_arrays()
    if layer == "arrays":
        data = _model_pickle(mutate_arrays(arrays, kind, seed))
    else:
        data = mutate_bytes(_model_pickle(arrays), kind, seed)
    src, out_dir = tmp_path / "src.pkl", tmp_path / "out"
    src.write_bytes(data)
    dst = out_dir / "converted.npz"
    dst.unlink(missing_ok=True)

    def run(path):
        return _load_model(convert(path, dst))

    _outcome("convert", run, src, ModelFileError, _check_model)
    if not dst.exists():
        leftovers = list(out_dir.iterdir()) if out_dir.exists() else []
        assert not leftovers, f"half-written output: {leftovers}"


# ----------------------------------------------------------------------------- GMM prior
def _tiny_gmm(M: int = 3, D: int = 4) -> dict:
    rng = np.random.default_rng(1)
    A = rng.normal(size=(M, D, D))
    return {
        "means": rng.normal(size=(M, D)),
        "covars": A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(D),
        "weights": rng.dirichlet(np.ones(M)),
    }


def _check_gmm(g) -> None:
    M, D = g.means.shape
    assert g.covars.shape == (M, D, D) and g.weights.shape == (M,)
    for a in (g.means, g.covars, g.weights, g.precisions, g.nll_weights, g.log_norms):
        assert np.all(np.isfinite(np.asarray(a)))
    assert np.all(np.asarray(g.weights) > 0)
    assert abs(float(np.sum(np.asarray(g.weights, np.float64))) - 1) < 1e-5
    assert np.all(np.linalg.eigvalsh(np.asarray(g.covars, np.float64)) > 0)


@settings(_FUZZ, max_examples=80)
@given(how=_how())
def test_fuzz_gmm_npz(tmp_path, how):
    p = tmp_path / "gmm.npz"
    p.write_bytes(_mutated_npz(_tiny_gmm(), how, compressed=how[2] % 2 == 0))
    _outcome("GMM .npz", load_gmm, p, PriorFileError, _check_gmm)


@settings(_FUZZ, max_examples=60)
@given(how=_how())
def test_fuzz_gmm_pickle(tmp_path, how):
    layer, kind, seed = how
    if layer == "arrays":
        data = pickle.dumps(mutate_arrays(_tiny_gmm(), kind, seed), protocol=2)
    else:
        data = mutate_bytes(pickle.dumps(_tiny_gmm(), protocol=2), kind, seed)
    p = tmp_path / "gmm.pkl"
    p.write_bytes(data)
    _outcome("GMM .pkl", load_gmm, p, PriorFileError, _check_gmm)


# ----------------------------------------------------------------------------- BVH, ASF, AMC
_TWO_JOINTS = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Spine
  {
    OFFSET 0 2 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    JOINT Head
    {
      OFFSET 0 1.5 0.25
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 1 0
      }
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.0083333
1 2 3 0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 0 90 10 20 30
-4.5 2 0.5 10 -20 30 45 0 0 0 0 12.5
"""


def _check_kinematics(k) -> None:
    for a in (k.positions, k.rotations):
        assert np.all(np.isfinite(a))
    F, J = k.positions.shape[:2]
    np.testing.assert_allclose(
        np.einsum("fjab,fjcb->fjac", k.rotations, k.rotations),
        np.broadcast_to(np.eye(3), (F, J, 3, 3)),
        atol=1e-6,
    )


def _check_bvh(b) -> None:
    assert np.all(np.isfinite(b.offsets)) and np.all(np.isfinite(b.motion))
    assert np.isfinite(b.frame_time) and b.frame_time > 0 and np.isfinite(b.fps)
    assert b.motion.shape == (b.num_frames, sum(len(c) for c in b.channels))
    assert b.parents[0] == -1 and all(0 <= p < j for j, p in enumerate(b.parents[1:], 1))
    _check_kinematics(bvh.forward_kinematics(b))


@settings(_FUZZ, max_examples=150)
@given(kind=st.sampled_from(_TEXT_KINDS), seed=_SEEDS)
def test_fuzz_bvh(tmp_path, kind, seed):
    p = tmp_path / "trial.bvh"
    p.write_bytes(mutate_text(_TWO_JOINTS, kind, seed))
    _outcome("BVH", bvh.load_bvh, p, bvh.MocapFileError, _check_bvh)


_ASF = """# test skeleton
:version 1.10
:name TEST
:units
  mass 1.0
  length 0.45
  angle deg
:documentation
  free text: ignored
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name spine
     direction 0 1 0
     length 2
     axis 0 0 0 XYZ
    dof rx ry rz
    limits (-10.0 10.0)
           (-10.0 10.0)
           (-10.0 10.0)
  end
  begin
     id 2
     name arm
     direction 1 0.5 0
     length 1
     axis 0 0 90 XYZ
    dof rx rz
  end
  begin
     id 3
     name hand
     direction 1 0 0
     length 0.5
     axis 10 20 30 ZYX
  end
:hierarchy
  begin
    root spine
    spine arm
    arm hand
  end
"""

_AMC = """#!OML:ASF test.asf
:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
spine 0 0 0
arm 0 5
2
root 0 0 0 0 0 90
spine 10 -20 30
arm 90 -12.5
"""


def _check_asf(a) -> None:
    for x in (a.directions, a.lengths, a.axes, a.root_position):
        assert np.all(np.isfinite(x))
    np.testing.assert_allclose(np.linalg.norm(a.directions[1:], axis=1), 1.0, atol=1e-9)
    assert np.all(a.lengths >= 0) and np.isfinite(a.metres_per_unit) and a.metres_per_unit > 0
    _check_kinematics(asfamc.forward_kinematics(a))


@settings(_FUZZ, max_examples=150)
@given(kind=st.sampled_from(_TEXT_KINDS), seed=_SEEDS)
def test_fuzz_asf(tmp_path, kind, seed):
    p = tmp_path / "skel.asf"
    p.write_bytes(mutate_text(_ASF, kind, seed))
    _outcome("ASF", asfamc.load_asf, p, bvh.MocapFileError, _check_asf)


@settings(_FUZZ, max_examples=150)
@given(kind=st.sampled_from(_TEXT_KINDS), seed=_SEEDS)
def test_fuzz_amc(tmp_path, kind, seed):
    skel = asfamc.parse_asf(_ASF, "skel.asf")
    p = tmp_path / "skel_01.amc"
    p.write_bytes(mutate_text(_AMC, kind, seed))

    def check(m):
        assert np.all(np.isfinite(m.values)) and m.frame_numbers.dtype == np.int64
        assert m.values.shape == (len(m.frame_numbers), len(m.columns))
        _check_kinematics(asfamc.forward_kinematics(skel, m))

    _outcome("AMC", lambda path: asfamc.load_amc(path, skel), p, bvh.MocapFileError, check)


# ----------------------------------------------------------------------------- result files
def _result_bytes(tmp_path: Path) -> dict:
    n = 2
    rng = np.random.default_rng(2)
    model = SimpleNamespace(model_id="tiny-test-model", gender="neutral", num_betas=3)
    params = {
        "global_orient": rng.normal(size=(n, 3)), "body_pose": rng.normal(size=(n, 69)),
        "betas": rng.normal(size=(n, 3)), "transl": rng.normal(size=(n, 3)),
    }  # fmt: skip
    K = np.array([[100.0, 0, 16], [0, 100.0, 16], [0, 0, 1]])
    camera = SimpleNamespace(K=np.stack([K] * n), R=np.eye(3), t=np.zeros(3))
    p = save_result(tmp_path / "seed.npz", model, params, rng.normal(size=(n, 24, 3)), camera,
                    {"pve": [1.0, 2.0]})  # fmt: skip
    with np.load(p) as z:
        return {k: z[k] for k in z.files}


def _check_result_content(r) -> None:
    check_result(r, "fuzzed result")  # the loader's own validation, run again
    n = r["betas"].shape[0]
    assert r["body_pose"].shape == (n, 69) and r["joints"].shape == (n, 24, 3)
    assert np.all(np.isfinite(r["camera_K"]))


@settings(_FUZZ, max_examples=100)
@given(how=_how())
def test_fuzz_result_npz(tmp_path, how):
    arrays = _result_bytes(tmp_path)
    p = tmp_path / "result.npz"
    p.write_bytes(_mutated_npz(arrays, how, compressed=True))
    _outcome("result .npz", load_result, p, ResultFileError, _check_result_content)


# ----------------------------------------------------------------------------- shards
def _tiny_shard_dir(folder: Path) -> None:
    """A 1-shard folder of 2 synthetic frames (no rendering), written by the shard writer."""
    from jaxrefine.data.scenes import SceneBatch

    rng = np.random.default_rng(3)
    n, h, k = 2, 4, 5
    f32 = np.float32
    batch = SceneBatch(
        image=rng.uniform(0, 1, (n, h, h, 3)).astype(f32), mask=rng.uniform(size=(n, h, h)) > 0.5,
        tri_id=rng.integers(-1, 9, (n, h, h)).astype(np.int32),
        pose=rng.normal(size=(n, 24, 3)).astype(f32), betas=rng.normal(size=(n, 10)).astype(f32),
        transl=rng.normal(size=(n, 3)).astype(f32), intrinsics=np.ones((n, 4), f32),
        joints=rng.normal(size=(n, 24, 3)).astype(f32), keypoints=np.ones((n, k, 2), f32),
        keypoints_3d=np.ones((n, k, 3), f32), visible=np.ones((n, k), bool),
        init_pose=np.zeros((n, 24, 3), f32), init_betas=np.zeros((n, 10), f32),
        init_transl=np.zeros((n, 3), f32), pose_index=np.arange(n, dtype=np.int64),
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    digest = shards.save_shard(folder / "shard-00000.npz", batch)
    index = {
        "format": shards.FORMAT, "version": shards.VERSION, "complete": True, "num_samples": n,
        "seed": 0, "shard_size": n, "batch_size": n, "image_size": [h, h],
        "difficulty": "medium", "keypoint_set": "body25", "model_id": "tiny", "config": {},
        "fields": shards._fields(shards._to_arrays(batch.select(slice(0, 1)))),
        "shards": [{"file": "shard-00000.npz", "num_samples": n, "sha256": digest}],
    }  # fmt: skip
    (folder / shards.INDEX).write_text(json.dumps(index, indent=1))


_JSON_VALUES = (None, True, 0, -1, 2.5, float("nan"), "x", "../../etc/passwd", [], [1, "a"],
                {}, {"dtype": "object", "shape": [1]}, 10**30)  # fmt: skip


def _mutate_index(index: dict, seed: int) -> dict:
    """Replace or delete one value somewhere in the index (top level or one level down)."""
    rng = np.random.default_rng(seed)
    value = _JSON_VALUES[int(rng.integers(len(_JSON_VALUES)))]
    keys = sorted(index)
    key = keys[int(rng.integers(len(keys)))]
    target, name = index, key
    inner = index[key]
    if isinstance(inner, dict) and inner and seed % 2:
        target, name = inner, sorted(inner)[int(rng.integers(len(inner)))]
    elif isinstance(inner, list) and inner and isinstance(inner[0], dict) and seed % 2:
        target = inner[0]
        name = sorted(target)[int(rng.integers(len(target)))]
    if seed % 5 == 0:
        del target[name]
    else:
        target[name] = value
    return index


def _check_shard_folder(folder: Path):
    def check(batch) -> None:
        index = shards.read_index(folder)
        for name, spec in index["fields"].items():
            a = getattr(batch, name)
            assert (
                a.shape[1:] == tuple(spec["shape"]) and len(a) == index["shards"][0]["num_samples"]
            )
            if a.dtype.kind == "f":
                assert np.all(np.isfinite(a))

    return check


@settings(_FUZZ, max_examples=100)
@given(layer=st.sampled_from(("index bytes", "index values", "shard bytes")), seed=_SEEDS,
       kind=st.sampled_from(_BYTE_KINDS), verify=st.booleans())  # fmt: skip
def test_fuzz_shards(tmp_path, layer, seed, kind, verify):
    folder = tmp_path / f"shards-{seed}"
    _tiny_shard_dir(folder)
    index_path, shard_path = folder / shards.INDEX, folder / "shard-00000.npz"
    if layer == "index bytes":
        index_path.write_bytes(mutate_text(index_path.read_text(), kind, seed))
    elif layer == "index values":
        index = _mutate_index(json.loads(index_path.read_text()), seed)
        index_path.write_text(json.dumps(index))
    else:
        shard_path.write_bytes(mutate_bytes(shard_path.read_bytes(), kind, seed))

    def load(path):
        return shards.read_shard(path, 0, verify=verify)

    errors = (shards.ShardFormatError, IndexError)
    _outcome(f"shards ({layer})", load, folder, errors, _check_shard_folder(folder))


# ----------------------------------------------------------------------------- pose files
def _tiny_poses() -> dict:
    rng = np.random.default_rng(4)
    return {
        "pose": rng.normal(0, 0.3, (6, 24, 3)).astype(np.float32),
        "trial": np.array(["02_01"] * 3 + ["09_01"] * 3),
        "subject": np.array(["02"] * 3 + ["09"] * 3),
    }


def _check_poses(poses) -> None:
    n = len(poses)
    assert poses.pose.shape == (n, 24, 3) and n >= 1
    assert np.all(np.isfinite(poses.pose))
    assert poses.subject.shape == (n,) and poses.trial.shape == (n,)


@settings(_FUZZ, max_examples=80, phases=[Phase.generate])  # no shrinking while it fails
@given(how=_how())
def test_fuzz_pose_file(tmp_path, how):
    from jaxrefine.data.poses import PoseFileError, load_poses

    p = tmp_path / "poses.npz"
    p.write_bytes(_mutated_npz(_tiny_poses(), how, compressed=how[2] % 2 == 0))
    _outcome("poses .npz", load_poses, p, PoseFileError, _check_poses)


# ----------------------------------------------------------------------------- refine's inputs
_INTRINSICS_JSON = '{"fx": 1000.5, "fy": 1001.25, "cx": 320, "cy": 240.5}\n'
_INTRINSICS_TEXT = "1.0005e+03 0 3.2e+02\n0 1.00125e+03 2.405e+02\n0 0 1\n"
_OPENPOSE_JSON = json.dumps(
    {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [
        v for k in range(25) for v in (10.5 + k, 20.25 + 2 * k, 0.5 + k / 100)]}]},
    indent=1,
)  # fmt: skip


@settings(_FUZZ, max_examples=60)
@given(kind=st.sampled_from(_TEXT_KINDS), seed=_SEEDS)
def test_fuzz_intrinsics_json(tmp_path, kind, seed):
    from jaxrefine.inputs.errors import InputError
    from jaxrefine.inputs.intrinsics import read_intrinsics

    def check(values):
        fx, fy, cx, cy = values
        assert all(np.isfinite(values)) and fx > 0 and fy > 0

    p = tmp_path / "intrinsics.json"
    p.write_bytes(mutate_text(_INTRINSICS_JSON, kind, seed))
    _outcome("intrinsics .json", read_intrinsics, p, InputError, check)
    p = tmp_path / "K.txt"  # a calibration's K as numpy.savetxt writes it
    p.write_bytes(mutate_text(_INTRINSICS_TEXT, kind, seed))
    _outcome("intrinsics .txt", read_intrinsics, p, InputError, check)


@settings(_FUZZ, max_examples=80, phases=[Phase.generate])
@given(kind=st.sampled_from(_TEXT_KINDS), seed=_SEEDS)
def test_fuzz_openpose_json(tmp_path, kind, seed):
    from jaxrefine.inputs.errors import InputError
    from jaxrefine.inputs.keypoint_files import read_keypoints

    def check(kp):
        for people in kp.frames.values():
            assert people.ndim == 3 and people.shape[1:] == (25, 3)
            assert np.all(np.isfinite(people))
            assert np.all((people[..., 2] >= 0) & (people[..., 2] <= 1))

    def load(path):
        """The reader; its one documented warning (a mutation that moves a coordinate into a
        confidence: confidences on another scale, clipped) must name the file."""
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            kp = read_keypoints(path)
        for w in said:
            assert str(path) in str(w.message) and "not fractions of 1" in str(w.message), w
        return kp

    p = tmp_path / "000001_keypoints.json"
    p.write_bytes(mutate_text(_OPENPOSE_JSON, kind, seed))
    _outcome("OpenPose .json", load, p, InputError, check)


_MEDIAPIPE_JSON = json.dumps(
    {"pose_landmarks": [[{"x": 0.3 + k / 100, "y": 0.2 + k / 50, "z": -0.1, "visibility": 0.9,
                          "presence": 0.99} for k in range(33)]]},
    indent=1,
)  # fmt: skip


@settings(_FUZZ, max_examples=80, phases=[Phase.generate])
@given(kind=st.sampled_from(_TEXT_KINDS), seed=_SEEDS)
def test_fuzz_mediapipe_json(tmp_path, kind, seed):
    from jaxrefine.inputs.errors import InputError
    from jaxrefine.inputs.keypoint_files import read_keypoints

    def check(kp):
        for frame in kp.frames:
            people = kp.people(frame, (480, 640)) if kp.normalized else kp.people(frame)
            assert people.ndim == 3 and people.shape[2] == 3
            assert np.all(np.isfinite(people))

    p = tmp_path / "frame_000001.json"
    p.write_bytes(mutate_text(_MEDIAPIPE_JSON, kind, seed))
    _outcome("MediaPipe .json", read_keypoints, p, InputError, check)


def _tiny_estimates() -> dict:
    rng = np.random.default_rng(5)
    n = 3
    return {
        "global_orient": rng.normal(0, 0.3, (n, 3)), "body_pose": rng.normal(0, 0.2, (n, 69)),
        "betas": rng.normal(0, 1, (n, 10)), "transl": rng.normal(0, 1, (n, 3)) + [0, 0, 5],
        "focal_length": np.float64(1000.0), "frame_index": np.arange(n),
    }  # fmt: skip


@settings(_FUZZ, max_examples=80, phases=[Phase.generate])
@given(how=_how())
def test_fuzz_estimates_npz(tmp_path, how):
    from jaxrefine.inputs.errors import InputError
    from jaxrefine.inputs.estimates import read_estimates

    def check(est):
        n = len(est)
        assert est.global_orient.shape == (n, 3) and est.body_pose.shape == (n, 23, 3)
        for a in (est.global_orient, est.body_pose, est.betas, est.transl):
            assert np.all(np.isfinite(a))

    p = tmp_path / "estimates.npz"
    p.write_bytes(_mutated_npz(_tiny_estimates(), how, compressed=how[2] % 2 == 0))
    _outcome("estimates .npz", lambda q: read_estimates(q, num_betas=10), p, InputError, check)


@settings(_FUZZ, max_examples=60, phases=[Phase.generate])
@given(kind=st.sampled_from(_BYTE_KINDS), seed=_SEEDS)
def test_fuzz_image_png(tmp_path, kind, seed):
    import imageio.v3 as iio

    from jaxrefine.inputs.errors import InputError
    from jaxrefine.inputs.images import read_image

    def check(img):
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.float32
        assert np.all((img >= 0) & (img <= 1))

    rng = np.random.default_rng(6)
    buf = io.BytesIO()
    iio.imwrite(buf, rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), extension=".png")
    p = tmp_path / "frame.png"
    p.write_bytes(mutate_bytes(buf.getvalue(), kind, seed))
    _outcome("image .png", read_image, p, InputError, check)


# ----------------------------------------------------------------------------- joblib files
def _vibe_joblib(people_arrays: dict, compress) -> bytes:
    """VIBE / PARE's video output (``{person_id: {...}}``) as ``joblib.dump`` writes it."""
    joblib = pytest.importorskip("joblib", reason="joblib (extra 'ref') writes the reference")
    buf = io.BytesIO()
    joblib.dump({4: people_arrays}, buf, compress=compress)
    return buf.getvalue()


def _vibe_arrays() -> dict:
    n, rng = 3, np.random.default_rng(0)
    return {"pose": rng.normal(0, 0.2, (n, 72)).astype(np.float32),
            "betas": rng.normal(0, 1, (n, 10)).astype(np.float32),
            "orig_cam": np.tile([0.3, 0.4, 0.1, -0.2], (n, 1)),
            "frame_ids": np.arange(n)}  # fmt: skip


def _wham_arrays() -> dict:
    """A WHAM ``wham_output.pkl`` person (its ``verts`` cut to 8 points around ``trans``)."""
    n, rng = 3, np.random.default_rng(0)
    trans = np.column_stack([rng.normal(0, 0.3, (n, 2)), np.full(n, 5.0)]).astype(np.float32)
    pose = rng.normal(0, 0.2, (n, 72)).astype(np.float32)
    return {"pose": pose, "trans": trans, "pose_world": pose, "trans_world": np.zeros((n, 3)),
            "betas": rng.normal(0, 1, (n, 10)).astype(np.float32),
            "verts": (trans[:, None] + rng.normal(0, 0.2, (n, 8, 3))).astype(np.float32),
            "frame_ids": np.arange(n)}  # fmt: skip


def _check_estimates(est) -> None:
    for a in (est.global_orient, est.body_pose, est.betas, est.transl):
        assert np.all(np.isfinite(a))
    assert len(est.track_id) == len(est.betas) == len(est.frame)


def _estimates_outcome(name: str, path: Path, check=_check_estimates, **read_kw) -> None:
    """:func:`_outcome` of ``read_estimates`` on a fuzzed file whose images are 300 x 400."""
    from jaxrefine.inputs import InputError, read_estimates

    def load(p):
        return read_estimates(p, image_size=lambda i: (300, 400), **read_kw)

    _outcome(name, load, path, InputError, check)


@settings(_FUZZ, max_examples=80)
@given(how=_how(), compress=st.sampled_from([0, 3]), maker=st.sampled_from(["vibe", "wham"]))
def test_fuzz_joblib_estimates(tmp_path, how, compress, maker):
    """joblib files (VIBE / PARE / WHAM) go through a reader of their own (raw array bytes
    inside the pickle stream, read by jaxrefine, not joblib): damaged ones are refused by
    name."""
    layer, kind, seed = how
    arrays = _vibe_arrays() if maker == "vibe" else _wham_arrays()
    if layer == "arrays":
        data = _vibe_joblib(mutate_arrays(arrays, kind, seed), compress)
    else:
        data = mutate_bytes(_vibe_joblib(arrays, compress), kind, seed)
    p = tmp_path / "vibe_output.pkl"
    p.write_bytes(data)
    _estimates_outcome("joblib estimates .pkl", p)


def _romp_arrays() -> dict:
    """ROMP's outputs of one 300 x 400 image (two people; 71 joints drawn where ROMP draws
    them: the padded square's weak-perspective camera)."""
    n, rng = 2, np.random.default_rng(0)
    joints = rng.normal(0, 0.2, (n, 71, 3)).astype(np.float32)
    cam = np.tile([0.7, 0.1, -0.1], (n, 1)).astype(np.float32)
    pj2d = (joints[..., :2] * cam[:, None, :1] + cam[:, None, 1:] + 1) * 200 - [0, 50]
    return {"smpl_thetas": rng.normal(0, 0.2, (n, 72)).astype(np.float32),
            "smpl_betas": rng.normal(0, 1, (n, 10)).astype(np.float32), "cam": cam,
            "joints": joints, "pj2d_org": pj2d.astype(np.float32)}  # fmt: skip


def _romp_npz(outputs) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, results=outputs)  # ROMP's ResultSaver
    return buf.getvalue()


def _cliff_arrays() -> dict:
    """CLIFF's demo file: three images listed, two people detected in the first."""
    rng = np.random.default_rng(0)
    det = np.zeros((2, 8))
    return {"imgname": np.array(["a/0.jpg", "a/1.jpg", "a/2.jpg"]),
            "pose": rng.normal(0, 0.2, (2, 72)).astype(np.float32),
            "shape": rng.normal(0, 1, (2, 10)).astype(np.float32),
            "global_t": np.tile([0.1, 0.2, 5.0], (2, 1)).astype(np.float32),
            "focal_l": np.full(2, 500.0, np.float32), "detection_all": det,
            "pred_joints": np.tile([0.1, 0.2, 5.0], (2, 49, 1)).astype(np.float32)}  # fmt: skip


def _cliff_npz(arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # CLIFF's demo.py
    return buf.getvalue()


def _hybrik_arrays() -> dict:
    """HybrIK's ``res.pk`` of two frames (identity rotations, the open model's rest joints)."""
    model = load_body_model()
    q = np.tile([1.0, 0, 0, 0], (2, 24))
    joints = np.asarray(model.J_regressor @ model.v_template)
    return {"pred_thetas": q, "pred_betas": np.zeros((2, 10)), "pred_phi": np.zeros((2, 23, 2)),
            "transl": np.tile([0.0, 0.0, 5.0], (2, 1)),
            "bbox": np.tile([10.0, 10, 110, 110], (2, 1)),
            "pred_xyz_24_struct": np.tile((joints - joints[:1]).reshape(72) / 2.2, (2, 1)),
            "img_path": np.array(["a/0.png", "a/1.png"])}  # fmt: skip


def _mmhuman3d_arrays() -> dict:
    """MMHuman3D's demo file of two frames (the open model's rest vertices upright, a crop
    camera and the box its drawing fills), its ``smpl`` dict flattened as ``smpl/<key>``."""
    from jaxrefine.inputs.mmhuman3d_files import demo_projection

    verts = np.tile(np.asarray(load_body_model().v_template) * [1, -1, -1], (2, 1, 1))
    cam = np.tile([0.9, 0.0, 0.1], (2, 1))
    uv = demo_projection(verts, cam, np.tile([100.0, 100, 300, 300], (2, 1)))
    box = np.column_stack([uv.min(1), uv.max(1), np.ones(2)])
    return {"smpl/global_orient": np.tile([np.pi, 0, 0], (2, 1)),
            "smpl/body_pose": np.zeros((2, 23, 3)), "smpl/betas": np.zeros((2, 10)),
            "verts": verts, "pred_cams": cam, "bboxes_xyxy": box,
            "image_path": np.array(["images/000000.png", "images/000001.png"]),
            "person_id": np.zeros(2, np.int64), "frame_id": np.arange(2),
            "__key_strict__": np.array(False), "__temporal_len__": np.array(-1),
            "__keypoints_compressed__": np.array(False)}  # fmt: skip


def _mmhuman3d_npz(arrays) -> bytes:
    """HumanData.dump: np.savez_compressed, the ``smpl`` dict pickled inside."""
    smpl = {k.removeprefix("smpl/"): v for k, v in arrays.items() if k.startswith("smpl/")}
    rest = {k: v for k, v in arrays.items() if not k.startswith("smpl/")}
    buf = io.BytesIO()
    np.savez_compressed(buf, smpl=smpl, **rest)
    return buf.getvalue()


_MAKERS = {"romp": (_romp_arrays, _romp_npz, "img.npz"),
           "cliff": (_cliff_arrays, _cliff_npz, "img.npz"),
           "hybrik": (_hybrik_arrays, lambda a: pickle.dumps(a), "res.pk"),
           "mmhuman3d": (_mmhuman3d_arrays, _mmhuman3d_npz, "inference_result.npz")}  # fmt: skip


@settings(_FUZZ, max_examples=120)
@given(how=_how(), maker=st.sampled_from(sorted(_MAKERS)))
def test_fuzz_romp_cliff_and_hybrik_estimates(tmp_path, how, maker):
    """ROMP's npz (a pickled dict of arrays inside, unpickled by jaxrefine's restricted
    reader), CLIFF's (estimates placed by their detection rows), HybrIK's pickle
    (quaternions checked against its joints) and MMHuman3D's HumanData (a pickled body dict,
    cameras checked against its vertices): damaged ones are refused by name."""
    layer, kind, seed = how
    make, write, name = _MAKERS[maker]
    arrays = make()
    data = (write(mutate_arrays(arrays, kind, seed)) if layer == "arrays"
            else mutate_bytes(write(arrays), kind, seed))  # fmt: skip
    p = tmp_path / name
    p.write_bytes(data)
    model = load_body_model()

    def check(est):
        for a in (est.global_orient, est.body_pose, est.betas, est.transl):
            assert np.all(np.isfinite(a))
        assert len(est.track_id) == len(est.betas)

    _estimates_outcome(f"{maker} estimates {name}", p, check, num_betas=model.num_betas,
                       model=model)  # fmt: skip


def _tram_arrays() -> dict:
    """TRAM's track file of two frames (identity rotations, 5 m in front of the camera)."""
    return {"pred_cam": np.ones((2, 3), np.float32), "pred_pose": np.zeros((2, 144), np.float32),
            "pred_shape": np.zeros((2, 10), np.float32),
            "pred_rotmat": np.tile(np.eye(3, dtype=np.float32), (2, 24, 1, 1)),
            "pred_trans": np.tile([0.1, 0.2, 5.0], (2, 1, 1)).astype(np.float32),
            "frame": np.arange(2)}  # fmt: skip


def _tram_npy(arrays, torch) -> bytes:
    """``np.save`` of the arrays as torch tensors (numeric ones; others as they are)."""
    buf = io.BytesIO()
    np.save(buf, {k: torch.from_numpy(np.ascontiguousarray(v))
                  if isinstance(v, np.ndarray) and v.dtype.kind in "iufb" else v
                  for k, v in arrays.items()}, allow_pickle=True)  # fmt: skip
    return buf.getvalue()


@settings(_FUZZ, max_examples=60)
@given(how=_how())
def test_fuzz_tram_estimates(tmp_path, how):
    """TRAM's track files (torch tensors in a pickle, read without torch: their storages'
    own pickles and raw bytes): damaged ones are refused by name."""

    torch = pytest.importorskip("torch", reason="torch (extra 'ref') writes TRAM's tensors")
    layer, kind, seed = how
    arrays = _tram_arrays()
    data = (_tram_npy(mutate_arrays(arrays, kind, seed), torch) if layer == "arrays"
            else mutate_bytes(_tram_npy(arrays, torch), kind, seed))  # fmt: skip
    p = tmp_path / "hps" / "hps_track_0.npy"
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(data)
    np.save(tmp_path / "camera.npy", {"img_focal": np.float64(500), "img_center": [200, 150]})
    _estimates_outcome("TRAM estimates .npy", p)


def _torch_save(arrays, torch, pkl_kind=None, seed=0) -> bytes:
    """``torch.save`` of the arrays as tensors (numeric ones; others as they are); with
    ``pkl_kind``, its ``data.pkl`` mutated and the archive written again (checksums made
    anew, so that the mutation reaches the unpickler)."""
    buf = io.BytesIO()
    torch.save({k: torch.from_numpy(np.ascontiguousarray(v))
                if isinstance(v, np.ndarray) and v.dtype.kind in "iufb" else v
                for k, v in arrays.items()}, buf)  # fmt: skip
    if pkl_kind is None:
        return buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/data.pkl"):
                data = mutate_bytes(data, pkl_kind, seed)
            dst.writestr(info.filename, data)
    return out.getvalue()


@settings(_FUZZ, max_examples=60)
@given(how=_how(), in_pickle=st.booleans())
def test_fuzz_torch_save_estimates(tmp_path, how, in_pickle):
    """``torch.save`` files of SMPL parameters (a zip archive: its pickle's persistent ids
    and the storages' raw members, read without torch): damaged ones are refused by name,
    the whole file's bytes or, checksums made anew, its pickle's."""

    torch = pytest.importorskip("torch", reason="torch (extra 'ref') writes the file")
    layer, kind, seed = how
    arrays = {"global_orient": np.tile([np.pi, 0, 0], (2, 1)), "body_pose": np.zeros((2, 69)),
              "betas": np.zeros((2, 10), np.float32), "transl": np.tile([0.1, 0.2, 5.0], (2, 1)),
              "focal_length": np.float64(500), "frame": np.arange(2)}  # fmt: skip
    if layer == "arrays":
        data = _torch_save(mutate_arrays(arrays, kind, seed), torch)
    elif in_pickle:
        data = _torch_save(arrays, torch, kind, seed)
    else:
        data = mutate_bytes(_torch_save(arrays, torch), kind, seed)
    p = tmp_path / "est.pt"
    p.write_bytes(data)
    _estimates_outcome("torch.save estimates .pt", p)


def _frankmocap_person(model) -> dict:
    """One person of FrankMocap's prediction file: an upright body in the rest pose, its
    camera and crop, and its joints drawn as FrankMocap draws them (OpenPose 1-14 from the
    body model's joints: the reader's check passes)."""
    from jaxrefine.body_model import posed_joints
    from jaxrefine.inputs.frankmocap_files import OPENPOSE_FROM_SMPL, draw_joints

    pose = np.zeros((24, 3), np.float32)
    pose[0] = [np.pi, 0, 0]
    joints = np.asarray(posed_joints(model, pose, np.zeros(model.num_betas, np.float32)))
    cam, box = np.array([0.9, 0.05, 0.1]), np.array([120.0, 40.0, 224 / 260])
    spin49 = np.zeros((49, 3))
    spin49[1:15, :2] = draw_joints(joints[list(OPENPOSE_FROM_SMPL)], cam, box, (300, 400))
    rotmat = np.tile(np.eye(3, dtype=np.float32), (1, 24, 1, 1))
    rotmat[0, 0] = np.diag([1.0, -1.0, -1.0])
    return {"pred_rotmat": rotmat, "pred_betas": np.zeros((1, 10), np.float32),
            "pred_camera": cam.astype(np.float32), "bbox_top_left": box[:2],
            "bbox_scale_ratio": np.float64(box[2]), "pred_joints_img": spin49,
            "faces": np.zeros((2, 3), np.int64)}  # fmt: skip


@settings(_FUZZ, max_examples=60)
@given(how=_how())
def test_fuzz_frankmocap_estimates(tmp_path, how):
    """FrankMocap's prediction pickles (an OrderedDict of the run with a list of people's
    dicts, checked against its drawing of the joints): damaged ones are refused by name."""
    from collections import OrderedDict

    layer, kind, seed = how
    model = load_body_model()
    person = _frankmocap_person(model)
    if layer == "arrays":
        person = mutate_arrays(person, kind, seed)
    data = pickle.dumps(OrderedDict(demo_type="body", smpl_type="smpl", image_path="/x/a.jpg",
                                    body_bbox_list=[], hand_bbox_list=[None], save_mesh=False,
                                    pred_output_list=[person]))  # fmt: skip
    if layer != "arrays":
        data = mutate_bytes(data, kind, seed)
    p = tmp_path / "a_prediction_result.pkl"
    p.write_bytes(data)
    _estimates_outcome("FrankMocap estimates .pkl", p, model=model)


def _phalp_frames(mutation: str, seed: int) -> dict:
    """Two frames of a PHALP / 4D-Humans ``track.py`` file, with one structural mutation."""
    rng = np.random.default_rng(seed)
    rot = np.tile(np.eye(3), (24, 1, 1))
    frames = {}
    for t in range(2):
        frames[f"img/{t:06d}.jpg"] = {
            "time": t, "tid": [1], "tracked_time": [0], "size": [[480, 640]],
            "bbox": [np.array([100.0, 50.0, 120.0, 260.0])],
            "smpl": [{"global_orient": rot[:1], "body_pose": rot[1:], "betas": np.zeros(10)}],
            "camera": [np.array([-0.45, -0.2, 40.0], np.float32)],
        }  # fmt: skip
    v = frames["img/000001.jpg"]
    key = ("tid", "tracked_time", "size", "bbox", "smpl", "camera")[int(rng.integers(6))]
    if mutation == "drop_entry":
        v[key] = []
    elif mutation == "wrong_type":
        v[key] = [None]
    elif mutation == "not_a_list":
        v[key] = 7
    elif mutation == "nan":
        v["camera"] = [np.array([np.nan, 0, 40.0])]
    elif mutation == "behind":
        v["camera"] = [np.array([0, 0, -40.0])]
    elif mutation == "bad_smpl":
        v["smpl"] = [{"global_orient": rot[:1]}]
    return frames


@settings(_FUZZ, max_examples=40)
@given(mutation=st.sampled_from(["none", "drop_entry", "wrong_type", "not_a_list", "nan",
                                 "behind", "bad_smpl"]), seed=_SEEDS)  # fmt: skip
def test_fuzz_phalp_estimates(tmp_path, mutation, seed):
    """4D-Humans' tracker files with damaged entries are refused by name, never a crash."""
    from jaxrefine.inputs import InputError, read_estimates

    joblib = pytest.importorskip("joblib", reason="joblib (extra 'ref') writes the reference")
    p = tmp_path / "demo_clip.pkl"
    joblib.dump(_phalp_frames(mutation, seed), p)
    _outcome("PHALP estimates .pkl", read_estimates, p, InputError, _check_estimates)


def _mesh_file(kind: str) -> bytes:
    """A small camera-frame mesh (40 vertices 3-4 m away) as ``refine --ply`` (binary PLY),
    trimesh's ASCII PLY or an OBJ writes it."""
    from jaxrefine.io import save_obj, save_ply

    rng = np.random.default_rng(0)
    v = rng.normal(0, 0.3, (40, 3)) + [0, 0, 3.5]
    f = rng.integers(0, 40, (20, 3))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"m.{'obj' if kind == 'obj' else 'ply'}"
        if kind == "ascii_ply":
            head = ["ply", "format ascii 1.0", "element vertex 40", "property float x",
                    "property float y", "property float z", "property uchar red",
                    "element face 20", "property list uchar int vertex_indices",
                    "end_header"]  # fmt: skip
            rows = [f"{x:.6f} {y:.6f} {z:.6f} 200" for x, y, z in v]
            rows += [f"3 {a} {b} {c}" for a, b, c in f]
            path.write_text("\n".join(head + rows) + "\n")
        else:
            (save_obj if kind == "obj" else save_ply)(path, v, f)
        return path.read_bytes()


def _mutated_mesh(fmt: str, kind: str, seed: int) -> bytes:
    """A text mutation of an ASCII file or of a binary PLY's header, or a byte mutation."""
    data = _mesh_file(fmt)
    if kind not in _TEXT_KINDS or kind in _BYTE_KINDS:
        return mutate_bytes(data, kind, seed)
    if fmt != "binary_ply":
        return mutate_text(data.decode(), kind, seed)
    head, body = data.split(b"end_header\n", 1)
    return mutate_text(head.decode(), kind, seed) + b"end_header\n" + body


@settings(_FUZZ, max_examples=300)
@given(kind=st.sampled_from(sorted(set(_BYTE_KINDS + _TEXT_KINDS))), seed=_SEEDS,
       fmt=st.sampled_from(["binary_ply", "ascii_ply", "obj"]))  # fmt: skip
def test_fuzz_mesh_estimates(tmp_path, kind, seed, fmt):
    """Damaged meshes (``.ply`` binary or ASCII, ``.obj``; bytes, lines and numbers, a binary
    file's header too) are refused by name, never a crash or a hang. No body model is given,
    so a mesh that still parses is refused too (a mesh is read by fitting one to it): this
    fuzzes the parsers, not the fit."""
    p = tmp_path / f"a_0.{'obj' if fmt == 'obj' else 'ply'}"
    p.write_bytes(_mutated_mesh(fmt, kind, seed))
    _estimates_outcome(f"mesh estimates {fmt}", p)
