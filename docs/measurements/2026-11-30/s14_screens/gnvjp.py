import functools, time, sys
from jaxrefine import xla_flags
xla_flags.apply(host_devices=False)
import jax, jax.numpy as jnp, numpy as np
from jaxrefine.network.model import group_norm

def _group_mean(v, groups, n):  # (..., C) channel sums -> (..., 1, 1, C) group means per channel
    c = v.shape[-1]
    g = jnp.sum(v.reshape(*v.shape[:-1], groups, c // groups), axis=-1) / n
    return jnp.repeat(g, c // groups, axis=-1)[..., None, None, :]

def _psum(v, mode):
    if mode == "dot":
        *lead, h, w, c = v.shape
        ones = jax.lax.optimization_barrier(jnp.ones((h * w,), jnp.float32))
        return jnp.einsum("p,...pc->...c", ones, v.reshape(*lead, h * w, c))
    return jnp.sum(v, axis=(-3, -2))

def make(mode):
    @functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
    def gn(x, scale, bias, groups, eps):
        return fwd(x, scale, bias, groups, eps)[0]
    def fwd(x, scale, bias, groups, eps):
        x32 = x.astype(jnp.float32)
        n = x.shape[-3] * x.shape[-2] * (x.shape[-1] // groups)
        mean = _group_mean(_psum(x32, mode), groups, n)
        centred = x32 - mean
        inv = jax.lax.rsqrt(_group_mean(_psum(centred * centred, mode), groups, n) + eps)
        y = (centred * (inv * scale) + bias).astype(x.dtype)
        return y, (x, mean, inv, scale)
    def bwd(groups, eps, res, g):
        x, mean, inv, scale = res
        n = x.shape[-3] * x.shape[-2] * (x.shape[-1] // groups)
        g32 = g.astype(jnp.float32)
        xhat = (x.astype(jnp.float32) - mean) * inv
        dbias = _psum(g32, mode)
        dscale = _psum(g32 * xhat, mode)
        a = _group_mean(dbias * scale, groups, n)
        b = _group_mean(dscale * scale, groups, n)
        dx = (inv * (g32 * scale - a - xhat * b)).astype(x.dtype)
        lead = tuple(range(dbias.ndim - 1))
        return dx, jnp.sum(dscale, lead), jnp.sum(dbias, lead)
    gn.defvjp(fwd, bwd)
    return gn

def bench(fn, shape, vm=True):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=shape) * 2 + 0.5, jnp.float32)
    s = jnp.asarray(rng.uniform(0.5, 1.5, shape[-1]), jnp.float32); b = jnp.asarray(rng.normal(size=shape[-1]), jnp.float32)
    w = jnp.asarray(rng.normal(size=shape), jnp.float32)
    if vm:
        loss = lambda x, s, b, w: jnp.vdot(jax.vmap(lambda xx: fn(xx, s, b, 16, 1e-5))(x), w)
    else:
        loss = lambda x, s, b, w: jnp.vdot(fn(x, s, b, 16, 1e-5), w)
    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    out = jax.block_until_ready(f(x, s, b, w))
    ts = []
    for _ in range(9):
        t0 = time.perf_counter(); jax.block_until_ready(f(x, s, b, w)); ts.append(time.perf_counter() - t0)
    txt = f.lower(x, s, b, w).compile().as_text()
    return np.median(ts) * 1e3, out, txt.count("reduce-window(")

if __name__ == "__main__":
    fns = [("current", group_norm), ("vjp", make("sum")), ("vjpdot", make("dot"))]
    for shape in [(8, 64, 64, 64), (8, 128, 128, 64), (8, 32, 32, 256)]:
        for vm in (True, False):
            res = {name: bench(fn, shape, vm) for name, fn in fns}
            ref = res["current"][1]
            line = []
            for name, (ms, out, nrw) in res.items():
                err = max(float(jnp.max(jnp.abs(a - b_)) / (1e-6 + float(jnp.max(jnp.abs(b_))))) for a, b_ in zip(jax.tree.leaves(out), jax.tree.leaves(ref)))
                line.append(f"{name} {ms:7.2f} ms (rw {nrw}, relerr {err:.1e})")
            print(shape, "vmap" if vm else "batched", " | ".join(line), flush=True)
