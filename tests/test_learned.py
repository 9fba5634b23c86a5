"""Learned gradient descent: the optimizer contract, gradients through an unrolled fit, a tiny
trained LGD against gradient descent, observation features, checkpoints, SMPLify stages."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrefine.fit import Stage, fit, fit_stages_batch
from jaxrefine.optimizers import Objective, OptaxOptimizer
from jaxrefine.optimizers.learned import (
    LearnedGradientDescent,
    LGDState,
    calibrate,
    data_term_objective,
    flatten_params,
    init_lgd,
    load_lgd,
    param_layout,
    save_lgd,
    unflatten_params,
)
from jaxrefine.optimizers.lgd_features import keypoint_features, observation_features

_LOSS_REL_TOL = 1e-5  # reported vs recomputed loss, same float32 function, maybe re-fused
_VMAP_TOL = 1e-5  # vmapped vs one-by-one fits: same float32 arithmetic, batched kernels
_FD_RTOL = 1e-5  # float64 autodiff vs central differences (step 1e-5: truncation ~1e-10)
_FEATURE_TOL = 1e-5  # float32 box normalisation of pixel coordinates of order 1e2
_ROUND_TRIP_TOL = 0.0  # saved and loaded weights are the same float32 numbers

# A family of small, badly conditioned least-squares problems: r = L (x - x*), L = diag(s) with
# s from 1 to 10 (Hessian condition 100) times a random perturbation of the identity.
_N = 4
_SCALES = np.logspace(0, 1, _N).astype(np.float32)


def _bowl_res(p, d):
    return d["L"] @ (p["x"] - d["x_star"])


_BOWL = Objective.from_residuals(_bowl_res)


def _bowls(key, b):
    k1, k2 = jax.random.split(key)
    L = _SCALES[None, :, None] * (jnp.eye(_N)[None] + 0.1 * jax.random.normal(k1, (b, _N, _N)))
    return {"x": jnp.zeros((b, _N))}, {"L": L, "x_star": jax.random.normal(k2, (b, _N))}


def _one(tree, i=0):
    return jax.tree_util.tree_map(lambda a: a[i], tree)


@functools.cache
def _toy_lgd(hidden=16, num_steps=4, detach=True):
    p, d = _bowls(jax.random.key(1), 64)
    lgd = init_lgd(
        jax.random.key(0), _one(p), _BOWL, _one(d), hidden=hidden, num_blocks=1,
        num_steps=num_steps, step_size=1.0, detach_gradient=detach,
    )  # fmt: skip
    return calibrate(lgd, _BOWL, p, d)


# ---------------------------------------------------------------------------------------------
# The contract


def test_step_reports_loss_of_returned_params_and_keeps_state_structure():
    lgd = _toy_lgd()
    p, d = _bowls(jax.random.key(3), 1)
    p, d = _one(p), _one(d)

    @jax.jit
    def three_steps(opt, p, d):
        state = opt.init(p, _BOWL, d)
        reported, recomputed, states = [], [], [state]
        for _ in range(3):
            p, state, loss = opt.step(p, state, _BOWL, d)
            reported.append(loss)
            recomputed.append(_BOWL.loss(p, d))
            states.append(state)
        return jnp.stack(reported), jnp.stack(recomputed), states

    reported, recomputed, states = three_steps(lgd, p, d)
    np.testing.assert_allclose(reported, recomputed, rtol=_LOSS_REL_TOL)
    shapes = {jax.tree_util.tree_map(jnp.shape, s) for s in states}
    assert len(shapes) == 1 and isinstance(states[0], LGDState)
    # the weights are array leaves of the optimizer; structure is static
    leaves = jax.tree_util.tree_leaves(lgd)
    assert leaves and all(isinstance(x, jax.Array) for x in leaves)
    assert sum(x.size for x in leaves) > 100


def test_jit_vmap_matches_one_by_one():
    lgd = _toy_lgd()
    p, d = _bowls(jax.random.key(4), 3)
    run = jax.jit(lambda o, p, d: fit(_BOWL, p, d, o, num_steps=3, record_terms=False))
    batched = jax.jit(jax.vmap(run, (None, 0, 0)))(lgd, p, d)
    for i in range(3):
        single = run(lgd, _one(p, i), _one(d, i))
        np.testing.assert_allclose(
            batched.loss_curve[i], single.loss_curve, rtol=_VMAP_TOL, atol=_VMAP_TOL
        )


def test_layout_round_trip_and_clear_errors():
    params = {"global_orient": jnp.ones(3), "body_pose": jnp.ones((23, 3)), "betas": jnp.ones(10)}
    layout = param_layout(params, ["global_orient", "body_pose", "betas"])
    theta = jnp.arange(82.0)
    back = unflatten_params(params, theta, layout)
    np.testing.assert_array_equal(flatten_params(back, layout), theta)
    with pytest.raises(ValueError, match="transl"):
        param_layout(params, ["transl"])
    with pytest.raises(ValueError, match="frozen"):
        flatten_params({**params, "betas": None}, layout)
    with pytest.raises(ValueError, match="unknown LGD feature kind"):
        init_lgd(jax.random.key(0), params, _BOWL, {}, features="images")


# ---------------------------------------------------------------------------------------------
# Gradients through the unrolled fit


def _final_error(opt, p, d, num_steps=3):
    # select="none": the last iterate as is (no fallback to the start), smooth in the weights
    res = fit(_BOWL, p, d, opt, num_steps=num_steps, select="none", record_terms=False)
    return jnp.sum((res.params["x"] - d["x_star"]) ** 2)


def test_unrolled_gradient_matches_finite_differences():
    """d(error after 3 LGD steps)/d(weights), gradient feature not detached (second-order
    terms included), against central differences along a random direction, in float64."""
    with jax.enable_x64(True):
        p, d = _bowls(jax.random.key(5), 1)
        p, d = _one(p), _one(d)
        p, d = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), (p, d))
        lgd = init_lgd(
            jax.random.key(0), p, _BOWL, d, hidden=8, num_blocks=1, step_size=1.0,
            detach_gradient=False,
        )  # fmt: skip
        # large enough weights that the unrolled steps move (the head starts near zero)
        lgd = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), lgd)
        lgd = lgd.replace(
            weights=jax.tree_util.tree_map(
                lambda a: a * 30.0 if a.ndim == 2 and a.shape[-1] == _N else a, lgd.weights
            )
        )
        f = jax.jit(lambda w: _final_error(lgd.replace(weights=w), p, d))
        grad = jax.grad(f)(lgd.weights)
        keys = jax.random.split(jax.random.key(6), len(jax.tree_util.tree_leaves(lgd.weights)))
        tdef = jax.tree_util.tree_structure(lgd.weights)
        direction = jax.tree_util.tree_unflatten(
            tdef,
            [
                jax.random.normal(k, x.shape, x.dtype)
                for k, x in zip(keys, jax.tree_util.tree_leaves(lgd.weights))
            ],
        )
        h = 1e-5
        plus = jax.tree_util.tree_map(lambda w, v: w + h * v, lgd.weights, direction)
        minus = jax.tree_util.tree_map(lambda w, v: w - h * v, lgd.weights, direction)
        fd = (f(plus) - f(minus)) / (2 * h)
        ad = sum(
            jnp.vdot(g, v)
            for g, v in zip(jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(direction))
        )
        assert abs(float(ad)) > 1e-6  # the check is not vacuous
        np.testing.assert_allclose(float(ad), float(fd), rtol=_FD_RTOL)
        # detaching the gradient feature drops second-order terms: a different gradient
        detached = lgd.replace(detach_gradient=True)
        g_det = jax.grad(lambda w: _final_error(detached.replace(weights=w), p, d))(lgd.weights)
        diff = jax.tree_util.tree_map(lambda a, b: jnp.max(jnp.abs(a - b)), grad, g_det)
        assert max(float(x) for x in jax.tree_util.tree_leaves(diff)) > 1e-6


# ---------------------------------------------------------------------------------------------
# A tiny LGD learns the family of bowls and beats gradient descent with the same step count


def _unrolled_errors(opt, p, d):
    """(T,) squared parameter errors of every state after the start (LGD's training loss)."""
    state = opt.init(p, _BOWL, d)

    def body(carry, _):
        x, s = carry
        x, s, _ = opt.step(x, s, _BOWL, d)
        return (x, s), jnp.sum((x["x"] - d["x_star"]) ** 2)

    _, errs = jax.lax.scan(body, (p, state), None, length=opt.num_steps)
    return errs


def test_trained_lgd_beats_gradient_descent():
    steps = 4
    lgd = _toy_lgd(num_steps=steps)
    tx = optax.adam(3e-3)

    def loss(weights, key):
        p, d = _bowls(key, 64)
        errs = jax.vmap(_unrolled_errors, (None, 0, 0))(lgd.replace(weights=weights), p, d)
        return jnp.mean(jnp.sum(errs, -1))  # over all states, as LGD trains

    @jax.jit
    def train(weights, opt_state, key):
        def one(carry, k):
            w, s = carry
            g = jax.grad(loss)(w, k)
            u, s = tx.update(g, s, w)
            return (optax.apply_updates(w, u), s), None

        (w, s), _ = jax.lax.scan(one, (weights, opt_state), jax.random.split(key, 100))
        return w, s

    weights, opt_state = lgd.weights, tx.init(lgd.weights)
    for i in range(3):
        weights, opt_state = train(weights, opt_state, jax.random.key(10 + i))
    trained = lgd.replace(weights=weights)

    p, d = _bowls(jax.random.key(99), 256)  # held-out problems of the family

    @jax.jit
    def final_errors(opt):
        r = jax.vmap(lambda p, d: fit(_BOWL, p, d, opt, num_steps=steps, select="last"))(p, d)
        return jnp.mean(jnp.sum((r.params["x"] - d["x_star"]) ** 2, -1))

    lgd_err = float(final_errors(trained))

    # gradient descent at its best fixed step size for this family (one compiled program)
    def gd(lr):
        return OptaxOptimizer(factory=optax.sgd, hyperparams={"learning_rate": lr})

    rates = jnp.asarray([1e-3, 3e-3, 5e-3, 1e-2, 2e-2], jnp.float32)
    gd_errs = jax.vmap(lambda lr: final_errors(gd(lr)))(rates)
    start_err = float(jnp.mean(jnp.sum(d["x_star"] ** 2, -1)))
    gd_err = float(jnp.min(gd_errs))
    assert gd_err < start_err  # gradient descent itself makes progress
    assert lgd_err < 0.7 * gd_err, (lgd_err, gd_err, start_err)


# ---------------------------------------------------------------------------------------------
# Checkpoints


def test_checkpoint_round_trip(tmp_path):
    lgd = _toy_lgd()
    npz, js = save_lgd(tmp_path / "lgd_toy", lgd, meta={"trained_on": "nothing"})
    assert npz.suffix == ".npz" and js.suffix == ".json"
    back = load_lgd(tmp_path / "lgd_toy.npz")
    assert isinstance(back, LearnedGradientDescent)
    assert (back.layout, back.groups, back.features, back.hidden) == (
        lgd.layout, lgd.groups, lgd.features, lgd.hidden,
    )  # fmt: skip
    for a, b in zip(jax.tree_util.tree_leaves(lgd), jax.tree_util.tree_leaves(back)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=_ROUND_TRIP_TOL)
    p, d = _bowls(jax.random.key(7), 1)
    run = jax.jit(lambda o: fit(_BOWL, _one(p), _one(d), o, num_steps=2).loss_curve)
    np.testing.assert_array_equal(run(lgd), run(back))  # one program: same structure


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        load_lgd(tmp_path / "missing")
    lgd = _toy_lgd()
    npz, _ = save_lgd(tmp_path / "a", lgd)
    other = init_lgd(jax.random.key(0), {"x": jnp.zeros(_N)}, _BOWL, None, hidden=8)
    save_lgd(tmp_path / "b", other)
    (tmp_path / "b.npz").replace(tmp_path / "a.npz")  # arrays of another structure
    with pytest.raises(ValueError, match=r"a\.npz"):
        load_lgd(npz)


# ---------------------------------------------------------------------------------------------
# Observation features and SMPLify


def test_keypoint_features_are_box_normalised():
    from jaxrefine.camera import Camera

    rng = np.random.default_rng(0)
    kp = jnp.asarray(rng.uniform(50, 150, (25, 2)), jnp.float32)
    conf = jnp.asarray(rng.uniform(size=25) > 0.2, jnp.float32)
    cam = Camera.create(500.0, cx=128.0, cy=128.0)
    f1 = keypoint_features(kp, conf, cam)
    f2 = keypoint_features(2.0 * kp + 30.0, conf, cam)  # same pose, bigger and elsewhere
    assert f1.shape == (25 * 3 + 3,)
    np.testing.assert_allclose(f1[:75], f2[:75], atol=_FEATURE_TOL)
    norm = np.asarray(f1[:50]).reshape(25, 2)
    assert norm.min() >= 0.0 and norm.max() <= 1.0
    np.testing.assert_array_equal(norm[np.asarray(conf) == 0], 0.5)
    assert not np.allclose(f1[75:], f2[75:])  # placement: person size and viewing ray


@pytest.fixture(scope="module")
def smpl_problem():
    from jaxrefine.bench.smplify import _fit_data, make_problem
    from jaxrefine.objective import get_preset, make_objectives, params_from_pose
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    out = {"model": model}
    for kind in ("keypoints", "dense"):
        start, _, _, targets, conf, cams = make_problem(model, 2, kind)
        data = _fit_data(kind, cams, targets, conf, start[2])
        cam_obj, body_obj = make_objectives(model, get_preset("spin"), kind, None)
        out[kind] = (params_from_pose(*start), data, cam_obj, data_term_objective(body_obj))
    return out


def test_dense_features_fixed_size_and_compaction_invariant(smpl_problem):
    from jaxrefine.objective import compact_dense

    _, data, _, body = smpl_problem["dense"]
    compact = compact_dense(data, multiple=64)
    assert compact.dense_ids.shape[1] < data.dense_weights.shape[1]
    full_f = jax.vmap(lambda d: observation_features("dense", body, d))(data)
    comp_f = jax.vmap(lambda d: observation_features("dense", body, d))(compact)
    assert full_f.shape == comp_f.shape == (2, 3 * 24 + 3)
    np.testing.assert_allclose(full_f, comp_f, atol=_FEATURE_TOL)


def test_dense_keypoints_features_are_the_dense_then_the_keypoint_summary(smpl_problem):
    _, data, _, body = smpl_problem["dense"]
    _, kp_data, _, _ = smpl_problem["keypoints"]
    both = data.replace(keypoints=kp_data.keypoints, keypoint_conf=kp_data.keypoint_conf)
    f = jax.vmap(lambda d: observation_features("dense+keypoints", body, d))(both)
    dense = jax.vmap(lambda d: observation_features("dense", body, d))(both)
    kp = jax.vmap(lambda d: observation_features("keypoints", body, d))(both)
    np.testing.assert_array_equal(f, jnp.concatenate([dense, kp], 1))
    assert f.shape == (2, (3 * 24 + 3) + (3 * 25 + 3))
    with pytest.raises(ValueError, match="keypoint LGD features need data.keypoints"):
        observation_features("dense+keypoints", body, _one(data))


def test_a_dense_lgd_extends_to_dense_keypoints_with_the_same_updates(smpl_problem):
    """:func:`extend_start`: the extended LGD's update, for any values of the new keypoint
    features, is the dense LGD's update on the dense features; its other weights and the
    old features' standardisation are the dense LGD's, the new ones are the template's."""
    from jaxrefine.train.lgd import extend_start

    params, data, _, body = smpl_problem["dense"]
    _, kp_data, _, _ = smpl_problem["keypoints"]
    both = data.replace(keypoints=kp_data.keypoints, keypoint_conf=kp_data.keypoint_conf)
    keys = ("global_orient", "body_pose", "betas", "transl")
    kw = {"keys": keys, "hidden": 16, "num_blocks": 1, "num_steps": 2}
    dense = init_lgd(jax.random.key(0), _one(params), body, _one(data), features="dense", **kw)
    dense = calibrate(dense, body, params, data)
    template = init_lgd(jax.random.key(1), _one(params), body, _one(both),
                        features="dense+keypoints", **kw)  # fmt: skip
    rng = np.random.default_rng(0)
    template = template.replace(
        feature_mean=jnp.asarray(rng.normal(size=template.feature_mean.shape), jnp.float32),
        feature_std=jnp.asarray(rng.uniform(1, 2, template.feature_std.shape), jnp.float32),
    )
    wide = extend_start(dense, template)
    n_obs, n_kp = 3 * 24 + 3, 3 * 25 + 3
    for trial in range(3):
        x = jnp.asarray(rng.normal(size=dense.feature_mean.shape) * 3, jnp.float32)
        new = jnp.asarray(rng.normal(size=(n_kp,)) * 3, jnp.float32)  # any keypoint summary
        wide_x = jnp.concatenate([x[:n_obs], new, x[n_obs:]])
        np.testing.assert_allclose(wide.update_direction(wide_x), dense.update_direction(x),
                                   rtol=_LOSS_REL_TOL, atol=1e-6, err_msg=str(trial))  # fmt: skip
    mean = np.asarray(wide.feature_mean)
    np.testing.assert_array_equal(mean[:n_obs], dense.feature_mean[:n_obs])
    np.testing.assert_array_equal(
        mean[n_obs : n_obs + n_kp], template.feature_mean[n_obs : n_obs + n_kp]
    )
    np.testing.assert_array_equal(mean[n_obs + n_kp :], dense.feature_mean[n_obs:])
    assert wide.features == "dense+keypoints" and float(wide.step_size) == float(dense.step_size)
    with pytest.raises(ValueError, match="does not extend"):
        extend_start(template, dense)


def test_data_term_objective_has_no_priors(smpl_problem):
    params, data, _, body = smpl_problem["keypoints"]
    p, d = _one(params), _one(data)
    terms = body.terms(p, d)
    assert set(terms) == {"data", "shape_prior"} and float(terms["shape_prior"]) == 0.0
    np.testing.assert_allclose(body.loss(p, d), terms["data"], rtol=_LOSS_REL_TOL)
    with pytest.raises(ValueError, match="SMPLify-like"):
        data_term_objective(_BOWL)


@pytest.mark.parametrize("kind", ["keypoints", "dense"])
def test_lgd_as_a_stage_of_fit_stages_batch(smpl_problem, kind):
    """LGD on pose, shape and translation as a stage of a batched fit (keypoints: after
    SMPLify's camera stage with Adam; dense: alone, on 200 visible vertices per frame)."""
    from jaxrefine.objective import compact_dense
    from jaxrefine.optimizers import adam

    params, data, cam_obj, body = smpl_problem[kind]
    if kind == "dense":  # keep it cheap: few visible vertices, only those are skinned
        w = np.asarray(data.dense_weights)
        w = w * (np.cumsum(w > 0, axis=1) <= 200)
        data = compact_dense(data.replace(dense_weights=jnp.asarray(w)), multiple=64)
    keys = ("global_orient", "body_pose", "betas", "transl")
    lgd = init_lgd(
        jax.random.key(0), _one(params), body, _one(data), features=kind, keys=keys,
        hidden=16, num_blocks=1, num_steps=3,
    )  # fmt: skip
    assert lgd.groups == (("global_orient", "body_pose"), ("betas",), ("transl",))
    stages = [Stage(body, lgd, 3, set(keys), "last")]
    if kind == "keypoints":
        stages.insert(0, Stage(cam_obj, adam(1e-2), 2, {"transl", "global_orient"}))
    res = fit_stages_batch(stages, params, data, record_terms=False, devices=jax.devices()[:1])
    res = res[-1]
    assert res.loss_curve.shape == (2, 4)
    assert np.all(np.isfinite(np.asarray(res.loss_curve)))
    recomputed = jax.vmap(body.loss)(res.params, data)
    np.testing.assert_allclose(res.final_loss, recomputed, rtol=_LOSS_REL_TOL)


# ---------------------------------------------------------------------------------------------
# Training (jaxrefine.train.lgd): a short run of the command line, dense samples


def _pose_file(path, n=24):
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.2, (n, 24, 3)).astype(np.float32)
    subject = np.array(["01", "09", "02", "16"] * (n // 4))
    trial = np.array([f"{s}_01" for s in subject])
    np.savez(path, pose=pose, subject=subject, trial=trial)
    return path


@pytest.mark.slow
def test_train_lgd_smoke_run_exports_a_loadable_checkpoint(tmp_path):
    from jaxrefine.body_model import OPEN_MODEL_ID
    from jaxrefine.optimizers.learned import ASSETS, checkpoint_meta
    from jaxrefine.train.lgd import main
    from jaxrefine.train.loop import ResumeMismatchError

    poses = _pose_file(tmp_path / "poses.npz")
    out = tmp_path / "run"
    args = [
        "--platform", "cpu", "--kind", "sparse", "--steps", "20", "--batch", "4",
        "--out", str(out), "--poses", str(poses), "--lgd-steps", "2", "--hidden", "16",
        "--blocks", "1", "--val-every", "20", "--ckpt-every", "20", "--log-every", "10",
        "--warmup", "2",
    ]  # fmt: skip
    assert main(args) == 0
    lgd = load_lgd(out / "lgd_sparse")
    assert lgd.features == "keypoints" and lgd.num_steps == 2
    meta = checkpoint_meta(out / "lgd_sparse")
    # half the frames belong to the validation subjects 09 and 16: never trained on
    assert meta["lgd_config"]["train_frames"] == 12 and meta["lgd_config"]["val_frames"] == 12
    assert np.isfinite(meta["final"]["loss"]) and "val_joint_mm_final" in meta["final"]
    with pytest.raises(FileExistsError):
        main(args)  # a finished run is not overwritten without --resume
    # --export-only: the run's newest weights exported again, with no training step
    assert main([*args, "--export-only", "--export", str(tmp_path / "again")]) == 0
    for a, b in zip(jax.tree.leaves(load_lgd(tmp_path / "again").weights),
                    jax.tree.leaves(lgd.weights)):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    again = checkpoint_meta(tmp_path / "again")
    assert again["steps"] == 20  # the command: the run's flags (--export-only left out)
    assert again["command"] == f"{meta['command']} --export {tmp_path / 'again'}"
    assert set(again["final"]) == {k for k in meta["final"] if k.startswith("val_")}

    assert meta["body_model"]["model_id"] == OPEN_MODEL_ID

    # fine-tuning starts from the exported weights: at learning rate 0 they come out unchanged;
    # here for a user's model file (the open model's arrays under another id), recorded
    z = np.load(ASSETS / "open_body_model.npz")
    np.savez(tmp_path / "mine.npz", **{**{k: z[k] for k in z.files}, "model_id": "mine:1"})
    tuned = tmp_path / "tuned"
    ft = [*args[: args.index("--out")], "--out", str(tuned), *args[args.index("--out") + 2 :]]
    ft = [*ft, "--init-from", str(out / "lgd_sparse"), "--lr", "0", "--steps", "2"]
    ft[ft.index("--val-every") + 1] = ft[ft.index("--ckpt-every") + 1] = "2"
    assert main([*ft, "--model", str(tmp_path / "mine.npz")]) == 0
    assert checkpoint_meta(tuned / "lgd_sparse")["body_model"] == {
        "model_id": "mine:1", "gender": "neutral", "num_vertices": 13348,
        "pose_correctives": False}  # fmt: skip
    with pytest.raises(ResumeMismatchError, match=f"body_model {OPEN_MODEL_ID} \\(run: mine:1\\)"):
        main([*ft, "--resume"])  # the run's model, not another one
    again = load_lgd(tuned / "lgd_sparse")
    for a, b in zip(jax.tree.leaves(again.weights), jax.tree.leaves(lgd.weights)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(again.feature_std), np.asarray(lgd.feature_std))
    assert checkpoint_meta(tuned / "lgd_sparse")["init_from"]["path"] == str(out / "lgd_sparse")
    wider = [*ft[: ft.index("--hidden")], "--hidden", "32", *ft[ft.index("--hidden") + 2 :]]
    with pytest.raises(ValueError, match="differs from the run.*'hidden': \\(16, 32\\)"):
        main([*wider[: wider.index("--out")], "--out", str(tmp_path / "wider"),
              *wider[wider.index("--out") + 2 :]])  # fmt: skip
    assert not (tmp_path / "wider").exists()  # checked before anything is made


@pytest.mark.slow
def test_dense_training_samples_have_a_fixed_size():
    from jaxrefine.smpl_io import load_body_model
    from jaxrefine.train.lgd import LGDConfig, make_samples

    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.2, (8, 24, 3)).astype(np.float32)
    cfg = LGDConfig(kind="dense", image_size=(64, 64), dense_capacity=128)
    b = make_samples(model, poses, cfg, seed=0, size=2, backend="jax")
    assert b["dense_targets"].shape == (2, 128, 2) and b["dense_ids"].shape == (2, 128)
    assert np.all(b["dense_weights"].sum(1) > 0)  # every frame sees some vertices
    assert b["dense_ids"].max() < model.num_vertices


@pytest.mark.slow
def test_dense_keypoints_samples_are_the_sparse_and_the_dense_samples():
    """A dense_keypoints sample is the same frame as the sparse and the dense kinds make from
    the same seed, with both observations (each kind draws its noise in its own order)."""
    from jaxrefine.smpl_io import load_body_model
    from jaxrefine.train.lgd import LGDConfig, make_samples

    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.2, (8, 24, 3)).astype(np.float32)
    made = {
        kind: make_samples(model, poses, LGDConfig(kind=kind, image_size=(64, 64),
                           dense_capacity=4096), seed=5, size=2, backend="jax")
        for kind in ("sparse", "dense", "dense_keypoints")
    }  # fmt: skip
    both = made["dense_keypoints"]
    assert set(both) == set(made["sparse"]) | set(made["dense"])
    for kind in ("sparse", "dense"):  # capacity above the visible count: no subset drawn
        for k, v in made[kind].items():
            np.testing.assert_array_equal(both[k], v, err_msg=f"{kind}: {k}")


