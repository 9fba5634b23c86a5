"""Every optimizer on a small problem zoo, L-BFGS against scipy, and the optimizer contract."""

import functools

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import pytest
import scipy.optimize

from jaxrefine.fit import fit
from jaxrefine.optimizers import (
    AbstractObjective,
    Objective,
    adam,
    gauss_newton,
    geman_mcclure_residual,
    jaxopt_lbfgs,
    lbfgs,
    levenberg_marquardt,
    optax_optimizer,
)

# Float32 everywhere (the precision users run), so solutions are compared loosely.
_PARAM_TOL = 2e-3  # second-order / quasi-Newton methods converge to float32 round-off
_ADAM_PARAM_TOL = 3e-2  # Adam with a fixed learning rate hovers around the minimum
_SCIPY_TOL = 2e-3  # float32 L-BFGS vs scipy's float64 L-BFGS-B, same minimum
_LOSS_REL_TOL = 1e-5  # reported vs recomputed loss, same float32 function, maybe re-fused
# Levenberg-Marquardt's damped step solved by QR or by the normal equations: the same iterates
# up to float32 round-off, which the normal equations amplify by the damped system's condition
_SOLVER_ITERATE_TOL = 1e-4  # measured: <= 1.4e-6 on the zoo; another method: 0.5-4

# ---------------------------------------------------------------------------------------------
# Problem zoo (all in residual form, so every optimizer family applies; loss = sum r^2)

_BOWL_L = np.array(
    [[3.0, 0.5, 0.0, 0.0], [0.0, 1.0, 0.2, 0.0], [0.0, 0.0, 0.5, 0.1], [0.0, 0.0, 0.0, 2.0]],
    np.float32,
)
_T = np.linspace(0.0, 3.0, 20, dtype=np.float32)
_EXP_TRUE = np.array([2.0, -1.3, 0.5], np.float32)


def _bowl_res(p, d):
    return d["L"] @ (p["x"] - d["x_star"])


def _rosen_res(p, d):
    x = p["x"]
    return jnp.concatenate([10.0 * (x[1:] - x[:-1] ** 2), 1.0 - x[:-1]])


def _exp_res(p, d):
    a, b, c = p["x"]
    return a * jnp.exp(b * d["t"]) + c - d["y"]


_PROBLEMS = {
    "bowl": dict(
        res=_bowl_res,
        data={"L": jnp.asarray(_BOWL_L), "x_star": jnp.array([1.0, -2.0, 0.5, 3.0])},
        x0=np.zeros(4, np.float32),
        solution=np.array([1.0, -2.0, 0.5, 3.0], np.float32),
    ),
    "rosenbrock": dict(
        res=_rosen_res,
        data={},
        x0=np.array([-1.2, 1.0], np.float32),  # the classic start; unique minimum in 2-D
        solution=np.ones(2, np.float32),
    ),
    "exp_fit": dict(
        res=_exp_res,
        data={"t": jnp.asarray(_T), "y": jnp.asarray(2.0 * np.exp(-1.3 * _T) + 0.5)},
        x0=np.array([1.0, -1.0, 0.0], np.float32),  # plain Gauss-Newton diverges from b0=-0.5
        solution=_EXP_TRUE,
    ),
}

# name -> (factory, num_steps, param tolerance)
_OPTIMIZERS = {
    "adam": (lambda: adam(learning_rate=2e-2), 6000, _ADAM_PARAM_TOL),
    "lbfgs": (lambda: lbfgs(), 200, _PARAM_TOL),
    "levenberg_marquardt": (lambda: levenberg_marquardt(), 200, _PARAM_TOL),
    "levenberg_marquardt_qr": (lambda: levenberg_marquardt(linear_solver="qr"), 200, _PARAM_TOL),
    "gauss_newton": (lambda: gauss_newton(), 50, _PARAM_TOL),
    "jaxopt_lbfgs": (lambda: jaxopt_lbfgs(), 200, _PARAM_TOL),
}


def _make_optimizer(name):
    if name.startswith("jaxopt"):
        pytest.importorskip("jaxopt", reason="jaxopt (optional `jaxopt` extra) not installed")
    factory, steps, tol = _OPTIMIZERS[name]
    return factory(), steps, tol


@functools.cache
def _objective(problem):
    return Objective.from_residuals(_PROBLEMS[problem]["res"])


