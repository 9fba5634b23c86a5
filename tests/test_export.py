"""BVH and glTF exports reproduce the body model's posed joints (read back by independent code:
jaxrefine's BVH parser, and pygltflib with a node-hierarchy walk written here)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pygltflib
import pytest
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import forward
from jaxrefine.data.bvh import forward_kinematics, load_bvh
from jaxrefine.export import TO_Y_UP, save_bvh, save_gltf
from jaxrefine.keypoints import SMPL_JOINT_NAMES
from jaxrefine.smpl_io import load_body_model

# Joint positions in metres after a float32 forward pass and text with 6 decimals (cm).
JOINT_TOL_M = 1e-4


@pytest.fixture(scope="module")
def sequence():
    model = load_body_model()
    rng = np.random.default_rng(0)
    t = 3
    params = {
        "global_orient": rng.normal(0, 0.6, (t, 3)).astype(np.float32),
        "body_pose": rng.normal(0, 0.3, (t, 23, 3)).astype(np.float32),
        "transl": rng.normal(0, 0.3, (t, 3)).astype(np.float32) + [0, 0, 4],
    }
    betas = rng.normal(0, 1, model.num_betas).astype(np.float32)
    joints = np.stack(
        [
            np.asarray(
                forward(
                    model,
                    jnp.concatenate([params["global_orient"][k][None], params["body_pose"][k]]),
                    jnp.asarray(betas),
                    jnp.asarray(params["transl"][k]),
                ).joints
            )
            for k in range(t)
        ]
    )
    return model, params, betas, TO_Y_UP.apply(joints.reshape(-1, 3)).reshape(t, 24, 3)


def test_bvh_round_trip_gives_posed_joints(tmp_path, sequence):
    model, params, betas, expect = sequence
    path = save_bvh(tmp_path / "seq.bvh", model, params, betas, fps=30.0)
    bvh = load_bvh(path)
    assert bvh.frame_time == pytest.approx(1 / 30.0) and len(bvh.joint_names) == 24
    kin = forward_kinematics(bvh, scale=0.01)
    order = [SMPL_JOINT_NAMES.index(name) for name in bvh.joint_names]  # file order: depth first
    np.testing.assert_allclose(kin.positions, expect[:, order], atol=JOINT_TOL_M)


def _world(doc, node: int, k: int, samplers: dict, parent=None) -> dict:
    parent = np.eye(4) if parent is None else parent
    n = doc.nodes[node]
    T = np.eye(4)
    T[:3, 3] = samplers.get((node, "translation"), [n.translation or [0, 0, 0]] * 99)[k]
    R = np.eye(4)
    if (node, "rotation") in samplers:
        R[:3, :3] = Rotation.from_quat(samplers[(node, "rotation")][k]).as_matrix()
    M = parent @ T @ R
    out = {node: M}
    for c in n.children or []:
        out.update(_world(doc, c, k, samplers, M))
    return out


def _read(doc, accessor: int) -> np.ndarray:
    acc = doc.accessors[accessor]
    view = doc.bufferViews[acc.bufferView]
    blob = doc.binary_blob()[view.byteOffset : view.byteOffset + view.byteLength]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    return np.frombuffer(blob, np.float32).reshape(acc.count, width)


def test_gltf_animation_gives_posed_joints(tmp_path, sequence):
    model, params, betas, expect = sequence
    path = save_gltf(tmp_path / "seq.glb", model, params, betas, fps=25.0)
    doc = pygltflib.GLTF2().load(str(path))
    assert len(doc.skins[0].joints) == 24 and len(doc.animations[0].channels) == 25
    samplers = {}
    for ch in doc.animations[0].channels:
        s = doc.animations[0].samplers[ch.sampler]
        samplers[(ch.target.node, ch.target.path)] = _read(doc, s.output)
    np.testing.assert_allclose(_read(doc, doc.animations[0].samplers[0].input)[:, 0],
                               np.arange(3) / 25.0, atol=1e-7)  # fmt: skip
    for k in range(3):
        world = _world(doc, 0, k, samplers)
        got = np.stack([world[j][:3, 3] for j in range(24)])
        np.testing.assert_allclose(got, expect[k], atol=JOINT_TOL_M)


def test_export_rejects_bad_input(tmp_path, sequence):
    model, params, betas, _ = sequence
    with pytest.raises(ValueError, match="fps must be positive"):
        save_bvh(tmp_path / "x.bvh", model, params, betas, fps=0.0)
    with pytest.raises(ValueError, match="body_pose"):
        save_gltf(tmp_path / "x.glb", model, {**params, "body_pose": np.zeros((3, 22, 3))},
                  betas, fps=30.0)  # fmt: skip
    assert not (tmp_path / "x.bvh").exists() and not (tmp_path / "x.glb").exists()
