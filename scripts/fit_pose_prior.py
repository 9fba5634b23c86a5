"""Fit jaxrefine's 8-component GMM body-pose prior (SMPLify's format) on CMU motion capture.

Reproducible: fixed seed, inputs listed in the JSON record.

Inputs: every trial under the CMU mocap folder (default ``../shared/mocap`` next to the repo,
or ``$JAXREFINE_MOCAP_DIR``, or ``--mocap``), converted with ``jaxrefine mocap`` settings
(30 fps, near-duplicates dropped) and retargeted to the shipped open body model (or
``--model``).

Split by subject (never by frame, so neighbouring frames of one trial cannot leak): the
validation subjects (default 09 and 16) are held out of the fit. Subject 09 (BVH; runs and a
navigate trial) and subject 16 (ASF/AMC; walks, runs, jumps, turns) cover both file formats and
the commonest motions of the training set, so their log-likelihood measures generalisation to
new people rather than to new motion types. All other subjects (01 02 03 05 06 07 08 10 13 14
105) are training subjects.

EM: scikit-learn's ``GaussianMixture`` (full covariances) when installed, else our numpy EM
(k-means++ seeding, Lloyd iterations, then EM with full covariances). Both add a ridge of
``(ridge_deg)^2`` rad^2 (default 1 degree: the CMU fingers / toes have one dof, so some
covariance directions are otherwise singular; 1 degree is below mocap noise) to every
covariance.

Writes ``jaxrefine/assets/gmm_08.npz`` (means (8, 69), covars (8, 69, 69), weights (8,),
float32) and ``jaxrefine/assets/gmm_08.json`` (inputs, split, settings, log-likelihoods).

Usage:
  python scripts/fit_pose_prior.py [--mocap DIR] [--poses POSES.npz] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_HOLDOUT = ("09", "16")


def default_mocap_dir() -> Path:
    env = os.environ.get("JAXREFINE_MOCAP_DIR")
    return Path(env) if env else REPO.parent / "shared" / "mocap"


def _log_gauss(X: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(x | mean, cov) for rows of X (N, D)."""
    from scipy.linalg import solve_triangular

    L = np.linalg.cholesky(cov)
    y = solve_triangular(L, (X - mean).T, lower=True)
    D = X.shape[1]
    return -0.5 * np.sum(y * y, 0) - np.sum(np.log(np.diag(L))) - 0.5 * D * np.log(2 * np.pi)


def _kmeans_pp(X: np.ndarray, k: int, rng: np.random.Generator, iters: int = 20) -> np.ndarray:
    centres = [X[rng.integers(len(X))]]
    d2 = np.sum((X - centres[0]) ** 2, 1)
    for _ in range(1, k):
        centres.append(X[rng.choice(len(X), p=d2 / d2.sum())])
        d2 = np.minimum(d2, np.sum((X - centres[-1]) ** 2, 1))
    C = np.asarray(centres)
    for _ in range(iters):
        lab = np.argmin(((X[:, None, :] - C[None]) ** 2).sum(-1), 1)
        C = np.asarray([X[lab == j].mean(0) if np.any(lab == j) else C[j] for j in range(k)])
    return C


def numpy_em(
    X: np.ndarray, k: int, seed: int, ridge: float, max_iter: int = 300, tol: float = 1e-6
) -> tuple[dict, dict]:
    """Full-covariance EM. Returns ({means, covars, weights}, info)."""
    rng = np.random.default_rng(seed)
    N, D = X.shape
    means = _kmeans_pp(X, k, rng)
    lab = np.argmin(((X[:, None, :] - means[None]) ** 2).sum(-1), 1)
    covars = np.stack([np.cov(X[lab == j].T) + ridge * np.eye(D) for j in range(k)])
    weights = np.bincount(lab, minlength=k) / N
    prev, iterations = -np.inf, 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        logp = np.stack(
            [np.log(weights[j]) + _log_gauss(X, means[j], covars[j]) for j in range(k)], 1
        )
        top = logp.max(1, keepdims=True)
        ll_rows = top[:, 0] + np.log(np.exp(logp - top).sum(1))
        ll = float(ll_rows.mean())
        resp = np.exp(logp - ll_rows[:, None])
        nk = resp.sum(0) + 1e-12
        weights = nk / N
        means = (resp.T @ X) / nk[:, None]
        for j in range(k):
            d = X - means[j]
            covars[j] = (resp[:, j, None] * d).T @ d / nk[j] + ridge * np.eye(D)
        if abs(ll - prev) < tol * max(1.0, abs(ll)):
            break
        prev = ll
    info = {"implementation": "numpy EM (k-means++ init)", "iterations": iterations, "train_ll": ll}
    return {"means": means, "covars": covars, "weights": weights}, info


