"""Where the fixed cost of a dense batch-32 smplify goes (oracle dense_gt frames, open model).

Wraps the phases of jaxrefine.smplify.smplify with timers (block_until_ready after each) and
runs the fit REPS times after a compiling call. Usage: python phases.py OPTIMIZER REPS
"""
import importlib
import sys
import time

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)  # as the command line does, before JAX starts

import jax
import numpy as np

import jaxrefine.fit as fitmod
from jaxrefine import oracle
from jaxrefine.data.poses import load_poses
from jaxrefine.objective import get_preset, load_gmm_prior, params_from_pose
from jaxrefine.smpl_io import load_body_model

sm = importlib.import_module("jaxrefine.smplify")
opt, reps = sys.argv[1], int(sys.argv[2])
T = {}


def timed(name, f):
    def g(*a, **k):
        t0 = time.perf_counter()
        out = f(*a, **k)
        jax.block_until_ready(out)
        T.setdefault(name, []).append(time.perf_counter() - t0)
        return out
    return g


for name in ("compact_dense", "fit_chain_batch", "fit_stages_batch", "worst_status",
             "make_objectives", "resolve_optimizer"):
    if hasattr(sm, name):
        setattr(sm, name, timed(name, getattr(sm, name)))
if hasattr(sm, "_whole_refinement_check"):
    sm._whole_refinement_check = timed("check", sm._whole_refinement_check)
jax.device_put = timed('device_put', jax.device_put)
fitmod_jit = fitmod._fit_stages_batch_jit
fitmod._fit_stages_batch_jit = timed("fit_jit", fitmod_jit)

model = load_body_model(None, gender="neutral")
poses = load_poses("/work/runs/cmu_poses_val_09_16.npz").pose
cams, gt, init, (ipose, ibetas, itransl) = oracle.oracle_frames(model, poses, 32, 1, "medium", (256, 256))
sparse, dense, info = oracle.ground_truth_targets(model, gt, init, cams, (256, 256), "auto")
p = get_preset("dense")
init_params = params_from_pose(ipose, ibetas, itransl)
data = oracle.with_start(dense, init_params, init.vertices, p)
gmm = load_gmm_prior()


def run():
    return sm.smplify(model, init_params, data, preset=p, data_kind="dense", optimizer=opt,
                      gmm=gmm, render_flags=info["render_flags"],
                      record_terms=len(sys.argv) < 4 or sys.argv[3] != "noterms")


jax.block_until_ready(run().params)
T.clear()
tot = []
for _ in range(reps):
    t0 = time.perf_counter()
    jax.block_until_ready(run().params)
    tot.append(time.perf_counter() - t0)
print(f"{opt}: total median {np.median(tot)*1e3:.1f} ms  (all: {[round(t*1e3,1) for t in tot]})")
for k, v in T.items():
    print(f"  {k:20s} median {np.median(v)*1e3:8.2f} ms  n={len(v)}")
