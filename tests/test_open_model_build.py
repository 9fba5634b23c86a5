"""The open body model's build (jaxrefine.data.open_model_build): the helpers that need no Anny.

The build itself needs the ``anny`` package and minutes of CPU, so it is run by hand
(``scripts/build_open_body_model.py``); its product is tested in test_open_body_model_asset.py.
Here the geometry, skinning, shape-space and regressor helpers it is made of, on cases whose
answer is known.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import SMPL_PARENTS
from jaxrefine.data import open_model_build as omb

REPO = Path(__file__).resolve().parents[1]
_EXACT = 1e-12  # float64 arithmetic on unit-size numbers: rounding only
_CLOSEST_TOL = 1e-9  # closest point against a dense barycentric sampling refined by scipy


def test_bones_map_to_smpl_joints_and_sides():
    assert omb.smpl_joint_of_bone("root") == 0
    assert omb.smpl_joint_of_bone("upperleg02.L") == 1  # body-left = SMPL left
    assert omb.smpl_joint_of_bone("upperleg02.R") == 2
    assert omb.smpl_joint_of_bone("finger3-2.R") == 23  # right hand
    assert omb.smpl_joint_of_bone("toe4-1.L") == 10  # left foot
    with pytest.raises(KeyError, match="tail.L"):
        omb.smpl_joint_of_bone("tail.L")


def test_joint_definitions_follow_smpl_order():
    defs = omb.joint_defs()
    assert len(defs) == 24
    assert defs[0] == ["root"] and defs[16] == ["upperarm01.L"] and defs[17] == ["upperarm01.R"]
    assert defs[10] == [f"toe{k}-1.L" for k in range(1, 6)]


def test_rotations_match_scipy():
    rng = np.random.default_rng(0)
    for r in rng.normal(size=(5, 3)):
        np.testing.assert_allclose(omb.rodrigues(r), Rotation.from_rotvec(r).as_matrix(),
                                   atol=_EXACT)  # fmt: skip
    np.testing.assert_array_equal(omb.rodrigues(np.zeros(3)), np.eye(3))
    a, b = rng.normal(size=3), rng.normal(size=3)
    axis, angle = omb.minimal_rotation(a, b)
    turned = omb.axis_angle_matrix(axis, angle) @ (a / np.linalg.norm(a))
    np.testing.assert_allclose(turned, b / np.linalg.norm(b), atol=1e-12)
    assert abs(axis @ a) < 1e-12 and abs(axis @ b) < 1e-12  # perpendicular: the smallest one


def test_axes_change_is_a_proper_rotation():
    x = np.random.default_rng(1).normal(size=(7, 3))
    y = omb.to_smpl_axes(x)
    # Anny z up, face -y  ->  SMPL y up, face +z
    np.testing.assert_array_equal(omb.to_smpl_axes(np.array([0.0, 0.0, 1.0])), [0, 1, 0])
    np.testing.assert_array_equal(omb.to_smpl_axes(np.array([0.0, -1.0, 0.0])), [0, 0, 1])
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), atol=_EXACT)


def _cube() -> tuple[np.ndarray, np.ndarray]:
    v = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])  # fmt: skip
    return v, f


def test_cube_volume_orientation_and_closedness():
    v, f = _cube()
    vol = omb.signed_volume(v, f)
    assert abs(abs(vol) - 1.0) < _EXACT
    assert omb.signed_volume(v, f[:, ::-1]) == pytest.approx(-vol)
    assert np.all(omb.edge_face_counts(f) == 2)  # every edge shared by two faces: closed
    assert np.any(omb.edge_face_counts(f[1:]) == 1)  # a face removed: open


def test_closest_point_matches_a_dense_search():
    v, f = _cube()
    v = v * 0.04  # the search looks at faces within 5 cm (a body's scale)
    rng = np.random.default_rng(2)
    grid = [(a, b) for a in np.linspace(0, 1, 61) for b in np.linspace(0, 1, 61) if a + b <= 1]
    bary = np.array([(1 - a - b, a, b) for a, b in grid])
    samples = np.concatenate([bary @ v[tri] for tri in f])
    centre = v.mean(0)
    corners = v + 0.3 * (v - centre) + rng.normal(scale=1e-3, size=v.shape)  # vertex regions
    for p in np.concatenate([rng.uniform(-0.01, 0.05, size=(40, 3)), corners]):
        fi, w, dist = omb.closest_point_on_triangles(p, v, f)
        q = np.asarray(w) @ v[f[fi]]
        assert dist == pytest.approx(np.linalg.norm(p - q), abs=_CLOSEST_TOL)
        assert min(w) >= 0 and sum(w) == pytest.approx(1.0)
        assert dist <= np.min(np.linalg.norm(samples - p, axis=1)) + _CLOSEST_TOL


def test_identity_rotations_leave_the_rest_pose():
    rng = np.random.default_rng(3)
    heads = rng.normal(size=(2, 24, 3))
    world = np.tile(np.eye(3), (24, 1, 1))
    posed, transforms = omb.forward_kinematics(heads, world, list(SMPL_PARENTS))
    np.testing.assert_allclose(posed, heads, atol=_EXACT)
    verts = rng.normal(size=(2, 30, 3))
    weights = rng.dirichlet(np.ones(24), size=30)
    np.testing.assert_allclose(omb.skin(verts, weights, transforms), verts, atol=_EXACT)


def test_a_rotated_child_chain_moves_rigidly():
    heads = np.cumsum(np.tile([[0.0, 0.1, 0.0]], (24, 1)), 0)[None]  # any tree: rotate joint 0
    R = Rotation.from_rotvec([0.0, 0.0, 0.7]).as_matrix()
    world = np.tile(R, (24, 1, 1))  # every bone turned the same: the whole body rotates
    posed, transforms = omb.forward_kinematics(heads, world, list(SMPL_PARENTS))
    want = (heads[0] - heads[0, 0]) @ R.T + heads[0, 0]
    np.testing.assert_allclose(posed[0], want, atol=_EXACT)
    verts = np.random.default_rng(4).normal(size=(1, 10, 3))
    weights = np.eye(24)[np.arange(10) % 24]
    skinned = omb.skin(verts, weights, transforms)
    np.testing.assert_allclose(skinned[0], (verts[0] - heads[0, 0]) @ R.T + heads[0, 0],
                               atol=_EXACT)  # fmt: skip


def test_pca_reconstructs_low_rank_data_with_unit_variance_betas():
    rng = np.random.default_rng(5)
    n, d, rank = 300, 40, 4
    scores = rng.normal(size=(n, rank)) * np.array([5.0, 3.0, 2.0, 1.0])
    basis = np.linalg.qr(rng.normal(size=(d, rank)))[0]
    x = (scores @ basis.T + rng.normal(size=d)).astype(np.float32)
    heights = scores[:, 0]
    mean, dirs, explained = omb.pca_shape_space(x, rank, rng, heights)
    assert explained[rank - 1] == pytest.approx(1.0, abs=1e-6)
    betas = np.linalg.lstsq(dirs, (x - mean).T, rcond=None)[0].T
    np.testing.assert_allclose(mean + betas @ dirs.T, x, atol=1e-4)  # float32 data
    np.testing.assert_allclose(betas.std(axis=0, ddof=1), 1.0, atol=1e-3)
    assert np.corrcoef(betas[:, 0], heights)[0, 1] > 0.99  # beta1 grows with "stature"


def test_regressor_row_recovers_a_sparse_convex_combination():
    rng = np.random.default_rng(6)
    verts = rng.normal(size=(40, 50, 3))
    cand = np.arange(10, 40)
    true_ids, true_w = (
        np.array([12, 17, 20, 25, 31, 33]),
        np.array([0.3, 0.2, 0.15, 0.15, 0.1, 0.1]),
    )
    target = np.einsum("k,skc->sc", true_w, verts[:, true_ids])
    ids, w = omb.fit_regressor_row(cand, verts, target)
    assert 5 <= len(ids) <= 14 and np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(np.einsum("k,skc->sc", w, verts[:, ids]), target, atol=1e-4)
    got = dict(zip(ids.tolist(), w.tolist()))
    for i, wt in zip(true_ids, true_w):
        assert got.get(int(i), 0.0) == pytest.approx(wt, abs=1e-3)


@pytest.mark.parametrize("flags, message", [
    (["--num-betas", "0"], "--num-betas must be at least 1 (got 0)"),
    (["--samples", "16"], "--samples must be at least 17 (one more than --num-betas"),
    (["--num-betas", "4", "--samples", "4"], "--samples must be at least 5"),
    (["--heldout", "0"], "--heldout must be at least 1 (got 0)"),
    (["--regressor-samples", "0"], "--regressor-samples must be at least 1 (got 0)"),
    (["--out", "{tmp}"], "argument --out: {tmp} is a folder, not a file"),
    (["--check-png", "{tmp}"], "argument --check-png: {tmp} is a folder, not a file"),
])  # fmt: skip
def test_build_script_refuses_bad_flags_before_loading_anny(tmp_path, flags, message):
    """Usage errors (exit 2) before Anny loads: these would fail minutes into a build."""
    flags = [f.format(tmp=tmp_path) for f in flags]
    argv = [sys.executable, str(REPO / "scripts" / "build_open_body_model.py"), *flags]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert message.format(tmp=tmp_path) in done.stderr