def fit_gmm(X: np.ndarray, k: int, seed: int, ridge: float) -> tuple[dict, dict]:
    try:
        from sklearn.mixture import GaussianMixture
    except ImportError:
        return numpy_em(X, k, seed, ridge)
    gm = GaussianMixture(k, covariance_type="full", reg_covar=ridge, random_state=seed,
                         max_iter=300, tol=1e-4).fit(X)  # fmt: skip
    info = {"implementation": f"scikit-learn GaussianMixture (n_iter {gm.n_iter_})",
            "iterations": int(gm.n_iter_), "train_ll": float(gm.score(X))}  # fmt: skip
    return {"means": gm.means_, "covars": gm.covariances_, "weights": gm.weights_}, info


def evaluate(prior, X: np.ndarray) -> dict:
    """Mean exact log-density and mean max-mixture energy of rows of X under a GMMPrior."""
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


def _shown(path: Path) -> str:
    """A path relative to the repository when possible (records stay machine-independent)."""
    return os.path.relpath(Path(path).resolve(), REPO)


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mocap", type=Path, default=None, help="CMU mocap folder")
    ap.add_argument("--poses", type=Path, default=REPO / "out" / "cmu_poses_30fps.npz",
                    help="converted poses (made from --mocap if missing)")  # fmt: skip
    ap.add_argument("--reconvert", action="store_true", help="convert even if --poses exists")
    ap.add_argument("--model", default=None, help="body model (default: shipped open model)")
    ap.add_argument("--out", type=Path, default=REPO / "jaxrefine" / "assets" / "gmm_08.npz")
    ap.add_argument("--holdout", default=",".join(DEFAULT_HOLDOUT), help="validation subjects")
    ap.add_argument("--components", type=int, default=8)
    ap.add_argument("--ridge-deg", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fps", type=float, default=30.0)
    args = ap.parse_args(argv)

    from jaxrefine.data import mocap
    from jaxrefine.priors import gmm_from_arrays

    mocap_dir = args.mocap or default_mocap_dir()
    t0 = time.perf_counter()
    conversion = None
    if args.reconvert or not args.poses.is_file():
        print(f"converting {mocap_dir} -> {args.poses}")
        conversion = mocap.convert_folder(mocap_dir, args.poses, fps=args.fps, model=args.model)
        print(f"  {conversion['frames']} poses, {conversion['trials']} trials, "
              f"{conversion['seconds']:.1f} s")  # fmt: skip
    with np.load(args.poses, allow_pickle=False) as z:
        pose = z["pose"].astype(np.float64)
        subject = z["subject"]
        trial = z["trial"]
        model_id = str(z["model_id"])
        skipped = [str(s) for s in z["skipped"]]
        fps = float(z["fps"])
        dup = float(z["duplicate_threshold_deg"])
    holdout = tuple(s.strip() for s in args.holdout.split(",") if s.strip())
    val = np.isin(subject, holdout)
    if not val.any() or val.all():
        raise SystemExit(f"hold-out subjects {holdout} leave an empty train or validation set")
    X = pose[:, 1:].reshape(len(pose), -1)  # body pose: joints 1..23 -> 69
    ridge = float(np.radians(args.ridge_deg) ** 2)
    t1 = time.perf_counter()
    arrays, info = fit_gmm(X[~val], args.components, args.seed, ridge)
    fit_seconds = time.perf_counter() - t1
    arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
    prior = gmm_from_arrays(arrays["means"], arrays["covars"], arrays["weights"])
    train_eval, val_eval = evaluate(prior, X[~val]), evaluate(prior, X[val])

    _atomic(args.out, lambda fh: np.savez(fh, **arrays))
    trials = {}
    for t, s in zip(trial, subject):
        trials.setdefault(str(t), [str(s), 0])[1] += 1
    record = {
        "description": "jaxrefine GMM body-pose prior (SMPLify format: means (M,69), covars "
        "(M,69,69), weights (M,)); body pose = SMPL joints 1..23 axis-angle, relative to the "
        "body model's rest T-pose",
        "inputs": {
            "mocap_dir": _shown(mocap_dir),
            "source": "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu), "
            "../shared/mocap subset (228 trials)",
            "poses_file": _shown(args.poses),
            "body_model_id": model_id,
            "fps": fps,
            "duplicate_threshold_deg": dup,
            "skipped_files": skipped,
            "command": "python scripts/fit_pose_prior.py " + " ".join(argv or sys.argv[1:]),
            "frames_per_trial": {t: n for t, (s, n) in sorted(trials.items())},
        },
        "split": {
            "by": "subject",
            "validation_subjects": list(holdout),
            "training_subjects": sorted(set(map(str, subject[~val])) - set(holdout)),
            "train_frames": int((~val).sum()),
            "validation_frames": int(val.sum()),
        },
        "fit": {
            "components": args.components,
            "seed": args.seed,
            "ridge_rad2": ridge,
            "ridge_deg": args.ridge_deg,
            **info,
            "seconds": round(fit_seconds, 1),
        },
        "train": train_eval,
        "validation": val_eval,
        "conversion_seconds": None if conversion is None else round(conversion["seconds"], 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    json_path = args.out.with_suffix(".json")
    _atomic(json_path, lambda fh: fh.write(json.dumps(record, indent=1).encode()))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB) and {json_path}")
    print(f"train {train_eval}\nvalidation {val_eval}\nfit {info} in {fit_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
