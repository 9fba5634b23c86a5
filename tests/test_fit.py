"""Properties of the fit engine: batching, NaN safety, never worse, no retrace, frozen params,
stages."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.fit import (
    STATUS_NAMES,
    STATUS_NO_IMPROVEMENT,
    STATUS_NONFINITE,
    STATUS_OK,
    STATUS_RENDER_FAILED,
    Stage,
    fit,
    fit_batch,
    fit_chain_batch,
    fit_stages,
    fit_stages_batch,
    status_name,
    trainable_mask,
    worst_status,
)
from jaxrefine.optimizers import Objective, adam, gauss_newton, lbfgs, levenberg_marquardt

_BATCH_TOL = 1e-5  # vmapped vs single-sample float32 programs may fuse/reorder sums differently
_LOSS_TOL = 1e-6  # relative; the same float32 loss evaluated in two programs

_T = jnp.linspace(0.0, 2.0, 12)


def _exp_res(p, d):
    """Fit y = a exp(b t) + c to per-sample targets d["y"] (12,)."""
    a, b = p["ab"]
    return a * jnp.exp(b * _T) + p["c"] - d["y"]


def _exp_terms(p, d):
    r = _exp_res(p, d)
    return {"first_half": jnp.sum(r[:6] ** 2), "second_half": jnp.sum(r[6:] ** 2)}


_EXP = Objective.from_residuals(_exp_res, terms_fn=_exp_terms)


def _exp_batch(b, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(1.0, 3.0, b)
    k = rng.uniform(-1.5, -0.5, b)
    c = rng.uniform(-0.5, 0.5, b)
    y = a[:, None] * np.exp(k[:, None] * np.asarray(_T)[None]) + c[:, None]
    params = {
        "ab": jnp.asarray(np.stack([a + 0.3, k + 0.2], 1), jnp.float32),
        "c": jnp.asarray(c - 0.2, jnp.float32),
    }
    return params, {"y": jnp.asarray(y, jnp.float32)}


def _index(tree, i):
    return jax.tree_util.tree_map(lambda x: x[i], tree)


def _assert_tree_close(got, want):
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=_BATCH_TOL, atol=_BATCH_TOL), got, want
    )


_OPTS = {
    "adam": lambda: adam(0.05),
    "lbfgs": lambda: lbfgs(),
    "levenberg_marquardt": lambda: levenberg_marquardt(),
}


@pytest.mark.parametrize("opt_name", list(_OPTS))
def test_batch_equals_single_sample(opt_name):
    opt = _OPTS[opt_name]()
    params, data = _exp_batch(3)
    rec = opt_name == "adam"  # term curves once; smaller programs for the others
    batch = fit_batch(_EXP, params, data, opt, num_steps=30, record_terms=rec)
    single = jax.jit(lambda p, d: fit(_EXP, p, d, opt, num_steps=30, record_terms=rec))
    assert batch.loss_curve.shape == (3, 31)
    for i in range(3):
        _assert_tree_close(_index(batch, i), single(_index(params, i), _index(data, i)))


def test_chunked_batch_equals_plain_batch():
    params, data = _exp_batch(5)  # 5 = two chunks of 2 + a remainder of 1
    kw = dict(num_steps=20, record_terms=False)
    plain = fit_batch(_EXP, params, data, adam(0.05), **kw)
    chunked = fit_batch(_EXP, params, data, adam(0.05), chunk_size=2, **kw)
    _assert_tree_close(chunked, plain)


def test_result_fields_and_curves():
    params, data = _exp_batch(1)
    p, d = _index(params, 0), _index(data, 0)
    res = jax.jit(lambda p, d: fit(_EXP, p, d, levenberg_marquardt(), num_steps=15))(p, d)
    assert res.loss_curve.shape == (16,)
    assert set(res.term_curves) == {"first_half", "second_half"}
    assert all(v.shape == (16,) for v in res.term_curves.values())
    assert float(res.loss_curve[0]) == pytest.approx(float(res.init_loss), rel=_LOSS_TOL)
    assert float(res.final_loss) == pytest.approx(float(jnp.min(res.loss_curve)), rel=1e-5)
    total = res.terms["first_half"] + res.terms["second_half"]
    assert float(total) == pytest.approx(float(res.final_loss), rel=1e-5)
    curve_total = res.term_curves["first_half"] + res.term_curves["second_half"]
    np.testing.assert_allclose(curve_total, res.loss_curve, rtol=1e-5, atol=1e-7)
    assert int(res.status) == STATUS_OK and int(res.num_rejected) == 0
    assert res.status.dtype == jnp.int32


# ---------------------------------------------------------------------------------------------
# NaN safety


def _nan_region_res(p, d):
    """Pulls x towards 3 but is NaN wherever x > 1.5."""
    x = p["x"]
    return jnp.where(x > 1.5, jnp.nan, x - 3.0)


_NAN_OBJ = Objective.from_residuals(_nan_region_res)


@pytest.mark.parametrize(
    "opt_name, expected_status",
    [
        ("adam", STATUS_NONFINITE),  # momentum carries it over the edge: rejected, reset
        ("gauss_newton", STATUS_NONFINITE),  # jumps to x = 3 (NaN) every time: stays at start
        ("lbfgs", None),  # its line search may avoid the region by itself
        ("levenberg_marquardt", None),  # its trust region rejects non-finite proposals
    ],
)
def test_nan_region_is_never_entered(opt_name, expected_status):
    opt = {"adam": lambda: adam(0.3), "gauss_newton": gauss_newton}.get(
        opt_name, _OPTS.get(opt_name)
    )()
    res = jax.jit(lambda p: fit(_NAN_OBJ, p, None, opt, num_steps=30))({"x": jnp.zeros(2)})
    x = np.asarray(res.params["x"])
    assert np.all(np.isfinite(x)) and np.all(x <= 1.5)
    assert np.all(np.isfinite(np.asarray(res.loss_curve)))
    assert float(res.final_loss) <= float(res.init_loss)
    if expected_status is not None:
        assert int(res.status) == expected_status
        assert int(res.num_rejected) > 0
    if opt_name != "gauss_newton":
        assert float(res.final_loss) < float(res.init_loss)
        assert np.all(x > 1.0)  # it got close to the edge of the region


def test_nonfinite_start_is_flagged_and_kept_when_nothing_is_finite():
    obj = Objective.from_loss(lambda p, d: jnp.sum(p["x"]) * jnp.nan)
    res = jax.jit(lambda p: fit(obj, p, None, adam(0.1), num_steps=5))({"x": jnp.ones(2)})
    np.testing.assert_array_equal(np.asarray(res.params["x"]), np.ones(2))
    assert int(res.status) == STATUS_NONFINITE


# ---------------------------------------------------------------------------------------------
# Never worse than the start


def test_divergent_adam_returns_the_start():
    obj = Objective.from_residuals(lambda p, d: p["x"] - 1.0)
    start = {"x": jnp.array([0.999, 1.001])}
    res = jax.jit(lambda p: fit(obj, p, None, adam(10.0), num_steps=20))(start)
    assert float(jnp.max(res.loss_curve[1:])) > float(res.init_loss)  # it did diverge
    np.testing.assert_array_equal(np.asarray(res.params["x"]), np.asarray(start["x"]))
    assert int(res.status) == STATUS_NO_IMPROVEMENT
    assert float(res.final_loss) == float(res.init_loss)


@pytest.mark.parametrize("opt_name", ["adam", "gauss_newton", "lbfgs"])
def test_never_worse_on_random_problems(opt_name):
    """Random nonconvex problems with badly scaled curvature; whatever the optimizer does, the
    returned params are no worse by the objective than the start (checked independently)."""

    def res_fn(p, d):
        x = p["x"]
        return jnp.concatenate([d["s"] * jnp.sin(3.0 * x) + x - d["t"], 0.1 * x**2])

    obj = Objective.from_residuals(res_fn)
    rng = np.random.default_rng(42)
    b = 32
    params = {"x": jnp.asarray(rng.normal(scale=2.0, size=(b, 3)), jnp.float32)}
    data = {
        "s": jnp.asarray(10.0 ** rng.uniform(-1, 2, size=(b, 3)), jnp.float32),
        "t": jnp.asarray(rng.normal(size=(b, 3)), jnp.float32),
    }
    opt = {"adam": lambda: adam(3.0), "gauss_newton": gauss_newton, "lbfgs": lbfgs}[opt_name]()
    res = fit_batch(obj, params, data, opt, num_steps=25, record_terms=False)
    loss = jax.vmap(obj.loss)
    before = np.asarray(loss(params, data))
    after = np.asarray(loss(res.params, data))
    assert np.all(np.isfinite(after))
    assert np.all(after <= before * (1 + _LOSS_TOL))
    assert np.all(np.asarray(res.final_loss) <= np.asarray(res.init_loss))
    improved = np.asarray(res.status) == STATUS_OK
    assert np.all(after[improved] < before[improved])


# ---------------------------------------------------------------------------------------------
# Compilation


def test_second_call_does_not_retrace():
    traces = []

    def res_fn(p, d):
        traces.append(1)  # runs only while tracing
        return p["x"] * d["w"] - 1.0

    obj = Objective.from_residuals(res_fn)

    def batch(seed):
        rng = np.random.default_rng(seed)
        return (
            {"x": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)},
            {"w": jnp.asarray(rng.uniform(1, 2, size=(4, 3)), jnp.float32)},
        )

    p1, d1 = batch(0)
    r1 = fit_batch(obj, p1, d1, adam(0.1), num_steps=10)
    n_first = len(traces)
    assert n_first > 0
    p2, d2 = batch(1)
    r2 = fit_batch(obj, p2, d2, adam(0.1), num_steps=10)  # new arrays, equal optimizer
    r3 = fit_batch(obj, p2, d2, adam(0.02), num_steps=10)  # learning rate is a leaf
    assert len(traces) == n_first
    assert not np.allclose(np.asarray(r1.params["x"]), np.asarray(r2.params["x"]))
    assert not np.allclose(np.asarray(r2.params["x"]), np.asarray(r3.params["x"]))
    fit_batch(obj, p2, d2, adam(0.1), num_steps=11)  # static change: must retrace
    assert len(traces) > n_first


# ---------------------------------------------------------------------------------------------
# Frozen params


def _two_group_objective():
    def res_fn(p, d):
        return jnp.concatenate(
            [p["pose"] - d, p["shape"] - 2.0 * d[:2], p["pose"][:2] * p["shape"] - 1.0]
        )

    return Objective.from_residuals(res_fn)


@pytest.mark.parametrize("opt_name", list(_OPTS))
def test_frozen_params_stay_bit_identical(opt_name):
    trainable = {"pose"}  # other forms give the same mask (test_trainable_mask_forms_and_errors)
    obj = _two_group_objective()
    start = {"pose": jnp.array([0.1, 0.2, 0.3]), "shape": jnp.array([0.7, -0.3])}
    d = jnp.array([1.0, -1.0, 0.5])
    res = jax.jit(
        lambda p, d: fit(obj, p, d, _OPTS[opt_name](), num_steps=20, trainable=trainable)
    )(start, d)
    assert np.asarray(res.params["shape"]).tobytes() == np.asarray(start["shape"]).tobytes()
    assert not np.allclose(np.asarray(res.params["pose"]), np.asarray(start["pose"]))
    assert float(res.final_loss) < float(res.init_loss)


def test_trainable_mask_forms_and_errors():
    params = {"a": jnp.zeros(2), "b": {"c": jnp.zeros(1), "d": jnp.zeros(3)}}
    assert trainable_mask(params, None) == (True, True, True)
    assert trainable_mask(params, {"b"}) == (False, True, True)
    assert trainable_mask(params, {"a": True, "b": {"c": False, "d": True}}) == (
        True,
        False,
        True,
    )
    with pytest.raises(ValueError, match="not in params"):
        trainable_mask(params, {"z"})
    obj = Objective.from_residuals(lambda p, d: p["a"])
    with pytest.raises(ValueError, match="no trainable"):
        fit(obj, params, None, adam(), num_steps=1, trainable=set())


def test_batch_size_mismatch_is_refused():
    params, data = _exp_batch(3)
    with pytest.raises(ValueError, match="batch size"):
        fit_batch(_EXP, params, {"y": data["y"][:2]}, adam(), num_steps=2)


# ---------------------------------------------------------------------------------------------
# Stages


def test_stages_equal_consecutive_fits_with_fresh_state():
    obj = _two_group_objective()
    obj2 = Objective.from_residuals(lambda p, d: jnp.concatenate([p["pose"] - 0.5 * d, p["shape"]]))
    stages = [Stage(obj, adam(0.05), 15, {"shape"}), (obj2, adam(0.05), 10, {"pose", "shape"})]
    start = {"pose": jnp.array([0.1, 0.2, 0.3]), "shape": jnp.array([0.7, -0.3])}
    d = jnp.array([1.0, -1.0, 0.5])
    staged = jax.jit(lambda p, d: fit_stages(stages, p, d))(start, d)

    @jax.jit
    def by_hand(p, d):
        r1 = fit(obj, p, d, adam(0.05), num_steps=15, trainable={"shape"})
        r2 = fit(obj2, r1.params, d, adam(0.05), num_steps=10)
        return r1, r2

    manual = by_hand(start, d)
    assert len(staged) == 2
    for got, want in zip(staged, manual):
        jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    # stage 1 froze the pose
    np.testing.assert_array_equal(np.asarray(staged[0].params["pose"]), np.asarray(start["pose"]))

    batch_p = jax.tree_util.tree_map(lambda x: jnp.stack([x, x + 0.1]), start)
    batch_d = jnp.stack([d, -d])
    batched = fit_stages_batch(stages, batch_p, batch_d)
    one = by_hand(_index(batch_p, 1), batch_d[1])
    for got, want in zip(batched, one):
        jax.tree_util.tree_map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=_BATCH_TOL, atol=_BATCH_TOL),
            _index(got, 1),
            want,
        )


def test_zero_steps_returns_the_start():
    params, data = _exp_batch(1)
    p, d = _index(params, 0), _index(data, 0)
    res = jax.jit(lambda p, d: fit(_EXP, p, d, adam(), num_steps=0))(p, d)
    assert res.loss_curve.shape == (1,)
    jax.tree_util.tree_map(np.testing.assert_array_equal, res.params, p)
    assert int(res.status) == STATUS_NO_IMPROVEMENT


# ---------------------------------------------------------------------------------------------
# Status codes: the worst by severity, not by number


def test_worst_status_ranks_by_severity_not_by_number():
    order = [STATUS_OK, STATUS_NO_IMPROVEMENT, STATUS_RENDER_FAILED, STATUS_NONFINITE]
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            assert int(worst_status(a, b)) == order[max(i, j)], (a, b)
    # elementwise over a batch, any number of codes
    got = worst_status(
        jnp.array([STATUS_NO_IMPROVEMENT, STATUS_OK, STATUS_OK]),
        jnp.array([STATUS_NONFINITE, STATUS_OK, STATUS_RENDER_FAILED]),
        STATUS_NO_IMPROVEMENT,
    )
    np.testing.assert_array_equal(
        got, [STATUS_NONFINITE, STATUS_NO_IMPROVEMENT, STATUS_RENDER_FAILED]
    )
    assert got.dtype == jnp.int32
    assert [status_name(c) for c in order] == [
        "ok",
        "kept initial",
        "render failed",
        "non-finite",
    ]
    assert set(STATUS_NAMES) == set(order)
    with pytest.raises(ValueError, match="unknown status code 7"):
        status_name(7)
    with pytest.raises(ValueError, match="at least one"):
        worst_status()


# ---------------------------------------------------------------------------------------------
# A learned optimizer fits the contract: weights are leaves, fits are differentiable in them


def test_learned_optimizer_contract():
    from flax import struct

    from jaxrefine.optimizers.base import Optimizer

    @struct.dataclass
    class ScaledGradient(Optimizer):
        """x <- x - w * grad (w: a per-coordinate "network weight" leaf)."""

        w: jax.Array

        def init(self, params, objective, data):
            return jax.value_and_grad(objective.loss)(params, data)

        def step(self, params, state, objective, data):
            _, grad = state
            new = jax.tree_util.tree_map(lambda p, g: p - self.w * g, params, grad)
            value, grad = jax.value_and_grad(objective.loss)(new, data)
            return new, (value, grad), value

    obj = Objective.from_residuals(lambda p, d: p - d)
    p0, d = jnp.zeros(2), jnp.array([1.0, -2.0])

    @jax.jit
    def final_loss(w):
        return fit(obj, p0, d, ScaledGradient(w), num_steps=3, record_terms=False).final_loss

    w = jnp.array([0.1, 0.2])
    g = jax.jit(jax.grad(final_loss))(w)
    eps = 1e-3
    fd = [
        (final_loss(w.at[i].add(eps)) - final_loss(w.at[i].add(-eps))) / (2 * eps) for i in range(2)
    ]
    np.testing.assert_allclose(np.asarray(g), np.asarray(fd), rtol=1e-2)
    assert np.all(np.asarray(g) < 0)  # larger steps help on this bowl


# ---------------------------------------------------------------------------------------------
# Training through a fit: every iterate, no selection, gradients w.r.t. optimizer leaves

_FD_EPS = 1e-3  # central differences in float32 on an O(1) loss: ~1e-4 relative noise
_FD_RTOL = 1e-2


def test_iterates_and_select_none():
    obj = Objective.from_residuals(lambda p, d: jnp.concatenate([p["x"] - d, 3.0 * p["y"]]))
    p0 = {"x": jnp.zeros(2), "y": jnp.ones(1)}
    d = jnp.array([1.0, -2.0])
    res = fit(obj, p0, d, adam(0.5), num_steps=6, select="none", return_iterates=True,
              trainable={"x"})  # fmt: skip
    assert res.iterates["x"].shape == (7, 2) and res.iterates["y"].shape == (7, 1)
    np.testing.assert_array_equal(res.iterates["x"][0], p0["x"])
    np.testing.assert_array_equal(res.iterates["y"], np.ones((7, 1)))  # frozen, repeated
    jax.tree_util.tree_map(np.testing.assert_array_equal, res.params, _index(res.iterates, -1))
    losses = jax.vmap(lambda p: obj.loss(p, d))(res.iterates)
    np.testing.assert_allclose(losses, res.loss_curve, rtol=_LOSS_TOL)
    # Adam with a big step overshoots: "best" returns the best iterate, "none" the last one
    best = fit(obj, p0, d, adam(0.5), num_steps=6, trainable={"x"})
    assert best.iterates is None
    assert float(best.final_loss) == pytest.approx(float(jnp.min(res.loss_curve)), rel=_LOSS_TOL)
    assert float(res.final_loss) == pytest.approx(float(res.loss_curve[-1]), rel=_LOSS_TOL)
    assert float(res.final_loss) > float(best.final_loss)
    # batched: iterates get (B, T + 1, ...)
    pb = jax.tree_util.tree_map(lambda a: jnp.stack([a, a + 1]), p0)
    (rb,) = fit_stages_batch([Stage(obj, adam(0.5), 4, None, "none")], pb, jnp.stack([d, d]),
                             return_iterates=True)  # fmt: skip
    assert rb.iterates["x"].shape == (2, 5, 2)
    with pytest.raises(ValueError, match="select must be one of"):
        fit(obj, p0, d, adam(), num_steps=2, select="worst")


def test_gradient_through_unrolled_fit_wrt_learning_rate_matches_finite_differences():
    # a tiny quadratic: sum of the loss over all iterates (as a learned optimizer's training
    # loss) as a function of Adam's learning rate, an array leaf of the optimizer
    obj = Objective.from_residuals(lambda p, d: d["a"] * (p - d["t"]))
    p0, d = jnp.array([0.5, -1.0]), {"a": jnp.array([1.0, 3.0]), "t": jnp.array([1.0, 2.0])}

    @jax.jit
    def training_loss(lr):
        res = fit(obj, p0, d, adam(lr), num_steps=8, select="none", return_iterates=True,
                  record_terms=False)  # fmt: skip
        return jnp.sum(jax.vmap(lambda p: obj.loss(p, d))(res.iterates)) + res.final_loss

    lr = jnp.float32(0.1)
    g = float(jax.grad(training_loss)(lr))
    fd = float(training_loss(lr + _FD_EPS) - training_loss(lr - _FD_EPS)) / (2 * _FD_EPS)
    assert g == pytest.approx(fd, rel=_FD_RTOL)
    assert g < 0  # larger steps help on this bowl at this rate


def test_fit_chain_batch_checks_the_whole_chain_in_the_same_program():
    """Stage 1 pulls x to 1, stage 2's objective wants x at 0 and takes no step: the chain
    ends above its start on the last objective. With fallback the start comes back ("kept
    initial"); without, the end, with both losses measured. The stages' results equal
    fit_stages_batch's."""
    pull = Objective.from_residuals(lambda p, d: p["x"] - 1.0)
    home = Objective.from_residuals(lambda p, d: p["x"] - d)
    start = {"x": jnp.array([[0.1], [0.2]])}
    data = jnp.zeros((2, 1))
    stages = [Stage(pull, adam(0.1), 30, None), Stage(home, adam(0.1), 0, None)]
    results, kept = fit_chain_batch(stages, start, data)
    plain = fit_stages_batch(stages, start, data)
    for got, want in zip(results, plain):
        jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    end = np.asarray(results[-1].params["x"])
    assert np.all(end > 0.5)  # stage 1 moved towards 1
    np.testing.assert_array_equal(np.asarray(kept.params["x"]), np.asarray(start["x"]))
    assert np.all(np.asarray(kept.kept))
    assert np.all(np.asarray(kept.status) == STATUS_NO_IMPROVEMENT)
    np.testing.assert_allclose(np.asarray(kept.init_loss), [0.01, 0.04], rtol=_LOSS_TOL)
    np.testing.assert_array_equal(np.asarray(kept.final_loss), np.asarray(kept.init_loss))

    measured, m = fit_chain_batch(stages, start, data, fallback=False)
    np.testing.assert_array_equal(np.asarray(m.params["x"]), end)
    assert not np.any(np.asarray(m.kept))
    np.testing.assert_allclose(np.asarray(m.final_loss), end[:, 0] ** 2, rtol=_LOSS_TOL)
    # a chain that ends better keeps its end, status ok
    good = [Stage(home, adam(0.05), 20, None)]
    (r,), k = fit_chain_batch(good, start, data)
    np.testing.assert_array_equal(np.asarray(k.params["x"]), np.asarray(r.params["x"]))
    assert not np.any(np.asarray(k.kept)) and np.all(np.asarray(k.status) == STATUS_OK)
