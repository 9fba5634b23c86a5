"""SMPLify: parity with a PyTorch implementation of SPIN's losses on smplx, and end to end."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.bench.smplify import make_problem
from jaxrefine.body_model import from_arrays
from jaxrefine.camera import Camera
from jaxrefine.fit import STATUS_NO_IMPROVEMENT, STATUS_NONFINITE, STATUS_RENDER_FAILED
from jaxrefine.keypoints import SMPL_LANDMARKS
from jaxrefine.objective import (
    BODY25_TORSO,
    DATA_KINDS,
    DENSE_AND_KEYPOINTS,
    FitData,
    params_from_pose,
)
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


# ---------------------------------------------------------------------------------------------
# A tiny model (64 vertices) for fast API tests: statuses, stages, optimizers, data kinds


def tiny_model(seed=0, num_vertices=64, num_betas=4):
    """A random 24-joint model small enough for quick fits (joint-only keypoints: smpl24)."""
    from jaxrefine.body_model import SMPL_PARENTS

    rng = np.random.default_rng(seed)
    J, V = 24, num_vertices
    joints = np.zeros((J, 3))
    for j in range(1, J):
        joints[j] = joints[SMPL_PARENTS[j]] + rng.normal(0, 0.1, 3)
    owner = np.r_[np.arange(J), rng.integers(0, J, V - J)]
    weights = np.zeros((V, J))
    weights[np.arange(V), owner] = 0.7
    weights[np.arange(V), rng.integers(0, J, V)] += 0.3
    j_reg = np.zeros((J, V))
    j_reg[np.arange(J), np.arange(J)] = 1.0  # joint j sits at vertex j
    arrays = {
        "v_template": joints[owner] + rng.normal(0, 0.03, (V, 3)),
        "shapedirs": rng.normal(0, 0.01, (V, 3, num_betas)),
        "posedirs": rng.normal(0, 0.01, (V, 3, 207)),
        "J_regressor": j_reg,
        "weights": weights,
        "f": rng.integers(0, V, (2 * V, 3)),
        "kintree_table": np.stack([np.r_[-1, SMPL_PARENTS[1:]], np.arange(J)]),
    }
    return from_arrays(arrays, model_id="tiny", gender="neutral", num_betas=num_betas)


def tiny_problem(model, B=2, seed=0, visible=0.5):
    """Ground truth, a perturbed start, dense targets of a random visible subset, and the
    ground truth's smpl24 keypoints. Returns (init_params, data, gt_params)."""
    import jax

    from jaxrefine.body_model import forward
    from jaxrefine.camera import Camera, project

    rng = np.random.default_rng(seed)
    pose = rng.normal(0, 0.15, (B, 24, 3)).astype(np.float32)
    pose[:, 0] = [np.pi, 0, 0]
    betas = rng.normal(0, 0.5, (B, model.num_betas)).astype(np.float32)
    transl = np.tile(np.array([0, 0, 4.0], np.float32), (B, 1))
    cams = Camera(
        fx=jnp.full(B, 600.0), fy=jnp.full(B, 600.0), cx=jnp.full(B, 128.0),
        cy=jnp.full(B, 128.0), R=jnp.tile(jnp.eye(3), (B, 1, 1)), t=jnp.zeros((B, 3)),
    )  # fmt: skip
    gt = jax.vmap(lambda p, b, t: forward(model, p, b, t))(pose, betas, transl)
    init = params_from_pose(
        pose + rng.normal(0, 0.1, pose.shape).astype(np.float32),
        betas,
        transl + np.float32([0.05, -0.05, 0.2]),
    )
    data = FitData(
        camera=cams,
        init_transl=init["transl"],
        pixel_scale=jnp.ones(B),
        keypoints=jax.vmap(project)(cams, gt.joints),
        keypoint_conf=jnp.ones((B, 24)),
        dense_targets=jax.vmap(project)(cams, gt.vertices),
        dense_weights=jnp.asarray(rng.random((B, model.num_vertices)) < visible, jnp.float32),
    )
    return init, data, params_from_pose(pose, betas, transl)


_STEPS = {"camera_steps": 5, "body_steps": 5}


