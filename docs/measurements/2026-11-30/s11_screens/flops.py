"""Compiled cost of the dense fit program (oracle dense_gt frames): XLA's cost analysis."""
import importlib
import sys

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)
import jax

import jaxrefine.fit as fitmod
from jaxrefine import oracle
from jaxrefine.data.poses import load_poses
from jaxrefine.objective import get_preset, load_gmm_prior, params_from_pose
from jaxrefine.smpl_io import load_body_model

sm = importlib.import_module("jaxrefine.smplify")
captured = {}
orig = fitmod._fit_stages_batch_jit


def spy(*a, **k):
    captured["c"] = orig.lower(*a, **k).compile()
    return orig(*a, **k)


fitmod._fit_stages_batch_jit = spy
model = load_body_model(None, gender="neutral")
poses = load_poses("/work/runs/cmu_poses_val_09_16.npz").pose
cams, gt, init, (ipose, ibetas, itransl) = oracle.oracle_frames(model, poses, 32, 1, "medium", (256, 256))
sparse, dense, info = oracle.ground_truth_targets(model, gt, init, cams, (256, 256), "auto")
p = get_preset("dense")
ip = params_from_pose(ipose, ibetas, itransl)
data = oracle.with_start(dense, ip, init.vertices, p)
sm.smplify(model, ip, data, preset=p, data_kind="dense", optimizer=sys.argv[1], gmm=load_gmm_prior(),
           render_flags=info["render_flags"])
ca = captured["c"].cost_analysis()
ca = ca[0] if isinstance(ca, list) else ca
print(sys.argv[1], "flops %.4g" % ca.get("flops", -1), "bytes %.4g" % ca.get("bytes accessed", -1))
