"""Profile SMPL-size body fwd+bwd at batch 1 (model as a jit argument): per-op time."""
import sys, glob, gzip, json, collections
from jaxrefine import xla_flags
xla_flags.apply(host_devices=True)
import jax, jax.numpy as jnp, numpy as np
from jaxrefine.bench.smplify import model_arrays
from jaxrefine.body_model import forward, from_arrays
arrays, _ = model_arrays("smpl-size")
model = from_arrays(arrays, model_id="s", gender="neutral", num_betas=10)
rng = np.random.default_rng(0)
pose = jnp.asarray(rng.normal(0, 0.3, (1, 24, 3)), jnp.float32)
betas = jnp.asarray(rng.normal(0, 1, (1, 10)), jnp.float32)
def loss(p, b, m):
    out = jax.vmap(lambda pp, bb: forward(m, pp, bb))(p, b)
    return jnp.sum(out.vertices**2) + jnp.sum(out.joints**2)
c = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(pose, betas, model).compile()
open(sys.argv[1] + ".hlo.txt", "w").write(c.as_text())
for _ in range(50): jax.block_until_ready(c(pose, betas, model))
N = 300
with jax.profiler.trace(sys.argv[1], create_perfetto_trace=True):
    for _ in range(N): jax.block_until_ready(c(pose, betas, model))
f = glob.glob(sys.argv[1] + "/**/*.trace.json.gz", recursive=True)[0]
ev = json.load(gzip.open(f)); ev = ev["traceEvents"] if isinstance(ev, dict) else ev
tot = collections.Counter(); cnt = collections.Counter()
for e in ev:
    if e.get("ph") == "X" and "dur" in e:
        tot[e["name"]] += e["dur"]; cnt[e["name"]] += 1
small = 0
for k, v in tot.most_common():
    if "$" in k or "Thunk" in k or "Pjit" in k or "PjRt" in k: continue
    if v / N < 8: small += v / N; continue
    print(f"{v/N:9.1f} us/call  n={cnt[k]//N:4d}  {k[:110]}")
print(f"{small:9.1f} us/call in smaller ops")