def _degrade_inputs():
    rng = np.random.default_rng(0)
    batch = {
        "dense_targets": rng.uniform(0, 64, (2, 5, 2)).astype(np.float32),
        "dense_ids": np.array([[0, 1, 2, 3, 0], [5, 4, 3, 2, 0]], np.int32),
        "dense_weights": np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 0]], np.float32),  # last: pad
        "pixel_scale": np.array([1.0, 0.5], np.float32),
    }
    proj_init = rng.uniform(0, 64, (2, 6, 2)).astype(np.float32)
    parts = np.array([0, 0, 1, 1, 2, 2])
    return batch, proj_init, parts


def test_degraded_dense_targets_shrink_towards_the_start():
    """``dense_shrink`` (a, a): every valid target moves to ``p_init + a (t - p_init)`` of its
    own vertex; padding keeps its value."""
    from jaxrefine.train.lgd import LGDConfig, degrade_dense

    batch, proj_init, parts = _degrade_inputs()
    cfg = LGDConfig(kind="dense", dense_shrink=(0.25, 0.25))
    out = degrade_dense(batch, proj_init, parts, cfg, np.random.default_rng(1))
    t, ids = batch["dense_targets"], batch["dense_ids"]
    p0 = np.take_along_axis(proj_init, ids[..., None], 1)
    np.testing.assert_allclose(out[:, :4], (p0 + 0.25 * (t - p0))[:, :4], rtol=1e-6)
    np.testing.assert_array_equal(out[:, 4], t[:, 4])
    assert LGDConfig().degrades_dense is False and cfg.degrades_dense


