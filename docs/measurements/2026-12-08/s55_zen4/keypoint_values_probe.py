"""refine()'s Python API handed keypoints the fit misreads: NaN x, y for missing keypoints
(confidence 0), and confidences in percent. Eight synthetic 128x128 frames of the open model
(the generator's default initial estimates), the shipped network, RefineOptions(batch_size=8,
keypoint_weight=1); keypoints: the ground truth's with 2 px noise, confidence 0.9.
Errors in mm against the ground-truth bodies, means over the eight frames: PVE not aligned
(the camera-frame vertices), root-aligned (pelvis) PVE and PA-PVE (Procrustes with scale)."""

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine import network
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.fit import status_name
from jaxrefine.metrics import pa_pve
from jaxrefine.metrics import pve as root_pve
from jaxrefine.refine import RefineOptions, pose_batch, refine
from jaxrefine.smpl_io import load_body_model

model = load_body_model()
rng = np.random.default_rng(0)
poses = rng.normal(0, 0.2, (16, 24, 3)).astype(np.float32)
cfg = GeneratorConfig(scene=SceneConfig(image_size=(128, 128)), texture_size=32)
fr = generate(model, poses, 8, 0, cfg)
init = {"global_orient": fr.init_pose[:, 0], "body_pose": fr.init_pose[:, 1:],
        "betas": fr.init_betas, "transl": fr.init_transl}  # fmt: skip
net = network.load_pretrained()[:2]
opts = RefineOptions(batch_size=8, keypoint_weight=1.0)
noise = rng.normal(0, 2, fr.keypoints.shape)
conf = np.full(fr.keypoints.shape[:2] + (1,), 0.9)
kp = np.concatenate([fr.keypoints + noise, conf], -1).astype(np.float32)
truth = pose_batch(model, jnp.asarray(fr.pose), jnp.asarray(fr.betas), jnp.asarray(fr.transl))


def pve(pose, betas, transl):
    """(8,) PVE not aligned, and the means of that, root-aligned PVE and PA-PVE, mm."""
    b = pose_batch(model, jnp.asarray(pose), jnp.asarray(betas), jnp.asarray(transl))
    g, v = truth.vertices, b.vertices
    plain = 1000 * np.linalg.norm(np.asarray(v - g), axis=-1).mean(-1)
    root = jax.vmap(root_pve)(v, g, b.joints[:, 0], truth.joints[:, 0])
    return (
        plain,
        f"{plain.mean():.1f} / {np.mean(root):.1f} / {np.mean(jax.vmap(pa_pve)(v, g)):.1f}",
    )


start, means = pve(fr.init_pose, fr.init_betas, fr.init_transl)
print("PVE not aligned / root-aligned / PA-PVE, mm; then each frame's PVE not aligned")
print(f"start: {means} (frames {np.round(start).astype(int).tolist()})")
missing = kp.copy()
missing[:, 3:6, :2], missing[:, 3:6, 2] = np.nan, 0.0  # right arm missing: NaN at confidence 0
percent = kp.copy()
percent[..., 2] *= 100
# percent weighs a keypoint's residual 100 times (its square 10^4 times) in the body stage;
# keypoint_weight multiplies the residuals too, so 100 asks the same there on purpose (the
# camera stage counts a keypoint as present or not, and weight 100 scales it there as well)
heavy = dataclasses.replace(opts, keypoint_weight=100.0)
for name, k, o in [("fractions", kp, opts), ("NaN where missing (conf 0)", missing, opts),
                   ("confidences in percent", percent, opts),
                   ("fractions, keypoint_weight 100", kp, heavy)]:  # fmt: skip
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = refine(model, list(fr.image), init, fr.cameras, net, keypoints=k, options=o)
    except ValueError as e:
        print(f"{name}: ValueError: {e}")
        continue
    p = r.params
    pose = np.concatenate([np.asarray(p["global_orient"])[:, None], p["body_pose"]], 1)
    e, means = pve(pose, p["betas"], p["transl"])
    names = sorted({status_name(int(s)) for s in r.status})
    print(f"{name}: status {names}, {len(w)} warnings, {means} "
          f"(frames {np.round(e).astype(int).tolist()})")  # fmt: skip
