"""Body model: parity with smplx, transforms (jit / vmap / grad), and input validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrefine
from jaxrefine.body_model import (
    forward,
    from_arrays,
    posed_joints,
    rest_joints,
    skin_vertices,
)
from jaxrefine.geometry import rodrigues

# float32 forward of a ~1 m body through a 24-deep chain: smplx and we differ by reordering
# of float32 sums only (seen: <= 5e-7 m); the bound is 1e-5 m.
_PARITY_TOL = 1e-5  # m
_NUM_PARITY_SAMPLES = 32


def _random_inputs(n, num_betas, seed=0, pose_scale=0.6):
    rng = np.random.default_rng(seed)
    pose = rng.normal(0, pose_scale, (n, 24, 3)).astype(np.float32)
    betas = rng.normal(0, 1.0, (n, num_betas)).astype(np.float32)
    transl = rng.normal(0, 0.5, (n, 3)).astype(np.float32)
    return pose, betas, transl


def _smplx_forward(arrays, pose, betas, transl):
    torch = pytest.importorskip("torch", reason="torch not installed (pip install '.[ref]')")
    smplx = pytest.importorskip("smplx", reason="smplx not installed (pip install '.[ref]')")
    from smplx.utils import Struct

    arrays = dict(arrays)
    V = arrays["v_template"].shape[0]
    if "posedirs" not in arrays:  # smplx needs the array; zeros reproduce "no correctives"
        arrays["posedirs"] = np.zeros((V, 3, 207), np.float32)
    nb = betas.shape[-1]
    m = smplx.SMPL("unused", data_struct=Struct(**arrays), num_betas=nb)
    with torch.no_grad():
        o = m(
            global_orient=torch.tensor(pose[:, 0]),
            body_pose=torch.tensor(pose[:, 1:].reshape(len(pose), -1)),
            betas=torch.tensor(betas),
            transl=torch.tensor(transl),
        )
    return o.vertices.numpy(), o.joints[:, :24].numpy()


def _check_parity(arrays, model):
    pose, betas, transl = _random_inputs(_NUM_PARITY_SAMPLES, model.num_betas)
    ref_v, ref_j = _smplx_forward(arrays, pose, betas, transl)
    out = jax.jit(jax.vmap(lambda p, b, t: forward(model, p, b, t)))(pose, betas, transl)
    np.testing.assert_allclose(np.asarray(out.vertices), ref_v, atol=_PARITY_TOL, rtol=0)
    np.testing.assert_allclose(np.asarray(out.joints), ref_j, atol=_PARITY_TOL, rtol=0)


@pytest.mark.ref
def test_parity_with_smplx_on_smpl_size_model(smpl_size_arrays):
    model = from_arrays(smpl_size_arrays, model_id="rand", gender="neutral", num_betas=10)
    assert model.num_vertices == 6890 and model.faces.shape == (13776, 3)
    assert model.posedirs.shape == (207, 6890 * 3)
    _check_parity(smpl_size_arrays, model)


@pytest.mark.ref
def test_parity_with_smplx_on_open_model():
    from jaxrefine.smpl_io import OPEN_MODEL_PATH, read_npz

    model = jaxrefine.load_body_model()
    assert model.posedirs is None  # no correctives: the term is skipped, not multiplied
    arrays = read_npz(OPEN_MODEL_PATH)
    arrays["shapedirs"] = arrays["shapedirs"][:, :, :10]
    _check_parity(arrays, model)


@pytest.fixture(scope="module")
def model(smpl_size_arrays):
    return from_arrays(smpl_size_arrays, model_id="rand", gender="neutral", num_betas=10)


# float32 products along a chain up to 40 joints deep, against float64: rounding only
_CHAIN_TOL = 1e-5


def _chain_one_joint_at_a_time(rotations, joints, parents):
    """The textbook chain in float64: each joint's world transform from its parent's."""
    R, t = [rotations[0]], [joints[0]]
    for i in range(1, len(parents)):
        p = parents[i]
        R.append(R[p] @ rotations[i])
        t.append(R[p] @ (joints[i] - joints[p]) + t[p])
    R, t = np.stack(R), np.stack(t)
    return t, np.concatenate([R, (t - np.einsum("jab,jb->ja", R, joints))[:, :, None]], -1)


@pytest.mark.parametrize("tree", ["smpl", "random", "path40"])
def test_rigid_chain_by_doubling_equals_one_joint_at_a_time(tree):
    """``rigid_chain`` composes by pointer doubling (log2 depth rounds); the result is the
    per-joint chain's on SMPL's tree, a random tree and a 40-deep path (6 rounds)."""
    from jaxrefine.body_model import SMPL_PARENTS, rigid_chain

    rng = np.random.default_rng(3)
    if tree == "smpl":
        parents = SMPL_PARENTS
    elif tree == "random":
        parents = (-1, *(int(rng.integers(0, i)) for i in range(1, 30)))
    else:
        parents = (-1, *range(39))
    J = len(parents)
    rotations = np.asarray(rodrigues(jnp.asarray(rng.normal(0, 0.5, (J, 3)), jnp.float32)))
    joints = rng.normal(0, 0.1, (J, 3)).astype(np.float32)
    posed, A = rigid_chain(jnp.asarray(rotations), jnp.asarray(joints), parents)
    ref_posed, ref_A = _chain_one_joint_at_a_time(
        rotations.astype(np.float64), joints.astype(np.float64), parents
    )
    np.testing.assert_allclose(posed, ref_posed, atol=_CHAIN_TOL)
    np.testing.assert_allclose(A, ref_A, atol=_CHAIN_TOL)


def test_vmap_equals_loop(model):
    pose, betas, transl = _random_inputs(5, 10, seed=3)
    batched = jax.vmap(lambda p, b, t: forward(model, p, b, t))(pose, betas, transl)
    for i in range(5):
        one = forward(model, pose[i], betas[i], transl[i])
        np.testing.assert_allclose(batched.vertices[i], one.vertices, atol=1e-6)
        np.testing.assert_allclose(batched.joints[i], one.joints, atol=1e-6)


def test_jit_and_grad_finite_at_zero_pose(model):
    def loss(pose, betas):
        out = forward(model, pose, betas)
        return jnp.sum(out.vertices**2) + jnp.sum(out.joints**2)

    g_pose, g_betas = jax.jit(jax.grad(loss, argnums=(0, 1)))(jnp.zeros((24, 3)), jnp.zeros(10))
    assert np.all(np.isfinite(g_pose)) and np.all(np.isfinite(g_betas))
    assert np.abs(np.asarray(g_pose)).sum() > 0  # a real gradient, not zeros from a guard


def test_grad_matches_finite_differences(model):
    pose, betas, _ = _random_inputs(1, 10, seed=5)
    pose64, betas64 = pose[0].astype(np.float64), betas[0].astype(np.float64)
    w = np.random.default_rng(0).normal(size=(model.num_vertices, 3))

    with jax.enable_x64(True):
        m64 = jax.tree.map(
            lambda x: jnp.asarray(x, jnp.float64) if x.dtype == jnp.float32 else x, model
        )

        def loss(p):
            return jnp.sum(forward(m64, p, jnp.asarray(betas64)).vertices * w)

        g = jax.grad(loss)(jnp.asarray(pose64))
        eps = 1e-6
        for j, c in [(0, 0), (4, 1), (18, 2), (0, 1)]:
            d = np.zeros_like(pose64)
            d[j, c] = eps
            fd = (loss(pose64 + d) - loss(pose64 - d)) / (2 * eps)
            np.testing.assert_allclose(g[j, c], fd, rtol=1e-6, atol=1e-8)


def test_rodrigues_gradient_finite_and_exact_at_zero():
    g = jax.jacobian(rodrigues)(jnp.zeros(3))
    assert np.all(np.isfinite(g))
    # dR/dr at 0 is skew(e_k): R ~ I + skew(r)
    np.testing.assert_allclose(g[:, :, 0], np.array([[0, 0, 0], [0, 0, -1], [0, 1, 0]]), atol=1e-7)


def test_cheap_paths_agree_with_full_forward(model):
    pose, betas, transl = _random_inputs(1, 10, seed=7)
    full = forward(model, pose[0], betas[0], transl[0])
    np.testing.assert_allclose(
        posed_joints(model, pose[0], betas[0], transl[0]), full.joints, atol=1e-5
    )
    ids = (3, 100, 6000)
    J, v = skin_vertices(model, pose[0], betas[0], ids, transl[0])
    np.testing.assert_allclose(v, full.vertices[np.array(ids)], atol=1e-5)
    np.testing.assert_allclose(J, full.joints, atol=1e-5)
    np.testing.assert_allclose(
        rest_joints(model, betas[0]), forward(model, jnp.zeros((24, 3)), betas[0]).joints, atol=1e-5
    )


def test_flat_pose_accepted_and_batch_refused(model):
    pose, betas, _ = _random_inputs(2, 10)
    a = forward(model, pose[0].reshape(72), betas[0]).vertices
    b = forward(model, pose[0], betas[0]).vertices
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="vmap"):
        forward(model, pose, betas[0])
    with pytest.raises(ValueError, match="betas"):
        forward(model, pose[0], np.zeros(7, np.float32))
    with pytest.raises(ValueError, match=r"got \(24, 3, 3\) \(rotation matrices\? forward takes"):
        forward(model, np.tile(np.eye(3, dtype=np.float32), (24, 1, 1)), betas[0])


def test_keypoint_sets_on_smpl_file_model(model):
    from jaxrefine.keypoints import SMPL_LANDMARKS

    m = model.replace(landmarks=SMPL_LANDMARKS)
    out = forward(m, jnp.zeros((24, 3)), jnp.zeros(10))
    body25 = out.keypoints("body25")
    assert body25.shape == (25, 3)
    np.testing.assert_array_equal(body25[0], out.vertices[332])  # nose = smplx vertex 332
    np.testing.assert_array_equal(body25[8], out.joints[0])  # MidHip = pelvis
    coco = out.keypoints("coco17")
    assert coco.shape == (17, 3)
    np.testing.assert_array_equal(coco[16], out.joints[8])  # right ankle
    assert out.keypoints("smpl24").shape == (24, 3)
    assert jaxrefine.joint_names("openpose")[8] == "mid_hip"
    with pytest.raises(KeyError, match="unknown keypoint set"):
        out.keypoints("h36m")
    bare = forward(model, jnp.zeros((24, 3)), jnp.zeros(10))  # no landmarks defined
    with pytest.raises(KeyError, match="landmarks"):
        bare.keypoints("body25")
