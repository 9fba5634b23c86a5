"""Session 54's probe: `jaxrefine refine PHOTOS --keypoints FILE` (the library call, no
estimates file: the people are initialized from their keypoints) with OpenPose keypoints
found on frames of another size than the images handed to it (a pose detector run on the
full-size video, the frames given resized, or the other way round).

Two synthetic 128x128 frames of the open model (focal = the default approximation), their
ground truth's BODY_25 keypoints (confidence 0.9 where visible) as found ("own"), or scaled
as on the same frames at 256 or 64 px; the shipped network, default options. Prints the
warnings, each status, and the mean distance in pixels between each refined body's projected
vertices and the true body's. Run from the repository root:
``.venv/bin/python docs/measurements/2026-12-07/s54_zen4/keypoint_resolution_probe.py``.
"""

import json
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
scene = SceneConfig(image_size=(128, 128), focal_scale=(1.0, 1.0))
fr = generate(model, poses, 2, 0, GeneratorConfig(scene=scene, texture_size=32))
root = Path(tempfile.mkdtemp())
(root / "imgs").mkdir()
for i, img in enumerate(fr.image):
    iio.imwrite(root / "imgs" / f"frame{i}.png", (np.asarray(img) * 255).astype(np.uint8))
cams = Camera.from_intrinsics(np.stack([np.asarray(fr.camera(i).K) for i in range(2)]))
net = load_pretrained()[:2]


def pixels(pose, betas, transl):
    v = pose_batch(model, np.asarray(pose), np.asarray(betas), np.asarray(transl)).vertices
    return np.asarray(jax.vmap(project)(cams, jnp.asarray(v)))


true = pixels(fr.pose, fr.betas, fr.transl)
for name, k in {"own (128 px)": 1.0, "keypoints of 256 px": 2.0, "keypoints of 64 px": 0.5}.items():
    kp = root / f"kp{k}"
    kp.mkdir()
    for i in range(2):
        conf = 0.9 * np.asarray(fr.visible[i], np.float32)[:, None]
        pts = np.concatenate([np.asarray(fr.keypoints[i]) * k, conf], 1)
        doc = {"people": [{"pose_keypoints_2d": pts.reshape(-1).tolist()}]}
        (kp / f"frame{i}_keypoints.json").write_text(json.dumps(doc))
    out = root / f"out{k}"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        refine_files(root / "imgs", None, out, model=model, network=net, keypoints_path=kp,
                     progress=False, outputs=Outputs(overlays=False, tracks=False))  # fmt: skip
    r = load_result(out / "refined.npz")
    pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(2, 23, 3)], 1)
    err = np.linalg.norm(pixels(pose, r["betas"], r["transl"]) - true, axis=-1).mean(1)
    print(f"{name}: people {[str(x) for x in r['frame']]}, status {[str(x) for x in r['status_name']]}; "
          "mean vertex error px, refined: " + ", ".join(f"{x:.1f}" for x in err))
    for m in {str(x.message) for x in said}:
        print("  warning:", m.replace(str(root), "TMP"))
