"""GMM pose prior: SMPLify's formula, loaders (npz, dict and scikit-learn pickles, refusal of
unsafe pickles), transforms, and the shipped prior on held-out CMU subjects."""

from __future__ import annotations

import json
import pickle
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine import priors

# Energies are ~1e2 evaluated in float32 from float64 precomputations: relative error ~1e-6.
_ENERGY_RTOL = 2e-5
_HALF_LOG_2PI_69 = 0.5 * 69 * np.log(2 * np.pi)  # 63.41, SMPLify's constant offset


def _random_gmm(seed=0, M=8, D=69):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 0.3, (M, D))
    covars = []
    for _ in range(M):
        Q, _ = np.linalg.qr(rng.normal(size=(D, D)))
        covars.append(Q @ np.diag(rng.uniform(0.002, 0.2, D)) @ Q.T)
    weights = rng.dirichlet(np.ones(M) * 3)
    return means, np.stack(covars), weights


def _smplify_reference(means, covars, weights, x):
    """SMPLify-X MaxMixturePrior (merged path), written as in prior.py, float64."""
    precisions = np.stack([np.linalg.inv(c) for c in covars])
    sqrdets = np.array([np.sqrt(np.linalg.det(c)) for c in covars])
    const = (2 * np.pi) ** (69 / 2.0)
    nll_weights = np.asarray(weights / (const * (sqrdets / sqrdets.min())))
    d = x[None] - means
    prior_loss = 0.5 * np.einsum("md,mde,me->m", d, precisions, d)
    return np.min(prior_loss - np.log(nll_weights))


def test_energy_matches_smplify_formula():
    means, covars, weights = _random_gmm()
    prior = priors.gmm_from_arrays(means, covars, weights)
    rng = np.random.default_rng(1)
    for x in [means[3], means[5] + rng.normal(0, 0.1, 69), rng.normal(0, 0.5, 69)]:
        ref = _smplify_reference(means, covars, weights, x)
        got = float(priors.gmm_energy(prior, jnp.asarray(x, jnp.float32)))
        assert got == pytest.approx(ref, rel=_ENERGY_RTOL)


def test_constant_offset_is_smplifys():
    prior = priors.gmm_from_arrays(np.zeros((1, 69)), np.eye(69)[None], np.ones(1))
    assert float(priors.gmm_energy(prior, jnp.zeros(69))) == pytest.approx(_HALF_LOG_2PI_69)
    assert _HALF_LOG_2PI_69 == pytest.approx(63.41, abs=0.01)


def test_log_density_matches_scipy():
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    means, covars, weights = _random_gmm(seed=2)
    prior = priors.gmm_from_arrays(means, covars, weights)
    x = means[1] + np.random.default_rng(3).normal(0, 0.05, 69)
    ref = logsumexp(
        [np.log(w) + multivariate_normal(m, c).logpdf(x) for m, c, w in zip(means, covars, weights)]
    )
    assert float(priors.gmm_log_density(prior, jnp.asarray(x, jnp.float32))) == pytest.approx(
        ref, rel=_ENERGY_RTOL
    )


def test_transforms_and_gradient_of_active_component():
    means, covars, weights = _random_gmm(seed=4)
    prior = priors.gmm_from_arrays(means, covars, weights)
    X = jnp.asarray(means[:4] + 0.01, jnp.float32)
    e_vmap = jax.jit(jax.vmap(lambda x: priors.gmm_energy(prior, x)))(X)
    e_loop = jnp.stack([priors.gmm_energy(prior, x) for x in X])
    np.testing.assert_allclose(e_vmap, e_loop, rtol=_ENERGY_RTOL)
    x = X[0]
    g = jax.grad(lambda x: priors.gmm_energy(prior, x))(x)
    m = int(jnp.argmin(priors.gmm_component_energies(prior, x)))
    expect = prior.precisions[m] @ (x - prior.means[m])
    np.testing.assert_allclose(g, expect, rtol=1e-4, atol=1e-4)
    assert bool(jnp.all(jnp.isfinite(g)))


def test_rejects_batch_axis_and_bad_arrays():
    means, covars, weights = _random_gmm(seed=5)
    prior = priors.gmm_from_arrays(means, covars, weights)
    with pytest.raises(ValueError, match=r"body_pose must have shape \(69,\).*vmap"):
        priors.gmm_energy(prior, jnp.zeros((2, 69)))
    with pytest.raises(ValueError, match="positive definite"):
        priors.gmm_from_arrays(means, -covars, weights)
    with pytest.raises(ValueError, match="shapes disagree"):
        priors.gmm_from_arrays(means, covars[:, :10, :10], weights)


