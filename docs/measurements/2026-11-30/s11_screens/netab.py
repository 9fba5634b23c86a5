"""A/B of the small network's training step at batch 8 (no torch): python netab.py VARIANT
VARIANT: base | pool (max-pool as a reshape + max, whose gradient is a select, not a scatter).
XLA_FLAGS come from the environment."""
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrefine import network
from jaxrefine.bench.network import bench_one

variant = sys.argv[1]
B = int(sys.argv[2]) if len(sys.argv) > 2 else 8
if variant == "pool":
    def pool2(x, window_shape, strides=None, padding="VALID"):
        *b, h, w, c = x.shape
        return jnp.max(x.reshape(*b, h // 2, 2, w // 2, 2, c), axis=(-4, -2))
    import jaxrefine.network.model as m
    m.nn = type("nnshim", (), {k: getattr(nn, k) for k in dir(nn) if not k.startswith("__")})
    m.nn.max_pool = staticmethod(pool2)
cfg = network.get_config("small")
params = jax.jit(network.init_params, static_argnums=0)(cfg, jax.random.key(0))
r = bench_one(cfg, params, B, 7)
print(f"{variant} B{B} flags={os.environ.get('XLA_FLAGS','')}: train {r['train_step_ms']:.1f} ms, "
      f"fwd {r['forward_ms_per_frame']:.2f} ms/frame")
