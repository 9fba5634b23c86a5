"""Learned Gradient Descent (Song, Chen & Hilliges, ECCV 2020) behind the optimizer contract.

Instead of a hand-set step rule, a network predicts each parameter update from what a
classical optimizer would look at, plus what was observed:

    theta_{t+1} = theta_t + alpha * f_w([obs, theta_t, grad_data(theta_t)])

- ``theta`` is the optimised params flattened to one vector in a fixed order (``layout``:
  e.g. global_orient (3), body_pose (23, 3), betas (10), transl (3)); params outside the
  layout are left alone.
- ``grad_data`` is the gradient of the *data term* only. There is no hand-written prior: the
  network, trained on real poses, has learned the space of plausible bodies and keeps the
  estimate in it. The gradient is that of ``objective.data_loss`` when the objective has one,
  else of ``objective.loss``. For SMPLify, :func:`data_term_objective` turns a body-stage
  objective into its data term (no GMM, no angle prior, zero shape-prior weight), which is
  what LGD should be given; the fit engine then tracks and reports that loss.
- ``obs`` is a fixed-size summary of the observations (:mod:`.lgd_features`: the box-normalised
  keypoints for sparse targets, per-body-part statistics of the visible vertices for dense
  ones, both one after the other for both), computed once per fit in
  :meth:`LearnedGradientDescent.init`.
- ``f_w`` is one MLP per parameter group (pose / shape / translation, as the public code has
  one for pose and one for shape): Dense -> LayerNorm -> PReLU, residual blocks of two such
  layers, a Dense head (initialised small, so an untrained LGD barely moves). The public code
  uses BatchNorm and dropout; we use LayerNorm (no batch statistics: a fit of one sample gives
  the same answer inside any batch) and no dropout (the contract's ``step`` has no random key;
  training sees fresh synthetic samples at every step anyway).
- Features are standardised by fixed ``feature_mean`` / ``feature_std`` (array leaves, set
  from a batch of starting points by :func:`calibrate`): parameters, pixels and gradients come
  in very different units.
- During training the gradient feature is detached (``detach_gradient=True``, as the public
  code does: no second-order terms flow back); ``detach_gradient=False`` lets them flow (used
  to check the unrolled gradients against finite differences).

Contract (see :mod:`.base`): the state caches the loss and data-term gradient of the current
params, so ``init`` costs one ``value_and_grad`` (no network evaluation) and every ``step`` one
network evaluation plus one ``value_and_grad``; ``step`` returns the loss of the params it
returns. The weights are array leaves of the optimizer pytree, so one compiled program serves
any trained weights, and ``jax.grad`` of anything computed by an unrolled fit with respect to
the optimizer gives the weights' gradient (how training works, see :mod:`jaxrefine.train.lgd`).

Checkpoints: :func:`save_lgd` writes ``<stem>.npz`` (weights, flat ``group/layer/param`` keys)
and ``<stem>.json`` (structure and how it was made); :func:`load_lgd` reads them back.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct, traverse_util

from jaxrefine.body_model import recorded_model_id
from jaxrefine.files import atomic_write
from jaxrefine.optimizers.base import AbstractObjective, Data, Optimizer, Params
from jaxrefine.optimizers.lgd_features import FEATURE_KINDS, observation_features

CHECKPOINT_FORMAT = "jaxrefine-lgd-v1"
ASSETS = Path(__file__).resolve().parents[1] / "assets"  # the package's shipped checkpoints
SHIPPED_KINDS = ("sparse", "dense", "dense_keypoints")
PUBLISHED_HIDDEN = 1024  # hidden width of the public code's MLPs
PUBLISHED_STEP_SIZE = 0.1  # alpha of the public code
Layout = tuple[tuple[str, tuple[int, ...]], ...]


class LGDState(NamedTuple):
    """State of :class:`LearnedGradientDescent` (one sample).

    Attributes:
      value: () loss of the current params (``objective.loss``).
      grad: (P,) data-term gradient at the current params, flattened in ``layout`` order.
      obs: (D,) observation features (constant along a fit).
    """

    value: jax.Array
    grad: jax.Array
    obs: jax.Array


class UpdateMLP(nn.Module):
    """The update network of one parameter group: (F,) features -> (out,) update.

    Dense(hidden) -> LayerNorm -> PReLU, then ``num_blocks`` residual blocks of two such
    layers with an identity skip, then a Dense head initialised at 1 % of the usual scale.
    """

    hidden: int
    num_blocks: int
    out: int

    def _layer(self, h: jax.Array) -> jax.Array:
        h = nn.LayerNorm()(nn.Dense(self.hidden)(h))
        return nn.PReLU(negative_slope_init=0.25)(h)  # torch.nn.PReLU's initial slope

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = self._layer(x)
        for _ in range(self.num_blocks):
            h = h + self._layer(self._layer(h))
        head_init = nn.initializers.variance_scaling(1e-4, "fan_in", "truncated_normal")
        return nn.Dense(self.out, kernel_init=head_init)(h)


# ---------------------------------------------------------------------------------------------
# Flat parameter vector


def param_layout(params: Mapping[str, Any], keys: Sequence[str] | None = None) -> Layout:
    """The static layout of ``theta``: ``((key, shape), ...)`` in the order of ``keys``.

    Args:
      params: one sample's params dict (no batch axis).
      keys: the keys LGD updates (default: all, sorted).
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"LGD needs params as a dict of arrays, got {type(params).__name__}")
    keys = sorted(params) if keys is None else list(keys)
    missing = [k for k in keys if k not in params or params[k] is None]
    if missing:
        raise ValueError(f"LGD keys {missing} are not in params {sorted(params)}")
    return tuple((k, tuple(int(s) for s in jnp.shape(params[k]))) for k in keys)


