"""Fitting the GMM body-pose prior (SMPLify's format) on converted motion capture.

The shipped ``jaxrefine/assets/gmm_08.npz`` comes from :func:`fit_pose_prior` on the CMU trials
converted by ``jaxrefine mocap`` (``scripts/fit_pose_prior.py`` runs it and writes the file and
its JSON record; the command is in the record).

- Data: the body pose of every frame, SMPL joints 1..23 as axis-angle, 69 numbers relative to
  the body model's rest T-pose (the global orientation is not part of the prior).
- Split by subject, never by frame (neighbouring frames of one trial would leak): the
  validation subjects (:data:`jaxrefine.data.poses.VALIDATION_SUBJECTS`, 09 and 16) are held
  out of the fit and scored after it.
- EM (:func:`numpy_em`, what built the shipped file): k-means++ seeding, Lloyd iterations, then
  EM with full covariances until the mean log-likelihood changes by less than ``tol``
  relative. Every covariance gets a ridge of ``ridge_deg`` degrees squared (in rad^2): the CMU
  fingers and toes have one degree of freedom, so some directions are otherwise singular; one
  degree is below mocap noise. ``em="sklearn"`` runs scikit-learn's ``GaussianMixture`` with the
  same ridge instead (scikit-learn is not one of jaxrefine's extras: install it to use it).
"""

from __future__ import annotations

import os

import numpy as np

from jaxrefine.data.poses import VALIDATION_SUBJECTS, PoseFileError, read_pose_file

DESCRIPTION = (
    "jaxrefine GMM body-pose prior (SMPLify format: means (M,69), covars (M,69,69), weights "
    "(M,)); body pose = SMPL joints 1..23 axis-angle, relative to the body model's rest T-pose"
)
_KMEANS_ITERS = 20  # Lloyd iterations after k-means++ seeding: the EM refines from there
_EMPTY_MASS = 1e-12  # added to each component's responsibility sum: no division by zero