@functools.cache
def _zoo_fit(opt_name, problem):
    """One jitted fit per (optimizer, problem), shared by the tests below."""
    opt, steps, _ = _make_optimizer(opt_name)
    prob = _PROBLEMS[problem]
    obj = _objective(problem)
    run = jax.jit(lambda p, d: fit(obj, p, d, opt, num_steps=steps, record_terms=False))
    return run({"x": jnp.asarray(prob["x0"])}, prob["data"])


@pytest.mark.parametrize("problem", list(_PROBLEMS))
@pytest.mark.parametrize("opt_name", list(_OPTIMIZERS))
def test_zoo_reaches_the_minimum(opt_name, problem):
    _, _, tol = _make_optimizer(opt_name)
    res = _zoo_fit(opt_name, problem)
    assert int(res.status) == 0
    np.testing.assert_allclose(
        np.asarray(res.params["x"]), _PROBLEMS[problem]["solution"], atol=tol
    )
    assert float(res.final_loss) < 1e-3 * float(res.init_loss)


# ---------------------------------------------------------------------------------------------
# L-BFGS against scipy


def _np_rosen(x):
    """Residuals (2n-2,) and Jacobian (2n-2, n) of the extended Rosenbrock, float64 numpy."""
    n = len(x)
    r = np.concatenate([10.0 * (x[1:] - x[:-1] ** 2), 1.0 - x[:-1]])
    jac = np.zeros((2 * n - 2, n))
    for i in range(n - 1):
        jac[i, i], jac[i, i + 1] = -20.0 * x[i], 10.0
        jac[n - 1 + i, i] = -1.0
    return r, jac


def _np_exp(x):
    """Residuals (20,) and Jacobian (20, 3) of the exponential fit, float64 numpy."""
    a, b, c = x
    t = _T.astype(np.float64)
    e = np.exp(b * t)
    r = a * e + c - (2.0 * np.exp(-1.3 * t) + 0.5)
    return r, np.stack([e, a * t * e, np.ones_like(t)], axis=1)


def _scipy_lbfgs(problem):
    """scipy's L-BFGS-B on an independent float64 numpy implementation of the problem."""
    res_jac = {"rosenbrock": _np_rosen, "exp_fit": _np_exp}[problem]

    def f_and_g(x):
        r, jac = res_jac(x)
        return float(r @ r), 2.0 * jac.T @ r

    x0 = np.asarray(_PROBLEMS[problem]["x0"], np.float64)
    out = scipy.optimize.minimize(
        f_and_g, x0, jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15}
    )
    assert out.success, out.message
    return out.x, out.fun


