"""Profile the small network's train step (B8): per-op time from a jax.profiler trace."""
import sys, time, glob, gzip, json, collections
from jaxrefine import xla_flags
xla_flags.apply(host_devices=False)
import jax, numpy as np, optax
from jaxrefine import network
from jaxrefine.bench.network import _jax_fns
cfg = network.get_config("small", confidence=True)
params = network.init_params(cfg, jax.random.PRNGKey(0))
B, S = 8, cfg.crop_size
rng = np.random.default_rng(0)
im = jax.numpy.asarray(rng.uniform(size=(B, S, S, 3)), "float32")
re = jax.numpy.asarray(rng.uniform(size=(B, S, S, cfg.render_channels)), "float32")
tg = jax.numpy.asarray(rng.normal(0, 5, (B, S, S, 2)), "float32")
opt = optax.adam(1e-4)
fwd, step = _jax_fns(cfg, params, opt)
p, o = jax.tree.map(jax.numpy.copy, params), opt.init(params)
c = step.lower(p, o, im, re, tg).compile()
open(sys.argv[1] + ".hlo.txt", "w").write(c.as_text())
for _ in range(2):
    p, o, l = c(p, o, im, re, tg); jax.block_until_ready(l)
with jax.profiler.trace(sys.argv[1], create_perfetto_trace=True):
    for _ in range(3):
        p, o, l = c(p, o, im, re, tg); jax.block_until_ready(l)
f = glob.glob(sys.argv[1] + "/**/*.trace.json.gz", recursive=True)[0]
ev = json.load(gzip.open(f))
ev = ev["traceEvents"] if isinstance(ev, dict) else ev
tot = collections.Counter(); cnt = collections.Counter()
for e in ev:
    if e.get("ph") == "X" and "dur" in e:
        tot[e["name"]] += e["dur"]; cnt[e["name"]] += 1
for k, v in tot.most_common(45):
    print(f"{v/3e3:9.1f} ms/step  n={cnt[k]//3:4d}  {k[:110]}")
