"""The README's Python examples ("Using it") run as written, in order, on one synthetic frame.

The blocks name inputs a user brings (images, a regressor's parameters, keypoints); this test
hands them a synthetic frame's, runs each block as the README prints it, and checks what the
README says each block gives.
"""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.body_model import forward
from jaxrefine.camera import project
from jaxrefine.data.scenes import GeneratorConfig, SceneConfig, generate

README = Path(__file__).resolve().parents[1] / "README.md"
SIZE = 128  # image side of the synthetic frame: small, the network crops it anyway


def _blocks() -> list[str]:
    text = README.read_text()
    section = text.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def frame():
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.2, (4, 24, 3)).astype(np.float32)
    cfg = GeneratorConfig(scene=SceneConfig(image_size=(SIZE, SIZE)), texture_size=32)
    return generate(model, poses, 1, 0, cfg)


def _keypoint_error(model, params: dict, cameras, keypoints) -> float:
    """Mean pixel distance of the body's BODY_25 keypoints to the given ones."""
    pose = jnp.concatenate([params["global_orient"][0][None], params["body_pose"][0]])
    points = forward(model, pose, params["betas"][0]).keypoints("body25")
    points = points + jnp.asarray(params["transl"][0])[None]
    cam = jax.tree.map(lambda a: a[0], cameras)
    return float(np.mean(np.linalg.norm(project(cam, points) - keypoints[0, :, :2], axis=-1)))


def test_the_three_blocks_are_there():
    blocks = _blocks()
    assert len(blocks) == 3, [b.splitlines()[0] for b in blocks]
    assert "result = refine(" in blocks[1]
    assert "result = smplify(" in blocks[2]


def test_readme_examples_run_and_do_what_they_say(frame):
    body, learned, sparse = _blocks()
    ns: dict = {}
    exec(body, ns)  # noqa: S102 - the README's own code
    assert ns["out"].vertices.shape == ns["model"].v_template.shape
    assert ns["kp"].shape == (25, 3)
    assert ns["batched"](jnp.zeros((2, 24, 3)), jnp.zeros((2, 10))).vertices.shape[0] == 2

    ns["images"] = list(frame.image)
    ns["params"] = {"global_orient": frame.init_pose[:, 0], "body_pose": frame.init_pose[:, 1:],
                    "betas": frame.init_betas, "transl": frame.init_transl}  # fmt: skip
    exec(learned, ns)  # noqa: S102
    result = ns["result"]
    assert result.params["body_pose"].shape == (1, 23, 3) and result.status.shape == (1,)
    assert np.all(np.isfinite(result.params["transl"]))
    assert np.all(result.final_loss <= result.init_loss * (1 + 1e-6))  # never worse
    assert np.all(result.visible > 0)

    # the sparse block: the frame's true keypoints (with their visibility as confidence), the
    # initial estimate as the start; the fit must bring the body's keypoints closer to them
    cams = ns["cameras"]
    kp = np.concatenate([frame.keypoints, frame.visible[..., None].astype(np.float32)], -1)
    ns.update(keypoints=kp, pose=frame.init_pose, betas=frame.init_betas, transl=frame.init_transl)
    start = _keypoint_error(ns["model"], ns["params"], cams, kp)
    exec(sparse, ns)  # noqa: S102
    fitted = ns["result"]
    assert fitted.status.shape == (1,) and fitted.body_stage.loss_curve.shape[0] == 1
    assert _keypoint_error(ns["model"], fitted.params, cams, kp) < start