def test_skipped_stage_is_none_and_status_is_the_worst():
    model = tiny_model()
    init, data, _ = tiny_problem(model)
    kw = dict(data_kind="dense", keypoint_set="smpl24", compact=False)
    res = smplify(model, init, data, camera_steps=0, body_steps=3, **kw)
    assert res.camera_stage is None and res.body_stage is not None
    np.testing.assert_array_equal(res.status, res.body_stage.status)
    res = smplify(model, init, data, camera_steps=3, body_steps=0, **kw)
    assert res.body_stage is None and res.camera_stage is not None
    np.testing.assert_allclose(res.final_loss, res.camera_stage.final_loss, rtol=1e-6)
    # camera stage with a zero learning rate keeps its start ("kept initial", 2); a NaN pose
    # prior makes the body stage non-finite (1): the worst is non-finite, whatever the numbers
    import dataclasses

    from jaxrefine.objective import get_preset

    still = dataclasses.replace(get_preset("spin"), learning_rate=0.0)
    nan_gmm = gmm_from_arrays(np.zeros((2, 69)), np.tile(np.eye(69), (2, 1, 1)), [0.5, 0.5])
    nan_gmm = nan_gmm.replace(means=jnp.full((2, 69), jnp.nan))
    res = smplify(model, init, data, preset=still, gmm=nan_gmm, **_STEPS, **kw)
    np.testing.assert_array_equal(res.camera_stage.status, STATUS_NO_IMPROVEMENT)
    np.testing.assert_array_equal(res.body_stage.status, STATUS_NONFINITE)
    np.testing.assert_array_equal(res.status, STATUS_NONFINITE)


def test_optimizer_by_name_object_or_factory_gives_the_same_fit():
    from jaxrefine.optimizers import adam

    model = tiny_model()
    init, data, _ = tiny_problem(model)
    kw = dict(data_kind="dense", keypoint_set="smpl24", compact=False, **_STEPS)
    by_name = smplify(model, init, data, optimizer="adam", **kw)
    by_object = smplify(model, init, data, optimizer=adam(1e-2), **kw)
    by_factory = smplify(model, init, data, optimizer=adam, **kw)
    for other in (by_object, by_factory):
        for k in init:
            np.testing.assert_array_equal(other.params[k], by_name.params[k])
    # a different camera-stage optimizer: the camera stage changes, the API stays
    mixed = smplify(model, init, data, optimizer="adam", camera_optimizer=adam(0.05), **kw)
    assert not np.allclose(mixed.camera_stage.loss_curve, by_name.camera_stage.loss_curve)
    with pytest.raises(TypeError, match="not an Optimizer"):
        smplify(model, init, data, optimizer=lambda lr: "adam", **kw)
    with pytest.raises(KeyError, match="unknown optimizer 'sgd'"):
        smplify(model, init, data, optimizer="sgd", **kw)


def test_smplx_body_pose_layout_fits_alike_and_wrong_shapes_or_degrees_are_named():
    model = tiny_model()
    init, data, _ = tiny_problem(model)
    kw = dict(data_kind="dense", keypoint_set="smpl24", compact=False, **_STEPS)
    ours = smplify(model, init, data, **kw)
    flat = smplify(model, dict(init, body_pose=init["body_pose"].reshape(2, 69)), data, **kw)
    for k in init:
        np.testing.assert_array_equal(flat.params[k], ours.params[k])
    betas = jnp.zeros((2, 10))  # the tiny model has 4
    with pytest.raises(ValueError, match=r"^smplify: init_params\['betas'\].*has 4"):
        smplify(model, dict(init, betas=betas), data, **kw)
    degrees = jnp.zeros_like(init["body_pose"]).at[:, 2].set(jnp.array([0.0, 30.0, 0.0]))
    said = r"^smplify: init_params\['body_pose'\] holds a joint rotated by 30 \(frame 0, joint 3\)"
    with pytest.raises(ValueError, match=said + "; axis-angle is in radians"):
        smplify(model, dict(init, body_pose=degrees), data, **kw)


def _ones(*shape):
    return jnp.ones(shape)


