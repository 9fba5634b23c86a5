import time
from jaxrefine import xla_flags
xla_flags.apply(host_devices=False)
import jax, jax.numpy as jnp, numpy as np
def tm(f, reps=11):
    f(); f(); ts=[]
    for _ in range(reps):
        t0=time.perf_counter(); f(); ts.append(time.perf_counter()-t0)
    return np.median(ts)*1e3
def conv_lax(x, w, s=1):
    k = w.shape[0]
    return jax.lax.conv_general_dilated(x[None],w,(s,s),[(k//2,k//2)]*2,dimension_numbers=("NHWC","HWIO","NHWC"))[0]
def conv_im2col(x, w, s=1):
    k = w.shape[0]; p = k // 2
    *b, H, W, C = x.shape
    xp = jnp.pad(x, [(0,0)]*len(b) + [(p,p),(p,p),(0,0)])
    Ho, Wo = (H + 2*p - k)//s + 1, (W + 2*p - k)//s + 1
    cols = [xp[..., i:i+s*(Ho-1)+1:s, j:j+s*(Wo-1)+1:s, :] for i in range(k) for j in range(k)]
    patches = jnp.concatenate(cols, -1)
    return patches @ w.reshape(k*k*C, -1)
def conv_shift(x, w, s=1):
    k = w.shape[0]; p = k // 2
    *b, H, W, C = x.shape
    xp = jnp.pad(x, [(0,0)]*len(b) + [(p,p),(p,p),(0,0)])
    Ho, Wo = (H + 2*p - k)//s + 1, (W + 2*p - k)//s + 1
    out = 0
    for i in range(k):
        for j in range(k):
            out = out + xp[..., i:i+s*(Ho-1)+1:s, j:j+s*(Wo-1)+1:s, :] @ w[i, j]
    return out
for (B,H,C,O,k,s,gx) in [(8,64,16,16,3,1,1),(8,64,32,32,3,1,1),(8,32,32,32,3,1,1),(8,128,11,16,7,2,0),(8,128,3,16,7,2,0)]:
    rng=np.random.default_rng(0)
    x=jnp.asarray(rng.normal(size=(B,H,H,C)),jnp.float32); w=jnp.asarray(rng.normal(size=(k,k,C,O))/np.sqrt(k*k*C),jnp.float32)
    g=jnp.asarray(rng.normal(size=(B,H//s,H//s,O)),jnp.float32)
    line=[]
    ref=None
    for name, fn in [("lax",conv_lax),("im2col",conv_im2col),("shift",conv_shift)]:
        f=jax.jit(lambda x,w,fn=fn: jax.vmap(lambda xx: fn(xx,w,s))(x))
        argn=(0,1) if gx else (1,)
        vg=jax.jit(lambda x,w,g,fn=fn: jax.value_and_grad(lambda x,w: jnp.vdot(jax.vmap(lambda xx: fn(xx,w,s))(x),g),argnums=argn)(x,w))
        out=vg(x,w,g)
        if ref is None: ref=out
        err=max(float(jnp.max(jnp.abs(a-b))/jnp.max(jnp.abs(b))) for a,b in zip(jax.tree.leaves(out),jax.tree.leaves(ref)))
        line.append(f"{name} fwd {tm(lambda: jax.block_until_ready(f(x,w))):.2f} vg {tm(lambda: jax.block_until_ready(vg(x,w,g))):.2f} (err {err:.0e})")
    print(f"B{B} H{H} {C}->{O} k{k}s{s} gx{gx}: " + " | ".join(line), flush=True)
