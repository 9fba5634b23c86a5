"""Fitting the GMM pose prior (jaxrefine.data.pose_prior) and scripts/fit_pose_prior.py.

The shipped prior itself (its file, its record, held-out poses against perturbed ones) is
tested in test_priors.py; here the EM that built it, on data whose answer is known.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from jaxrefine.data.pose_prior import (
    fit_pose_prior,
    holdout_mask,
    log_gauss,
    numpy_em,
    read_converted_poses,
)
from jaxrefine.data.poses import PoseFileError
from jaxrefine.priors import gmm_from_arrays

REPO = Path(__file__).resolve().parents[1]

_LOGPDF_RTOL = 1e-10  # float64 Cholesky against scipy's eigendecomposition: rounding only
# Three clusters of 1,000, 2,000 and 3,000 points, unit-scale covariances, centres 8 apart: a
# fitted mean's error is ~ 1 / sqrt(1000) = 0.03 per axis at most; 0.1 is three of those.
_MEAN_TOL = 0.1
_SIZES = (1000, 2000, 3000)
_WEIGHT_TOL = 0.01  # the component sizes are exact; clusters this far apart barely share points
_MONOTONE_SLACK = 1e-9  # exact EM (no ridge) never lowers the likelihood; float rounding aside


def _three_clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    A = np.array([[1.0, 0.3], [0.0, 0.6]])
    X = np.concatenate([c + rng.normal(size=(n, 2)) @ A for c, n in zip(centres, _SIZES)])
    return X, centres


def test_log_gauss_matches_scipy():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4))
    B = rng.normal(size=(4, 4))
    cov, mean = B @ B.T + 0.5 * np.eye(4), rng.normal(size=4)
    want = multivariate_normal(mean, cov).logpdf(X)
    np.testing.assert_allclose(log_gauss(X, mean, cov), want, rtol=_LOGPDF_RTOL)


def test_numpy_em_recovers_known_clusters():
    X, centres = _three_clusters()
    arrays, info = numpy_em(X, 3, seed=0, ridge=0.0)
    order = [int(np.argmin(np.linalg.norm(arrays["means"] - c, axis=1))) for c in centres]
    assert sorted(order) == [0, 1, 2], arrays["means"]
    np.testing.assert_allclose(arrays["means"][order], centres, atol=_MEAN_TOL)
    np.testing.assert_allclose(arrays["weights"][order], np.array(_SIZES) / 6000, atol=_WEIGHT_TOL)
    mixture = np.stack(
        [np.log(w) + multivariate_normal(m, c).logpdf(X) for m, c, w in zip(*arrays.values())]
    )
    best = np.logaddexp.reduce(mixture, axis=0).mean()
    assert info["implementation"].startswith("numpy EM")
    assert info["train_ll"] == pytest.approx(best, abs=1e-4)  # converged: the last steps agree


def test_numpy_em_never_lowers_the_likelihood():
    X, _ = _three_clusters(seed=2)
    lls = [
        numpy_em(X, 3, seed=5, ridge=0.0, max_iter=n, tol=0.0)[1]["train_ll"] for n in range(1, 7)
    ]
    assert all(b >= a - _MONOTONE_SLACK for a, b in zip(lls, lls[1:])), lls


def test_ridge_is_added_to_every_covariance():
    X, _ = _three_clusters(seed=3)
    ridge = 0.25
    plain, _ = numpy_em(X, 3, seed=0, ridge=0.0, max_iter=1)
    ridged, _ = numpy_em(X, 3, seed=0, ridge=ridge, max_iter=1)
    # one iteration from the same seeds: the k-means start is the same, the ridge shows in the
    # covariances (its effect on the responsibilities moves them by far less than the ridge)
    gap = np.diagonal(ridged["covars"] - plain["covars"], axis1=1, axis2=2)
    assert np.all(gap > 0.5 * ridge), gap


def test_holdout_mask_refuses_an_empty_side():
    subject = np.array(["01", "01", "09"])
    np.testing.assert_array_equal(holdout_mask(subject, ("09",)), [False, False, True])
    with pytest.raises(ValueError, match="empty train or validation"):
        holdout_mask(subject, ("16",))
    with pytest.raises(ValueError, match="empty train or validation"):
        holdout_mask(subject, ("01", "09"))


def _poses_file(path: Path, n_per_subject: int = 150) -> Path:
    rng = np.random.default_rng(0)
    subjects = ["01", "02", "09"]
    pose = rng.normal(scale=0.2, size=(len(subjects) * n_per_subject, 24, 3)).astype(np.float32)
    subject = np.repeat(subjects, n_per_subject)
    trial = np.array([f"{s}_0{i % 2 + 1}" for i, s in enumerate(subject)])
    np.savez(path, pose=pose, subject=subject, trial=trial, model_id=np.array("test-model"),
             skipped=np.array([], dtype="<U1"), fps=np.array(30.0),
             duplicate_threshold_deg=np.array(2.0))  # fmt: skip
    return path


def test_fit_pose_prior_on_a_small_pose_file(tmp_path):
    poses = read_converted_poses(_poses_file(tmp_path / "poses.npz"))
    arrays, record = fit_pose_prior(poses, holdout=("09",), components=2, seed=0)
    assert arrays["means"].shape == (2, 69) and arrays["covars"].shape == (2, 69, 69)
    assert all(a.dtype == np.float32 for a in arrays.values())
    gmm_from_arrays(arrays["means"], arrays["covars"], arrays["weights"])  # a valid prior
    assert record["split"]["training_subjects"] == ["01", "02"]
    assert record["split"]["train_frames"] == record["train"]["frames"] == 300
    assert record["validation"]["frames"] == 150
    assert record["inputs"]["body_model_id"] == "test-model"
    assert sum(record["inputs"]["frames_per_trial"].values()) == 450
    assert record["fit"]["ridge_rad2"] == pytest.approx(np.radians(1.0) ** 2)


def test_sklearn_em_without_scikit_learn_names_it(tmp_path):
    if importlib.util.find_spec("sklearn") is not None:
        pytest.skip("scikit-learn is installed here; the message for its absence is not reached")
    poses = read_converted_poses(_poses_file(tmp_path / "poses.npz"))
    with pytest.raises(ImportError, match="scikit-learn"):
        fit_pose_prior(poses, holdout=("09",), components=2, em="sklearn")


def test_a_file_without_the_mocap_arrays_is_named(tmp_path):
    bad = tmp_path / "other.npz"
    np.savez(bad, pose=np.zeros((3, 24, 3), np.float32))
    with pytest.raises(PoseFileError, match=r"other\.npz.*missing keys \['subject', 'trial'\]"):
        read_converted_poses(bad)
    z = dict(np.load(_poses_file(tmp_path / "poses.npz")))
    np.savez(bad, **{k: v for k, v in z.items() if k != "model_id"})  # poses, no settings
    with pytest.raises(PoseFileError, match=r"other\.npz.*no model_id"):
        read_converted_poses(bad)
    z["pose"][4, 2, 1] = np.nan  # the pose file's own checks apply
    np.savez(bad, **z)
    with pytest.raises(PoseFileError, match=r"other\.npz: 1 poses are not finite"):
        read_converted_poses(bad)


def test_script_writes_the_prior_and_its_record(tmp_path):
    poses = _poses_file(tmp_path / "poses.npz")
    out = tmp_path / "prior" / "gmm_02.npz"
    flags = ["--poses", str(poses), "--out", str(out), "--holdout", "09", "--components", "2"]
    cmd = [sys.executable, str(REPO / "scripts" / "fit_pose_prior.py"), *flags]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(out) as z:
        assert z["means"].shape == (2, 69)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["inputs"]["command"].endswith(" ".join(flags))
    assert record["inputs"]["source"].endswith("(6 trials)")
    assert record["conversion_seconds"] is None  # the poses file was there: no conversion
    assert sorted(p.name for p in out.parent.iterdir()) == ["gmm_02.json", "gmm_02.npz"]


def test_counts_below_their_least_are_refused_before_the_fit(tmp_path):
    poses = read_converted_poses(_poses_file(tmp_path / "poses.npz"))
    for components, ridge in ((0, 1.0), (2, -1.0), (2, float("nan"))):
        with pytest.raises(ValueError, match="components must be at least 1 and ridge_deg"):
            fit_pose_prior(poses, holdout=("09",), components=components, ridge_deg=ridge)
    out = tmp_path / "gmm.npz"
    script = [sys.executable, str(REPO / "scripts" / "fit_pose_prior.py"), "--poses", str(poses)]
    for flags, message in ((["--components", "0"], "--components must be at least 1 (got 0)"),
                           (["--ridge-deg", "-1"], "--ridge-deg must be at least 0 (got -1.0)"),
                           (["--out", str(tmp_path)], "is a folder, not a file")):  # fmt: skip
        argv = [*script, "--out", str(out), *flags]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)
        assert done.returncode == 2 and message in done.stderr, done.stderr[-2000:]
    assert not out.exists()
