"""SMPL-size body fwd+bwd (model as a jit argument, as fits pass it), batch 1 and 32, quiet."""
import sys, time
from jaxrefine import xla_flags
xla_flags.apply(host_devices=True)
import jax, jax.numpy as jnp, numpy as np
from jaxrefine.bench.smplify import model_arrays
from jaxrefine.body_model import forward, from_arrays
arrays, _ = model_arrays("smpl-size")
model = from_arrays(arrays, model_id="s", gender="neutral", num_betas=10)
rng = np.random.default_rng(0)
res = []
for b in (1, 32):
    pose = jnp.asarray(rng.normal(0, 0.3, (b, 24, 3)), jnp.float32)
    betas = jnp.asarray(rng.normal(0, 1, (b, 10)), jnp.float32)
    def loss(p, bb, m):
        o = jax.vmap(lambda pp, q: forward(m, pp, q))(p, bb)
        return jnp.sum(o.vertices**2) + jnp.sum(o.joints**2)
    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    jax.block_until_ready(f(pose, betas, model))
    ts = []
    for _ in range(500 if b == 1 else 50):
        t0 = time.perf_counter(); jax.block_until_ready(f(pose, betas, model)); ts.append(time.perf_counter() - t0)
    res.append("B%d %.3f ms" % (b, np.median(ts) * 1e3))
print(sys.argv[1], *res)
