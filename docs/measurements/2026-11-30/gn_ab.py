import time, functools
from jaxrefine import xla_flags
xla_flags.apply(host_devices=False)
import jax, jax.numpy as jnp, numpy as np
from jaxrefine.network.model import group_norm

def gn_dot(x, scale, bias, groups, eps):
    """per example (H, W, C); statistics by matrix products (no reduce ops)."""
    x32 = x.astype(jnp.float32)
    H, W, C = x.shape
    P, k = H * W, C // groups
    n = P * k
    xs = x32.reshape(P, C)
    ones = jnp.ones((1, P), jnp.float32)
    gsum = lambda v: (ones @ v).reshape(groups, k).sum(-1)  # (groups,)
    per = lambda s: jnp.repeat(s, k)[None]  # (1, C)
    centred = xs - per(gsum(xs) / n)
    inv = per(jax.lax.rsqrt(gsum(centred * centred) / n + eps))
    return (centred * (inv * scale[None]) + bias[None]).reshape(H, W, C).astype(x.dtype)

@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def gn_vjp(x, scale, bias, groups, eps):
    return _gn_fwd(x, scale, bias, groups, eps)[0]

def _stats(xs, groups, eps):
    P, C = xs.shape; k = C // groups; n = P * k
    ones = jnp.ones((1, P), jnp.float32)
    gmean = lambda v: jnp.repeat((ones @ v).reshape(groups, k).sum(-1) / n, k)[None]
    centred = xs - gmean(xs)
    inv = jax.lax.rsqrt(gmean(centred * centred) + eps)
    return centred * inv, inv, ones, gmean

def _gn_fwd(x, scale, bias, groups, eps):
    H, W, C = x.shape
    xs = x.astype(jnp.float32).reshape(H * W, C)
    xhat, inv, ones, gmean = _stats(xs, groups, eps)
    y = (xhat * scale[None] + bias[None]).reshape(H, W, C).astype(x.dtype)
    return y, (xhat, inv, scale)

def _gn_bwd(groups, eps, res, g):
    xhat, inv, scale = res
    P, C = xhat.shape; k = C // groups; n = P * k
    g = g.astype(jnp.float32).reshape(P, C)
    ones = jnp.ones((1, P), jnp.float32)
    gmean = lambda v: jnp.repeat((ones @ v).reshape(groups, k).sum(-1) / n, k)[None]
    dscale = (ones @ (g * xhat))[0]
    dbias = (ones @ g)[0]
    gs = g * scale[None]
    dx = inv * (gs - gmean(gs) - xhat * gmean(gs * xhat))
    return dx.reshape(int(np.sqrt(P)), -1, C), dscale, dbias  # square maps only in this test

def gn_dot2(x, scale, bias, groups, eps):
    """gn_dot with scale and bias broadcast by outer products (their gradients become dots)."""
    x32 = x.astype(jnp.float32)
    H, W, C = x.shape
    P, k = H * W, C // groups
    n = P * k
    xs = x32.reshape(P, C)
    ones = jnp.ones((1, P), jnp.float32)
    gsum = lambda v: (ones @ v).reshape(groups, k).sum(-1)
    per = lambda s: jnp.repeat(s, k)[None]
    centred = xs - per(gsum(xs) / n)
    inv = per(jax.lax.rsqrt(gsum(centred * centred) / n + eps))
    y = centred * inv * (ones.T @ scale[None]) + ones.T @ bias[None]
    return y.reshape(H, W, C).astype(x.dtype)

