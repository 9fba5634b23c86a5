"""Session 53's probe: `jaxrefine refine`'s library call on estimates whose file gives the
camera (camera_K) of another resolution than the images handed to it.

Two synthetic 128x128 frames of the open model, the shipped network, default options. The
estimates file holds the frames' own K ("own"), or the K of the same frames at 256x256 or
192x192 (focal and principal point scaled: a regressor run on the full-size video, the
frames given resized). Prints the warnings, each status, and the mean distance in pixels
between the body's vertices projected through the file's camera (what the fit sees) and the
true body's projected through the images' own camera, at the start and refined.
Run from the repository root:
``.venv/bin/python docs/measurements/2026-12-07/s53_zen4/camera_resolution_probe.py``.
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
from jaxrefine.io import load_result
from jaxrefine.network import load_pretrained
from jaxrefine.refine import pose_batch
from jaxrefine.refine_files import refine_files
from jaxrefine.refine_outputs import Outputs
from jaxrefine.smpl_io import load_body_model

model = load_body_model()
poses = np.random.default_rng(0).normal(0, 0.2, (4, 24, 3)).astype(np.float32)
fr = generate(model, poses, 2, 0, GeneratorConfig(scene=SceneConfig(image_size=(128, 128)),
                                                   texture_size=32))  # fmt: skip
root = Path(tempfile.mkdtemp())
(root / "imgs").mkdir()
for i, img in enumerate(fr.image):
    iio.imwrite(root / "imgs" / f"frame{i}.png", (np.asarray(img) * 255).astype(np.uint8))
K = np.stack([np.asarray(fr.camera(i).K) for i in range(2)])
net = load_pretrained()[:2]
true = pose_batch(model, np.asarray(fr.pose), np.asarray(fr.betas),
                  np.asarray(fr.transl)).vertices


def pixels(verts, k):
    cams = Camera.from_intrinsics(k)  # batched: one camera per frame
    return np.asarray(jax.vmap(project)(cams, jnp.asarray(verts)))


def fmt(a):
    return "[" + ", ".join(f"{x:.2f}" for x in a) + "]"


def err(pose, betas, transl, k):
    """Mean distance (px) of the body's vertices seen by camera k from the true ones."""
    v = pose_batch(model, np.asarray(pose), np.asarray(betas), np.asarray(transl)).vertices
    return np.linalg.norm(pixels(v, k) - pixels(true, K), axis=-1).mean(1)


for name, s in {"own K (128 px)": 1.0, "K of 256 px": 2.0, "K of 192 px": 1.5}.items():
    k = K.copy()
    k[:, :2, :] *= s
    np.savez(root / "est.npz", global_orient=fr.init_pose[:, 0], body_pose=fr.init_pose[:, 1:],
             betas=fr.init_betas, transl=fr.init_transl, imgname=["frame0.png", "frame1.png"],
             camera_K=k)  # fmt: skip
    out = root / f"out{s}"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        refine_files(root / "imgs", root / "est.npz", out, model=model, network=net,
                     progress=False, outputs=Outputs(overlays=False, tracks=False))
    r = load_result(out / "refined.npz")
    pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(2, 23, 3)], 1)
    before = err(fr.init_pose, fr.init_betas, fr.init_transl, k)
    after = err(pose, r["betas"], r["transl"], k)
    print(f"{name}: status {[str(x) for x in r['status_name']]}; mean vertex error px, through the file's "
          f"camera: start {fmt(before)} -> refined {fmt(after)}")
    for m in {str(x.message) for x in said}:
        print("  warning:", m.replace(str(root), "TMP"))
