"""Pose priors. The Gaussian-mixture (GMM) body-pose prior of SMPLify, in SMPLify's format.

A mixture of ``M`` Gaussians over the ``D = 69`` body-pose dimensions (joints 1..23 axis-angle,
global orientation excluded): ``means`` (M, D), ``covars`` (M, D, D), ``weights`` (M,).
SMPLify-X's ``MaxMixturePrior`` (docs/METHOD.md, "The GMM pose prior") precomputes, in float64,

- precisions ``Lambda_m = inv(Sigma_m)``,
- ``s_m = sqrt(det Sigma_m)`` and normaliser-weights
  ``nw_m = w_m / ((2 pi)^(D/2) * s_m / min_k s_k)``,

and evaluates the *max-mixture* energy

    E(theta) = min_m [ 0.5 (theta - mu_m)^T Lambda_m (theta - mu_m) - log nw_m ].

``-log nw_m`` contains the constant ``(D/2) log(2 pi)`` (63.41 for D = 69), kept here as in
SMPLify so that absolute energies are comparable with theirs; it has no gradient effect.
The determinants are formed as log-determinants (a 69-D determinant under- or overflows), which
gives the same ``nw_m``.

This module holds the only implementation of that energy: the SMPLify objective's pose prior
(:mod:`jaxrefine.objective`) uses :func:`gmm_component_energies` for its loss and
:func:`gmm_residuals` for its residual form (Gauss-Newton, Levenberg-Marquardt), and
:mod:`jaxrefine.data.pose_prior` reports it. Both go through the whitening matrices
``W_m = C_m^-1`` of the Cholesky factors ``Sigma_m = C_m C_m^T``: ``||W_m d||^2 = d^T Lambda_m d``.

The shipped prior (``jaxrefine/assets/gmm_08.npz``) is fitted on CMU motion capture retargeted
to the shipped open body model by :mod:`jaxrefine.data.pose_prior` through
``scripts/fit_pose_prior.py`` (its inputs, split and held-out log-likelihood are in
``jaxrefine/assets/gmm_08.json``). :func:`load_gmm` also reads
SMPLify's own ``gmm_08.pkl`` (a dict, or a pickled old scikit-learn GMM) without running any
code from the pickle.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.special import logsumexp

from jaxrefine import safepickle
from jaxrefine.errors import JaxrefineError

ASSETS = Path(__file__).resolve().parent / "assets"
SHIPPED_GMM_PATH = ASSETS / "gmm_08.npz"
GMM_FILE_HELP = ("the GMM pose prior: SMPLify's gmm_08.pkl, or an .npz of means, covars, weights "
                 "(default: the shipped prior, fitted on CMU mocap)")  # fmt: skip


def prior_file_arg(path: str) -> str:
    """A ``--gmm PATH`` flag's value (argparse ``type``), made absolute: results record it and
    ``--resume`` compares it from any folder."""
    return os.path.abspath(path)


@struct.dataclass
class GMMPrior:
    """A Gaussian mixture pose prior with its precomputed terms.

    Attributes:
      means: (M, D) component means.
      covars: (M, D, D) component covariances.
      weights: (M,) mixture weights (sum to 1).
      precisions: (M, D, D) inverse covariances.
      whiten: (M, D, D) lower-triangular ``W_m = C_m^-1`` for ``Sigma_m = C_m C_m^T``
        (``||W_m d||^2 = d^T Lambda_m d``; the residual form of the energy).
      nll_weights: (M,) ``-log nw_m`` (SMPLify's per-component constant, see module docstring).
      log_norms: (M,) ``log w_m - (D/2) log(2 pi) - 0.5 log det Sigma_m`` (for the exact
        mixture log-density).
    """

    means: jnp.ndarray
    covars: jnp.ndarray
    weights: jnp.ndarray
    precisions: jnp.ndarray
    whiten: jnp.ndarray
    nll_weights: jnp.ndarray
    log_norms: jnp.ndarray

    @property
    def num_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    # method forms of the module's functions, for objectives that hold a prior
    def energies(self, body_pose: jnp.ndarray) -> jnp.ndarray:
        return gmm_component_energies(self, body_pose)

    def energy(self, body_pose: jnp.ndarray) -> jnp.ndarray:
        return gmm_energy(self, body_pose)

    def residuals(self, body_pose: jnp.ndarray) -> jnp.ndarray:
        return gmm_residuals(self, body_pose)


def gmm_from_arrays(means, covars, weights, dtype=jnp.float32) -> GMMPrior:
    """Build a :class:`GMMPrior`, precomputing precisions and normalisers in float64.

    Args:
      means: (M, D).
      covars: (M, D, D) full covariances, or (M, D) diagonal ones.
      weights: (M,), normalised here to sum to 1.
      dtype: dtype of the stored arrays.

    Raises:
      ValueError: non-numeric or non-finite arrays, inconsistent shapes, weights that are not
        positive or do not sum to 1 (within ``_WEIGHT_SUM_TOL``), covariances that are not
        symmetric positive definite, or precomputed terms that overflow ``dtype``.
    """
    means, covars, weights = _checked_arrays(means, covars, weights)
    inv_chol, precisions, nll_weights, log_norms = _precomputed(covars, weights)
    _check_representable(dtype, precisions=precisions, whitening=inv_chol,
                         normalisers=nll_weights, log_normalisers=log_norms, means=means,
                         covariances=covars)  # fmt: skip
    return GMMPrior(
        means=jnp.asarray(means, dtype),
        covars=jnp.asarray(covars, dtype),
        weights=jnp.asarray(weights, dtype),
        precisions=jnp.asarray(precisions, dtype),
        whiten=jnp.asarray(inv_chol, dtype),
        nll_weights=jnp.asarray(nll_weights, dtype),
        log_norms=jnp.asarray(log_norms, dtype),
    )


def _checked_arrays(means, covars, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`gmm_from_arrays`' inputs as float64 ``means`` (M, D), symmetric ``covars``
    (M, D, D) (diagonal ones expanded) and ``weights`` (M,) summing to 1; ``ValueError``
    naming what is wrong otherwise."""
    means = _real_array(means, "means")
    covars = _real_array(covars, "covars")
    weights = _real_array(weights, "weights")
    weights = weights.reshape(-1)
    if means.ndim != 2 or 0 in means.shape:
        raise ValueError(f"means must be (M, D) with M, D >= 1, got shape {means.shape}")
    M, D = means.shape
    if covars.shape == (M, D):
        covars = np.einsum("md,de->mde", covars, np.eye(D))
    if covars.shape != (M, D, D) or weights.shape != (M,):
        raise ValueError(
            f"GMM shapes disagree: means {means.shape}, covars {covars.shape}, "
            f"weights {weights.shape}; expected (M, D), (M, D, D), (M,)"
        )
    if not np.all(weights > 0) or abs(weights.sum() - 1.0) > _WEIGHT_SUM_TOL:
        raise ValueError(
            f"GMM weights must be positive and sum to 1 (+-{_WEIGHT_SUM_TOL}), got sum "
            f"{weights.sum():.6g}, min {weights.min():.6g}"
        )
    scale = np.max(np.abs(covars), axis=(1, 2), keepdims=True)
    if np.any(np.abs(covars - np.swapaxes(covars, 1, 2)) > _SYMMETRY_RTOL * scale):
        raise ValueError(f"GMM covariances must be symmetric (to {_SYMMETRY_RTOL} relative)")
    return means, 0.5 * (covars + np.swapaxes(covars, 1, 2)), weights / weights.sum()


def _precomputed(covars: np.ndarray, weights: np.ndarray):
    """Float64 whitening ``C^-1`` and precisions (M, D, D), and the per-component normalisers
    ``nll_weights`` / ``log_norms`` (M,) of the module docstring, from the Cholesky factors."""
    M, D = covars.shape[:2]
    try:
        chol = np.linalg.cholesky(covars)
    except np.linalg.LinAlgError:
        raise ValueError("GMM covariances must be symmetric positive definite") from None
    log_s = np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)  # log sqrt(det)
    eye = np.broadcast_to(np.eye(D), (M, D, D))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused by the caller
        inv_chol = np.linalg.solve(chol, eye)
        precisions = np.swapaxes(inv_chol, 1, 2) @ inv_chol
    half_log_2pi = 0.5 * D * np.log(2 * np.pi)
    nll_weights = -np.log(weights) + half_log_2pi + (log_s - log_s.min())
    log_norms = np.log(weights) - half_log_2pi - log_s
    return inv_chol, precisions, nll_weights, log_norms


