"""Scratch: SMPL-size batch-1 fwd+bwd variants of the body forward."""
import sys, time
from jaxrefine import xla_flags
xla_flags.apply(host_devices=True)
import jax, jax.numpy as jnp, numpy as np
from jaxrefine.bench.smplify import model_arrays
from jaxrefine import body_model as bm
from jaxrefine.geometry import rodrigues

arrays, _ = model_arrays("smpl-size")
model = bm.from_arrays(arrays, model_id="s", gender="neutral", num_betas=10)
B = int(sys.argv[1]) if len(sys.argv) > 1 else 1
rng = np.random.default_rng(0)
pose = jnp.asarray(rng.normal(0, 0.3, (B, 24, 3)), jnp.float32)
betas = jnp.asarray(rng.normal(0, 1, (B, 10)), jnp.float32)

def mm3(a, b):  # (...,3,3)@(...,3,3) elementwise
    return sum(a[..., :, k, None] * b[..., None, k, :] for k in range(3))
def mv3(a, v):
    return sum(a[..., :, k] * v[..., k, None] for k in range(3))

def depths(parents):
    d = [0]
    for i in range(1, len(parents)): d.append(d[parents[i]] + 1)
    return d

def chain_levels(rotations, joints, parents):
    d = depths(parents)
    L = max(d)
    levels = [[i for i in range(len(parents)) if d[i] == l] for l in range(L + 1)]
    Rw = rotations[0][None]; loc = joints[0][None]
    allR, allL = [Rw], [loc]
    prev = levels[0]
    for l in range(1, L + 1):
        idx = levels[l]
        pos = np.array([prev.index(parents[i]) for i in idx])
        Rp = Rw[pos]; Lp = loc[pos]
        Ri = rotations[np.array(idx)]
        rel = joints[np.array(idx)] - joints[np.array([parents[i] for i in idx])]
        Rw = mm3(Rp, Ri); loc = mv3(Rp, rel) + Lp
        allR.append(Rw); allL.append(loc); prev = idx
    order = np.argsort(np.concatenate([np.array(x) for x in levels]))
    world_R = jnp.concatenate(allR)[order]; posed = jnp.concatenate(allL)[order]
    trans = posed - mv3(world_R, joints)
    return posed, jnp.concatenate([world_R, trans[:, :, None]], axis=-1)

def chain_elem(rotations, joints, parents):
    rots = [rotations[0]]; locs = [joints[0]]
    for i in range(1, len(parents)):
        p = parents[i]
        rots.append(mm3(rots[p], rotations[i])); locs.append(mv3(rots[p], joints[i] - joints[p]) + locs[p])
    world_R = jnp.stack(rots); posed = jnp.stack(locs)
    trans = posed - mv3(world_R, joints)
    return posed, jnp.concatenate([world_R, trans[:, :, None]], axis=-1)

def make_forward(chain=None, split=1):
    def fwd(m, pose, betas):
        v_shaped = bm.shape_vertices(m, betas)
        J = bm.rest_joints(m, betas)
        R = rodrigues(pose)
        feat = (R[1:] - jnp.eye(3)[None]).reshape(-1)
        if split == 1:
            pc = feat @ m.posedirs
        else:
            n = m.posedirs.shape[1]; cuts = np.linspace(0, n, split + 1).astype(int)
            pc = jnp.concatenate([feat @ m.posedirs[:, a:b] for a, b in zip(cuts[:-1], cuts[1:])])
        v_posed = v_shaped + pc.reshape(-1, 3)
        pj, A = (chain or bm.rigid_chain)(R, J, m.parents)
        return bm.skin(m.lbs_weights, A, v_posed), pj
    return fwd

variants = {
    "current": lambda m, p, b: (lambda o: (o.vertices, o.joints))(bm.forward(m, p, b)),
    "levels": make_forward(chain_levels),
    "elem": make_forward(chain_elem),
    "split2": make_forward(None, 2),
    "levels+split2": make_forward(chain_levels, 2),
}
fns = {}
for name, f in variants.items():
    def loss(p, b, m, f=f):
        v, j = jax.vmap(lambda pp, bb: f(m, pp, bb))(p, b)
        return jnp.sum(v**2) + jnp.sum(j**2)
    fb = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    r = fb(pose, betas, model); jax.block_until_ready(r); fns[name] = (fb, r)
ref = fns["current"][1]
for name, (fb, r) in fns.items():
    err = max(float(jnp.max(jnp.abs(a - b)) / (jnp.max(jnp.abs(b)) + 1e-12)) for a, b in zip(jax.tree.leaves(r), jax.tree.leaves(ref)))
    print(name, "rel err vs current", f"{err:.2e}")
times = {k: [] for k in fns}
for rep in range(int(sys.argv[2]) if len(sys.argv) > 2 else 30):
    for name, (fb, _) in fns.items():
        for _ in range(10):
            t0 = time.perf_counter(); jax.block_until_ready(fb(pose, betas, model)); times[name].append(time.perf_counter() - t0)
for k, v in times.items():
    print(f"{k:16s} median {np.median(v)*1e3:.3f} ms  p10 {np.percentile(v,10)*1e3:.3f}")
