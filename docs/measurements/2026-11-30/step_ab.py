"""A/B screen: the small network's training step (batch 8, 128 px) under the XLA_FLAGS of this
process; prints one line. Usage: XLA_FLAGS=... python step_ab.py LABEL"""
import sys, time
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
t0 = time.perf_counter()
c = step.lower(p, o, im, re, tg).compile()
comp = time.perf_counter() - t0
txt = c.as_text()
ts = []
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 4):
    t0 = time.perf_counter(); p, o, l = c(p, o, im, re, tg); jax.block_until_ready(l); ts.append(time.perf_counter() - t0)
fw = []
for _ in range(3):
    t0 = time.perf_counter(); jax.block_until_ready(fwd(params, im, re)); fw.append(time.perf_counter() - t0)
import os
print(f"{sys.argv[1]:40s} step {np.median(ts[1:])*1e3:7.0f} ms (all {[round(t*1e3) for t in ts]}) fwd {np.median(fw[1:])*1e3:6.0f} ms  compile {comp:5.1f} s  onednn-calls {txt.count('onednn')} xnn {txt.count('xnn')} ynn {txt.count('ynn')} loss {float(l):.4f}  XLA_FLAGS={os.environ.get('XLA_FLAGS')}", flush=True)
