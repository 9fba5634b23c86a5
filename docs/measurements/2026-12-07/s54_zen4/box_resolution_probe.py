"""Session 54's probe: `jaxrefine refine`'s library call on estimates whose crop camera
(SPIN / PARE's ``pred_cam`` with ``center`` + ``scale``) was made on frames of another
resolution than the images handed to it (a regressor run on the full-size video, the frames
given resized, or the other way round).

Two synthetic 128x128 frames of the open model (focal = the default approximation, so the
crop camera of the frames' own boxes gives back their camera), the shipped network, default
options. The estimates file holds the crop camera of the initial estimate's own box ("own"),
or the box of the same frames at 256 or 64 px (centre and side scaled). Prints the warnings,
each status, and the mean distance in pixels between the refined body's projected vertices and
the true body's, and the same at the start. Run from the repository root:
``.venv/bin/python docs/measurements/2026-12-07/s54_zen4/box_resolution_probe.py``.
"""

import tempfile
import warnings
from pathlib import Path

import imageio.v3 as iio
import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.camera import Camera, project
from jaxrefine.data.scenes import GeneratorConfig, SceneConfig, generate
from jaxrefine.inputs import read_estimates
from jaxrefine.io import load_result
from jaxrefine.network import load_pretrained
from jaxrefine.refine import pose_batch
from jaxrefine.refine_files import refine_files
from jaxrefine.refine_outputs import Outputs
from jaxrefine.smpl_io import load_body_model

model = load_body_model()
poses = np.random.default_rng(0).normal(0, 0.2, (4, 24, 3)).astype(np.float32)
scene = SceneConfig(image_size=(128, 128), focal_scale=(1.0, 1.0))
fr = generate(model, poses, 2, 0, GeneratorConfig(scene=scene, texture_size=32))
root = Path(tempfile.mkdtemp())
(root / "imgs").mkdir()
for i, img in enumerate(fr.image):
    iio.imwrite(root / "imgs" / f"frame{i}.png", (np.asarray(img) * 255).astype(np.uint8))
K = np.stack([np.asarray(fr.camera(i).K) for i in range(2)])
cams = Camera.from_intrinsics(K)
net = load_pretrained()[:2]


def pixels(pose, betas, transl):
    v = pose_batch(model, np.asarray(pose), np.asarray(betas), np.asarray(transl)).vertices
    return np.asarray(jax.vmap(project)(cams, jnp.asarray(v)))


true = pixels(fr.pose, fr.betas, fr.transl)
init = pixels(fr.init_pose, fr.init_betas, fr.init_transl)
lo, hi = init.min(1), init.max(1)
centre, side = (lo + hi) / 2, (hi - lo).max(1) * 1.2  # the initial body's box, grown
f, c = K[:, 0, 0], K[:, :2, 2]
t = np.asarray(fr.init_transl, np.float64)  # the body's translation (R = I)
# weak_perspective_to_full inverted for the own box:
# s = 2 f / (side t_z), t_xy = t'_xy - (box - c) t_z / f
s = 2 * f / (side * t[:, 2])
txy = t[:, :2] - (centre - c) * t[:, 2:3] / f[:, None]
pred_cam = np.concatenate([s[:, None], txy], 1)

for name, k in {"own boxes (128 px)": 1.0, "boxes of 256 px": 2.0, "boxes of 64 px": 0.5}.items():
    np.savez(root / "est.npz", global_orient=fr.init_pose[:, 0], body_pose=fr.init_pose[:, 1:],
             betas=fr.init_betas, pred_cam=pred_cam, center=centre * k,
             scale=side * k / 200.0, imgname=["frame0.png", "frame1.png"])  # fmt: skip
    out = root / f"out{k}"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        refine_files(root / "imgs", root / "est.npz", out, model=model, network=net,
                     progress=False, outputs=Outputs(overlays=False, tracks=False))
    r = load_result(out / "refined.npz")
    pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(2, 23, 3)], 1)
    after = np.linalg.norm(pixels(pose, r["betas"], r["transl"]) - true, axis=-1).mean(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # said once above
        est = read_estimates(root / "est.npz", image_size=lambda key: (128, 128),
                             num_betas=model.num_betas, model=model)  # fmt: skip
    start = np.linalg.norm(pixels(est.pose, est.betas, est.transl) - true, axis=-1).mean(1)
    print(f"{name}: status {[str(x) for x in r['status_name']]}; mean vertex error px: start "
          + ", ".join(f"{x:.1f}" for x in start) + " -> refined "
          + ", ".join(f"{x:.1f}" for x in after))
    for m in {str(x.message) for x in said}:
        print("  warning:", m.replace(str(root), "TMP"))
