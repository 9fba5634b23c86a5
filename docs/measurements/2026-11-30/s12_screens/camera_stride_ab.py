"""In one process: dense SMPLify (Adam 100 + 100, and Adam 100 + LGD 10) on the oracle's 32
dense_gt frames with the camera stage on every s-th visible vertex, configurations called in
turn, ROUNDS rounds; medians. usage: python camera_stride_ab.py ROUNDS STRIDE [STRIDE ...]
"""
import dataclasses
import sys
import time

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)  # 2 host devices, as the CLI
import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxrefine.data.poses import load_poses  # noqa: E402
from jaxrefine.objective import get_preset, load_gmm_prior, params_from_pose  # noqa: E402
from jaxrefine.oracle import ground_truth_targets, oracle_frames, with_start  # noqa: E402
from jaxrefine.smpl_io import load_body_model  # noqa: E402
from jaxrefine.smplify import smplify  # noqa: E402

rounds, strides = int(sys.argv[1]), [int(s) for s in sys.argv[2:]]
model = load_body_model()
poses = load_poses("/work/runs/cmu_poses_val_09_16.npz").pose
cams, gt, init, (ipose, ibetas, itransl) = oracle_frames(model, poses, 32, 1, "medium", (256, 256))
_, dense, info = ground_truth_targets(model, gt, init, cams, (256, 256), "auto")
init_params = params_from_pose(ipose, ibetas, itransl)
gmm = load_gmm_prior()
configs = {}
for s in strides:
    p = dataclasses.replace(get_preset("dense"), camera_vertex_stride=s)
    data = with_start(dense, init_params, init.vertices, p)
    for opt in ("adam", "lgd"):
        configs[(s, opt)] = (lambda p=p, d=data, o=opt: smplify(
            model, init_params, d, preset=p, data_kind="dense", optimizer=o, gmm=gmm))
    configs[(s, "camera only")] = (lambda p=p, d=data: smplify(
        model, init_params, d, preset=p, data_kind="dense", optimizer="adam", gmm=gmm,
        body_steps=0))
times = {k: [] for k in configs}
for k, run in configs.items():  # compile
    jax.block_until_ready(run().params)
for r in range(rounds):
    for k, run in configs.items():
        t0 = time.perf_counter()
        jax.block_until_ready(run().params)
        times[k].append(time.perf_counter() - t0)
print(f"# {rounds} rounds, batch 32, ms per frame: median [min, max]; {jax.devices()}")
for k, t in times.items():
    t = np.asarray(t) * 1e3 / 32
    print(f"stride {k[0]} {k[1]:12s} {np.median(t):7.2f} [{t.min():.2f}, {t.max():.2f}]")
for s in strides:
    a, l = np.median(times[(s, "adam")]), np.median(times[(s, "lgd")])
    print(f"stride {s}: Adam / LGD = {a / l:.2f}x")