def layout_size(layout: Layout) -> int:
    return int(sum(int(np.prod(s)) for _, s in layout))


def flatten_params(params: Mapping[str, Any], layout: Layout) -> jax.Array:
    """(P,) concatenation of the layout's params (one sample)."""
    parts = []
    for k, shape in layout:
        x = params.get(k) if isinstance(params, Mapping) else None
        if x is None:
            raise ValueError(
                f"LGD was built for params {[n for n, _ in layout]}; {k!r} is missing or frozen "
                f"(got keys {sorted(params) if isinstance(params, Mapping) else type(params)})"
            )
        if tuple(jnp.shape(x)) != shape:
            raise ValueError(f"LGD expects {k!r} of shape {shape}, got {jnp.shape(x)}")
        parts.append(jnp.reshape(x, (-1,)))
    return jnp.concatenate(parts)


def unflatten_params(params: Mapping[str, Any], theta: jax.Array, layout: Layout) -> dict:
    """``params`` with the layout's entries replaced by the pieces of ``theta`` (P,)."""
    out = dict(params)
    i = 0
    for k, shape in layout:
        n = int(np.prod(shape))
        out[k] = theta[i : i + n].reshape(shape).astype(jnp.result_type(params[k]))
        i += n
    return out


def default_groups(keys: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """One MLP per group: the SMPL pose (global_orient with body_pose) is one, others alone."""
    keys = list(keys)
    pose = tuple(k for k in ("global_orient", "body_pose") if k in keys)
    groups = [pose] if pose else []
    groups += [(k,) for k in keys if k not in pose]
    return tuple(groups)


def _group_name(group: tuple[str, ...]) -> str:
    return "+".join(group)


# ---------------------------------------------------------------------------------------------
# The optimizer


@struct.dataclass
class LearnedGradientDescent(Optimizer):
    """LGD as a jaxrefine optimizer (see the module docstring).

    Attributes:
      weights: dict group name -> that group's MLP parameters (flax ``params`` collection).
      feature_mean / feature_std: (F,) standardisation of the feature vector.
      step_size: () alpha.
      layout: static; ``((key, shape), ...)``, the params updated and their order in theta.
      groups: static; tuple of key tuples, one MLP each (together, the layout's keys).
      features: static; observation summary kind, one of ``FEATURE_KINDS``.
      hidden / num_blocks: static; MLP width and number of residual blocks.
      num_steps: static; the number of steps it was trained for (a fit may use another count).
      detach_gradient: static; stop gradients through the gradient feature (training).
    """

    weights: dict
    feature_mean: jax.Array
    feature_std: jax.Array
    step_size: jax.Array
    layout: Layout = struct.field(pytree_node=False)
    groups: tuple[tuple[str, ...], ...] = struct.field(pytree_node=False)
    features: str = struct.field(pytree_node=False, default="none")
    hidden: int = struct.field(pytree_node=False, default=PUBLISHED_HIDDEN)
    num_blocks: int = struct.field(pytree_node=False, default=2)
    num_steps: int = struct.field(pytree_node=False, default=10)
    detach_gradient: bool = struct.field(pytree_node=False, default=True)

    # -- pieces ---------------------------------------------------------------------------
    def _group_slices(self) -> dict[str, np.ndarray]:
        """Index of each group's entries in theta."""
        offsets, i = {}, 0
        for k, shape in self.layout:
            n = int(np.prod(shape))
            offsets[k] = np.arange(i, i + n)
            i += n
        return {_group_name(g): np.concatenate([offsets[k] for k in g]) for g in self.groups}

    def mlp(self, group: tuple[str, ...]) -> UpdateMLP:
        out = sum(int(np.prod(dict(self.layout)[k])) for k in group)
        return UpdateMLP(self.hidden, self.num_blocks, out)

    def update_direction(self, features: jax.Array) -> jax.Array:
        """f_w: (F,) raw features -> (P,) update of theta (before the step size)."""
        x = (features - self.feature_mean) / self.feature_std
        delta = jnp.zeros((layout_size(self.layout),), features.dtype)
        for g in self.groups:
            name = _group_name(g)
            out = self.mlp(g).apply({"params": self.weights[name]}, x)
            delta = delta.at[self._group_slices()[name]].set(out)
        return delta

    def feature_vector(self, params: Params, state: LGDState) -> jax.Array:
        """(F,) = [obs (D), theta (P), gradient (P)] at ``params``."""
        g = jax.lax.stop_gradient(state.grad) if self.detach_gradient else state.grad
        return jnp.concatenate([state.obs, flatten_params(params, self.layout), g])

    def value_and_data_grad(self, params: Params, objective: AbstractObjective, data: Data):
        """(loss of params, (P,) gradient of the data term) — one evaluation if they agree."""
        data_loss = getattr(objective, "data_loss", None)
        if data_loss is None:
            value, grad = jax.value_and_grad(objective.loss)(params, data)
        else:
            value = objective.loss(params, data)
            grad = jax.grad(data_loss)(params, data)
        return value, flatten_params(grad, self.layout)

    # -- as a SMPLify body stage ----------------------------------------------------------
    camera_stage_optimizer: ClassVar[str] = "adam"  # trained for the body stage only

    def adapt_stage(self, objective, num_steps, trainable):
        """A SMPLify body stage as LGD was trained for it: the stage objective's data term
        (:func:`data_term_objective`: no GMM, angle or shape prior), the trained number of
        learned steps (unless ``num_steps`` is given) and the params of its layout (pose,
        betas, translation), whatever ``trainable`` was asked for."""
        del trainable
        steps = self.stage_steps(num_steps)
        return data_term_objective(objective), steps, {k for k, _ in self.layout}

    def stage_steps(self, num_steps: int | None) -> int:
        """The trained number of learned steps, unless ``num_steps`` is given."""
        return self.num_steps if num_steps is None else int(num_steps)

    # -- the contract ---------------------------------------------------------------------
    def init(self, params: Params, objective: AbstractObjective, data: Data) -> LGDState:
        value, grad = self.value_and_data_grad(params, objective, data)
        obs = observation_features(self.features, objective, data).astype(grad.dtype)
        return LGDState(value, grad, obs)

    def step(
        self, params: Params, state: LGDState, objective: AbstractObjective, data: Data
    ) -> tuple[Params, LGDState, jax.Array]:
        theta = flatten_params(params, self.layout)
        delta = self.update_direction(self.feature_vector(params, state))
        new_params = unflatten_params(params, theta + self.step_size * delta, self.layout)
        value, grad = self.value_and_data_grad(new_params, objective, data)
        return new_params, LGDState(value, grad, state.obs), value


def init_lgd(
    key: jax.Array,
    params: Params,
    objective: AbstractObjective,
    data: Data,
    *,
    features: str = "none",
    keys: Sequence[str] | None = None,
    groups: Sequence[Sequence[str]] | None = None,
    hidden: int = PUBLISHED_HIDDEN,
    num_blocks: int = 2,
    num_steps: int = 10,
    step_size: float = PUBLISHED_STEP_SIZE,
    detach_gradient: bool = True,
) -> LearnedGradientDescent:
    """A freshly initialised (untrained) LGD for params and data shaped like the examples.

    Args:
      key: PRNG key for the weights.
      params / data: ONE example (no batch axis); only shapes are used.
      objective: the objective it will run on (for the observation features' shapes).
      features: observation summary kind (see :mod:`.lgd_features`).
      keys: the params it updates (default: all keys of ``params``, sorted).
      groups: key tuples, one MLP each (default :func:`default_groups`).
      hidden / num_blocks: MLP width (published: 1024) and residual blocks (published: 2).
      num_steps: steps it is meant for. step_size: alpha (published: 0.1).
      detach_gradient: see the module docstring.
    """
    if features not in FEATURE_KINDS:
        raise ValueError(f"unknown LGD feature kind {features!r}; choose from {FEATURE_KINDS}")
    layout = param_layout(params, keys)
    names = [k for k, _ in layout]
    groups = default_groups(names) if groups is None else tuple(tuple(g) for g in groups)
    flat = [k for g in groups for k in g]
    if sorted(flat) != sorted(names):
        raise ValueError(f"groups {groups} must cover the keys {names} exactly once")
    obs = jax.eval_shape(lambda d: observation_features(features, objective, d), data)
    num_features = int(obs.shape[0]) + 2 * layout_size(layout)
    lgd = LearnedGradientDescent(
        weights={},
        feature_mean=jnp.zeros((num_features,), jnp.float32),
        feature_std=jnp.ones((num_features,), jnp.float32),
        step_size=jnp.asarray(step_size, jnp.float32),
        layout=layout,
        groups=groups,
        features=features,
        hidden=int(hidden),
        num_blocks=int(num_blocks),
        num_steps=int(num_steps),
        detach_gradient=bool(detach_gradient),
    )
    x = jnp.zeros((num_features,), jnp.float32)
    weights = {}
    for g, k in zip(groups, jax.random.split(key, len(groups))):
        weights[_group_name(g)] = lgd.mlp(g).init(k, x)["params"]
    return lgd.replace(weights=weights)


def calibrate(
    lgd: LearnedGradientDescent,
    objective: AbstractObjective,
    params: Params,
    data: Data,
    min_std: float = 1e-6,
) -> LearnedGradientDescent:
    """Set the feature standardisation from a batch of starting points.

    Args:
      params / data: a batch (leading axis B on every leaf) of typical starting points.
      min_std: features whose spread is below this (constants) get std 1.
    """

    def feats(p, d):
        return lgd.feature_vector(p, lgd.init(p, objective, d))

    f = jax.vmap(feats)(params, data)
    mean, std = jnp.mean(f, 0), jnp.std(f, 0)
    return lgd.replace(feature_mean=mean, feature_std=jnp.where(std > min_std, std, 1.0))


def data_term_objective(objective: Any) -> Any:
    """An SMPLify body-stage objective reduced to its data term (what LGD minimises).

    Drops the GMM pose prior and the angle prior and sets the shape prior's weight to 0;
    works on any objective with SMPLify's fields (``gmm``, ``w``, ``use_angle_prior``).
    """
    for field in ("gmm", "w", "use_angle_prior"):
        if not hasattr(objective, field):
            raise ValueError(
                f"data_term_objective needs an SMPLify-like objective (fields gmm, w, "
                f"use_angle_prior); {type(objective).__name__} has no {field!r}"
            )
    w = dict(objective.w)
    for k in ("pose_prior", "angle_prior", "shape_prior"):
        if k in w:
            w[k] = jnp.zeros_like(w[k])
    return objective.replace(gmm=None, use_angle_prior=False, w=w)


# ---------------------------------------------------------------------------------------------
# Checkpoints


def _stem(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".npz", ".json") else p


def _structure(lgd: LearnedGradientDescent) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "layout": [[k, list(s)] for k, s in lgd.layout],
        "groups": [list(g) for g in lgd.groups],
        "features": lgd.features,
        "hidden": lgd.hidden,
        "num_blocks": lgd.num_blocks,
        "num_steps": lgd.num_steps,
        "num_features": int(lgd.feature_mean.shape[0]),
    }