@pytest.mark.parametrize(
    "kind, change, message",
    [
        ("keypoints", {"keypoints": _ones(2, 24, 3)},
         r"keypoints has shape \(2, 24, 3\); expected \(2, 24, 2\) \(x, y: give the confidences"),
        ("keypoints", {"keypoints": _ones(2, 17, 2)}, r"'smpl24' has 24 keypoints; keypoint_set="),
        ("keypoints", {"keypoint_conf": None}, r"keypoint_conf is None; data_kind='keypoints'"),
        ("dense", {"dense_targets": None}, r"dense_targets is None; data_kind='dense' needs it "
                                           r"\(2, 64, 2\)"),
        ("dense", {"dense_weights": _ones(2, 100)}, r"dense_weights has shape \(2, 100\); "
                                                   r"expected \(2, 64\)"),
        ("dense+keypoints", {"keypoints": None}, r"keypoints is None"),
        ("dense", {"pixel_scale": jnp.float32(1)}, r"pixel_scale has shape \(\); expected \(2,\)"),
        ("dense", {"init_transl": _ones(3, 3)}, r"init_transl has shape \(3, 3\); expected "
                                                r"\(2, 3\)"),
        ("keypoints", {"keypoints": _ones(2, 24, 2) * 0.5},  # MediaPipe's normalised [0, 1]
         r"keypoints: every keypoint of confidence > 0 lies within \[-1.5, 1.5\]; full-image "
         r"pixels are expected \(normalised coordinates\? multiply x by the image's width"),
        ("keypoints", {"keypoints": jnp.full((2, 24, 2), jnp.nan)},  # missing written as NaN
         r"keypoints: 48 keypoints hold NaN or inf \(e.g. \[0, 0\]\); a missing keypoint is "
         r"one of confidence 0 at any finite x, y"),
        ("dense+keypoints", {"keypoint_conf": _ones(2, 24) * 90},  # percent
         r"keypoints: confidences from 90 to 90; fractions of 1 are expected \(percent\?"),
        ("dense", {"dense_targets": jnp.full((2, 64, 2), jnp.nan)},  # no target written as NaN
         r"dense_targets: 128 dense targets hold NaN or inf \(e.g. \[0, 0\]\); a vertex "
         r"without a target is one of weight 0 at any finite x, y"),
        ("dense+keypoints", {"dense_weights": -_ones(2, 64)},
         r"dense_targets: dense weights below 0 \(e.g. -1 at \[0, 0\]\); weights are >= 0"),
        ("dense", {"camera": Camera.from_intrinsics(np.tile([0.0, 0.0, 32.0, 24.0], (2, 1)))},
         r"camera\[0\] has fx 0, fy 0, cx 32, cy 24; focal lengths are pixels > 0 and every "
         r"value finite$"),
    ],
)  # fmt: skip
def test_fit_data_of_other_shapes_is_refused_naming_the_field(kind, change, message):
    import dataclasses

    model = tiny_model()
    init, data, _ = tiny_problem(model)
    bad = dataclasses.replace(data, **change)
    with pytest.raises(ValueError, match=r"^smplify: data\..*" + message):
        smplify(model, init, bad, data_kind=kind, keypoint_set="smpl24", compact=False, **_STEPS)


def test_registry_is_the_one_list_of_names():
    from jaxrefine.optimizers import adam
    from jaxrefine.optimizers import registry as reg

    assert reg.optimizer_names()[:5] == ("adam", "lbfgs", "lm", "gn", "jaxopt-lbfgs")
    with pytest.raises(ValueError, match="already registered"):
        reg.register_optimizer("adam", adam)
    with pytest.raises(TypeError, match="needs a factory"):
        reg.register_optimizer("slow-adam", adam(1e-3))
    reg.register_optimizer("slow-adam", lambda lr: adam(lr / 10))
    try:
        assert "slow-adam" in reg.optimizer_names()
        lr = reg.make_optimizer("slow-adam", 1e-2).hyperparams["learning_rate"]
        assert float(lr) == pytest.approx(1e-3)
    finally:
        del reg.OPTIMIZERS["slow-adam"]


# ---------------------------------------------------------------------------------------------
# Combined data kind, whole-refinement fallback, jit and grad through dense SMPLify

_SUM_RTOL = 1e-5  # the same float32 terms summed in a different order


def test_dense_plus_keypoints_is_dense_plus_weighted_keypoints():
    import dataclasses

    import jax

    from jaxrefine.objective import Weights, get_preset, make_objectives

    model = tiny_model()
    init, data, _ = tiny_problem(model)
    data = data.replace(pixel_scale=jnp.array([0.7, 1.9]))  # both terms scale with the person
    w_kp = 0.6
    p = dataclasses.replace(get_preset("dense"), weights=Weights(dense=2.0, keypoint_in_dense=w_kp))
    gmm = gmm_from_arrays(*random_gmm(m=2))
    objs = {k: make_objectives(model, p, k, gmm, "smpl24") for k in DATA_KINDS}
    for stage in (0, 1):

        def losses(kind, stage=stage):
            o = objs[kind][stage]
            return jax.vmap(lambda q, d: (o.loss(q, d), o.terms(q, d)))(init, data)

        lc, tc = losses(DENSE_AND_KEYPOINTS)
        ld, td = losses("dense")
        _, tk = losses("keypoints")
        np.testing.assert_allclose(tc["data"], td["data"] + w_kp**2 * tk["data"], rtol=_SUM_RTOL)
        np.testing.assert_allclose(lc, ld + w_kp**2 * tk["data"], rtol=_SUM_RTOL)
        assert np.all(np.asarray(tk["data"]) > 0) and np.all(np.asarray(td["data"]) > 0)
    with pytest.raises(ValueError, match="data_kind must be one of"):
        make_objectives(model, p, "keypoints+dense", gmm, "smpl24")
    # and it fits, from smplify, compacted or not (same loss)
    kw = dict(preset=p, data_kind=DENSE_AND_KEYPOINTS, keypoint_set="smpl24", gmm=gmm, **_STEPS)
    a = smplify(model, init, data, compact=True, **kw)
    b = smplify(model, init, data, compact=False, **kw)
    np.testing.assert_allclose(a.final_loss, b.final_loss, rtol=1e-4)
    assert np.all(np.asarray(a.final_loss) < np.asarray(a.init_loss))