def test_degraded_dense_targets_move_whole_body_parts():
    """``dense_part_noise_px``: one 2D offset per body part and sample, scaled with the person
    (std = px / pixel_scale), the same for every vertex of the part."""
    from jaxrefine.train.lgd import LGDConfig, degrade_dense

    batch, proj_init, parts = _degrade_inputs()
    cfg = LGDConfig(kind="dense", dense_part_noise_px=3.0)
    t = batch["dense_targets"]
    d = degrade_dense(batch, proj_init, parts, cfg, np.random.default_rng(2)) - t
    np.testing.assert_allclose(d[0, 0], d[0, 1], atol=1e-5)  # vertices 0, 1: part 0
    np.testing.assert_allclose(d[0, 2], d[0, 3], atol=1e-5)  # vertices 2, 3: part 1
    assert np.abs(d[1, 1] - d[1, 2]).max() > 1e-3  # vertices 4, 3: parts 2 and 1
    np.testing.assert_allclose(d[1, 0], d[1, 1], atol=1e-5)  # vertices 5, 4: part 2
    assert np.abs(d[0, 0] - d[0, 2]).max() > 1e-3  # different parts, different offsets
    np.testing.assert_array_equal(d[:, 4], 0.0)  # padding untouched
    many = [degrade_dense(batch, proj_init, parts, cfg, np.random.default_rng(k))
            - batch["dense_targets"] for k in range(400)]  # fmt: skip
    std = np.std(np.stack(many), axis=0)
    # std of 400 normal draws is within 10 % of sigma with probability > 0.99
    np.testing.assert_allclose(std[0, 0], 3.0, rtol=0.1)
    np.testing.assert_allclose(std[1, 0], 6.0, rtol=0.1)  # pixel_scale 0.5: a person twice the size