@pytest.mark.parametrize("problem", ["rosenbrock", "exp_fit"])
@pytest.mark.parametrize("opt_name", ["lbfgs", "jaxopt_lbfgs"])
def test_lbfgs_matches_scipy(opt_name, problem):
    _make_optimizer(opt_name)  # skips without jaxopt
    res = _zoo_fit(opt_name, problem)
    x_ref, f_ref = _scipy_lbfgs(problem)
    np.testing.assert_allclose(np.asarray(res.params["x"]), x_ref, atol=_SCIPY_TOL)
    assert float(res.final_loss) == pytest.approx(f_ref, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# The contract: step returns the loss of the params it returns


@pytest.mark.parametrize("opt_name", list(_OPTIMIZERS))
def test_step_reports_loss_of_returned_params(opt_name):
    opt, _, _ = _make_optimizer(opt_name)
    prob = _PROBLEMS["exp_fit"]
    obj = _objective("exp_fit")

    @jax.jit
    def two_steps(p, d):
        state = opt.init(p, obj, d)
        reported, recomputed = [], []
        for _ in range(2):
            p, state, loss = opt.step(p, state, obj, d)
            reported.append(loss)
            recomputed.append(obj.loss(p, d))
        return jnp.stack(reported), jnp.stack(recomputed)

    reported, recomputed = two_steps({"x": jnp.asarray(prob["x0"])}, prob["data"])
    np.testing.assert_allclose(reported, recomputed, rtol=_LOSS_REL_TOL)


@pytest.mark.parametrize("problem", ["rosenbrock", "exp_fit"])
def test_lm_linear_solvers_take_the_same_steps(problem):
    """The default normal equations (Cholesky) and optimistix's QR solve the same damped step:
    every iterate agrees, not only the minimum."""
    prob, obj = _PROBLEMS[problem], _objective(problem)

    def iterates(solver):
        opt = levenberg_marquardt(linear_solver=solver)
        run = jax.jit(lambda p, d: fit(obj, p, d, opt, num_steps=30, return_iterates=True))
        return np.asarray(run({"x": jnp.asarray(prob["x0"])}, prob["data"]).iterates["x"])

    assert isinstance(levenberg_marquardt().solver().descent.linear_solver, lx.Normal)
    qr, chol = iterates("qr"), iterates("cholesky")
    assert np.ptp(qr, axis=0).max() > 0.5  # the path moves: a real comparison
    np.testing.assert_allclose(chol, qr, atol=_SOLVER_ITERATE_TOL)


def test_unknown_linear_solver_is_named():
    with pytest.raises(ValueError, match="linear_solver must be one of.*'lu'"):
        levenberg_marquardt(linear_solver="lu")


def test_least_squares_needs_residuals():
    obj = Objective.from_loss(lambda p, d: jnp.sum(p["x"] ** 2))
    with pytest.raises(ValueError, match="residual"):
        fit(obj, {"x": jnp.ones(2)}, None, levenberg_marquardt(), num_steps=2)
    with pytest.raises(ValueError, match="needs"):
        Objective()


def test_loss_only_objective_with_gradient_optimizer():
    obj = Objective.from_loss(lambda p, d: jnp.sum((p["x"] - d) ** 4))
    run = jax.jit(lambda p, d: fit(obj, p, d, lbfgs(), num_steps=60))
    res = run({"x": jnp.zeros(2)}, jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(np.asarray(res.params["x"]), [1.0, 2.0], atol=5e-2)


def test_subclassed_objective_with_array_fields():
    from flax import struct

    @struct.dataclass
    class Shifted(AbstractObjective):
        shift: jax.Array
        has_residuals = True

        def residuals(self, params, data):
            return params - self.shift - data

        def terms(self, params, data):
            return {"sq": jnp.sum((params - self.shift - data) ** 2)}

    obj = Shifted(jnp.array([1.0, -1.0]))
    run = jax.jit(lambda o, p, d: fit(o, p, d, levenberg_marquardt(), num_steps=20))
    res = run(obj, jnp.zeros(2), jnp.array([0.5, 0.5]))
    np.testing.assert_allclose(np.asarray(res.params), [1.5, -0.5], atol=_PARAM_TOL)
    assert set(res.terms) == {"sq"}


def test_adam_matches_pytorch_update_rule():
    """First two Adam steps equal the torch.optim.Adam formulas (eps after the bias-corrected
    root), written out in numpy."""
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    obj = Objective.from_loss(lambda p, d: jnp.sum(d * p**2))
    d = jnp.array([1.0, 1e-4, 3.0])
    x = np.array([1.0, 2.0, -0.5])
    opt = adam(lr)
    state = opt.init(jnp.asarray(x, jnp.float32), obj, d)
    p = jnp.asarray(x, jnp.float32)
    m = v = np.zeros(3)
    for t in (1, 2):
        grad = 2 * np.asarray(d) * x
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad**2
        x = x - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        p, state, _ = opt.step(p, state, obj, d)
        np.testing.assert_allclose(np.asarray(p), x, rtol=1e-6)


def test_wrapped_optax_transformation():
    import optax

    obj = _objective("bowl")
    prob = _PROBLEMS["bowl"]
    opt = optax_optimizer(optax.sgd(2e-2, momentum=0.9))
    run = jax.jit(lambda p, d: fit(obj, p, d, opt, num_steps=600))
    res = run({"x": jnp.asarray(prob["x0"])}, prob["data"])
    np.testing.assert_allclose(np.asarray(res.params["x"]), prob["solution"], atol=_PARAM_TOL)


def test_geman_mcclure_residual_squares_to_gmof():
    sigma = 100.0
    r = jnp.linspace(-500.0, 500.0, 101)
    gmof = sigma**2 * r**2 / (sigma**2 + r**2)  # SPIN's gmof
    np.testing.assert_allclose(geman_mcclure_residual(r, sigma) ** 2, gmof, rtol=1e-5, atol=1e-4)
    g0 = jax.grad(lambda x: geman_mcclure_residual(x, sigma))(0.0)
    assert float(g0) == pytest.approx(1.0)  # smooth through 0 (sqrt(rho) would not be)


def test_jaxopt_missing_gives_clear_error(monkeypatch):
    import importlib

    from jaxrefine.optimizers import jaxopt_backend

    real = importlib.import_module

    def fake_import(name, *args, **kwargs):
        if name == "jaxopt":
            raise ImportError("No module named 'jaxopt'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(jaxopt_backend.importlib, "import_module", fake_import)
    with pytest.raises(ImportError, match=r"jaxrefine\[jaxopt\]"):
        jaxopt_lbfgs()