def test_whole_refinement_that_ends_worse_returns_the_start():
    from jaxrefine.fit import STATUS_OK
    from jaxrefine.optimizers import adam

    model = tiny_model()
    init, data, gt = tiny_problem(model)
    # frame 0 starts at the truth, but its four camera-stage keypoints are 40 px off: the camera
    # stage moves the body towards them and the body stage (zero step) cannot come back
    start = jax_tree_index_set(init, gt, 0)
    kps = np.asarray(data.keypoints).copy()
    kps[0, list(BODY25_TORSO), 0] += 40.0
    data = data.replace(keypoints=jnp.asarray(kps))
    kw = dict(data_kind="keypoints", keypoint_set="smpl24", optimizer=adam(0.0),
              camera_optimizer=adam(0.1), **_STEPS)  # fmt: skip
    res = smplify(model, start, data, **kw)
    np.testing.assert_array_equal(res.kept_initial, [True, False])
    np.testing.assert_array_equal(res.status[0], STATUS_NO_IMPROVEMENT)
    for k in start:
        np.testing.assert_array_equal(res.params[k][0], start[k][0])
        assert not np.array_equal(res.params[k][1], start[k][1]) or k in ("betas", "body_pose")
    assert float(res.body_stage.final_loss[0]) > float(res.init_loss[0])  # it did end worse
    np.testing.assert_array_equal(res.final_loss[0], res.init_loss[0])
    assert float(res.final_loss[1]) < float(res.init_loss[1])
    # select="none" switches every fallback off: frame 0 keeps its worse end
    raw = smplify(model, start, data, select="none", **kw)
    np.testing.assert_array_equal(raw.kept_initial, [False, False])
    assert float(raw.final_loss[0]) > float(raw.init_loss[0])
    # render flags mark a frame "render failed" (worse than kept initial, below non-finite)
    flagged = smplify(model, start, data, render_flags=jnp.array([0, 2]), **kw)
    np.testing.assert_array_equal(flagged.status, [STATUS_NO_IMPROVEMENT, STATUS_RENDER_FAILED])
    assert int(res.status[1]) in (STATUS_OK, STATUS_NO_IMPROVEMENT)


@pytest.mark.parametrize("kind", ["keypoints", "dense", DENSE_AND_KEYPOINTS])
def test_a_sample_without_data_keeps_its_start(kind):
    model = tiny_model()
    init, data, _ = tiny_problem(model)
    # frame 0 has nothing to fit (no confident keypoint, no weighted vertex: a body behind the
    # camera); its priors alone would pull it toward the mean pose and shape
    data = data.replace(keypoint_conf=data.keypoint_conf.at[0].set(0.0),
                        dense_weights=data.dense_weights.at[0].set(0.0))  # fmt: skip
    kw = dict(data_kind=kind, keypoint_set="smpl24", compact=False, **_STEPS)
    res = smplify(model, init, data, **kw)
    np.testing.assert_array_equal(res.kept_initial, [True, False])
    assert int(res.status[0]) == STATUS_NO_IMPROVEMENT
    for k in init:
        np.testing.assert_array_equal(res.params[k][0], init[k][0])
    np.testing.assert_array_equal(res.final_loss[0], res.init_loss[0])
    assert float(res.final_loss[1]) < float(res.init_loss[1])  # frame 1 is fitted as before
    # without the check (select="none": every fallback off) the priors move frame 0
    raw = smplify(model, init, data, select="none", **kw)
    assert np.abs(np.asarray(raw.params["body_pose"][0]) - init["body_pose"][0]).max() > 1e-3


def test_a_dense_fit_needs_no_keypoint_set():
    """A model without surface landmarks (a user's arrays through from_arrays) has no BODY_25,
    the default keypoint set; a dense fit reads none (session 51's data check asked for it)."""
    model = tiny_model()
    init, data, _ = tiny_problem(model)
    res = smplify(model, init, data, data_kind="dense", compact=False, **_STEPS)
    assert np.all(np.asarray(res.final_loss) < np.asarray(res.init_loss))
    with pytest.raises(KeyError, match="'body25' needs surface landmarks"):
        smplify(model, init, data, data_kind="keypoints", **_STEPS)