def test_load_npz_and_dict_pickle(tmp_path):
    means, covars, weights = _random_gmm(seed=6)
    np.savez(tmp_path / "g.npz", means=means, covars=covars, weights=weights)
    with open(tmp_path / "g.pkl", "wb") as fh:
        pickle.dump({"means": means, "covars": covars, "weights": weights}, fh, protocol=2)
    x = jnp.asarray(means[2], jnp.float32)
    ref = _smplify_reference(means, covars, weights, np.asarray(x, np.float64))
    for name in ("g.npz", "g.pkl"):
        got = priors.gmm_energy(priors.load_gmm(tmp_path / name), x)
        assert float(got) == pytest.approx(ref, rel=_ENERGY_RTOL)


def test_load_old_sklearn_pickle_without_sklearn(tmp_path, monkeypatch):
    """SMPLify's gmm_08.pkl may be an old sklearn GMM object: read its attributes, run nothing."""
    means, covars, weights = _random_gmm(seed=7)
    mod = types.ModuleType("sklearn.mixture.gmm")

    class GMM:  # stands in for the pickled class
        pass

    GMM.__module__, GMM.__qualname__ = "sklearn.mixture.gmm", "GMM"
    mod.GMM = GMM
    for name in ("sklearn", "sklearn.mixture"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "sklearn.mixture.gmm", mod)
    obj = GMM()
    obj.means_, obj.covars_, obj.weights_ = means, covars, weights
    obj.covariance_type = "full"
    (tmp_path / "gmm_08.pkl").write_bytes(pickle.dumps(obj, protocol=2))
    for name in ("sklearn", "sklearn.mixture", "sklearn.mixture.gmm"):
        monkeypatch.delitem(sys.modules, name)
    prior = priors.load_gmm(tmp_path / "gmm_08.pkl")
    np.testing.assert_allclose(prior.means, means, rtol=1e-6, atol=1e-7)
    assert prior.covars.shape == (8, 69, 69)


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def test_refuses_code_in_pickles(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"means": _Evil(marker)}))
    with pytest.raises(ValueError, match="refusing"):
        priors.load_gmm(tmp_path / "evil.pkl")
    assert not marker.exists()
    (tmp_path / "partial.pkl").write_bytes(pickle.dumps({"means": np.zeros((8, 69))}))
    with pytest.raises(ValueError, match="lacks 'covars'"):
        priors.load_gmm(tmp_path / "partial.pkl")
    with pytest.raises(FileNotFoundError):
        priors.load_gmm(tmp_path / "missing.pkl")


def _shipped_prior():
    if not priors.SHIPPED_GMM_PATH.is_file():
        pytest.skip(f"shipped prior {priors.SHIPPED_GMM_PATH} not built yet")
    return priors.load_gmm()


def test_shipped_prior_file():
    prior = _shipped_prior()
    assert prior.means.shape == (8, 69) and prior.covars.shape == (8, 69, 69)
    assert prior.weights.shape == (8,)
    assert float(jnp.sum(prior.weights)) == pytest.approx(1.0, abs=1e-5)
    assert priors.SHIPPED_GMM_PATH.stat().st_size < 1_000_000
    record = json.loads(priors.SHIPPED_GMM_PATH.with_suffix(".json").read_text())
    assert record["split"]["by"] == "subject"
    assert not set(record["split"]["validation_subjects"]) & set(
        record["split"]["training_subjects"]
    )


# Held-out poses vs corrupted ones. Perturbation: every body-pose dof + N(0, 0.1 rad) (~6
# degrees). Random: each joint an axis-angle with uniform random axis and angle uniform in
# [0, 90 degrees]. Measured on all 4,950 held-out frames (subjects 09, 16) with the shipped
# prior: median energy real 117.6, perturbed 560, random ~12,500; the real pose wins against
# its perturbed copy in 100% of frames (already at 0.03 rad noise).
_PERTURB_SIGMA = 0.1  # rad
_MIN_PAIRWISE_WIN = 0.95  # fraction of frames where the real pose beats its perturbed copy