def test_dense_degradation_settings_are_checked_and_old_runs_resume(tmp_path):
    import dataclasses
    import json

    from jaxrefine.train import loop
    from jaxrefine.train.lgd import _ADDED_CONFIG_SETTINGS, LGDConfig

    for bad in ({"dense_shrink": (0.8, 0.5)}, {"dense_shrink": (-0.1, 1.0)},
                {"dense_part_noise_px": -1.0}, {"start_scale": (0.5, 0.2)}):  # fmt: skip
        with pytest.raises(ValueError, match=next(iter(bad))):
            LGDConfig(**bad)
    assert {k: getattr(LGDConfig(), k) for k in _ADDED_CONFIG_SETTINGS} == _ADDED_CONFIG_SETTINGS
    old = {"task": {"lgd_config": dataclasses.asdict(LGDConfig())}}
    for k in _ADDED_CONFIG_SETTINGS:  # a run folder from before session 17
        del old["task"]["lgd_config"][k]
    (tmp_path / loop.SETTINGS_FILE).write_text(json.dumps(old))
    added = {"task": {"lgd_config": _ADDED_CONFIG_SETTINGS}}

    def resume(config):
        settings = loop._json_values({"task": {"lgd_config": dataclasses.asdict(config)}})
        loop.check_settings(tmp_path, settings, resume=True, lead=True, added=added)

    resume(LGDConfig())  # what the old run did
    with pytest.raises(loop.ResumeMismatchError, match="dense_part_noise_px 2.0 \\(run: None\\)"):
        resume(LGDConfig(dense_part_noise_px=2.0))


