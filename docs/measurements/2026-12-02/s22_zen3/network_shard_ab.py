"""Scratch A/B: small config train step at batch B, one device vs batch sharded over 2 host devices."""
import sys, time
from jaxrefine import xla_flags
xla_flags.apply(host_devices=True)
import jax, jax.numpy as jnp, numpy as np, optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxrefine import network
from jaxrefine.bench.network import _jax_fns
B = int(sys.argv[1]); reps = int(sys.argv[2])
cfg = network.get_config("small")
params = jax.jit(network.init_params, static_argnums=0)(cfg, jax.random.key(0))
S = cfg.crop_size; rng = np.random.default_rng(0)
images = jnp.asarray(rng.uniform(size=(B, S, S, 3)), jnp.float32)
renders = jnp.asarray(rng.uniform(size=(B, S, S, cfg.render_channels)), jnp.float32)
target = jnp.asarray(rng.normal(0, 5, (B, S, S, 2)), jnp.float32)
opt = optax.adam(1e-4)
_, step = _jax_fns(cfg, params, opt)
mesh = Mesh(np.array(jax.devices()), ("data",))
bs, rep = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
d0 = jax.devices()[0]
setups = {
  "one_device": (lambda x: jax.device_put(x, d0), lambda x: jax.device_put(x, d0)),
  "sharded2": (lambda x: jax.device_put(x, rep), lambda x: jax.device_put(x, bs)),
}
st = {}
for k, (pp, pb) in setups.items():
    p = jax.tree.map(lambda x: pp(jnp.copy(x)), params); o = jax.tree.map(pp, opt.init(params))
    a = [pb(images), pb(renders), pb(target)]
    st[k] = {"p": p, "o": o, "a": a}
    p2, o2, l = step(p, o, *a); jax.block_until_ready(l); st[k]["p"], st[k]["o"] = p2, o2
    print(k, "loss", float(l))
T = {k: [] for k in st}
for _ in range(reps):
    for k, s in st.items():
        t0 = time.perf_counter(); s["p"], s["o"], l = step(s["p"], s["o"], *s["a"]); jax.block_until_ready(l)
        T[k].append(time.perf_counter() - t0)
for k, v in T.items(): print(f"{k:12s} median {np.median(v)*1e3:8.1f} ms  min {np.min(v)*1e3:8.1f}")
