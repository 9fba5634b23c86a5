"""A/B: rigid_chain as 23 sequential 3x3 products vs tree levels with element-wise products."""
import sys, time
from jaxrefine import xla_flags
xla_flags.apply(host_devices=True)
import jax, jax.numpy as jnp, numpy as np
import jaxrefine.body_model as bm
from jaxrefine.bench.smplify import model_arrays
arrays, _ = model_arrays("smpl-size")
model = bm.from_arrays(arrays, model_id="s", gender="neutral", num_betas=10)

def _levels(parents):
    depth = [0] * len(parents)
    for i in range(1, len(parents)):
        depth[i] = depth[parents[i]] + 1
    return [tuple(i for i in range(len(parents)) if depth[i] == d) for d in range(max(depth) + 1)]

def mm(a, b):  # (..., 3, 3) x (..., 3, 3), element-wise
    return jnp.sum(a[..., :, :, None] * b[..., None, :, :], axis=-2)

def mv(a, v):
    return jnp.sum(a * v[..., None, :], axis=-1)

def chain_levels(rotations, joints, parents):
    levels = _levels(parents)
    Rs = [rotations[0][None]]; Ls = [joints[0][None]]
    pos = {0: (0, 0)}
    for d, lev in enumerate(levels[1:], start=1):
        idx = np.asarray(lev); par = np.asarray([parents[i] for i in lev])
        ppos = np.asarray([pos[p][1] for p in par])
        for k, i in enumerate(lev): pos[i] = (d, k)
        PR = Rs[-1][ppos]; PL = Ls[-1][ppos]
        Rs.append(mm(PR, rotations[idx]))
        Ls.append(mv(PR, joints[idx] - joints[par]) + PL)
    order = np.asarray([sum(len(l) for l in levels[:pos[i][0]]) + pos[i][1] for i in range(len(parents))])
    world_R = jnp.concatenate(Rs)[order]; posed = jnp.concatenate(Ls)[order]
    trans = posed - mv(world_R, joints)
    return posed, jnp.concatenate([world_R, trans[:, :, None]], axis=-1)

orig = bm.rigid_chain
b = int(sys.argv[1])
rng = np.random.default_rng(0)
pose = jnp.asarray(rng.normal(0, 0.3, (b, 24, 3)), jnp.float32)
betas = jnp.asarray(rng.normal(0, 1, (b, 10)), jnp.float32)
fns = {}
for name, ch in (("seq", orig), ("levels", chain_levels)):
    bm.rigid_chain = ch
    def loss(p, bb, m):
        o = jax.vmap(lambda pp, q: bm.forward(m, pp, q))(p, bb)
        return jnp.sum(o.vertices**2) + jnp.sum(o.joints**2)
    g = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    fns[name] = (g, jax.block_until_ready(g(pose, betas, model)))
e = max(float(jnp.max(jnp.abs(x - y))) for x, y in zip(jax.tree.leaves(fns["seq"][1]), jax.tree.leaves(fns["levels"][1])))
print("max abs diff", e)
times = {k: [] for k in fns}
for _ in range(400 if b == 1 else 40):
    for k, (g, _) in fns.items():
        t0 = time.perf_counter(); jax.block_until_ready(g(pose, betas, model)); times[k].append(time.perf_counter() - t0)
print(f"B{b}: " + "  ".join(f"{k} {np.median(v)*1e3:.3f} (p10 {np.percentile(v,10)*1e3:.3f})" for k, v in times.items()))
