"""Session 54's probe: `jaxrefine refine`'s library call on a folder of frames whose names
carry unpadded numbers (``frame_0.png`` .. ``frame_11.png``, as ``ffmpeg -i v.mp4
frame_%d.png`` writes them), with estimates numbered by frame in the video's order.

Twelve synthetic 128x128 frames of the open model, the shipped network, default options.
Two estimates files: one with integer ``frame`` entries 0..11 (a regressor that read the
video), one without frame entries (one estimate per image, in the video's order). Prints the
warnings, the image each estimate was matched to, each status, and the mean distance in pixels
between each refined body's projected vertices and its true body's (of the frame it was made
for). Run from the repository root:
``.venv/bin/python docs/measurements/2026-12-07/s54_zen4/frame_order_probe.py``.
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
from jaxrefine.inputs.errors import InputError
from jaxrefine.io import load_result
from jaxrefine.network import load_pretrained
from jaxrefine.refine import pose_batch
from jaxrefine.refine_files import refine_files
from jaxrefine.refine_outputs import Outputs
from jaxrefine.smpl_io import load_body_model

N = 12
model = load_body_model()
poses = np.random.default_rng(0).normal(0, 0.2, (N, 24, 3)).astype(np.float32)
fr = generate(model, poses, N, 0, GeneratorConfig(scene=SceneConfig(image_size=(128, 128)),
                                                   texture_size=32))  # fmt: skip
root = Path(tempfile.mkdtemp())
(root / "imgs").mkdir()
for i, img in enumerate(fr.image):
    iio.imwrite(root / "imgs" / f"frame_{i}.png", (np.asarray(img) * 255).astype(np.uint8))
K = np.stack([np.asarray(fr.camera(i).K) for i in range(N)])
net = load_pretrained()[:2]
true = pose_batch(model, np.asarray(fr.pose), np.asarray(fr.betas),
                  np.asarray(fr.transl)).vertices
cams = Camera.from_intrinsics(K)
true_px = np.asarray(jax.vmap(project)(cams, jnp.asarray(true)))

cases = {"integer frame entries 0..11": {"frame": np.arange(N)}, "no frame entries": {}}
for name, extra in cases.items():
    np.savez(root / "est.npz", global_orient=fr.init_pose[:, 0], body_pose=fr.init_pose[:, 1:],
             betas=fr.init_betas, transl=fr.init_transl, camera_K=K, **extra)  # fmt: skip
    out = root / f"out{len(extra)}"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            refine_files(root / "imgs", root / "est.npz", out, model=model, network=net,
                         progress=False, outputs=Outputs(overlays=False, tracks=False))
        except InputError as e:
            print(f"{name}: InputError: {str(e).replace(str(root), 'TMP')}")
            continue
    r = load_result(out / "refined.npz")
    pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(N, 23, 3)], 1)
    v = pose_batch(model, pose, np.asarray(r["betas"]), np.asarray(r["transl"])).vertices
    px = np.asarray(jax.vmap(project)(cams, jnp.asarray(v)))
    err = np.linalg.norm(px - true_px, axis=-1).mean(1)
    print(f"{name}:")
    print("  matched to:", " ".join(str(x) for x in r["frame"]))
    print("  status:", [str(x) for x in r["status_name"]])
    print("  mean vertex error px vs its own frame's body:", ", ".join(f"{x:.1f}" for x in err))
    for m in {str(x.message) for x in said}:
        print("  warning:", m.replace(str(root), "TMP"))

# The reference: the same frames named with leading zeros (frame_00 .. frame_11).
(root / "padded").mkdir()
for i in range(N):
    (root / "padded" / f"frame_{i:02d}.png").write_bytes((root / "imgs" / f"frame_{i}.png").read_bytes())
np.savez(root / "est.npz", global_orient=fr.init_pose[:, 0], body_pose=fr.init_pose[:, 1:],
         betas=fr.init_betas, transl=fr.init_transl, camera_K=K, frame=np.arange(N))  # fmt: skip
refine_files(root / "padded", root / "est.npz", root / "padded_out", model=model, network=net,
             progress=False, outputs=Outputs(overlays=False, tracks=False))
r = load_result(root / "padded_out" / "refined.npz")
pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(N, 23, 3)], 1)
v = pose_batch(model, pose, np.asarray(r["betas"]), np.asarray(r["transl"])).vertices
px = np.asarray(jax.vmap(project)(cams, jnp.asarray(v)))
err = np.linalg.norm(px - true_px, axis=-1).mean(1)
print("reference, names with leading zeros, integer frame entries 0..11:")
print("  matched to:", " ".join(str(x) for x in r["frame"]))
print("  status:", [str(x) for x in r["status_name"]])
print("  mean vertex error px vs its own frame's body:", ", ".join(f"{x:.1f}" for x in err))

# The way out (after the change only): the unpadded folder sorted by the numbers in the names.
np.savez(root / "est.npz", global_orient=fr.init_pose[:, 0], body_pose=fr.init_pose[:, 1:],
         betas=fr.init_betas, transl=fr.init_transl, camera_K=K, frame=np.arange(N))  # fmt: skip
try:
    refine_files(root / "imgs", root / "est.npz", root / "number_out", model=model,
                 network=net, progress=False, outputs=Outputs(overlays=False, tracks=False),
                 image_order="number")  # fmt: skip
except TypeError as e:
    print(f"image_order='number': {e}")
else:
    r = load_result(root / "number_out" / "refined.npz")
    pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(N, 23, 3)], 1)
    v = pose_batch(model, pose, np.asarray(r["betas"]), np.asarray(r["transl"])).vertices
    px = np.asarray(jax.vmap(project)(cams, jnp.asarray(v)))
    err = np.linalg.norm(px - true_px, axis=-1).mean(1)
    print("names without leading zeros, image_order='number', integer frame entries 0..11:")
    print("  matched to:", " ".join(str(x) for x in r["frame"]))
    print("  status:", [str(x) for x in r["status_name"]])
    print("  mean vertex error px vs its own frame's body:", ", ".join(f"{x:.1f}" for x in err))
