"""Configurations of the displacement network, as code.

Three configs share one code path (:mod:`jaxrefine.network.model`):

- ``paper``: the faithful design. 256x256 crops, stride 1 everywhere (features at crop
  resolution), each encoder is ResNet-50's first stage (a 7x7 conv with 64 channels, then the
  three stage-1 bottleneck blocks 64 -> 256), four stacked hourglasses of depth 4 with 256
  features (Newell et al.'s width). About 13 M parameters. A GPU configuration: one 256x256
  example costs ~0.5 TFLOP forward and several GB of activations for a training step.
- ``small``: CPU-trainable. 128x128 crops, the encoders' 7x7 conv has stride 2 (so everything
  after it, and the predicted field, is at 64x64; the field is upsampled bilinearly to the
  crop), 64 hourglass features, 2 stacks, encoders 16 -> 64 (the paper's design at a quarter of its
  widths). Measured for this choice on the
  2-core CPU: ~19 training samples/s at batch 8, against ~15 for 256x256 crops with stride 4
  (the same 64x64 field grid, but four times the pixels to render and read); the data
  generator renders 128x128 crops four times cheaper too.
- ``tiny``: for tests (32x32, 8 features, 2 stacks of depth 2).

Deviation from the paper: GroupNorm instead of BatchNorm, so that per-example code, ``vmap``
and data parallelism give the same numbers (no batch statistics, no running averages).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

RENDER_CHANNELS = 11  # rgb 3, depth 1, normals 3, unique vertex colours 3, mask 1
IMAGE_CHANNELS = 3
_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Hyper-parameters of the displacement network (hashable: usable as a static argument).

    Attributes:
      name: config name (``paper``, ``small``, ``tiny`` or a user's own).
      crop_size: side S of the square input crop, in pixels.
      render_channels: channels of the renderings input (11: rgb, depth, normals, uvc, mask).
      encoder_features: width of each encoder's 7x7 conv and bottleneck (64 in ResNet-50).
        A branch outputs ``4 * encoder_features`` channels (ResNet's bottleneck expansion).
      encoder_blocks: bottleneck blocks per encoder (3 in ResNet-50's first stage).
      features: hourglass width.
      stacks: number of stacked hourglasses (4 in the paper); each predicts a field.
      hourglass_depth: number of 2x down-samplings inside an hourglass (4 in Newell et al.).
      internal_stride: stride of the encoders' 7x7 conv (1 in the paper). Features and the
        raw field live at ``crop_size / internal_stride``; the field is upsampled bilinearly.
      confidence: add a per-pixel log Laplace scale head on the last stack.
      compute_dtype: ``"float32"`` or ``"bfloat16"`` (activations); parameters stay float32.
      groups: GroupNorm groups (capped by each layer's width).
      norm_eps: GroupNorm epsilon.
    """

    name: str
    crop_size: int
    encoder_features: int
    encoder_blocks: int
    features: int
    stacks: int
    hourglass_depth: int
    internal_stride: int = 1
    confidence: bool = False
    compute_dtype: str = "float32"
    render_channels: int = RENDER_CHANNELS
    groups: int = 32
    norm_eps: float = 1e-5

    def __post_init__(self):
        if self.compute_dtype not in _DTYPES:
            raise ValueError(
                f"compute_dtype must be one of {sorted(_DTYPES)}, got {self.compute_dtype!r}"
            )
        inner = self.crop_size // max(self.internal_stride, 1)
        if self.internal_stride < 1 or inner * self.internal_stride != self.crop_size:
            raise ValueError(
                f"crop_size {self.crop_size} must be a multiple of internal_stride "
                f"{self.internal_stride}"
            )
        if inner % (2**self.hourglass_depth):
            raise ValueError(
                f"the internal resolution {inner} (crop_size / internal_stride) must be divisible "
                f"by 2**hourglass_depth = {2**self.hourglass_depth}"
            )
        for field in ("encoder_features", "encoder_blocks", "features", "stacks"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")

    @property
    def dtype(self):
        """The jnp compute dtype."""
        return _DTYPES[self.compute_dtype]

    @property
    def inner_size(self) -> int:
        """Side of the feature maps and of the raw field (``crop_size / internal_stride``)."""
        return self.crop_size // self.internal_stride

    def replace(self, **changes) -> NetworkConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> NetworkConfig:
        """Build from a dict (as written by :meth:`to_dict`); unknown or missing keys raise."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"{source}: unknown network config keys {unknown}")
        try:
            return cls(**d)
        except TypeError as exc:
            raise ValueError(f"{source}: incomplete network config: {exc}") from None


CONFIGS = {
    "paper": NetworkConfig(
        name="paper",
        crop_size=256,
        encoder_features=64,
        encoder_blocks=3,
        features=256,
        stacks=4,
        hourglass_depth=4,
        internal_stride=1,
    ),
    "small": NetworkConfig(
        name="small",
        crop_size=128,
        encoder_features=16,
        encoder_blocks=3,
        features=64,
        stacks=2,
        hourglass_depth=4,
        internal_stride=2,
        groups=16,
    ),
    "tiny": NetworkConfig(
        name="tiny",
        crop_size=32,
        encoder_features=4,
        encoder_blocks=1,
        features=8,
        stacks=2,
        hourglass_depth=2,
        internal_stride=1,
        groups=4,
    ),
}


def get_config(name: str, **overrides) -> NetworkConfig:
    """A named config (``paper``, ``small``, ``tiny``), optionally with fields replaced."""
    if name not in CONFIGS:
        raise ValueError(f"unknown network config {name!r}; known: {sorted(CONFIGS)}")
    return CONFIGS[name].replace(**overrides) if overrides else CONFIGS[name]


def receptive_field(cfg: NetworkConfig) -> int:
    """Theoretical receptive field of one output pixel, in crop pixels (computed analytically).

    Walks the layers keeping ``(r, j)``: the field size and the distance in crop pixels between
    neighbouring feature pixels. A k x k conv with stride s adds ``(k - 1) j`` and multiplies
    ``j`` by s; a 2x2 max-pool adds ``j`` and doubles it; an hourglass takes the larger field of
    its two branches; the final bilinear upsampling adds ``j`` when the stride is above 1.
    """
    r, j = 7, cfg.internal_stride  # the encoders' 7x7 conv
    r += 2 * j * cfg.encoder_blocks  # one 3x3 conv per bottleneck block

    def hourglass(r, j, depth):
        up = r + 2 * j  # residual at this resolution
        r, j2 = r + j, 2 * j  # 2x2 max-pool
        r += 2 * j2  # residual after the pool
        r = hourglass(r, j2, depth - 1) if depth > 1 else r + 2 * j2
        r += 2 * j2  # residual before the upsampling
        return max(up, r)

    for _ in range(cfg.stacks):
        r = hourglass(r, j, cfg.hourglass_depth) + 2 * j  # + the residual after the hourglass
    return r + (j if cfg.internal_stride > 1 else 0)
