"""SMPLify terms against hand-computed values, the GMM against scipy, residual/loss agreement."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import jaxrefine
from jaxrefine.camera import Camera, project
from jaxrefine.objective import (
    FitData,
    check_params,
    get_preset,
    load_gmm_prior,
    make_objectives,
    params_from_pose,
)
from jaxrefine.priors import gmm_from_arrays

# float32 sums of a few hundred terms of size ~1e3: relative agreement to ~1e-6 expected.
_TERM_RTOL = 1e-5


@pytest.fixture(scope="module")
def model():
    return jaxrefine.load_body_model()


def _setup(model, seed=0, kind="keypoints"):
    rng = np.random.default_rng(seed)
    pose = rng.normal(0, 0.2, (24, 3)).astype(np.float32)
    pose[0] = [np.pi, 0, 0]
    betas = rng.normal(0, 1, 10).astype(np.float32)
    transl = np.array([0.1, -0.2, 5.0], np.float32)
    cam = Camera.create(800.0, 800.0, 200.0, 150.0)
    params = params_from_pose(pose, betas, transl)
    return rng, cam, params


def test_keypoint_terms_by_hand(model):
    rng, cam, params = _setup(model)
    out = jaxrefine.forward(
        model,
        jnp.concatenate([params["global_orient"][None], params["body_pose"]]),
        params["betas"],
        params["transl"],
    )
    kp = np.asarray(project(cam, out.keypoints("body25")))
    targets = kp + rng.normal(0, 30, kp.shape)
    conf = rng.uniform(0.2, 1, 25).astype(np.float32)
    data = FitData(
        camera=cam, init_transl=params["transl"] + 0.5, pixel_scale=jnp.float32(1.0),
        keypoints=jnp.asarray(targets, jnp.float32), keypoint_conf=jnp.asarray(conf),
    )  # fmt: skip
    cam_obj, body_obj = make_objectives(model, get_preset("spin"), "keypoints", None)
    r = kp - targets
    # body stage: sum c^2 rho(r) with neck and hips ignored (SPIN), plus priors
    c = conf.copy()
    c[[1, 9, 12]] = 0
    s2 = 100.0**2
    data_term = np.sum(c[:, None] ** 2 * s2 * r**2 / (s2 + r**2))
    bp = np.asarray(params["body_pose"]).reshape(-1)
    angle = 15.2**2 * np.sum(np.exp(np.array([1, -1, -1, -1]) * bp[[52, 55, 9, 12]]) ** 2)
    shape = 25.0 * np.sum(np.asarray(params["betas"]) ** 2)
    t = body_obj.terms(params, data)
    np.testing.assert_allclose(t["data"], data_term, rtol=_TERM_RTOL)
    np.testing.assert_allclose(t["angle_prior"], angle, rtol=_TERM_RTOL)
    np.testing.assert_allclose(t["shape_prior"], shape, rtol=_TERM_RTOL)
    np.testing.assert_allclose(
        body_obj.loss(params, data), data_term + angle + shape, rtol=_TERM_RTOL
    )
    # camera stage: plain squared error of the 4 torso joints + 100^2 (tz - tz0)^2
    torso = [9, 12, 2, 5]
    expect = np.sum(r[torso] ** 2) + 1e4 * 0.5**2
    np.testing.assert_allclose(cam_obj.loss(params, data), expect, rtol=_TERM_RTOL)
    # a missing torso keypoint is never fitted to
    data0 = data.replace(keypoint_conf=data.keypoint_conf.at[9].set(0.0))
    expect0 = np.sum(r[[12, 2, 5]] ** 2) + 1e4 * 0.5**2
    np.testing.assert_allclose(cam_obj.loss(params, data0), expect0, rtol=_TERM_RTOL)


def test_dense_term_by_hand(model):
    rng, cam, params = _setup(model, seed=1)
    verts = jaxrefine.forward(
        model,
        jnp.concatenate([params["global_orient"][None], params["body_pose"]]),
        params["betas"],
        params["transl"],
    ).vertices
    proj = np.asarray(project(cam, verts))
    targets = proj + rng.normal(0, 20, proj.shape)
    w = (rng.uniform(size=len(proj)) < 0.4).astype(np.float32)
    scale = 0.7
    data = FitData(
        camera=cam, init_transl=params["transl"], pixel_scale=jnp.float32(scale),
        dense_targets=jnp.asarray(targets, jnp.float32), dense_weights=jnp.asarray(w),
    )  # fmt: skip
    preset = get_preset("dense")
    _, body_obj = make_objectives(model, preset, "dense", None)
    r = (proj - targets) * scale
    s2 = 100.0**2
    expect = preset.weights.dense**2 * 25.0 / w.sum() * np.sum(w[:, None] * s2 * r**2 / (s2 + r**2))
    t = body_obj.terms(params, data)
    np.testing.assert_allclose(t["data"], expect, rtol=1e-4)
    assert "angle_prior" not in t  # the dense preset drops the bending term


def test_gmm_matches_scipy_max_mixture():
    rng = np.random.default_rng(0)
    M, D = 3, 69
    means = rng.normal(0, 0.3, (M, D))
    covars = np.stack([np.diag(rng.uniform(0.01, 0.2, D)) + 0.001 for _ in range(M)])
    weights = np.array([0.5, 0.3, 0.2])
    prior = gmm_from_arrays(means, covars, weights)
    for _ in range(5):
        x = rng.normal(0, 0.3, D)
        logpdf = [multivariate_normal(means[m], covars[m]).logpdf(x) for m in range(M)]
        # docs/METHOD.md: E_m = 0.5 d'L d - log(w_m / ((2 pi)^(D/2) s_m / min s)), s = sqrt(det S)
        #                  = -log(w_m N(x; mu_m, S_m)) - log(min s); the prior is min_m E_m
        sq = np.sqrt(np.linalg.det(covars))
        expect = min(-np.log(weights[m]) - logpdf[m] - np.log(sq.min()) for m in range(M))
        np.testing.assert_allclose(prior.energy(jnp.asarray(x, jnp.float32)), expect, rtol=1e-4)
        res = prior.residuals(jnp.asarray(x, jnp.float32))
        np.testing.assert_allclose(jnp.sum(res**2), expect, rtol=1e-4)


def test_shipped_gmm_loads_into_objective():
    prior = load_gmm_prior()
    assert prior.means.shape == (8, 69) and prior.whiten.shape == (8, 69, 69)
    # the mean of a component has the lowest energy nearby
    e0 = prior.energy(prior.means[0])
    assert e0 < prior.energy(prior.means[0] + 0.3)


def test_loss_equals_sum_of_squared_residuals_and_grads_finite(model):
    rng, cam, params = _setup(model, seed=2)
    kp = rng.uniform(50, 350, (25, 2)).astype(np.float32)
    data = FitData(
        camera=cam, init_transl=params["transl"], pixel_scale=jnp.float32(1.0),
        keypoints=jnp.asarray(kp), keypoint_conf=jnp.ones(25),
    )  # fmt: skip
    for obj in make_objectives(model, get_preset("spin"), "keypoints", load_gmm_prior()):
        loss = obj.loss(params, data)
        np.testing.assert_allclose(jnp.sum(obj.residuals(params, data) ** 2), loss, rtol=1e-5)
        g = jax.grad(obj.loss)(params, data)
        assert all(np.all(np.isfinite(v)) for v in jax.tree.leaves(g))
    with pytest.raises(ValueError, match="data_kind"):
        make_objectives(model, get_preset("spin"), "silhouette", None)
    with pytest.raises(KeyError, match="unknown SMPLify preset"):
        get_preset("fast")


def _batch_params(B=2, nb=10, seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"global_orient": (B, 3), "body_pose": (B, 23, 3), "betas": (B, nb), "transl": (B, 3)}
    return {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}


def test_check_params_reads_smplx_layouts_also_traced():
    p = _batch_params()
    flat = dict(
        p, body_pose=p["body_pose"].reshape(2, 69), global_orient=p["global_orient"][:, None]
    )
    for given in (p, flat):
        out = check_params(given, 10)
        for k in p:
            np.testing.assert_array_equal(out[k], p[k])
    traced = jax.jit(lambda q: check_params(q, 10)["body_pose"])(flat)
    np.testing.assert_array_equal(traced, p["body_pose"])
    assert check_params(dict(p, extra=1), 10)["extra"] == 1  # other keys stay


_Z = np.zeros


@pytest.mark.parametrize(
    "change, message",
    [
        ({"transl": None}, r"lacks 'transl'; expected global_orient \(B, 3\), "
                           r"body_pose \(B, 23, 3\), betas \(B, 10\), transl \(B, 3\)"),
        ({"body_pose": _Z((2, 23, 3, 3))}, r"\['body_pose'\] has shape \(2, 23, 3, 3\): "
                                           r"rotation matrices\? expected axis-angle \(B, 23, 3\)"),
        ({"global_orient": _Z((2, 1, 3, 3))}, r"\['global_orient'\].*rotation matrices"),
        ({"body_pose": _Z((2, 63))}, r"an SMPL-X or SMPL\+H body_pose \(21 joints\)"),
        ({"body_pose": _Z((2, 21, 3))}, r"SMPL-X.*transfer_model"),
        ({"betas": _Z((2, 300))}, r"300 shape coefficients, but the body model has 10 \(drop"),
        ({"betas": _Z((2, 5))}, r"5 shape coefficients, but the body model has 10 \(pad"),
        ({"transl": _Z(3)}, r"\['transl'\] has shape \(3,\): expected \(B, 3\), a leading"),
        ({"transl": _Z((3, 3))}, r"different batch sizes: .*'transl': 3"),
    ],
)  # fmt: skip
def test_check_params_names_the_key_and_what_was_expected(change, message):
    p = {k: v for k, v in dict(_batch_params(), **change).items() if v is not None}
    with pytest.raises(ValueError, match="^who.*" + message):
        check_params(p, 10, "who")


def test_params_from_pose_reads_a_flat_pose_and_refuses_others():
    pose = np.random.default_rng(0).normal(size=(2, 24, 3)).astype(np.float32)
    a, b = (
        params_from_pose(pose.reshape(2, 72), np.zeros((2, 10)), np.zeros((2, 3))),
        params_from_pose(pose, np.zeros((2, 10)), np.zeros((2, 3))),
    )
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(ValueError, match=r"pose has shape \(2, 69\); expected \(..., 24, 3\)"):
        params_from_pose(pose[:, 1:].reshape(2, 69), np.zeros((2, 10)), np.zeros((2, 3)))


def test_keypoints_the_fit_would_misread_are_refused_and_others_kept():
    """Keypoints of confidence > 0 all within 1.5 of the origin are normalised coordinates
    (MediaPipe's [0, 1], SPIN's crop [-1, 1]); NaN or inf anywhere (0 * NaN is NaN, even at
    confidence 0) and confidences beyond [0, MAX_CONFIDENCE] (percent, logits) are refused;
    pixels, unconfident points, a pose model's overshoot to MAX_CONFIDENCE and traced values
    pass."""
    from jaxrefine.keypoints import MAX_CONFIDENCE
    from jaxrefine.objective import check_keypoint_values

    rng = np.random.default_rng(0)
    conf = np.ones((2, 25))
    for xy in (rng.uniform(0, 1, (2, 25, 2)), rng.uniform(-1, 1, (2, 25, 2))):
        with pytest.raises(ValueError, match=r"^kp: every keypoint of confidence > 0 lies "
                           r"within \[-1.5, 1.5\]; full-image pixels are expected"):  # fmt: skip
            check_keypoint_values(xy, conf, "kp")
    pixels = rng.uniform(0, 1, (2, 25, 2))
    pixels[1, 3] = [320.0, 240.0]  # one confident point in pixels: not normalised
    check_keypoint_values(pixels, conf, "kp")
    check_keypoint_values(np.zeros((2, 25, 2)), np.zeros((2, 25)), "kp")  # nothing confident
    jax.jit(lambda a, c: check_keypoint_values(a, c, "kp") or a)(np.zeros((25, 2)), conf[0])
    pixels = pixels * 100
    for i, bad in enumerate((np.nan, np.inf)):
        xy, unsure = pixels.copy(), conf.copy()
        xy[1, 7, i], unsure[1, 7] = bad, 0.0  # a missing keypoint written as NaN / inf
        with pytest.raises(ValueError, match=r"^kp: 1 keypoints hold NaN or inf \(e.g. \[1, 7\]"
                           r"\); a missing keypoint is one of confidence 0 at any finite x, y "
                           r"\(np.nan_to_num gives both\)$"):  # fmt: skip
            check_keypoint_values(xy, unsure, "kp")
        odd = conf.copy()
        odd[0, 2] = bad  # a confidence
        with pytest.raises(ValueError, match=r"^kp: 1 keypoints hold NaN or inf \(e.g. \[0, 2\]"):
            check_keypoint_values(pixels, odd, "kp")
    check_keypoint_values(pixels, conf * MAX_CONFIDENCE, "kp")  # the overshoot bound passes
    for scale, low, high in ((100.0, 0, 100), (-1.0, -1, 0), (MAX_CONFIDENCE * 1.01, 0, 1.515)):
        scaled = conf * scale
        scaled[0, 0] = 0.0
        with pytest.raises(ValueError, match=rf"^kp: confidences from {low:g} to {high:g}; "
                           r"fractions of 1 are expected \(percent\? a detector's unnormalised "
                           r"scores\? divide them by their scale\), up to 1.5 \(a pose "
                           r"model's overshoot\) taken as given$"):  # fmt: skip
            check_keypoint_values(pixels, scaled, "kp")
    coco = np.where(np.arange(25) % 3 == 0, 0.0, np.where(np.arange(25) % 3 == 1, 1.0, 2.0))
    with pytest.raises(ValueError, match=r"^kp: confidences from 0 to 2; fractions of 1 are "
                       r"expected \(COCO's visibility flags \(0, 1, 2\)\? np.minimum\(v, 1\) "
                       r"reads them as its reader does\), up to 1.5"):  # fmt: skip
        check_keypoint_values(pixels, np.broadcast_to(coco, (2, 25)), "kp")


def test_dense_targets_with_nan_or_negative_weights_are_refused():
    """A vertex without a target written as NaN (0 * NaN is NaN: every fit of the batch ended
    "non-finite", docs/measurements/2026-12-08/s55_zen4/dense_values_probe_*.txt) and
    negative weights (their square root is NaN) and normalised coordinates are refused;
    finite targets at weight 0, any weight >= 0 and traced values pass."""
    from jaxrefine.objective import check_dense_values

    targets, weights = np.full((2, 50, 2), 40.0), np.ones((2, 50))
    weights[:, 20:] = 0.0
    check_dense_values(targets, weights * 3.5, "d")  # confidence weights may pass 1
    jax.jit(lambda t, w: check_dense_values(t, w, "d") or t)(targets[0], weights[0])
    for i, bad in enumerate((np.nan, np.inf)):
        t = targets.copy()
        t[1, 30, i] = bad  # at weight 0
        with pytest.raises(ValueError, match=r"^d: 1 dense targets hold NaN or inf \(e.g. "
                           r"\[1, 30\]\); a vertex without a target is one of weight 0 at "
                           r"any finite x, y \(np.nan_to_num gives both\)$"):  # fmt: skip
            check_dense_values(t, weights, "d")
        w = weights.copy()
        w[0, 4] = bad
        with pytest.raises(ValueError, match=r"^d: 1 dense targets hold NaN or inf \(e.g. "
                           r"\[0, 4\]\)"):  # fmt: skip
            check_dense_values(targets, w, "d")
    w = weights.copy()
    w[1, 2] = -0.25
    with pytest.raises(ValueError, match=r"^d: dense weights below 0 \(e.g. -0.25 at \[1, 2\]\);"
                       r" weights are >= 0 \(0: no target\)$"):  # fmt: skip
        check_dense_values(targets, w, "d")
    with pytest.raises(ValueError, match=r"^d: every target of weight > 0 lies within "
                       r"\[-1.5, 1.5\]; full-image pixels are expected \(normalised"):  # fmt: skip
        check_dense_values(targets / 80.0, weights, "d")  # 0.5: a fraction of the image
