"""smplify() in Python with FitData whose cameras have a focal of 0 or NaN (a hand-made
FitData; refine() refused such cameras already). Four synthetic 128x128 frames of the open
model (`medium` initial estimates), the oracle's ground-truth dense targets, the `dense`
preset, 5 + 10 Adam steps."""

import dataclasses

import jax.numpy as jnp
import numpy as np

from jaxrefine.camera import Camera
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.fit import status_name
from jaxrefine.objective import get_preset
from jaxrefine.oracle import ground_truth_targets, with_start
from jaxrefine.refine import pose_batch
from jaxrefine.smpl_io import load_body_model
from jaxrefine.smplify import smplify

model = load_body_model()
rng = np.random.default_rng(0)
poses = rng.normal(0, 0.2, (16, 24, 3)).astype(np.float32)
cfg = GeneratorConfig(scene=SceneConfig(image_size=(128, 128)), texture_size=32)
fr = generate(model, poses, 4, 0, cfg)
cams = Camera.from_intrinsics(fr.intrinsics)
gt = pose_batch(model, jnp.asarray(fr.pose), jnp.asarray(fr.betas), jnp.asarray(fr.transl))
start = pose_batch(model, jnp.asarray(fr.init_pose), jnp.asarray(fr.init_betas),
                   jnp.asarray(fr.init_transl))  # fmt: skip
_, dense, _ = ground_truth_targets(model, gt, start, cams, (128, 128))
init = {"global_orient": jnp.asarray(fr.init_pose[:, 0]),
        "body_pose": jnp.asarray(fr.init_pose[:, 1:]), "betas": jnp.asarray(fr.init_betas),
        "transl": jnp.asarray(fr.init_transl)}  # fmt: skip
dense = with_start(dense, init, start.vertices, get_preset("dense"))
for name, fx in [("the frames' cameras", None), ("fx = fy = 0", 0.0), ("fx NaN", np.nan)]:
    d = dense
    if fx is not None:
        k = np.asarray(fr.intrinsics, np.float64).copy()
        k[:, 0] = fx
        k[:, 1] = 0.0 if fx == 0 else k[:, 1]
        d = dataclasses.replace(dense, camera=Camera.from_intrinsics(k))
    try:
        r = smplify(model, init, d, preset="dense", data_kind="dense", camera_steps=5,
                    body_steps=10)  # fmt: skip
        print(f"{name}: status {[status_name(int(s)) for s in r.status]}")
    except ValueError as e:
        print(f"{name}: ValueError: {e}")
