from jaxrefine import xla_flags
xla_flags.apply(host_devices=False)
import jax, jax.numpy as jnp, numpy as np, torch
torch.set_num_threads(2)
from jaxrefine import network
from jaxrefine.bench import network as bn
cfg = network.get_config("small"); B = 8; S = cfg.crop_size
params = jax.jit(network.init_params, static_argnums=0)(cfg, jax.random.key(0))
rng = np.random.default_rng(0)
images = jnp.asarray(rng.uniform(size=(B, S, S, 3)), jnp.float32)
renders = jnp.asarray(rng.uniform(size=(B, S, S, cfg.render_channels)), jnp.float32)
target = jnp.asarray(rng.normal(0, 5, (B, S, S, 2)), jnp.float32)
fns = bn._torch_fns(torch, cfg, params, images, renders, target)
for _ in range(2): fns["torch_step"]()
from torch.profiler import profile, ProfilerActivity
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(3): fns["torch_step"]()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))