_ROT_TOL = 1e-5  # radians: float32 rotation vectors of angles up to pi


def test_scaled_starts_scale_every_joints_rotation_error():
    """``scale_start``: s = 0 gives the truth, 1 the start, and in between each joint's
    rotation error is scaled by s, also next to 180 degrees where axis-angle numbers jump."""
    from scipy.spatial.transform import Rotation

    from jaxrefine.train.lgd import scale_start

    rng = np.random.default_rng(0)
    truth_pose = rng.normal(0, 0.3, (2, 3, 3))
    truth_pose[0, 0] = [np.pi - 0.01, 0.0, 0.0]  # global orientation near 180 degrees
    err = Rotation.from_rotvec(rng.normal(0, 0.1, (6, 3)))
    start_pose = (Rotation.from_rotvec(truth_pose.reshape(-1, 3)) * err).as_rotvec()
    truth = (truth_pose, rng.normal(0, 1, (2, 10)), rng.normal(0, 1, (2, 3)))
    start = (start_pose.reshape(2, 3, 3), rng.normal(0, 1, (2, 10)), rng.normal(0, 1, (2, 3)))
    s = np.array([0.5, 0.25])
    pose, betas, transl = scale_start(truth, start, s)
    got = Rotation.from_rotvec(truth_pose.reshape(-1, 3)).inv() * Rotation.from_rotvec(
        pose.reshape(-1, 3)
    )
    np.testing.assert_allclose(got.magnitude(), np.repeat(s, 3) * err.magnitude(), atol=_ROT_TOL)
    np.testing.assert_allclose(betas, truth[1] + s[:, None] * (start[1] - truth[1]), rtol=1e-5)
    np.testing.assert_allclose(transl, truth[2] + s[:, None] * (start[2] - truth[2]), rtol=1e-5)
    for k, end in ((0.0, truth), (1.0, start)):
        pose_k = scale_start(truth, start, np.full(2, k))[0]
        diff = Rotation.from_rotvec(pose_k.reshape(-1, 3)).inv() * Rotation.from_rotvec(
            end[0].reshape(-1, 3)
        )
        assert diff.magnitude().max() < _ROT_TOL * 10, k


