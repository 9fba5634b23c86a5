"""A/B: rigid_chain as one 3x3 product per joint (before) vs pointer doubling (after).

1. Body forward+backward speed, jitted, vmapped, SMPL-size (207 correctives) and open model,
   batches 1 and 32: turns of 10 calls each, the variants interleaved.
2. Compile time of one SMPLify fit program (jax.jit's compile, persistent cache off), fresh
   process per measurement (run this script once per variant: ``compile <variant> <model>
   <kind>``).

Usage: python compile_chain_ab.py speed [turns]
       python compile_chain_ab.py compile before|after open|smpl-size keypoints|dense
"""

import sys
import time

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxrefine import body_model as bm  # noqa: E402
from jaxrefine import objective  # noqa: E402
from jaxrefine.bench.smplify import model_arrays  # noqa: E402


def chain_before(rotations, joints, parents):
    """The per-joint chain as it was (body_model.py at d0e5021)."""
    rots = [rotations[0]]
    locs = [joints[0]]
    for i in range(1, len(parents)):
        p = parents[i]
        rots.append(rots[p] @ rotations[i])
        locs.append(rots[p] @ (joints[i] - joints[p]) + locs[p])
    world_R = jnp.stack(rots)
    posed = jnp.stack(locs)
    trans = posed - jnp.einsum("jab,jb->ja", world_R, joints)
    return posed, jnp.concatenate([world_R, trans[:, :, None]], axis=-1)


def chain_doubling(gather, product):
    """Pointer doubling with the ancestor gather as indexing ("take") or a one-hot matrix
    product ("onehot"), and the 4x4 products as matmul ("dot") or element-wise ("elem")."""

    def chain(rotations, joints, parents):
        J = len(parents)
        parent_pos = jnp.concatenate(
            [jnp.zeros((1, 3), joints.dtype), joints[np.array(parents[1:])]]
        )
        local = jnp.concatenate([rotations, (joints - parent_pos)[:, :, None]], axis=-1)
        bottom = jnp.broadcast_to(jnp.array([0, 0, 0, 1], local.dtype), (J, 1, 4))
        world = jnp.concatenate(
            [jnp.concatenate([local, bottom], axis=1), jnp.eye(4, dtype=local.dtype)[None]]
        )
        for anc in bm._ancestor_tables(tuple(parents)):
            if gather == "take":
                up = world[anc]
            else:
                onehot = np.eye(J + 1, dtype=np.float32)[anc]
                up = (jnp.asarray(onehot, world.dtype) @ world.reshape(J + 1, 16)).reshape(
                    J + 1, 4, 4
                )
            if product == "dot":
                world = up @ world
            else:
                world = jnp.sum(up[:, :, :, None] * world[:, None, :, :], axis=2)
        world_R, posed = world[:J, :3, :3], world[:J, :3, 3]
        trans = posed - jnp.einsum("jab,jb->ja", world_R, joints)
        return posed, jnp.concatenate([world_R, trans[:, :, None]], axis=-1)

    return chain


VARIANTS = {
    "before": chain_before,
    "after": bm.rigid_chain,  # = take+elem
    "take+dot": chain_doubling("take", "dot"),
    "onehot+dot": chain_doubling("onehot", "dot"),
    "onehot+elem": chain_doubling("onehot", "elem"),
}


def use(variant):
    bm.rigid_chain = VARIANTS[variant]
    objective.rigid_chain = VARIANTS[variant]


def load(name):
    if name == "open":
        from jaxrefine.smpl_io import load_body_model

        return load_body_model()
    arrays, _ = model_arrays("smpl-size")
    return bm.from_arrays(arrays, model_id="s", gender="neutral", num_betas=10)