def test_held_out_subjects_beat_perturbed_and_random(mocap_dir):
    from jaxrefine.body_model import rest_joints
    from jaxrefine.data import mocap
    from jaxrefine.smpl_io import load_body_model

    prior = _shipped_prior()
    record = json.loads(priors.SHIPPED_GMM_PATH.with_suffix(".json").read_text())
    try:
        model = load_body_model()
    except FileNotFoundError as exc:
        pytest.skip(f"shipped body model missing: {exc}")
    if model.model_id != record["inputs"]["body_model_id"]:
        pytest.skip(
            f"prior fitted for body model {record['inputs']['body_model_id']!r}, shipped model "
            f"is {model.model_id!r}; rerun scripts/fit_pose_prior.py"
        )
    held = record["split"]["validation_subjects"]
    paths = []
    for sub in held:
        hits = sorted(mocap_dir.rglob(f"{sub}_*.bvh")) + sorted(mocap_dir.rglob(f"{sub}_*.amc"))
        paths += hits[:2]
    if not paths:
        pytest.skip(f"no trials of held-out subjects {held} under {mocap_dir}")
    rest = np.asarray(rest_joints(model, jnp.zeros(model.num_betas)))
    real = np.concatenate(
        [mocap.retarget(mocap.load_trial(p, frames_at_fps=10.0), rest) for p in paths]
    )[:, 1:].reshape(-1, 69)
    rng = np.random.default_rng(0)
    perturbed = real + rng.normal(0, _PERTURB_SIGMA, real.shape)
    axes = rng.normal(size=(len(real), 23, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    random = (axes * rng.uniform(0, np.pi / 2, (len(real), 23, 1))).reshape(-1, 69)
    energy = jax.jit(jax.vmap(lambda x: priors.gmm_energy(prior, x)))
    loglik = jax.jit(jax.vmap(lambda x: priors.gmm_log_density(prior, x)))
    e = {k: np.asarray(energy(jnp.asarray(v, jnp.float32))) for k, v in
         {"real": real, "perturbed": perturbed, "random": random}.items()}  # fmt: skip
    ll = {k: np.asarray(loglik(jnp.asarray(v, jnp.float32))) for k, v in
          {"real": real, "perturbed": perturbed, "random": random}.items()}  # fmt: skip
    print({k: float(np.median(v)) for k, v in e.items()}, len(real), "frames")
    assert np.median(e["real"]) < np.median(e["perturbed"]) < np.median(e["random"])
    assert np.median(ll["real"]) > np.median(ll["perturbed"]) > np.median(ll["random"])
    assert np.mean(e["real"] < e["perturbed"]) >= _MIN_PAIRWISE_WIN
    assert np.mean(e["real"] < e["random"]) >= _MIN_PAIRWISE_WIN


def _broken_gmm(key, edit):
    arrays = dict(zip(("means", "covars", "weights"), _random_gmm(seed=8)))
    arrays[key] = edit(np.array(arrays[key]))
    return arrays


def _put(a, index, value):
    a[index] = value
    return a


_BROKEN_GMMS = {
    "inf covariance": ("covars", lambda a: _put(a, (0, 0, 0), np.inf), "covars holds NaN or inf"),
    "nan weight": ("weights", lambda a: _put(a, 0, np.nan), "weights holds NaN or inf"),
    "weights sum to 2": ("weights", lambda a: 2 * a, "sum to 1"),
    "zero weight": ("weights", lambda a: _put(a, 1, 0.0), "must be positive"),
    "asymmetric": ("covars", lambda a: _put(a, (2, 0, 1), a[2, 0, 1] + 1.0), "symmetric"),
    "not positive definite": ("covars", lambda a: -a, "positive definite"),
    "near singular": ("covars", lambda a: a * 1e-60, "not finite in float32"),
    "text means": ("means", lambda a: np.array("abc"), "means must hold real numbers"),
}


@pytest.mark.parametrize("case", sorted(_BROKEN_GMMS))
@pytest.mark.parametrize("suffix", ["npz", "pkl"])
def test_broken_gmm_files_raise_prior_file_error(tmp_path, case, suffix):
    key, edit, message = _BROKEN_GMMS[case]
    arrays = _broken_gmm(key, edit)
    p = tmp_path / f"gmm.{suffix}"
    if suffix == "npz":
        np.savez(p, **arrays)
    else:
        p.write_bytes(pickle.dumps(arrays, protocol=2))
    with pytest.raises(priors.PriorFileError, match=f"{p}: .*{message}"):
        priors.load_gmm(p)


def test_unreadable_gmm_npz_names_the_file(tmp_path):
    p = tmp_path / "gmm.npz"
    np.savez(p, **dict(zip(("means", "covars", "weights"), _random_gmm(seed=9))))
    data = p.read_bytes()
    for raw in (data[: len(data) // 2], data[:100] + bytes(64) + data[164:]):
        p.write_bytes(raw)
        with pytest.raises(priors.PriorFileError, match=f"{p}: not a readable GMM"):
            priors.load_gmm(p)


def test_gmm_pickle_memory_bomb_refused(tmp_path):
    p = tmp_path / "gmm.pkl"
    p.write_bytes(b"\x80\x02}r" + (4_000_000_000).to_bytes(4, "little") + b".")
    with pytest.raises(priors.PriorFileError, match=f"{p}: .*memo entry"):
        priors.load_gmm(p)
