"""The displacement network: image crop + renderings of the current estimate -> a dense 2D field.

Architecture (Flax linen; parameters are a plain pytree handed to pure functions):

1. Two encoder branches of the same design, one for the image crop (3 channels), one for the
   stacked renderings of the initial estimate (11 channels: textured rgb, depth, normals,
   unique vertex colours, mask). Each is ResNet-50's first stage without its max-pool: a 7x7
   conv (stride ``internal_stride``, 1 in the paper) with GroupNorm and ReLU, then
   ``encoder_blocks`` post-activation bottleneck blocks (1x1, 3x3, 1x1; 4x expansion) at
   stride 1, so features stay at (internal) input resolution.
2. The two branches' outputs are concatenated and merged by a 1x1 conv to ``features``.
3. ``stacks`` stacked hourglasses (Newell et al. 2016): an hourglass of depth d keeps a
   residual branch at its resolution and a lower branch (2x2 max-pool, residual, hourglass of
   depth d - 1, residual, nearest 2x upsampling); the residual modules are pre-activation
   bottlenecks (norm, ReLU, conv: 1x1 to half width, 3x3, 1x1 back). After each hourglass a
   residual and a 1x1 conv give the stack's features, a 1x1 head gives its 2-channel field
   (plus one log-scale channel on the last stack when ``confidence``), and, between stacks,
   features and field are mapped back by 1x1 convs and added to the stack's input.
4. Each stack's field is in crop pixels (x, y); when ``internal_stride`` > 1 it is upsampled
   bilinearly to the crop (values are already crop-pixel displacements, so they are not
   rescaled). The last stack's field is the prediction; training supervises all of them.

Deviation from the paper: GroupNorm instead of BatchNorm (no batch statistics), so one example,
a ``vmap`` and a data-parallel batch give the same numbers. The field heads start at zero, so
an untrained network predicts the zero field (= keep the initial estimate).

Public functions take ONE example; :func:`apply_batch` vmaps at the edge. All are pure and
jittable with the config static (``NetworkConfig`` is hashable)::

    cfg = get_config("tiny")
    params = init_params(cfg, jax.random.key(0))
    out = jax.jit(apply, static_argnums=0)(cfg, params, image, renders)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrefine.network.config import IMAGE_CHANNELS, NetworkConfig

_he = nn.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")


@struct.dataclass
class NetworkOutput:
    """What the network predicts for one example (a leading batch axis after ``apply_batch``).

    Attributes:
      fields: (stacks, S, S, 2) float32 displacement (x, y) in crop pixels for each stack, at
        full crop resolution; ``fields[-1]`` is the prediction.
      log_scale: (S, S) float32 log of the per-pixel Laplace scale (in crop pixels) of the last
        stack's field, or None when the config has no confidence head.
    """

    fields: jnp.ndarray
    log_scale: jnp.ndarray | None = None

    @property
    def field(self) -> jnp.ndarray:
        """(S, S, 2) the last stack's field (the prediction)."""
        return self.fields[..., -1, :, :, :]


def _conv(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
          dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):  # fmt: skip
    """``lax.conv_general_dilated`` for flax's channels-last ``nn.Conv``, except that a 1x1,
    stride-1, unpadded, undilated convolution is a matrix product over the channels.

    Same numbers up to summation order; on XLA:CPU the product is 2-3x faster than the 1x1
    convolution, forward and backward (measured at (8, 64, 64, 64) -> 32 channels: 3.4 vs 7.4 ms
    forward, 14.6 vs 41.2 ms gradient), and the network has more 1x1 than 3x3 convolutions.
    """
    pointwise = (
        rhs.shape[:-2] == (1, 1)
        and all(s == 1 for s in window_strides)
        and all(tuple(p) == (0, 0) for p in padding)
        and all(d in (None, 1) for d in (*(lhs_dilation or ()), *(rhs_dilation or ())))
        and feature_group_count == 1
        and not kwargs.get("batch_group_count", 1) > 1
    )
    if pointwise:
        return jnp.matmul(lhs, rhs[0, 0], precision=precision)
    return jax.lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
        feature_group_count, precision=precision, **kwargs,
    )  # fmt: skip


