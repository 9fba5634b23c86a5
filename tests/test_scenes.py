"""Synthetic scene generator: determinism, ground truth consistency, keypoint visibility."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine import load_body_model
from jaxrefine.camera import Camera
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import (
    GeneratorConfig,
    SceneBatch,
    generate,
    iterate,
    keypoint_visibility,
    render_frame,
)
from jaxrefine.keypoints import joint_names

_SIZE = 64  # px; small frames keep the test fast
_PROJ_TOL = 1e-2  # px; keypoints vs re-projection of keypoints_3d, float32 at ~3 m depth
_CFG = GeneratorConfig(scene=SceneConfig(image_size=(_SIZE, _SIZE)), texture_size=64)


@functools.cache
def _model():
    return load_body_model()


def _poses(n=16, seed=0):
    """Small random poses (N, 24, 3): the generator takes any SMPL-layout poses; these keep the
    test independent of the mocap folder."""
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.15, (n, 24, 3))).astype(np.float32)


@pytest.fixture(scope="module")
def batch():
    return generate(_model(), _poses(), 3, 11, _CFG)


def _leaves(b: SceneBatch):
    return {f.name: getattr(b, f.name) for f in dataclasses.fields(b)}


def test_deterministic_by_seed(batch):
    again = generate(_model(), _poses(), 3, 11, _CFG)
    for name, a in _leaves(batch).items():
        np.testing.assert_array_equal(np.asarray(a), np.asarray(_leaves(again)[name]), err_msg=name)
    other = generate(_model(), _poses(), 3, 12, _CFG)
    assert not np.array_equal(batch.image, other.image)
    assert not np.array_equal(batch.pose, other.pose)


def test_batch_contents(batch):
    n, h, w = 3, _SIZE, _SIZE
    assert batch.image.shape == (n, h, w, 3) and batch.image.dtype == np.float32
    assert 0.0 <= batch.image.min() and batch.image.max() <= 1.0
    np.testing.assert_array_equal(batch.mask, batch.tri_id >= 0)
    assert batch.mask.mean() > 0.02  # a body is in every frame
    assert batch.mask.reshape(n, -1).any(1).all()
    k = len(joint_names("body25"))
    assert batch.keypoints.shape == (n, k, 2) and batch.visible.shape == (n, k)
    # keypoints are the projections of keypoints_3d (camera frame, R = I)
    p = batch.keypoints_3d
    f, c = batch.intrinsics[:, None, :2], batch.intrinsics[:, None, 2:]
    np.testing.assert_allclose(p[..., :2] / p[..., 2:] * f + c, batch.keypoints, atol=_PROJ_TOL)
    # the initial estimate differs from the ground truth ("medium" level)
    assert batch.difficulty == "medium"
    assert np.abs(batch.init_pose - batch.pose).max() > 0.01
    assert np.abs(batch.init_transl - batch.transl).max() > 1e-3
    # the image differs from the background inside the mask (the body is drawn)
    sub = batch.select(slice(0, 1))
    assert len(sub) == 1 and sub.image.shape == (1, h, w, 3)
    assert batch.cameras.fx.shape == (n,)


def test_iterate_is_restartable():
    model, poses = _model(), _poses()
    stream = list(iterate(model, poses, 3, 5, _CFG, num_batches=2))
    later = next(iterate(model, poses, 3, 5, _CFG, start=1))
    np.testing.assert_array_equal(stream[1].image, later.image)
    assert not np.array_equal(stream[0].image, stream[1].image)


def test_input_checks():
    with pytest.raises(ValueError, match="poses must be"):
        generate(_model(), np.zeros((4, 23, 3)), 2, 0, _CFG)
    with pytest.raises(ValueError, match="n must be positive"):
        generate(_model(), _poses(), 0, 0, _CFG)


# --------------------------------------------------------------------------- visibility
def test_visibility_constructed_depth_map():
    h, w = 10, 20
    depth = np.zeros((h, w), np.float32)
    depth[:, :10] = 2.0  # a wall 2 m away covering the left half
    mask = depth > 0
    points = np.array(
        [
            [0.0, 0.0, 1.9],  # in front of the wall -> visible
            [0.0, 0.0, 2.5],  # 0.5 m behind the wall -> hidden
            [0.0, 0.0, 2.05],  # 5 cm behind, within the 10 cm tolerance -> visible
            [0.0, 0.0, 3.0],  # over background -> visible
            [0.0, 0.0, 3.0],  # outside the image -> not visible
            [0.0, 0.0, -1.0],  # behind the camera -> not visible
        ],
        np.float32,
    )
    pixels = np.array(
        [[5.5, 5.5], [2.5, 1.5], [9.9, 9.9], [15.5, 3.5], [20.0, 3.5], [5.5, 5.5]], np.float32
    )
    vis = keypoint_visibility(jnp.asarray(points), jnp.asarray(pixels), depth, mask, 0.1)
    np.testing.assert_array_equal(np.asarray(vis), [True, False, True, True, False, False])
    with pytest.raises(ValueError, match="one frame"):
        keypoint_visibility(jnp.zeros((2, 5, 3)), jnp.zeros((2, 5, 2)), depth, mask, 0.1)


def _a_pose(yaw_deg: float) -> np.ndarray:
    pose = np.zeros((24, 3), np.float32)
    r = Rotation.from_euler("x", 180, degrees=True) * Rotation.from_euler("y", yaw_deg, True)
    pose[0] = r.as_rotvec()
    pose[16, 2], pose[17, 2] = -1.2, 1.2  # arms down along the body
    return pose


def test_visibility_of_a_body_seen_from_the_side_and_the_front():
    """Side view: the far arm is behind the torso and the far leg behind the near leg, so
    their joints are hidden while the near side's are visible. Front view: all limb joints are
    visible. A body shifted half out of frame loses the keypoints outside the image."""
    model = _model()
    size = 128
    cam = Camera.create(180.0, 180.0, size / 2, size / 2)  # the whole body fits in the frame
    poses = np.stack([_a_pose(90.0), _a_pose(0.0), _a_pose(0.0)])
    transl = np.array([[0, 0, 3.0], [0, 0, 3.0], [0.8, 0, 3.0]], np.float32)
    cams = jax.tree.map(lambda a: jnp.broadcast_to(a, (3,) + a.shape), cam)

    @jax.jit
    def render(pose, transl, cams):
        fn = functools.partial(render_frame, height=size, width=size, backend="auto")
        light = jnp.array([0, 0, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], jnp.float32)
        return jax.vmap(
            lambda p, t, c: fn(
                model, p, jnp.zeros(10), t, c, jnp.full((8, 8, 3), 0.5), jnp.zeros((size, size, 3)),
                light, jnp.ones(3), jnp.zeros(()), jax.random.key(0),
            )
        )(pose, transl, cams)  # fmt: skip

    out = jax.tree.map(np.asarray, render(poses, transl, cams))
    names = joint_names("body25")
    idx = {n: i for i, n in enumerate(names)}
    side, front, shifted = out["visible"]
    kp3 = out["keypoints_3d"][0]
    # which body side is nearer the camera in the side view
    near, far = ("left", "right") if kp3[idx["left_wrist"], 2] < kp3[idx["right_wrist"], 2] else (
        "right", "left"
    )  # fmt: skip
    limbs = ("shoulder", "elbow", "wrist", "knee", "ankle")
    assert out["visible"][:2].sum() > 10  # nothing left the frame in the first two
    for j in limbs + ("heel",):
        assert side[idx[f"{near}_{j}"]], f"near {j} should be visible in the side view"
    for j in ("elbow", "wrist", "knee", "ankle", "heel"):
        assert not side[idx[f"{far}_{j}"]], f"far {j} should be hidden in the side view"
    for s in ("left", "right"):
        for j in limbs + ("hip",):
            assert front[idx[f"{s}_{j}"]], f"{s} {j} should be visible in the front view"
    u = out["keypoints"][2][:, 0]
    np.testing.assert_array_equal(shifted[u >= size], False)
    assert (u >= size).any() and shifted[u < size].sum() > 5