@pytest.mark.slow
def test_degraded_targets_and_scaled_starts_keep_the_same_frames():
    """Degrading the targets and scaling the starts draw from streams of their own: the
    frames (and, for degraded targets, the start, keypoints and vertex subset) are those the
    same seed gives without them."""
    import dataclasses

    from jaxrefine.smpl_io import load_body_model
    from jaxrefine.train.lgd import LGDConfig, make_samples

    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.2, (8, 24, 3)).astype(np.float32)
    cfg = LGDConfig(kind="dense_keypoints", image_size=(64, 64), dense_capacity=128)
    plain = make_samples(model, poses, cfg, seed=4, size=2, backend="jax")
    worse = dataclasses.replace(cfg, dense_shrink=(0.3, 1.0), dense_part_noise_px=3.0)
    moved = make_samples(model, poses, worse, seed=4, size=2, backend="jax")
    for k in plain:
        if k != "dense_targets":
            np.testing.assert_array_equal(moved[k], plain[k], err_msg=k)
    valid = plain["dense_weights"] > 0
    moved_px = np.linalg.norm(moved["dense_targets"] - plain["dense_targets"], axis=-1)
    assert moved_px[valid].mean() > 0.5
    # start_scale (0, 0): the same frames, each starting at its truth (the keypoints' noise
    # scales with the start's projected size, so only their confidences are the same)
    at_truth = make_samples(model, poses, dataclasses.replace(cfg, start_scale=(0.0, 0.0)),
                            seed=4, size=2, backend="jax")  # fmt: skip
    for k in ("gt_pose", "gt_betas", "gt_transl", "keypoint_conf", "fx", "cx"):
        np.testing.assert_array_equal(at_truth[k], plain[k], err_msg=k)
    np.testing.assert_allclose(at_truth["init_pose"], plain["gt_pose"], atol=_ROT_TOL)
    np.testing.assert_allclose(at_truth["init_betas"], plain["gt_betas"], atol=1e-6)
    np.testing.assert_allclose(at_truth["init_transl"], plain["gt_transl"], atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sparse", "dense", "dense_keypoints"])
def test_training_samples_can_start_after_the_camera_stage(kind):
    """With ``camera_stage`` a sample starts where ``smplify(optimizer="lgd")`` hands over to
    the learned steps: same frame and observations, the start's global orientation and
    translation moved by the Adam camera stage, which lowered its objective."""
    import dataclasses

    from jaxrefine.objective import get_preset, make_objectives
    from jaxrefine.smpl_io import load_body_model
    from jaxrefine.train.lgd import _DATA_KIND, LGDConfig, fit_inputs, make_samples

    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.2, (8, 24, 3)).astype(np.float32)
    cfg = LGDConfig(kind=kind, image_size=(96, 96), dense_capacity=256)
    plain = make_samples(model, poses, cfg, seed=3, size=3, backend="jax")
    moved = make_samples(model, poses, dataclasses.replace(cfg, camera_stage=True), seed=3,
                         size=3, backend="jax")  # fmt: skip
    for k in plain:
        if k not in ("init_pose", "init_transl"):
            np.testing.assert_array_equal(moved[k], plain[k], err_msg=k)
    np.testing.assert_array_equal(moved["init_pose"][:, 1:], plain["init_pose"][:, 1:])
    assert np.all(np.abs(moved["init_transl"] - plain["init_transl"]).max(1) > 1e-4)
    camera = make_objectives(model, get_preset(cfg.preset), _DATA_KIND[kind], None)[0]
    loss = jax.vmap(camera.loss)
    before, after = loss(*fit_inputs(plain)), loss(*fit_inputs(moved))
    assert np.all(np.asarray(after) < 0.9 * np.asarray(before))