def log_gauss(X: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(x | mean, cov) of the rows of ``X`` (N, D); ``mean`` (D,), ``cov`` (D, D) -> (N,)."""
    from scipy.linalg import solve_triangular

    L = np.linalg.cholesky(cov)
    y = solve_triangular(L, (X - mean).T, lower=True)
    D = X.shape[1]
    return -0.5 * np.sum(y * y, 0) - np.sum(np.log(np.diag(L))) - 0.5 * D * np.log(2 * np.pi)


def kmeans_pp(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeds for the rows of ``X`` (N, D), then Lloyd iterations -> centres (k, D)."""
    centres = [X[rng.integers(len(X))]]
    d2 = np.sum((X - centres[0]) ** 2, 1)
    for _ in range(1, k):
        centres.append(X[rng.choice(len(X), p=d2 / d2.sum())])
        d2 = np.minimum(d2, np.sum((X - centres[-1]) ** 2, 1))
    C = np.asarray(centres)
    for _ in range(_KMEANS_ITERS):
        lab = _nearest(X, C)
        C = np.asarray([X[lab == j].mean(0) if np.any(lab == j) else C[j] for j in range(k)])
    return C


def _nearest(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre per row: (N,) int."""
    return np.argmin(((X[:, None, :] - centres[None]) ** 2).sum(-1), 1)


def _e_step(X, means, covars, weights) -> tuple[np.ndarray, float]:
    """Responsibilities (N, k) and the mean log-likelihood of the rows."""
    k = len(weights)
    logp = np.stack([np.log(weights[j]) + log_gauss(X, means[j], covars[j]) for j in range(k)], 1)
    top = logp.max(1, keepdims=True)
    ll_rows = top[:, 0] + np.log(np.exp(logp - top).sum(1))
    return np.exp(logp - ll_rows[:, None]), float(ll_rows.mean())


def _m_step(X, resp, covars, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (k,), means (k, D) and, in place, covariances (k, D, D) from responsibilities."""
    N, D = X.shape
    nk = resp.sum(0) + _EMPTY_MASS
    means = (resp.T @ X) / nk[:, None]
    for j in range(len(nk)):
        d = X - means[j]
        covars[j] = (resp[:, j, None] * d).T @ d / nk[j] + ridge * np.eye(D)
    return nk / N, means, covars


def numpy_em(
    X: np.ndarray, k: int, seed: int, ridge: float, max_iter: int = 300, tol: float = 1e-6
) -> tuple[dict, dict]:
    """Full-covariance EM on the rows of ``X`` (N, D).

    Returns ``({"means": (k, D), "covars": (k, D, D), "weights": (k,)}, info)`` with ``info``
    naming the implementation, the iterations run and the training mean log-likelihood (of the
    last E step).
    """
    N, D = X.shape
    means = kmeans_pp(X, k, np.random.default_rng(seed))
    lab = _nearest(X, means)
    covars = np.stack([np.cov(X[lab == j].T) + ridge * np.eye(D) for j in range(k)])
    weights = np.bincount(lab, minlength=k) / N
    prev, iterations = -np.inf, 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        resp, ll = _e_step(X, means, covars, weights)
        weights, means, covars = _m_step(X, resp, covars, ridge)
        if abs(ll - prev) < tol * max(1.0, abs(ll)):
            break
        prev = ll
    info = {"implementation": "numpy EM (k-means++ init)", "iterations": iterations, "train_ll": ll}
    return {"means": means, "covars": covars, "weights": weights}, info


def sklearn_em(X: np.ndarray, k: int, seed: int, ridge: float) -> tuple[dict, dict]:
    """:func:`numpy_em`'s contract with scikit-learn's ``GaussianMixture`` (full covariances)."""
    try:
        from sklearn.mixture import GaussianMixture
    except ImportError:
        raise ImportError("em='sklearn' needs scikit-learn: pip install scikit-learn") from None
    gm = GaussianMixture(k, covariance_type="full", reg_covar=ridge, random_state=seed,
                         max_iter=300, tol=1e-4).fit(X)  # fmt: skip
    info = {"implementation": f"scikit-learn GaussianMixture (n_iter {gm.n_iter_})",
            "iterations": int(gm.n_iter_), "train_ll": float(gm.score(X))}  # fmt: skip
    return {"means": gm.means_, "covars": gm.covariances_, "weights": gm.weights_}, info


EM = {"numpy": numpy_em, "sklearn": sklearn_em}


def score(prior, X: np.ndarray) -> dict:
    """Mean exact log-density and mean / median max-mixture energy of the rows of ``X`` (N, 69)
    under a :class:`jaxrefine.priors.GMMPrior`."""
    import jax

    from jaxrefine.priors import gmm_energy, gmm_log_density

    ll = jax.jit(jax.vmap(lambda x: gmm_log_density(prior, x)))(X.astype(np.float32))
    en = jax.jit(jax.vmap(lambda x: gmm_energy(prior, x)))(X.astype(np.float32))
    return {
        "mean_log_likelihood": float(np.mean(ll)),
        "mean_energy": float(np.mean(en)),
        "median_energy": float(np.median(en)),
        "frames": int(len(X)),
    }


def read_converted_poses(path: str | os.PathLike) -> dict:
    """The arrays of a ``jaxrefine mocap`` output that the fit and its record use: the poses
    as :func:`~jaxrefine.data.poses.read_pose_file` checks them, and the conversion's
    settings."""
    z = read_pose_file(path)
    keys = ("pose", "subject", "trial", "model_id", "skipped", "fps", "duplicate_threshold_deg")
    missing = [key for key in keys if key not in z]
    if missing:
        raise PoseFileError(f"{path}: not a jaxrefine mocap output (no {', '.join(missing)})")
    return {key: z[key] for key in keys}


def holdout_mask(subject: np.ndarray, holdout: tuple[str, ...]) -> np.ndarray:
    """(N,) bool, True for the frames of the held-out subjects; both sides must be non-empty."""
    val = np.isin(subject, holdout)
    if not val.any() or val.all():
        raise ValueError(f"hold-out subjects {holdout} leave an empty train or validation set")
    return val


def _inputs(poses: dict) -> dict:
    trials = {}
    for t, s in zip(poses["trial"], poses["subject"]):
        trials.setdefault(str(t), [str(s), 0])[1] += 1
    return {
        "body_model_id": str(poses["model_id"]),
        "fps": float(poses["fps"]),
        "duplicate_threshold_deg": float(poses["duplicate_threshold_deg"]),
        "skipped_files": [str(s) for s in poses["skipped"]],
        "frames_per_trial": {t: n for t, (s, n) in sorted(trials.items())},
    }


def fit_pose_prior(
    poses: dict,
    holdout: tuple[str, ...] = VALIDATION_SUBJECTS,
    components: int = 8,
    ridge_deg: float = 1.0,
    seed: int = 0,
    em: str = "numpy",
) -> tuple[dict, dict]:
    """Fit the prior on the training subjects' body poses and score both splits.

    Args:
      poses: :func:`read_converted_poses`'s arrays (``pose`` (N, 24, 3)).
      holdout: validation subjects, left out of the fit.
      components: mixture components (SMPLify's prior has 8).
      ridge_deg: the covariance ridge, in degrees (see the module's docstring).
      seed: the k-means++ / scikit-learn seed.
      em: a key of :data:`EM`.

    Returns:
      ``(arrays, record)``: ``means`` (M, 69), ``covars`` (M, 69, 69), ``weights`` (M,) as
      float32, and a JSON-ready record (inputs, split, fit settings and result, the train and
      validation scores).

    Raises:
      ValueError: ``components`` below 1, ``ridge_deg`` below 0 (or not a number), or a
        hold-out that leaves either side empty (:func:`holdout_mask`).
    """
    import time

    from jaxrefine.priors import gmm_from_arrays

    if components < 1 or not ridge_deg >= 0:
        raise ValueError(f"pose prior: components must be at least 1 and ridge_deg at least 0 "
                         f"(got {components} and {ridge_deg})")  # fmt: skip
    subject = poses["subject"]
    val = holdout_mask(subject, holdout)
    pose = poses["pose"].astype(np.float64)
    X = pose[:, 1:].reshape(len(pose), -1)  # body pose: joints 1..23 -> 69
    ridge = float(np.radians(ridge_deg) ** 2)
    t0 = time.perf_counter()
    arrays, info = EM[em](X[~val], components, seed, ridge)
    seconds = time.perf_counter() - t0
    arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
    prior = gmm_from_arrays(arrays["means"], arrays["covars"], arrays["weights"])
    split = {
        "by": "subject",
        "validation_subjects": list(holdout),
        "training_subjects": sorted(set(map(str, subject[~val])) - set(holdout)),
        "train_frames": int((~val).sum()),
        "validation_frames": int(val.sum()),
    }
    fit = {"components": components, "seed": seed, "ridge_rad2": ridge, "ridge_deg": ridge_deg,
           **info, "seconds": round(seconds, 1)}  # fmt: skip
    record = {"description": DESCRIPTION, "inputs": _inputs(poses), "split": split, "fit": fit,
              "train": score(prior, X[~val]), "validation": score(prior, X[val])}  # fmt: skip
    return arrays, record
