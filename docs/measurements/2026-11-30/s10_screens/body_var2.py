"""A/B: blend-shape storage, model as jit argument vs closed-over constant; SMPL-size fwd+bwd."""
import sys, time
from jaxrefine import xla_flags
xla_flags.apply(host_devices=True)
import jax, jax.numpy as jnp, numpy as np
from jaxrefine.bench.smplify import model_arrays
from jaxrefine.body_model import forward, from_arrays, rest_joints, rigid_chain, skin
from jaxrefine.geometry import rodrigues
arrays, _ = model_arrays("smpl-size")
model = from_arrays(arrays, model_id="s", gender="neutral", num_betas=10)
V = model.num_vertices; NB = 10
S2 = jnp.asarray(np.asarray(model.shapedirs).reshape(V * 3, NB).T.copy())  # (NB, V*3)
Bc = jnp.asarray(np.concatenate([np.asarray(S2), np.asarray(model.posedirs)], 0))
extra = {"S2": S2, "B": Bc}
def feat_of(R):
    return (R[1:] - jnp.eye(3, dtype=R.dtype)[None]).reshape(-1)
def f_current(m, x, pose, betas):
    o = forward(m, pose, betas); return o.vertices, o.joints
def f_sep(m, x, pose, betas):
    R = rodrigues(pose)
    v = m.v_template + (betas @ x["S2"]).reshape(-1, 3) + (feat_of(R) @ m.posedirs).reshape(-1, 3)
    J, A = rigid_chain(R, rest_joints(m, betas), m.parents)
    return skin(m.lbs_weights, A, v), J
def f_comb(m, x, pose, betas):
    R = rodrigues(pose)
    v = m.v_template + (jnp.concatenate([betas, feat_of(R)]) @ x["B"]).reshape(-1, 3)
    J, A = rigid_chain(R, rest_joints(m, betas), m.parents)
    return skin(m.lbs_weights, A, v), J
variants = {"current": f_current, "sep": f_sep, "comb": f_comb}
b = int(sys.argv[1]); mode = sys.argv[2]
rng = np.random.default_rng(0)
pose = jnp.asarray(rng.normal(0, 0.3, (b, 24, 3)), jnp.float32)
betas = jnp.asarray(rng.normal(0, 1, (b, 10)), jnp.float32)
fns = {}
for name, fn in variants.items():
    def loss(p, bb, m, x, fn=fn):
        v, J = jax.vmap(lambda pp, q: fn(m, x, pp, q))(p, bb)
        return jnp.sum(v**2) + jnp.sum(J**2)
    if mode == "arg":
        g = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
        call = lambda g=g: g(pose, betas, model, extra)
    else:
        g = jax.jit(jax.value_and_grad(lambda p, bb, loss=loss: loss(p, bb, model, extra), argnums=(0, 1)))
        call = lambda g=g: g(pose, betas)
    jax.block_until_ready(call()); fns[name] = call
times = {k: [] for k in fns}
for _ in range(300 if b == 1 else 30):
    for k, c in fns.items():
        t0 = time.perf_counter(); jax.block_until_ready(c()); times[k].append(time.perf_counter() - t0)
print(f"B{b} model as {mode}: " + "  ".join(f"{k} {np.median(v)*1e3:.3f}" for k, v in times.items()))
