"""SMPLify time per frame with dense targets plus keypoints: Adam 100 + 100 vs Adam 100 + LGD
10 (the shipped lgd_dense_keypoints), and the dense-only pair for comparison (session 16).

32 synthetic frames of validation subjects 09/16 made as LGD's validation makes them
(jaxrefine.train.lgd.make_samples, medium starts, ground-truth dense targets and noisy
BODY_25 keypoints), open body model, `dense` preset with the GMM prior, one process, one
device; each configuration compiled first, then the four called in turn, REPS rounds,
medians. PVE (mm) of each fit against the truth beside it. MODEL "smpl-size": `bench smplify`'s
random SMPL-size model (6,890 vertices, 207 pose correctives) instead of the open one, for the
time (its PVE says nothing of LGD, which was trained on the open model).
Usage: python lgd_dk_speed.py POSES.npz [REPS] [open|smpl-size]"""

import sys
import time

import jax
import numpy as np

from jaxrefine.data.poses import VALIDATION_SUBJECTS, load_poses
from jaxrefine.metrics import pve
from jaxrefine.objective import compact_dense, load_gmm_prior
from jaxrefine.smpl_io import load_body_model
from jaxrefine.smplify import smplify
from jaxrefine.train.lgd import LGDConfig, _forward_batch, fit_inputs, make_samples

poses = load_poses(sys.argv[1], subjects=VALIDATION_SUBJECTS).pose
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
which = sys.argv[3] if len(sys.argv) > 3 else "open"
if which == "open":
    model = load_body_model()
else:
    from jaxrefine.bench.smplify import _model_with_landmarks, model_arrays

    model = _model_with_landmarks(which, model_arrays(which)[0])
gmm = load_gmm_prior()
batch = make_samples(model, poses, LGDConfig(kind="dense_keypoints"), seed=2, size=32)
params, data = fit_inputs(batch)
data = compact_dense(data)
truth = _forward_batch(model, batch["gt_pose"], batch["gt_betas"], batch["gt_transl"])
dense_only = data.replace(keypoints=None, keypoint_conf=None)
configs = {
    "dense+keypoints, Adam 100 + 100": ("dense+keypoints", "adam", data),
    "dense+keypoints, Adam 100 + LGD 10": ("dense+keypoints", "lgd", data),
    "dense, Adam 100 + 100": ("dense", "adam", dense_only),
    "dense, Adam 100 + LGD 10": ("dense", "lgd", dense_only),
}


def run(kind, opt, d):
    res = smplify(model, params, d, preset="dense", data_kind=kind, optimizer=opt, gmm=gmm,
                  devices=jax.local_devices()[:1])  # fmt: skip
    jax.block_until_ready(res.params)
    return res


errors, times = {}, {name: [] for name in configs}
for name, cfg in configs.items():
    res = run(*cfg)  # compile
    p = res.params
    pose = np.concatenate([np.asarray(p["global_orient"])[:, None], np.asarray(p["body_pose"])], 1)
    out = _forward_batch(model, pose, p["betas"], p["transl"])
    err = jax.vmap(pve)(out.vertices, truth.vertices, out.joints[:, 0], truth.joints[:, 0])
    errors[name] = float(np.mean(err))
for _ in range(reps):
    for name, cfg in configs.items():
        t = time.perf_counter()
        run(*cfg)
        times[name].append(time.perf_counter() - t)
print(f"32 frames, {reps} rounds, medians, ms per frame; model {which}; jax {jax.__version__}, "
      f"{jax.devices()[0].platform}")  # fmt: skip
print("| fit | ms per frame | PVE mm |")
print("|---|---|---|")
for name in configs:
    print(f"| {name} | {1e3 * np.median(times[name]) / 32:.2f} | {errors[name]:.1f} |")