def speed(turns):
    rng = np.random.default_rng(0)
    fns, rows = {}, []
    for mname in ("smpl-size", "open"):
        model = load(mname)
        for B in (1, 32):
            pose = jnp.asarray(rng.normal(0, 0.3, (B, 24, 3)), jnp.float32)
            betas = jnp.asarray(rng.normal(0, 1, (B, model.num_betas)), jnp.float32)
            outs = {}
            for v, chain in VARIANTS.items():

                def loss(p, b, m, chain=chain):
                    def one(pp, bb):
                        use_chain = bm.rigid_chain
                        bm.rigid_chain = chain
                        try:
                            o = bm.forward(m, pp, bb)
                        finally:
                            bm.rigid_chain = use_chain
                        return o

                    o = jax.vmap(one)(p, b)
                    return jnp.sum(o.vertices**2) + jnp.sum(o.joints**2)

                fb = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
                outs[v] = jax.block_until_ready(fb(pose, betas, model))
                fns[(mname, B, v)] = (fb, (pose, betas, model))
            err = max(
                float(jnp.max(jnp.abs(a - b)) / (jnp.max(jnp.abs(b)) + 1e-12))
                for v in VARIANTS
                for a, b in zip(jax.tree.leaves(outs[v]), jax.tree.leaves(outs["before"]))
            )
            rows.append((mname, B, err))
    times = {k: [] for k in fns}
    for _ in range(turns):
        for k, (fb, args) in fns.items():
            for _ in range(10):
                t0 = time.perf_counter()
                jax.block_until_ready(fb(*args))
                times[k].append(time.perf_counter() - t0)
    print(f"{'model':10s} {'batch':>5s} {'variant':12s} {'median ms':>10s} {'p10 ms':>8s}")
    for (m, B, v), t in times.items():
        med, p10 = np.median(t) * 1e3, np.percentile(t, 10) * 1e3
        print(f"{m:10s} {B:5d} {v:12s} {med:10.3f} {p10:8.3f}")
    for m, B, err in rows:
        print(f"{m} batch {B}: max relative difference of any variant vs before {err:.1e}")


def compile_time(variant, mname, kind):
    from jaxrefine.bench.smplify import make_problem
    from jaxrefine.keypoints import SMPL_LANDMARKS
    from jaxrefine.objective import FitData, params_from_pose
    from jaxrefine.priors import load_gmm
    from jaxrefine.smplify import smplify

    jax.config.update("jax_enable_compilation_cache", False)
    use(variant)
    model = load(mname)
    if mname != "open":
        model = model.replace(landmarks=SMPL_LANDMARKS)
    start, focal, center, targets, conf, cams = make_problem(model, 1, kind)
    ipose, ibetas, itransl = start
    extra = (
        {"keypoints": jnp.asarray(targets), "keypoint_conf": jnp.asarray(conf)}
        if kind == "keypoints"
        else {"dense_targets": jnp.asarray(targets), "dense_weights": jnp.asarray(conf)}
    )
    data = FitData(camera=cams, init_transl=jnp.asarray(itransl), pixel_scale=jnp.ones(1), **extra)
    t0 = time.perf_counter()
    res = smplify(model, params_from_pose(ipose, ibetas, itransl), data, data_kind=kind,
                  preset="spin" if kind == "keypoints" else "dense", gmm=load_gmm(),
                  camera_steps=2, body_steps=2)  # fmt: skip
    jax.block_until_ready(res.params)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(smplify(model, params_from_pose(ipose, ibetas, itransl), data,
                                  data_kind=kind,
                                  preset="spin" if kind == "keypoints" else "dense",
                                  gmm=load_gmm(), camera_steps=2, body_steps=2).params)  # fmt: skip
    second = time.perf_counter() - t0
    print(f"{variant:12s} {mname:10s} {kind:10s} first call {first:6.1f} s  second {second:6.2f} s "
          f"final loss {float(res.final_loss[0]):.6g}")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1] == "speed":
        speed(int(sys.argv[2]) if len(sys.argv) > 2 else 30)
    else:
        compile_time(*sys.argv[2:5])
