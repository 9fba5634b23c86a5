"""The displacement network in PyTorch: a reference for ``jaxrefine bench network``.

Written from the architecture's description (see :mod:`jaxrefine.network.model`): two
ResNet-50 first-stage encoders without max-pool (GroupNorm), a 1x1 merge, stacked hourglasses
with pre-activation bottleneck residuals, a field head per stack with features and field fed
back, bilinear upsampling of the fields when the internal stride is above 1. Module attribute
names mirror the Flax parameter paths, so :func:`load_from_jax` converts weights by name
(kernels (kh, kw, in, out) -> (out, in, kh, kw); GroupNorm scale -> weight) and the two have
the same parameter count by construction (strict loading).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jaxrefine.network.config import IMAGE_CHANNELS, NetworkConfig


def _conv(cin: int, cout: int, k: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias)


def _norm(cfg: NetworkConfig, ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(cfg.groups, ch), ch, eps=cfg.norm_eps)


class Bottleneck(nn.Module):
    def __init__(self, cfg: NetworkConfig, cin: int, width: int):
        super().__init__()
        out = 4 * width
        self.conv1, self.norm1 = _conv(cin, width, 1), _norm(cfg, width)
        self.conv2, self.norm2 = _conv(width, width, 3), _norm(cfg, width)
        self.conv3, self.norm3 = _conv(width, out, 1), _norm(cfg, out)
        self.has_proj = cin != out
        if self.has_proj:
            self.proj, self.proj_norm = _conv(cin, out, 1), _norm(cfg, out)

    def forward(self, x):
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        y = self.norm3(self.conv3(y))
        if self.has_proj:
            x = self.proj_norm(self.proj(x))
        return F.relu(x + y)


class Encoder(nn.Module):
    def __init__(self, cfg: NetworkConfig, cin: int):
        super().__init__()
        w = cfg.encoder_features
        self.stem = _conv(cin, w, 7, stride=cfg.internal_stride)
        self.stem_norm = _norm(cfg, w)
        self.blocks = cfg.encoder_blocks
        for i in range(cfg.encoder_blocks):
            setattr(self, f"block{i}", Bottleneck(cfg, w if i == 0 else 4 * w, w))

    def forward(self, x):
        x = F.relu(self.stem_norm(self.stem(x)))
        for i in range(self.blocks):
            x = getattr(self, f"block{i}")(x)
        return x


class Residual(nn.Module):
    def __init__(self, cfg: NetworkConfig):
        super().__init__()
        f, h = cfg.features, cfg.features // 2
        self.norm1, self.conv1 = _norm(cfg, f), _conv(f, h, 1)
        self.norm2, self.conv2 = _norm(cfg, h), _conv(h, h, 3)
        self.norm3, self.conv3 = _norm(cfg, h), _conv(h, f, 1, bias=True)

    def forward(self, x):
        y = self.conv1(F.relu(self.norm1(x)))
        y = self.conv2(F.relu(self.norm2(y)))
        return x + self.conv3(F.relu(self.norm3(y)))


class Hourglass(nn.Module):
    def __init__(self, cfg: NetworkConfig, depth: int):
        super().__init__()
        self.up, self.low1, self.low3 = Residual(cfg), Residual(cfg), Residual(cfg)
        self.depth = depth
        if depth > 1:
            self.inner = Hourglass(cfg, depth - 1)
        else:
            self.bottom = Residual(cfg)

    def forward(self, x):
        up = self.up(x)
        low = self.low1(F.max_pool2d(x, 2))
        low = self.inner(low) if self.depth > 1 else self.bottom(low)
        low = self.low3(low)
        return up + F.interpolate(low, scale_factor=2, mode="nearest")


class DisplacementNetTorch(nn.Module):
    """Same network as :class:`jaxrefine.network.model.DisplacementNet` (NCHW inside)."""

    def __init__(self, cfg: NetworkConfig):
        super().__init__()
        self.cfg = cfg
        f, enc_out = cfg.features, 4 * cfg.encoder_features
        self.image_encoder = Encoder(cfg, IMAGE_CHANNELS)
        self.render_encoder = Encoder(cfg, cfg.render_channels)
        self.merge, self.merge_norm = _conv(2 * enc_out, f, 1), _norm(cfg, f)
        for s in range(cfg.stacks):
            last = s == cfg.stacks - 1
            n_out = 3 if (last and cfg.confidence) else 2
            setattr(self, f"hourglass{s}", Hourglass(cfg, cfg.hourglass_depth))
            setattr(self, f"post{s}", Residual(cfg))
            setattr(self, f"lin{s}", _conv(f, f, 1))
            setattr(self, f"lin_norm{s}", _norm(cfg, f))
            setattr(self, f"head{s}", _conv(f, n_out, 1, bias=True))
            if not last:
                setattr(self, f"feat_back{s}", _conv(f, f, 1, bias=True))
                setattr(self, f"field_back{s}", _conv(n_out, f, 1, bias=True))

    def forward(self, image, renders):
        """image (B, S, S, 3), renders (B, S, S, 11) channels-last -> (fields (B, stacks, S, S,
        2), log_scale (B, S, S) or None), like :func:`jaxrefine.network.apply_batch`."""
        c, g = self.cfg, lambda name: getattr(self, name)
        x = torch.cat(
            [
                self.image_encoder(image.permute(0, 3, 1, 2)),
                self.render_encoder(renders.permute(0, 3, 1, 2)),
            ],
            1,
        )
        x = F.relu(self.merge_norm(self.merge(x)))
        outs = []
        for s in range(c.stacks):
            y = g(f"post{s}")(g(f"hourglass{s}")(x))
            y = F.relu(g(f"lin_norm{s}")(g(f"lin{s}")(y)))
            out = g(f"head{s}")(y)
            outs.append(out)
            if s < c.stacks - 1:
                x = x + g(f"feat_back{s}")(y) + g(f"field_back{s}")(out)
        up = (lambda t: t) if c.internal_stride == 1 else (
            lambda t: F.interpolate(t, size=(c.crop_size, c.crop_size), mode="bilinear",
                                    align_corners=False)
        )  # fmt: skip
        fields = torch.stack([up(o[:, :2]) for o in outs], 1).permute(0, 1, 3, 4, 2)
        log_scale = up(outs[-1][:, 2:3])[:, 0] if c.confidence else None
        return fields, log_scale


def load_from_jax(cfg: NetworkConfig, params) -> DisplacementNetTorch:
    """A :class:`DisplacementNetTorch` holding the same weights as the Flax ``params``."""
    from jaxrefine.network.model import flatten_params

    net = DisplacementNetTorch(cfg)
    state = {}
    for key, value in flatten_params(params).items():
        v = np.asarray(value, np.float32)
        *mods, leaf = key.split("/")
        if leaf == "kernel":
            v, leaf = v.transpose(3, 2, 0, 1), "weight"
        elif leaf == "scale":
            leaf = "weight"
        state[".".join(mods + [leaf])] = torch.from_numpy(np.array(v))  # a writable copy
    net.load_state_dict(state, strict=True)
    return net.eval()


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
