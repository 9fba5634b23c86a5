"""SMPLify: parity with a PyTorch implementation of SPIN's losses on smplx, and end to end."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.body_model import forward, from_arrays
from jaxrefine.camera import Camera, project
from jaxrefine.keypoints import SMPL_LANDMARKS
from jaxrefine.objective import FitData, GMMResidualPrior, params_from_pose
from jaxrefine.smplify import smplify

# 200 Adam steps in float32 in two frameworks: both follow the same trajectory; differences
# come from float32 summation order and grow slowly along it (seen: ~1e-5 relative).
_PARITY_RTOL = 1e-4


def random_gmm(seed=0, m=8, d=69):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 0.2, (m, d))
    covars = []
    for _ in range(m):
        a = rng.normal(0, 0.1, (d, d))
        covars.append(a @ a.T + 0.02 * np.eye(d))
    w = rng.dirichlet(np.ones(m))
    return means, np.stack(covars), w


def _problem(arrays, B=3, seed=0, kind="keypoints"):
    model = from_arrays(arrays, model_id="rand", gender="neutral", num_betas=10).replace(
        landmarks=SMPL_LANDMARKS
    )
    rng = np.random.default_rng(seed)
    pose = rng.normal(0, 0.15, (B, 24, 3)).astype(np.float32)
    pose[:, 0] = [np.pi, 0, 0]  # facing the camera
    betas = rng.normal(0, 0.5, (B, 10)).astype(np.float32)
    transl = np.tile(np.array([0, 0, 4.0], np.float32), (B, 1))
    focal = np.full(B, 600.0, np.float32)
    center = np.full((B, 2), 128.0, np.float32)
    cams = Camera(
        fx=jnp.asarray(focal), fy=jnp.asarray(focal), cx=jnp.asarray(center[:, 0]),
        cy=jnp.asarray(center[:, 1]), R=jnp.tile(jnp.eye(3), (B, 1, 1)), t=jnp.zeros((B, 3)),
    )  # fmt: skip
    gt = jax.vmap(lambda p, b, t: forward(model, p, b, t))(pose, betas, transl)
    if kind == "keypoints":
        kp3 = jax.vmap(lambda j, v: gt.__class__(v, j, gt.keypoint_sets).keypoints("body25"))(
            gt.joints, gt.vertices
        )
        targets = np.asarray(jax.vmap(project)(cams, kp3))
        conf = np.ones((B, 25), np.float32)
    else:
        targets = np.asarray(jax.vmap(project)(cams, gt.vertices))
        conf = (rng.uniform(size=(B, targets.shape[1])) < 0.5).astype(np.float32)
    ipose = pose + rng.normal(0, 0.1, pose.shape).astype(np.float32)
    itransl = transl + np.array([0.05, -0.05, 0.3], np.float32)
    ibetas = np.zeros_like(betas)
    return model, cams, focal, center, targets, conf, (ipose, ibetas, itransl)


@pytest.mark.ref
@pytest.mark.parametrize("kind", ["keypoints", "dense"])
def test_spin_parity_with_pytorch_reference(smpl_size_arrays, kind):
    pytest.importorskip("torch", reason="torch not installed (pip install '.[ref]')")
    pytest.importorskip("smplx", reason="smplx not installed (pip install '.[ref]')")
    from jaxrefine.bench.spin_torch import SpinSMPLifyTorch

    steps = 100 if kind == "keypoints" else 30  # dense: 13k-residual steps; 30 + 30 suffice
    model, cams, focal, center, targets, conf, (ipose, ibetas, itransl) = _problem(
        smpl_size_arrays, kind=kind
    )
    gmm = random_gmm()
    B = len(focal)
    data = FitData(
        camera=cams, init_transl=jnp.asarray(itransl), pixel_scale=jnp.ones(B),
        **(
            {"keypoints": jnp.asarray(targets), "keypoint_conf": jnp.asarray(conf)}
            if kind == "keypoints"
            else {"dense_targets": jnp.asarray(targets), "dense_weights": jnp.asarray(conf)}
        ),
    )  # fmt: skip
    res = smplify(
        model, params_from_pose(ipose, ibetas, itransl), data, preset="spin", data_kind=kind,
        optimizer="adam", gmm=GMMResidualPrior.from_gmm(*gmm), camera_steps=steps,
        body_steps=steps, select="last",
    )  # fmt: skip
    ref = SpinSMPLifyTorch(smpl_size_arrays, gmm).fit(
        ipose, ibetas, itransl, focal, center, targets, conf, kind=kind, camera_steps=steps,
        body_steps=steps,
    )  # fmt: skip
    np.testing.assert_allclose(res.camera_stage.final_loss, ref["camera_loss"], rtol=_PARITY_RTOL)
    np.testing.assert_allclose(res.body_stage.final_loss, ref["body_loss"], rtol=_PARITY_RTOL)
    for k in ("global_orient", "body_pose", "betas", "transl"):
        a, b = np.asarray(res.params[k]), ref[k]
        np.testing.assert_allclose(a, b, rtol=_PARITY_RTOL, atol=_PARITY_RTOL * np.abs(b).max())