def save_lgd(path: str | os.PathLike, lgd: LearnedGradientDescent, meta: dict | None = None):
    """Write ``<stem>.npz`` (arrays) and ``<stem>.json`` (structure + ``meta``), atomically.

    Returns the (npz, json) paths.
    """
    stem = _stem(path)
    arrays = {
        f"weights/{k}": np.asarray(v)
        for k, v in traverse_util.flatten_dict(lgd.weights, sep="/").items()
    }
    arrays["feature_mean"] = np.asarray(lgd.feature_mean)
    arrays["feature_std"] = np.asarray(lgd.feature_std)
    arrays["step_size"] = np.asarray(lgd.step_size)
    npz = stem.with_suffix(".npz")
    atomic_write(npz, lambda fh: np.savez(fh, **arrays))
    info = {**_structure(lgd), "meta": meta or {}}
    js = stem.with_suffix(".json")
    atomic_write(js, lambda fh: fh.write(json.dumps(info, indent=2).encode()))
    return npz, js


def load_lgd(path: str | os.PathLike, *, detach_gradient: bool = True) -> LearnedGradientDescent:
    """Read a checkpoint written by :func:`save_lgd` (either file name, or the common stem)."""
    npz, js = _files(_stem(path))
    for f in (npz, js):
        if not f.is_file():
            raise FileNotFoundError(f"LGD checkpoint file {f} not found (need .npz and .json)")
    info = json.loads(js.read_text())
    if info.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{js}: format {info.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    layout = tuple((k, tuple(s)) for k, s in info["layout"])
    nf = int(info["num_features"])
    template = LearnedGradientDescent(
        weights={},
        feature_mean=jnp.zeros((nf,), jnp.float32),
        feature_std=jnp.ones((nf,), jnp.float32),
        step_size=jnp.asarray(0.0, jnp.float32),
        layout=layout,
        groups=tuple(tuple(g) for g in info["groups"]),
        features=info["features"],
        hidden=int(info["hidden"]),
        num_blocks=int(info["num_blocks"]),
        num_steps=int(info["num_steps"]),
        detach_gradient=detach_gradient,
    )
    want = {}
    for g in template.groups:
        shapes = jax.eval_shape(template.mlp(g).init, jax.random.key(0), jnp.zeros((nf,)))
        for k, v in traverse_util.flatten_dict(shapes["params"], sep="/").items():
            want[f"weights/{_group_name(g)}/{k}"] = tuple(v.shape)
    want.update(feature_mean=(nf,), feature_std=(nf,), step_size=())
    got = {k: tuple(v.shape) for k, v in arrays.items()}
    if got != want:
        bad = sorted(set(got.items()) ^ set(want.items()))[:6]
        raise ValueError(f"{npz}: arrays do not match the structure in {js.name}: {bad}")
    flat = {k[len("weights/") :]: jnp.asarray(v) for k, v in arrays.items() if k[:8] == "weights/"}
    return template.replace(
        weights=traverse_util.unflatten_dict(flat, sep="/"),
        feature_mean=jnp.asarray(arrays["feature_mean"]),
        feature_std=jnp.asarray(arrays["feature_std"]),
        step_size=jnp.asarray(arrays["step_size"]),
    )


def load_pretrained(kind: str = "sparse", **kwargs) -> LearnedGradientDescent:
    """The LGD shipped with jaxrefine for ``kind`` ("sparse" keypoints, "dense" vertices or
    "dense_keypoints" both),
    from ``jaxrefine/assets/lgd_<kind>.{npz,json}`` (how it was made: :func:`checkpoint_meta`)."""
    if kind not in SHIPPED_KINDS:
        raise ValueError(f"LGD kind must be one of {SHIPPED_KINDS}, got {kind!r}")
    stem = ASSETS / f"lgd_{kind}"
    if not stem.with_suffix(".npz").is_file():
        raise FileNotFoundError(
            f"no trained LGD shipped at {stem}.npz: train one with `python scripts/train_lgd.py "
            f"--kind {kind}` and copy OUT/lgd_{kind}.npz/.json there, or use load_lgd(path)"
        )
    return _read_once(stem, **kwargs)


def _files(stem: Path) -> tuple[Path, Path]:
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def checkpoint_files(path: str | os.PathLike) -> tuple[Path, Path]:
    """The (.npz, .json) files of a checkpoint given by either file name or their stem."""
    return _files(_stem(path))


def _version(f: Path) -> tuple | None:
    """(inode, mtime, size) of a file (None: missing, for :func:`load_lgd` to report)."""
    if not f.is_file():
        return None
    st = f.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def _read_once(stem: Path, **kwargs) -> LearnedGradientDescent:
    """:func:`load_lgd` of ``stem``, read again only when one of its files changed."""
    stamp = tuple(_version(f) for f in _files(stem))
    return _load_cached(str(stem), stamp, tuple(sorted(kwargs.items())))


@functools.lru_cache(maxsize=8)
def _load_cached(stem: str, stamp: tuple, kwargs: tuple) -> LearnedGradientDescent:
    """:func:`load_lgd` once per file version (``stamp``: see :func:`_version`): reading
    a checkpoint costs ~170 ms, more than a whole sparse fit of 32 frames, and ``smplify(...,
    optimizer="lgd")`` resolves the name on every call. The result is an immutable pytree."""
    del stamp  # part of the cache key only
    return load_lgd(stem, **dict(kwargs))


# Which shipped checkpoint serves which SMPLify data kind (``smplify(data_kind=...)``).
CHECKPOINT_FOR_DATA_KIND = {
    "keypoints": "sparse",
    "dense": "dense",
    "dense+keypoints": "dense_keypoints",
}


def pretrained_for_data(data_kind: str) -> LearnedGradientDescent:
    """The shipped LGD for a fit's data kind: the sparse checkpoint for "keypoints", the
    dense one for "dense", the dense-and-keypoints one for "dense+keypoints"
    (:data:`CHECKPOINT_FOR_DATA_KIND`).

    Raises:
      ValueError: no checkpoint is made for that data kind.
      FileNotFoundError: the checkpoint is not in the package (see :func:`load_pretrained`).
    """
    kind = CHECKPOINT_FOR_DATA_KIND.get(data_kind)
    if kind is None:
        raise ValueError(
            f"no LGD checkpoint for data kind {data_kind!r}: LGD ships one for "
            + ", ".join(f"{d!r} ({k})" for d, k in CHECKPOINT_FOR_DATA_KIND.items())
        )
    return load_pretrained(kind)


def shipped_checkpoint(data_kind: str) -> Path | None:
    """The stem of the shipped checkpoint serving ``data_kind`` (None: none is made for it)."""
    kind = CHECKPOINT_FOR_DATA_KIND.get(data_kind)
    return None if kind is None else ASSETS / f"lgd_{kind}"


def checkpoint_for_data(path: str | os.PathLike, data_kind: str) -> LearnedGradientDescent:
    """A user's LGD checkpoint (``save_lgd`` / ``scripts/train_lgd.py``'s export) for a fit's
    data kind: what the optimizer name ``"lgd:PATH"`` resolves to. Read once per file version.

    Raises:
      FileNotFoundError: a file of the checkpoint is missing (names it).
      ValueError: the checkpoint was trained for other observations than ``data_kind`` (an LGD
        runs only on the features it was trained with).
    """
    stem = _stem(path)
    lgd = _read_once(stem)
    if lgd.features != data_kind:
        kind = CHECKPOINT_FOR_DATA_KIND.get(data_kind)
        how = f" (train one with scripts/train_lgd.py --kind {kind})" if kind else ""
        raise ValueError(
            f"LGD checkpoint {stem} was trained for {lgd.features!r} observations, this fit "
            f"has {data_kind!r}{how}"
        )
    return lgd


def trained_body_model(path: str | os.PathLike) -> str:
    """The id of the body model an LGD checkpoint was trained on: ``meta["body_model"]``'s
    ``model_id`` (``scripts/train_lgd.py`` writes it); the shipped checkpoints record it as a
    note whose first word is the id; checkpoints with no record were all trained on the open
    model (``--model`` did not exist before)."""
    return recorded_model_id(checkpoint_meta(path))


def checkpoint_meta(path: str | os.PathLike) -> dict:
    """The ``meta`` dict stored with a checkpoint (how it was made)."""
    return json.loads(_stem(path).with_suffix(".json").read_text()).get("meta", {})
