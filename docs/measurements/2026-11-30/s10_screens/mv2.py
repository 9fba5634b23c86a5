import os, time
from jaxrefine import xla_flags
xla_flags.apply(host_devices=True)
import jax, jax.numpy as jnp, numpy as np
P = np.random.default_rng(0).normal(size=(207, 20670)).astype(np.float32)
f = np.random.default_rng(1).normal(size=(207,)).astype(np.float32)
g = np.random.default_rng(1).normal(size=(20670,)).astype(np.float32)
def t(fn, *a, n=500):
    jax.block_until_ready(fn(*a))
    ts=[]
    for _ in range(n):
        t0=time.perf_counter(); jax.block_until_ready(fn(*a)); ts.append(time.perf_counter()-t0)
    return "%.3f ms" % (np.median(ts)*1e3)
for k in (1,2,4,8):
    Ps = [jnp.asarray(c) for c in np.array_split(P, k, axis=1)]
    fw = jax.jit(lambda f, Ps: jnp.concatenate([f @ p for p in Ps]))
    gs = [jnp.asarray(c) for c in np.array_split(g, k)]
    bw = jax.jit(lambda gs, Ps: sum(p @ gg for p, gg in zip(Ps, gs)))
    print(k, "fwd", t(fw, jnp.asarray(f), Ps), "bwd", t(bw, gs, Ps))
