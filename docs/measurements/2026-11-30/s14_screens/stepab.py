import os, sys
sys.path.insert(0, "/work/scratch14")
from jaxrefine import xla_flags
xla_flags.apply(host_devices=False)
import jax
import jax.numpy as jnp
from jaxrefine import network
from jaxrefine.bench.network import bench_one
import jaxrefine.network.model as m
variant = sys.argv[1]; B = int(sys.argv[2]) if len(sys.argv) > 2 else 8
if variant == "nogn":
    m.group_norm = lambda x, scale, bias, groups, eps: x * scale + bias
elif variant == "slicepool":
    import flax.linen as nn
    m.nn = type("nnshim", (), {k: getattr(nn, k) for k in dir(nn) if not k.startswith("__")})
    m.nn.max_pool = staticmethod(lambda x, w, strides=None, padding="VALID": x[..., ::2, ::2, :])
elif variant == "noresize":
    m._upsample = lambda x, size: jnp.repeat(jnp.repeat(x, size // x.shape[-2], axis=-3), size // x.shape[-2], axis=-2)
elif variant == "bcastup":
    import jax.numpy as jnp0
    class J: pass
    J = type("J", (), {k: getattr(jnp0, k) for k in dir(jnp0) if not k.startswith("__")})
    def rep(x, r, axis):
        ax = axis % x.ndim
        y = jnp0.broadcast_to(jnp0.expand_dims(x, ax + 1), x.shape[:ax + 1] + (r,) + x.shape[ax + 1:])
        return y.reshape(x.shape[:ax] + (x.shape[ax] * r,) + x.shape[ax + 1:])
    J.repeat = staticmethod(rep)
    m.jnp = J
elif variant != "base":
    import gnvjp
    m.group_norm = gnvjp.make(variant)
cfg = network.get_config(sys.argv[3] if len(sys.argv) > 3 else "small")
params = jax.jit(network.init_params, static_argnums=0)(cfg, jax.random.key(0))
r = bench_one(cfg, params, B, 7)
print(f"{variant} B{B}: train {r['train_step_ms']:.1f} ms, fwd {r['forward_ms_per_frame']:.2f} ms/frame", flush=True)