def _check_representable(dtype, **arrays) -> None:
    """``ValueError`` naming the first of ``arrays`` that is not finite in ``dtype``."""
    limit = float(np.finfo(dtype).max)
    for name, a in arrays.items():
        if not (np.all(np.isfinite(a)) and np.all(np.abs(a) <= limit)):
            raise ValueError(
                f"GMM {name.replace('_', '-')} are not finite in {np.dtype(dtype).name} "
                "(covariances too close to singular, or values too large)"
            )


class PriorFileError(JaxrefineError, ValueError):
    """A file that is not a usable GMM pose prior (the message names the file)."""


# Mixture weights are stored normalised; the bound refuses a damaged file, not rounding.
_WEIGHT_SUM_TOL = 1e-3
# Stored covariances are symmetric up to rounding; relative to each matrix's largest entry.
_SYMMETRY_RTOL = 1e-6


def _real_array(a, name: str) -> np.ndarray:
    """``a`` as a finite float64 array; ValueError for non-numeric or non-finite content."""
    try:
        out = np.asarray(a)
    except Exception as exc:  # noqa: BLE001 - ragged lists and odd objects alike
        raise ValueError(f"GMM {name} is not an array ({exc})") from None
    if out.dtype.kind not in "iuf":
        raise ValueError(f"GMM {name} must hold real numbers, found dtype {out.dtype}")
    out = out.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"GMM {name} holds NaN or inf")
    return out


