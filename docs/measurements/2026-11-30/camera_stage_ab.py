"""Dense B32 open model: camera stage alone vs Adam body vs LGD body (per-stage cost)."""
import time, sys
from jaxrefine import xla_flags
xla_flags.apply(host_devices=True)
import jax, numpy as np
from jaxrefine.bench.smplify import make_problem, _fit_data
from jaxrefine.objective import params_from_pose, load_gmm_prior
from jaxrefine.smpl_io import load_body_model
from jaxrefine.smplify import smplify
model = load_body_model(); gmm = load_gmm_prior()
B = int(sys.argv[1]) if len(sys.argv) > 1 else 32
problem = make_problem(model, B, "dense", visibility="render", fraction=0.25)
(ip, ib, it), _, _, targets, conf, cams = problem
data = _fit_data("dense", cams, targets, conf, it)
init = params_from_pose(ip, ib, it)
def runner(**kw):
    def run():
        r = smplify(model, init, data, preset="spin", data_kind="dense", gmm=gmm, **kw)
        return jax.block_until_ready(r.params)
    return run
cases = {
    "camera 100 only": runner(optimizer="adam", camera_steps=100, body_steps=0),
    "adam 100+100": runner(optimizer="adam", camera_steps=100, body_steps=100),
    "lgd 100+10": runner(optimizer="lgd", camera_steps=100, body_steps=None),
    "lgd 0+10": runner(optimizer="lgd", camera_steps=0, body_steps=None),
}
for k, f in cases.items():
    f(); f()
    ts = []
    for _ in range(5):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    print(f"B{B} {k}: {np.median(ts)*1e3:.1f} ms", flush=True)
