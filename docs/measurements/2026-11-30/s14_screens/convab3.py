import time, sys
from jaxrefine import xla_flags
xla_flags.apply(host_devices=False)
import jax, jax.numpy as jnp, numpy as np, torch
import torch.nn.functional as F
torch.set_num_threads(2)
def tm(f, reps=11):
    f(); f(); ts=[]
    for _ in range(reps):
        t0=time.perf_counter(); f(); ts.append(time.perf_counter()-t0)
    return np.median(ts)*1e3
tot = np.zeros(4)
# (count per step, B, H, C, O, k, stride)
shapes = [(6,8,64,16,16,3,1),(1,8,128,3,16,7,2),(1,8,128,11,16,7,2)]
for lvl,H in []:
    n = {64: 2*3, 32: 2*3, 16: 2*3, 8: 2*3, 4: 2*4}[H]  # up, low1, low3 + post; rough
    shapes.append((n,8,H,32,32,3,1))
for (n,B,H,C,O,k,s) in shapes:
    rng=np.random.default_rng(0)
    x=rng.normal(size=(B,H,H,C)).astype(np.float32); w=(rng.normal(size=(k,k,C,O))/np.sqrt(k*k*C)).astype(np.float32)
    Ho = H // s
    g=rng.normal(size=(B,Ho,Ho,O)).astype(np.float32)
    conv=lambda x,w: jax.lax.conv_general_dilated(x,w,(s,s),[(k//2,k//2)]*2,dimension_numbers=("NHWC","HWIO","NHWC"))
    fj=jax.jit(conv); vg=jax.jit(lambda x,w,g: jax.value_and_grad(lambda x,w: jnp.vdot(conv(x,w),g),argnums=(1,))(x,w))
    xj,wj,gj=map(jnp.asarray,(x,w,g))
    jf=tm(lambda: jax.block_until_ready(fj(xj,wj))); jb=tm(lambda: jax.block_until_ready(vg(xj,wj,gj)))
    xt=torch.tensor(x).permute(0,3,1,2).contiguous().requires_grad_(); wt=torch.tensor(w).permute(3,2,0,1).contiguous().requires_grad_()
    gt=torch.tensor(g).permute(0,3,1,2).contiguous()
    def tf():
        with torch.no_grad(): F.conv2d(xt,wt,stride=s,padding=k//2)
    def tb():
        y=F.conv2d(xt,wt,stride=s,padding=k//2); torch.autograd.grad(y,(wt,),gt)
    r = np.array([jf, jb, tm(tf), tm(tb)]); tot += n * r
    print(f"x{n} B{B} H{H} {C}->{O} k{k}s{s}: fwd jax {r[0]:.2f} torch {r[2]:.2f} | fwd+bwd jax {r[1]:.2f} torch {r[3]:.2f} ms", flush=True)
print("weighted totals: fwd jax %.0f torch %.0f | fwd+bwd jax %.0f torch %.0f" % tuple(tot[[0,2,1,3]]))