_JOINT_TOL = 1e-5  # metres: float32 joints of a body ~1 m in size, compared after subtraction


def test_root_aligned_point_losses_ignore_translation_and_have_finite_gradients():
    """The root-aligned point losses: a state that differs from the truth only by its
    translation costs ``root_weight`` times the offset (the camera-frame term charges
    ``joint_weight`` times it), its root-aligned joint and vertex errors are 0, a bent elbow
    moves the vertices more than the joints, and the loss has a finite gradient at the truth,
    where the norm of the root's own aligned error (0) would make it NaN."""
    import dataclasses

    from jaxrefine.body_model import posed_joints
    from jaxrefine.smpl_io import load_body_model
    from jaxrefine.train.lgd import LGDConfig, state_errors, state_loss

    model = load_body_model()
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.2, (24, 3)).astype(np.float32)
    betas = rng.normal(0, 1, (10,)).astype(np.float32)
    transl = np.float32([0.1, -0.2, 3.0])
    batch = {"gt_pose": pose[None], "gt_betas": betas[None], "gt_transl": transl[None],
             "gt_joints": np.asarray(posed_joints(model, pose, betas, transl))[None]}  # fmt: skip
    shift = np.float32([0.0, 0.0, 0.2])
    bent = pose.copy()
    bent[18] += 0.5  # the left elbow
    iterates = {  # (1 sample, 3 states): the truth, shifted, bent
        "global_orient": jnp.asarray(np.stack([pose[0]] * 3))[None],
        "body_pose": jnp.asarray(np.stack([pose[1:], pose[1:], bent[1:]]))[None],
        "betas": jnp.asarray(np.stack([betas] * 3))[None],
        "transl": jnp.asarray(np.stack([transl, transl + shift, transl]))[None],
    }
    err = jax.tree.map(np.asarray, state_errors(model, iterates, batch, vertices=True))
    np.testing.assert_allclose(err["joint_ra_m"][0, :2], 0.0, atol=_JOINT_TOL)
    np.testing.assert_allclose(err["vertex_ra_m"][0, :2], 0.0, atol=_JOINT_TOL)
    np.testing.assert_allclose(err["root_m"][0], [0.0, 0.2, 0.0], atol=_JOINT_TOL)
    np.testing.assert_allclose(err["joint_m"][0, 1], 0.2, atol=_JOINT_TOL)
    assert err["joint_ra_m"][0, 2] > 1e-3  # the bent elbow moves joints relative to the root
    assert err["vertex_ra_m"][0, 2] > err["joint_ra_m"][0, 2]  # the forearm's vertices more
    cam = LGDConfig(kind="dense")
    np.testing.assert_allclose(state_loss(cam, err)[0, 1], 10 * 0.2, rtol=1e-4)
    for points in ("root_joints", "root_vertices"):
        root = dataclasses.replace(cam, point_loss=points, root_weight=0.5)
        np.testing.assert_allclose(state_loss(root, err)[0, 1], 0.5 * 0.2, rtol=1e-4)
        np.testing.assert_allclose(state_loss(root, err)[0, 0], 0.0, atol=_JOINT_TOL)

        def total(it, root=root):
            return jnp.sum(state_loss(root, state_errors(model, it, batch, vertices=True)))

        grads = jax.grad(total)(iterates)
        assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads)), points
    with pytest.raises(ValueError, match="point_loss"):
        LGDConfig(point_loss="pelvis")