class _SklearnStub:
    """Stand-in for pickled scikit-learn objects: keeps their attributes, runs nothing."""

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = state[0] or {}
        if isinstance(state, dict):
            self.__dict__.update(state)


_STUBS: dict[str, type] = {}


class _SafeUnpickler(pickle.Unpickler):
    """Allows numpy arrays, plain containers and (stubbed) scikit-learn objects only."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"), ("copy_reg", "_reconstructor"),
        ("copyreg", "_reconstructor"), ("__builtin__", "object"), ("builtins", "object"),
        ("collections", "OrderedDict"), ("_codecs", "encode"),
    }  # fmt: skip

    def find_class(self, module, name):
        if module == "sklearn" or module.startswith("sklearn."):
            key = f"{module}.{name}"
            if key not in _STUBS:
                _STUBS[key] = type(name, (_SklearnStub,), {"__module__": module})
            return _STUBS[key]
        if (module, name) in self._ALLOWED:
            import importlib

            mod = module.replace("copy_reg", "copyreg").replace("__builtin__", "builtins")
            if mod.startswith("numpy.core"):
                mod = mod.replace("numpy.core", "numpy._core")
            try:
                obj = importlib.import_module(mod)
            except ImportError:
                obj = importlib.import_module(mod.replace("numpy._core", "numpy.core"))
            return getattr(obj, name)
        raise pickle.UnpicklingError(
            f"a GMM pickle should hold arrays only, found {module}.{name}; refusing to load it"
        )


def _read_gmm_npz(path: Path) -> dict:
    try:
        # our own handle: numpy leaks the one it opens when the archive is corrupt
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            missing = [k for k in ("means", "covars", "weights") if k not in z.files]
            if missing:
                raise PriorFileError(f"{path}: GMM npz lacks {missing} (found {z.files})")
            return {k: z[k] for k in ("means", "covars", "weights")}
    except PriorFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip, zlib, npy-header errors: all a bad file
        raise PriorFileError(
            f"{path}: not a readable GMM .npz ({type(exc).__name__}: {exc})"
        ) from None


def _read_gmm_pickle(path: Path) -> dict:
    try:
        raw = path.read_bytes()
        safepickle.scan(raw)  # malformed streams and memo bombs, before unpickling
        obj = _SafeUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise PriorFileError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle is a bad file
        raise PriorFileError(
            f"{path}: not a readable GMM pickle ({type(exc).__name__}: {exc})"
        ) from None
    fields = obj if isinstance(obj, dict) else getattr(obj, "__dict__", None)
    if not isinstance(fields, dict):
        raise PriorFileError(f"{path}: expected a GMM (a dict), found {type(obj).__name__}")
    names = {
        "means": ("means", "means_"),
        "covars": ("covars", "covars_", "covariances_"),
        "weights": ("weights", "weights_"),
    }
    out = {}
    for key, options in names.items():
        for o in options:
            if o in fields:
                out[key] = fields[o]
                break
        else:
            raise PriorFileError(
                f"{path}: GMM pickle lacks {key!r} (looked for {options}; found {sorted(fields)})"
            )
    return out


def load_gmm(path: str | os.PathLike | None = None) -> GMMPrior:
    """Load a GMM pose prior.

    Args:
      path: None for the shipped prior; an ``.npz`` with ``means``, ``covars``, ``weights``;
        or SMPLify's ``gmm_08.pkl`` (a dict with those keys, or an old scikit-learn GMM with
        ``means_``, ``covars_``, ``weights_``), read with a restricted unpickler.

    Raises:
      FileNotFoundError: the file (or the shipped prior) is missing.
      PriorFileError (a ValueError) naming the file: unreadable, missing arrays, or arrays
        that :func:`gmm_from_arrays` refuses (non-finite, inconsistent shapes, weights not
        summing to 1, covariances not symmetric positive definite).
    """
    if path is None:
        path = SHIPPED_GMM_PATH
        if not path.is_file():
            raise FileNotFoundError(
                f"the shipped pose prior is missing ({path}); build it with "
                "scripts/fit_pose_prior.py"
            )
    path = Path(path)
    if path.is_dir():
        raise PriorFileError(f"{path} is a folder, not a GMM file (e.g. SMPLify's gmm_08.pkl)")
    if not path.is_file():
        raise FileNotFoundError(f"GMM file not found: {path}")
    if path.read_bytes()[:2] == b"PK":
        arrays = _read_gmm_npz(path)
    else:
        arrays = _read_gmm_pickle(path)
    try:
        return gmm_from_arrays(arrays["means"], arrays["covars"], arrays["weights"])
    except ValueError as exc:
        raise PriorFileError(f"{path}: {exc}") from None


def _check_pose(prior: GMMPrior, body_pose: jnp.ndarray) -> jnp.ndarray:
    body_pose = jnp.asarray(body_pose)
    if body_pose.shape != (prior.dim,):
        hint = " (one pose; batch with jax.vmap)" if body_pose.ndim > 1 else ""
        raise ValueError(f"body_pose must have shape ({prior.dim},), got {body_pose.shape}{hint}")
    return body_pose


def _whitened(prior: GMMPrior, body_pose: jnp.ndarray) -> jnp.ndarray:
    """(M, D) ``W_m (x - mu_m)``: its squared norm is the Mahalanobis distance."""
    x = _check_pose(prior, body_pose)
    return jnp.einsum("mij,mj->mi", prior.whiten, x[None, :] - prior.means)


def _mahalanobis(prior: GMMPrior, body_pose: jnp.ndarray) -> jnp.ndarray:
    z = _whitened(prior, body_pose)
    return jnp.sum(z * z, -1)


def gmm_component_energies(prior: GMMPrior, body_pose: jnp.ndarray) -> jnp.ndarray:
    """Per-component energies (M,): ``0.5 d_m^T Lambda_m d_m - log nw_m``, ``d_m = x - mu_m``.

    Args:
      body_pose: (D,) body pose (69 = joints 1..23 axis-angle).
    """
    return 0.5 * _mahalanobis(prior, body_pose) + prior.nll_weights


def gmm_energy(prior: GMMPrior, body_pose: jnp.ndarray) -> jnp.ndarray:
    """SMPLify's max-mixture prior energy () of one body pose (D,): min over components of
    :func:`gmm_component_energies` (the gradient flows through the best component only)."""
    return jnp.min(gmm_component_energies(prior, body_pose))


def gmm_log_density(prior: GMMPrior, body_pose: jnp.ndarray) -> jnp.ndarray:
    """Exact mixture log-density () of one body pose (D,) (log-sum-exp over components)."""
    return logsumexp(prior.log_norms - 0.5 * _mahalanobis(prior, body_pose))


def gmm_residuals(prior: GMMPrior, body_pose: jnp.ndarray) -> jnp.ndarray:
    """Residual form (D + 1,) of :func:`gmm_energy`: its squares sum to the energy.

    For the best component ``m``: ``[sqrt(0.5) W_m (x - mu_m), sqrt(-log nw_m)]`` (``-log nw_m``
    is positive: it contains ``(D/2) log 2 pi``, 63.4 for D = 69, and ``w_m < 1``).
    """
    z = _whitened(prior, body_pose)
    e = 0.5 * jnp.sum(z * z, -1) + prior.nll_weights
    m = jnp.argmin(e)
    return jnp.concatenate([jnp.sqrt(0.5) * z[m], jnp.sqrt(prior.nll_weights[m])[None]])