def group_norm(x, scale, bias, groups: int, eps: float) -> jnp.ndarray:
    """GroupNorm of channels-last ``x`` (..., H, W, C): each example's channels in ``groups``
    groups, normalised over (H, W, the group's channels) with the biased variance of the
    centred values (two passes, as torch's ``nn.GroupNorm``), then ``* scale + bias`` (C,).

    Statistics are float32 whatever ``x``'s dtype. Written as per-channel sums over (H, W)
    combined per group, with per-channel statistics broadcast back: on XLA:CPU this is about
    3.5x faster than ``flax.linen.GroupNorm`` forward and 3x backward (same numbers up to
    summation order; measured at (8, 64, 64, 64), 16 groups).
    """
    x32 = x.astype(jnp.float32)
    c = x.shape[-1]
    n = x.shape[-3] * x.shape[-2] * (c // groups)

    def per_channel(group_stat):  # (..., groups) -> (..., 1, 1, C)
        return jnp.repeat(group_stat, c // groups, axis=-1)[..., None, None, :]

    def group_mean(v):  # (..., H, W, C) -> (..., groups)
        sums = jnp.sum(v, axis=(-3, -2))
        return jnp.sum(sums.reshape(*sums.shape[:-1], groups, c // groups), axis=-1) / n

    centred = x32 - per_channel(group_mean(x32))
    inv = per_channel(jax.lax.rsqrt(group_mean(centred * centred) + eps))
    per = (1,) * (x.ndim - 1) + (c,)  # (C,) -> (1, ..., 1, C): explicit broadcast
    return (centred * (inv * scale.reshape(per)) + bias.reshape(per)).astype(x.dtype)


class GroupNorm(nn.Module):
    """:func:`group_norm` as a flax module with ``flax.linen.GroupNorm``'s parameters (``scale``
    ones, ``bias`` zeros, both (C,)), so checkpoints of either load in the other."""

    num_groups: int
    epsilon: float = 1e-5
    dtype: object = None
    param_dtype: object = jnp.float32

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones_init(), (c,), self.param_dtype)
        bias = self.param("bias", nn.initializers.zeros_init(), (c,), self.param_dtype)
        x = x if self.dtype is None else x.astype(self.dtype)
        return group_norm(x, scale, bias, self.num_groups, self.epsilon)


class _Layers(nn.Module):
    """Shared helpers: conv with explicit symmetric padding (1x1 ones as matrix products),
    GroupNorm (as torch's)."""

    cfg: NetworkConfig

    def conv(self, ch: int, k: int, *, stride: int = 1, bias: bool = False, name=None, init=_he):
        return nn.Conv(
            ch, (k, k), strides=(stride, stride), padding=[(k // 2, k // 2)] * 2,
            use_bias=bias, kernel_init=init, dtype=self.cfg.dtype, param_dtype=jnp.float32,
            conv_general_dilated=_conv, name=name,
        )  # fmt: skip

    def norm(self, ch: int, name=None):
        return GroupNorm(
            num_groups=math.gcd(self.cfg.groups, ch), epsilon=self.cfg.norm_eps,
            dtype=self.cfg.dtype, name=name,
        )  # fmt: skip


class Bottleneck(_Layers):
    """ResNet v1 bottleneck (post-activation), width ``width``, output ``4 * width``."""

    width: int = 64

    @nn.compact
    def __call__(self, x):
        out = 4 * self.width
        y = nn.relu(self.norm(self.width, "norm1")(self.conv(self.width, 1, name="conv1")(x)))
        y = nn.relu(self.norm(self.width, "norm2")(self.conv(self.width, 3, name="conv2")(y)))
        y = self.norm(out, "norm3")(self.conv(out, 1, name="conv3")(y))
        if x.shape[-1] != out:
            x = self.norm(out, "proj_norm")(self.conv(out, 1, name="proj")(x))
        return nn.relu(x + y)


class Encoder(_Layers):
    """ResNet-50's first stage, stride ``internal_stride`` in its 7x7 conv, no max-pool."""

    @nn.compact
    def __call__(self, x):
        c = self.cfg
        x = self.conv(c.encoder_features, 7, stride=c.internal_stride, name="stem")(x)
        x = nn.relu(self.norm(c.encoder_features, "stem_norm")(x))
        for i in range(c.encoder_blocks):
            x = Bottleneck(c, c.encoder_features, name=f"block{i}")(x)
        return x


class Residual(_Layers):
    """Newell's pre-activation bottleneck residual module, ``features`` -> ``features``."""

    @nn.compact
    def __call__(self, x):
        f, h = self.cfg.features, self.cfg.features // 2
        y = self.conv(h, 1, name="conv1")(nn.relu(self.norm(f, "norm1")(x)))
        y = self.conv(h, 3, name="conv2")(nn.relu(self.norm(h, "norm2")(y)))
        y = self.conv(f, 1, bias=True, name="conv3")(nn.relu(self.norm(h, "norm3")(y)))
        return x + y


class Hourglass(_Layers):
    """An hourglass of depth ``depth`` (see the module docstring)."""

    depth: int = 4

    @nn.compact
    def __call__(self, x):
        up = Residual(self.cfg, name="up")(x)
        low = nn.max_pool(x, (2, 2), strides=(2, 2))
        low = Residual(self.cfg, name="low1")(low)
        if self.depth > 1:
            low = Hourglass(self.cfg, self.depth - 1, name="inner")(low)
        else:
            low = Residual(self.cfg, name="bottom")(low)
        low = Residual(self.cfg, name="low3")(low)
        return up + jnp.repeat(jnp.repeat(low, 2, axis=-3), 2, axis=-2)


class DisplacementNet(_Layers):
    """The whole network on a batch (B, S, S, C); returns the raw per-stack head outputs at the
    internal resolution: a list of (B, S', S', 2 or 3) arrays."""

    @nn.compact
    def __call__(self, image, renders) -> list[jnp.ndarray]:
        c = self.cfg
        x = jnp.concatenate(
            [Encoder(c, name="image_encoder")(image), Encoder(c, name="render_encoder")(renders)],
            -1,
        )
        x = nn.relu(self.norm(c.features, "merge_norm")(self.conv(c.features, 1, name="merge")(x)))
        outs = []
        for s in range(c.stacks):
            last = s == c.stacks - 1
            y = Hourglass(c, c.hourglass_depth, name=f"hourglass{s}")(x)
            y = Residual(c, name=f"post{s}")(y)
            y = self.conv(c.features, 1, name=f"lin{s}")(y)
            y = nn.relu(self.norm(c.features, f"lin_norm{s}")(y))
            n_out = 3 if (last and c.confidence) else 2
            zero = nn.initializers.zeros_init()
            out = self.conv(n_out, 1, bias=True, init=zero, name=f"head{s}")(y)
            outs.append(out)
            if not last:
                x = (
                    x
                    + self.conv(c.features, 1, bias=True, name=f"feat_back{s}")(y)
                    + self.conv(c.features, 1, bias=True, name=f"field_back{s}")(out)
                )
        return outs


def _flax_init(cfg: NetworkConfig, key: jax.Array) -> dict:
    side = cfg.internal_stride * 2**cfg.hourglass_depth  # the smallest valid input
    image = jnp.zeros((1, side, side, IMAGE_CHANNELS), jnp.float32)
    renders = jnp.zeros((1, side, side, cfg.render_channels), jnp.float32)
    return DisplacementNet(cfg).init(key, image, renders)["params"]


def param_shapes(cfg: NetworkConfig) -> dict:
    """The parameter pytree of ``cfg`` as ``jax.ShapeDtypeStruct`` leaves (no compute)."""
    return jax.eval_shape(lambda k: _flax_init(cfg, k), jax.random.key(0))


def init_params(cfg: NetworkConfig, key: jax.Array) -> dict:
    """Fresh float32 parameters (a nested dict, the layout of flax's ``variables['params']``).

    Conv kernels: He initialisation (truncated normal, variance 2 / fan_in); field heads,
    biases: zero; GroupNorm scales: one. All kernels come from ONE truncated-normal draw of
    ``key``, sliced per layer: compiling one random op per layer (what ``module.init`` does)
    takes minutes on XLA:CPU. Works eagerly and under ``jit``.
    """
    flat = flatten_params(param_shapes(cfg))
    kernels = [k for k in flat if k.endswith("kernel") and not k.split("/")[0].startswith("head")]
    n = sum(math.prod(flat[k].shape) for k in kernels)
    noise = jax.random.truncated_normal(key, -2.0, 2.0, (n,), jnp.float32)
    xp = jnp  # under jit: traced slices
    if not isinstance(noise, jax.core.Tracer):
        xp, noise = np, np.asarray(noise)  # eagerly: numpy slices and constants, no compilation
    # the standard deviation of a normal truncated to [-2, 2] is 0.8796 of the untruncated one
    out, offset = {}, 0
    for k, leaf in flat.items():
        size, shape = math.prod(leaf.shape), leaf.shape
        if k in kernels:
            std = math.sqrt(2.0 / math.prod(shape[:-1])) / 0.87962566103423978
            out[k] = (noise[offset : offset + size].reshape(shape) * std).astype(np.float32)
            offset += size
        else:
            out[k] = (xp.ones if k.endswith("scale") else xp.zeros)(shape, np.float32)
    out = {k: jnp.asarray(v) for k, v in out.items()}
    return unflatten_params(out)


def _check_inputs(cfg: NetworkConfig, image, renders) -> None:
    S = cfg.crop_size
    if image.shape != (S, S, IMAGE_CHANNELS) or renders.shape != (S, S, cfg.render_channels):
        raise ValueError(
            f"apply takes ONE example: image ({S}, {S}, {IMAGE_CHANNELS}) and renders ({S}, {S}, "
            f"{cfg.render_channels}) for config {cfg.name!r}; got {image.shape} and "
            f"{renders.shape} (use apply_batch for a batch)"
        )


def _upsample(x: jnp.ndarray, size: int) -> jnp.ndarray:
    """Bilinear (half-pixel centres, as torch's align_corners=False) upsampling of (..., h, w, C)
    to (..., size, size, C). Values are not rescaled."""
    if x.shape[-2] == size:
        return x
    return jax.image.resize(x, x.shape[:-3] + (size, size, x.shape[-1]), "bilinear")


def apply(cfg: NetworkConfig, params, image: jnp.ndarray, renders: jnp.ndarray) -> NetworkOutput:
    """Predict the displacement fields of one example.

    Args:
      cfg: the network config (static).
      params: parameters from :func:`init_params` or a checkpoint.
      image: (S, S, 3) float32 image crop in [0, 1] (S = ``cfg.crop_size``).
      renders: (S, S, render_channels) float32 renderings of the current estimate in the same
        crop (``shading.RenderChannels.stacked()`` layout).

    Returns:
      :class:`NetworkOutput` with float32 ``fields`` (stacks, S, S, 2) in crop pixels and
      ``log_scale`` (S, S) or None.
    """
    _check_inputs(cfg, image, renders)
    dt = cfg.dtype
    outs = DisplacementNet(cfg).apply(
        {"params": params}, image.astype(dt)[None], renders.astype(dt)[None]
    )
    fields = jnp.stack([o[0, ..., :2] for o in outs]).astype(jnp.float32)
    fields = _upsample(fields, cfg.crop_size)
    log_scale = None
    if cfg.confidence:
        log_scale = _upsample(outs[-1][0, ..., 2:3].astype(jnp.float32), cfg.crop_size)[..., 0]
    return NetworkOutput(fields=fields, log_scale=log_scale)


def apply_batch(cfg: NetworkConfig, params, images, renders) -> NetworkOutput:
    """:func:`apply` vmapped over a leading batch axis: images (B, S, S, 3), renders (B, S, S,
    11) -> fields (B, stacks, S, S, 2), log_scale (B, S, S) or None."""
    return jax.vmap(lambda i, r: apply(cfg, params, i, r))(images, renders)


def count_params(params) -> int:
    """Number of scalar parameters."""
    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


def flatten_params(params) -> dict[str, jnp.ndarray]:
    """Nested parameter dict -> {'a/b/kernel': array} (the checkpoint key layout)."""
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        flat["/".join(_key_name(k) for k in path)] = leaf
    return flat


def unflatten_params(flat: dict[str, object]) -> dict:
    """Inverse of :func:`flatten_params`."""
    tree: dict = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def _key_name(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


__all__: Sequence[str] = (
    "NetworkOutput",
    "apply",
    "apply_batch",
    "count_params",
    "flatten_params",
    "init_params",
    "param_shapes",
    "unflatten_params",
)