def _split(n, t=32):
    return (n // t, t) if n > t and n % t == 0 else (n,)

def gn_chunk(x, scale, bias, groups, eps):
    """current group_norm on a view whose every reduced axis has <= 32 elements."""
    H, W, C = x.shape
    xc = x.reshape(*_split(H), *_split(W), C)
    x32 = xc.astype(jnp.float32)
    axes = tuple(range(xc.ndim - 1))
    k = C // groups
    n = H * W * k
    per = lambda s: jnp.repeat(s, k)
    gmean = lambda v: jnp.sum(v, axis=axes).reshape(groups, k).sum(-1) / n
    centred = x32 - per(gmean(x32))
    inv = per(jax.lax.rsqrt(gmean(centred * centred) + eps))
    return (centred * (inv * scale) + bias).reshape(H, W, C).astype(x.dtype)

def gn_bar(x, scale, bias, groups, eps):
    """gn_dot2 with the ones hidden behind an optimization barrier (stays a dot)."""
    x32 = x.astype(jnp.float32)
    H, W, C = x.shape
    P, k = H * W, C // groups
    n = P * k
    xs = x32.reshape(P, C)
    ones = jax.lax.optimization_barrier(jnp.ones((1, P), jnp.float32))
    gsum = lambda v: (ones @ v).reshape(groups, k).sum(-1)
    per = lambda s: jnp.repeat(s, k)[None]
    centred = xs - per(gsum(xs) / n)
    inv = per(jax.lax.rsqrt(gsum(centred * centred) / n + eps))
    y = centred * inv * (ones.T @ scale[None]) + ones.T @ bias[None]
    return y.reshape(H, W, C).astype(x.dtype)

def gn_bar2(x, scale, bias, groups, eps):
    """every reduction and broadcast over the pixels is a matrix product with a ones vector
    hidden behind an optimization barrier (so it stays a dot, forward and backward)."""
    x32 = x.astype(jnp.float32)
    H, W, C = x.shape
    P, k = H * W, C // groups
    n = P * k
    xs = x32.reshape(P, C)
    ones = jax.lax.optimization_barrier(jnp.ones((1, P), jnp.float32))
    col = ones.T
    gmean = lambda v: jnp.repeat((ones @ v).reshape(groups, k).sum(-1) / n, k)[None]  # (1, C)
    centred = xs - col @ gmean(xs)
    inv = jax.lax.rsqrt(gmean(centred * centred) + eps)
    y = centred * (col @ (inv * scale[None])) + col @ bias[None]
    return y.reshape(H, W, C).astype(x.dtype)

gn_vjp.defvjp(lambda x, s, b, groups, eps: _gn_fwd(x, s, b, groups, eps), _gn_bwd)

def bench(fn, shape):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=shape), jnp.float32)
    s = jnp.asarray(rng.uniform(0.5, 1.5, shape[-1]), jnp.float32); b = jnp.asarray(rng.normal(size=shape[-1]), jnp.float32)
    w = jnp.asarray(rng.normal(size=shape), jnp.float32)
    loss = lambda x, s, b, w: jnp.vdot(jax.vmap(lambda xx: fn(xx, s, b, 16, 1e-5))(x), w)
    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    out = jax.block_until_ready(f(x, s, b, w))
    ts = []
    for _ in range(7):
        t0 = time.perf_counter(); jax.block_until_ready(f(x, s, b, w)); ts.append(time.perf_counter() - t0)
    txt = f.lower(x, s, b, w).compile().as_text()
    return np.median(ts) * 1e3, out, txt.count("reduce-window(")

for shape in [(8, 64, 64, 64), (8, 128, 128, 64), (8, 32, 32, 64)]:
    res = {name: bench(fn, shape) for name, fn in [("current", group_norm), ("dot", gn_dot), ("dot2", gn_dot2), ("bar", gn_bar), ("bar2", gn_bar2)]}
    ref = res["current"][1]
    line = []
    for name, (ms, out, nrw) in res.items():
        err = max(float(jnp.max(jnp.abs(a - b_) / (1e-3 + jnp.max(jnp.abs(b_))))) for a, b_ in zip(jax.tree.leaves(out), jax.tree.leaves(ref)))
        line.append(f"{name} {ms:7.2f} ms (rw {nrw}, relerr {err:.1e})")
    print(shape, " | ".join(line), flush=True)
