"""SMPLify: parity with a PyTorch implementation of SPIN's losses on smplx, and end to end."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.bench.smplify import make_problem
from jaxrefine.body_model import from_arrays
from jaxrefine.keypoints import SMPL_LANDMARKS
from jaxrefine.objective import FitData, params_from_pose
from jaxrefine.priors import gmm_from_arrays
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


def _problem(arrays, kind="keypoints"):
    model = from_arrays(arrays, model_id="rand", gender="neutral", num_betas=10).replace(
        landmarks=SMPL_LANDMARKS
    )
    start, focal, center, targets, conf, cams = make_problem(model, 3, kind)
    return model, cams, focal, center, targets, conf, start


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
        optimizer="adam", gmm=gmm_from_arrays(*gmm), camera_steps=steps,
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
