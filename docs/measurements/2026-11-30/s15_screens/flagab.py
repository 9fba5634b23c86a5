"""One process, one XLA flag set: the `small` network's training step and forward at batch B
(jaxrefine.bench.network.bench_one, 7 repetitions, medians), with jaxrefine's own flags plus
the extra flags given. python flagab.py B [FLAG ...]"""
import os, sys

B, extra = int(sys.argv[1]), sys.argv[2:]
os.environ["XLA_FLAGS"] = " ".join([os.environ.get("XLA_FLAGS", ""), *extra]).strip()
from jaxrefine import xla_flags

flags = xla_flags.apply(host_devices=False)
import jax

from jaxrefine import network
from jaxrefine.bench.network import bench_one

cfg = network.get_config("small")
params = jax.jit(network.init_params, static_argnums=0)(cfg, jax.random.key(0))
r = bench_one(cfg, params, B, 7)
print(f"{' '.join(extra) or 'base'} B{B}: train {r['train_step_ms']:.1f} ms, "
      f"fwd {r['forward_ms_per_frame']:.2f} ms/frame  (XLA_FLAGS={flags!r})", flush=True)