def jax_tree_index_set(tree, values, i):
    return {k: jnp.asarray(tree[k]).at[i].set(values[k][i]) for k in tree}


def test_dense_smplify_jits_and_differentiates_wrt_optimizer_leaves():
    import jax

    from jaxrefine.objective import compact_dense
    from jaxrefine.optimizers import adam

    model = tiny_model()
    init, data, _ = tiny_problem(model)
    kw = dict(data_kind="dense", keypoint_set="smpl24", select="none", camera_steps=3,
              body_steps=4, return_iterates=True)  # fmt: skip

    def training_loss(lr, d, compact):
        res = smplify(model, init, d, optimizer=adam(lr), compact=compact, **kw)
        return jnp.sum(res.final_loss), res

    lr = jnp.float32(0.01)
    (val, res), g = jax.jit(jax.value_and_grad(training_loss, has_aux=True), static_argnums=2)(
        lr, data, False
    )
    assert res.body_stage.iterates["body_pose"].shape == (2, 5, 23, 3)
    assert res.camera_stage.iterates["transl"].shape == (2, 4, 3)
    jitted = jax.jit(training_loss, static_argnums=2)
    eps = 1e-3
    fd = (jitted(lr + eps, data, False)[0] - jitted(lr - eps, data, False)[0]) / (2 * eps)
    assert float(g) == pytest.approx(float(fd), rel=5e-2)  # float32 FD of a 7-step fit
    # compacting is host-side: traced raw data is refused with the way out in the message ...
    with pytest.raises(ValueError, match="compact_dense"):
        jitted(lr, data, True)
    # ... and data compacted before the jitted part gives the same value
    packed = compact_dense(data)
    val_c = jitted(lr, packed, True)[0]
    np.testing.assert_allclose(val_c, val, rtol=1e-4)


@pytest.mark.ref
@pytest.mark.parametrize("prior", ["shipped", "dead-component"])
def test_spin_parity_with_spin_float32_prior(smpl_size_arrays, prior):
    """SPIN holds the GMM's normalised weights in float32: a component whose -log(weight x
    normaliser) exceeds ~103.3 underflows and is never chosen (the shipped prior's component 4,
    112.7). The twin mirrors that (its default ``prior="spin"``), jaxrefine follows with
    :func:`~jaxrefine.bench.spin_torch.spin_prior`: same fit step for step."""
    pytest.importorskip("torch", reason="torch not installed (pip install '.[ref]')")
    pytest.importorskip("smplx", reason="smplx not installed (pip install '.[ref]')")
    from jaxrefine.bench.spin_torch import SpinSMPLifyTorch, spin_nll_weights, spin_prior
    from jaxrefine.priors import load_gmm

    if prior == "shipped":
        g = load_gmm()
        gmm = tuple(np.asarray(x, np.float64) for x in (g.means, g.covars, g.weights))
    else:  # a random prior whose first component is dead in SPIN (-log ~ 111 > 103.3)
        means, covars, w = random_gmm(seed=1)
        w = w.copy()
        w[0] = 1e-19
        gmm = (means, covars, w / w.sum())
    assert np.isinf(spin_nll_weights(gmm[1], gmm[2])).sum() == 1
    steps = 100
    model, cams, focal, center, targets, conf, (ipose, ibetas, itransl) = _problem(smpl_size_arrays)
    data = FitData(camera=cams, init_transl=jnp.asarray(itransl), pixel_scale=jnp.ones(3),
                   keypoints=jnp.asarray(targets), keypoint_conf=jnp.asarray(conf))  # fmt: skip
    res = smplify(
        model, params_from_pose(ipose, ibetas, itransl), data, preset="spin",
        gmm=spin_prior(gmm_from_arrays(*gmm)), camera_steps=steps, body_steps=steps,
        select="last",
    )  # fmt: skip
    ref = SpinSMPLifyTorch(smpl_size_arrays, gmm).fit(
        ipose, ibetas, itransl, focal, center, targets, conf, camera_steps=steps, body_steps=steps
    )
    np.testing.assert_allclose(res.body_stage.final_loss, ref["body_loss"], rtol=_PARITY_RTOL)
    for k in ("global_orient", "body_pose", "betas", "transl"):
        a, b = np.asarray(res.params[k]), ref[k]
        np.testing.assert_allclose(a, b, rtol=_PARITY_RTOL, atol=_PARITY_RTOL * np.abs(b).max())
