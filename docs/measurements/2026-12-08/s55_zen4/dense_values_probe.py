"""smplify() in Python on dense targets with NaN where a vertex has no target (weight 0), the
way a user's DensePose-style correspondences may mark them. Four synthetic 128x128 frames of
the open model (`medium` initial estimates), the oracle's ground-truth dense targets, the
`dense` preset, 5 + 10 Adam steps, compacted (the default) and not."""

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
w = np.asarray(dense.dense_weights)
print(f"vertices with a target per frame: {(w > 0).sum(1).tolist()} of {w.shape[1]}")
t = np.asarray(dense.dense_targets).copy()
t[w == 0] = np.nan
marked = dataclasses.replace(dense, dense_targets=jnp.asarray(t))
for name, d in [("finite targets", dense), ("NaN at weight 0", marked)]:
    for compact in (True, False):
        try:
            r = smplify(model, init, d, preset="dense", data_kind="dense", compact=compact,
                        camera_steps=5, body_steps=10)  # fmt: skip
            print(f"{name}, compact={compact}: status {[status_name(int(s)) for s in r.status]}")
        except ValueError as e:
            print(f"{name}, compact={compact}: ValueError: {e}")
