"""Tests for jaxrefine.metrics against independent numpy / scipy implementations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.optimize import minimize_scalar
from scipy.spatial.transform import Rotation

from jaxrefine import metrics

_MM_TOL = 2e-3  # mm; float32 arithmetic on metre-scale coordinates (~1e-7 relative) x 1000
_ZERO_TOL = 1e-3  # mm; an exact alignment leaves float32 round-off only


def _pose(rng, n=24):
    """A random metre-scale point cloud, (n, 3) float64."""
    return rng.normal(scale=0.4, size=(n, 3)) + np.array([0.1, -0.2, 3.0])


def _rand_rot(rng):
    return Rotation.random(random_state=rng).as_matrix()


# --- independent references (numpy / scipy, float64) --------------------------------------


def _ref_root(x, root):
    idx = [root] if isinstance(root, int) else list(root)
    return x[idx].mean(0)


def _ref_mean_dist(a, b):
    return np.linalg.norm(a - b, axis=-1).mean() * 1000.0


def _ref_pa_scipy(pred, gt):
    """Procrustes with scale via scipy.linalg.orthogonal_procrustes (may reflect)."""
    p = pred - pred.mean(0)
    g = gt - gt.mean(0)
    rot, sv_sum = orthogonal_procrustes(p, g)  # minimises |p @ rot - g|
    scale = sv_sum / np.sum(p * p)
    return _ref_mean_dist(scale * p @ rot + gt.mean(0), gt)


def _ref_pa_proper(pred, gt):
    """Procrustes with scale restricted to proper rotations, via Rotation.align_vectors."""
    p = pred - pred.mean(0)
    g = gt - gt.mean(0)
    rot, _ = Rotation.align_vectors(g, p)  # rot.apply(p) ~ g, det +1
    pr = rot.apply(p)
    scale = np.sum(pr * g) / np.sum(p * p)
    return _ref_mean_dist(scale * pr + gt.mean(0), gt)


def _ref_n(pred, gt, root_p, root_g):
    """Least-squares scale found numerically (not with the closed form)."""
    p = pred - root_p
    g = gt - root_g
    res = minimize_scalar(lambda s: np.sum((s * p - g) ** 2), bounds=(0.01, 100), method="bounded")
    return _ref_mean_dist(res.x * p, g)


# --- tests -----------------------------------------------------------------------------------


def test_identical_inputs_give_zero():
    rng = np.random.default_rng(0)
    j, v = _pose(rng), _pose(rng, 100)
    out = metrics.compute_all(j, j, v, v)
    assert set(out) == set(metrics.METRIC_NAMES)
    for name, val in out.items():
        assert float(val) == pytest.approx(0.0, abs=_ZERO_TOL), name


@pytest.mark.parametrize("root", [0, (1, 2)])
def test_mpjpe_and_pve_match_numpy(root):
    rng = np.random.default_rng(1)
    gj, gv = _pose(rng), _pose(rng, 200)
    pj = gj + rng.normal(scale=0.03, size=gj.shape) + np.array([0.5, 0.0, -1.0])
    pv = gv + rng.normal(scale=0.03, size=gv.shape) + np.array([0.5, 0.0, -1.0])
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    got = metrics.compute_all(f32(pj), f32(gj), f32(pv), f32(gv), root=root)
    rp, rg = _ref_root(pj, root), _ref_root(gj, root)
    assert float(got["mpjpe"]) == pytest.approx(_ref_mean_dist(pj - rp, gj - rg), abs=_MM_TOL)
    assert float(got["pve"]) == pytest.approx(_ref_mean_dist(pv - rp, gv - rg), abs=_MM_TOL)


def test_root_alignment_removes_translation_only():
    rng = np.random.default_rng(2)
    g = _pose(rng)
    shifted = g + np.array([1.0, 2.0, -3.0])
    assert float(metrics.mpjpe(shifted, g)) == pytest.approx(0.0, abs=_ZERO_TOL)
    rotated = (g - g[0]) @ _rand_rot(rng).T + g[0]
    assert float(metrics.mpjpe(rotated, g)) > 10.0  # mm; a rotation is not aligned away


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_pa_matches_scipy_orthogonal_procrustes(seed):
    rng = np.random.default_rng(seed)
    g = _pose(rng, 200)
    p = 1.3 * g @ _rand_rot(rng).T + rng.normal(size=3) + rng.normal(scale=0.05, size=g.shape)
    assert float(metrics.pa_mpjpe(p, g)) == pytest.approx(_ref_pa_scipy(p, g), abs=_MM_TOL)
    assert float(metrics.pa_pve(p, g)) == pytest.approx(_ref_pa_scipy(p, g), abs=_MM_TOL)


def test_pa_exact_similarity_is_zero():
    rng = np.random.default_rng(6)
    g = _pose(rng)
    p = 0.7 * g @ _rand_rot(rng).T + np.array([3.0, -1.0, 2.0])
    assert float(metrics.pa_mpjpe(p, g)) == pytest.approx(0.0, abs=_ZERO_TOL)
    aligned = np.asarray(metrics.procrustes_align(p, g))
    np.testing.assert_allclose(aligned, g, atol=1e-5)


def test_pa_is_reflection_safe():
    rng = np.random.default_rng(7)
    g = _pose(rng, 50)
    mirrored = g * np.array([-1.0, 1.0, 1.0]) + rng.normal(scale=0.01, size=g.shape)
    got = float(metrics.pa_mpjpe(mirrored, g))
    assert got == pytest.approx(_ref_pa_proper(mirrored, g), abs=_MM_TOL)
    # the unconstrained (mirror-allowing) Procrustes fits much better: we did not reflect
    assert _ref_pa_scipy(mirrored, g) < 0.5 * got


@pytest.mark.parametrize("root", [0, (1, 2)])
def test_n_metrics_match_numerical_scale(root):
    rng = np.random.default_rng(8)
    gj, gv = _pose(rng), _pose(rng, 150)
    pj = 1.2 * gj + rng.normal(scale=0.02, size=gj.shape)
    pv = 1.2 * gv + rng.normal(scale=0.02, size=gv.shape)
    got = metrics.compute_all(pj, gj, pv, gv, root=root)
    rp, rg = _ref_root(pj, root), _ref_root(gj, root)
    assert float(got["n_mpjpe"]) == pytest.approx(_ref_n(pj, gj, rp, rg), abs=_MM_TOL)
    assert float(got["n_pve"]) == pytest.approx(_ref_n(pv, gv, rp, rg), abs=_MM_TOL)
    # a pure scale about the root is normalised away
    scaled = 0.8 * (gj - rg) + rg + 0.3
    assert float(metrics.n_mpjpe(scaled, gj, root=root)) == pytest.approx(0.0, abs=_ZERO_TOL)


def test_batch_equals_per_sample():
    rng = np.random.default_rng(10)
    b = 4
    gj = np.stack([_pose(rng) for _ in range(b)]).astype(np.float32)
    gv = np.stack([_pose(rng, 60) for _ in range(b)]).astype(np.float32)
    pj = gj + rng.normal(scale=0.05, size=gj.shape).astype(np.float32)
    pv = gv + rng.normal(scale=0.05, size=gv.shape).astype(np.float32)
    batch = metrics.compute_all_batch(pj, gj, pv, gv, root=(1, 2))
    for i in range(b):
        one = metrics.compute_all(pj[i], gj[i], pv[i], gv[i], root=(1, 2))
        for k in metrics.METRIC_NAMES:
            assert batch[k].shape == (b,)
            np.testing.assert_allclose(float(batch[k][i]), float(one[k]), rtol=1e-5, atol=1e-4)
    jitted = jax.jit(metrics.compute_all_batch)(pj, gj)
    assert set(jitted) == {"mpjpe", "pa_mpjpe", "n_mpjpe"}


def test_rejects_batched_or_mismatched_input():
    x = np.zeros((2, 24, 3))
    with pytest.raises(ValueError, match="one sample"):
        metrics.mpjpe(x, x)
    with pytest.raises(ValueError, match="differ"):
        metrics.pa_mpjpe(np.zeros((24, 3)), np.zeros((23, 3)))
    with pytest.raises(ValueError, match="both"):
        metrics.compute_all(np.zeros((24, 3)), np.zeros((24, 3)), np.zeros((5, 3)), None)


def test_degenerate_prediction_is_finite():
    g = _pose(np.random.default_rng(11))
    p = np.zeros_like(g)  # all points coincide: scale 0, no NaN
    out = metrics.compute_all(p, g, p, g)
    for name, val in out.items():
        assert np.isfinite(float(val)), name
