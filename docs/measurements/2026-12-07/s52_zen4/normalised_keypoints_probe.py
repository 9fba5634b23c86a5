"""Session 52's probe: refine() given MediaPipe-style normalised keypoints ([0, 1]) as pixels.

Two synthetic 128x128 frames of the open model, the shipped network, default RefineOptions,
the frames' true BODY_25 keypoints (visibility as confidence) as the keypoint term, once in
pixels and once divided by the image size. Prints each run's status and the mean distance
(px) of the refined body's projected BODY_25 keypoints to the true ones, or the refusal.
Run from the repository root.
"""

import jax
import numpy as np

from jaxrefine.body_model import forward
from jaxrefine.camera import project
from jaxrefine.data.scenes import GeneratorConfig, SceneConfig, generate
from jaxrefine.network import load_pretrained
from jaxrefine.refine import refine
from jaxrefine.smpl_io import load_body_model

model = load_body_model()
poses = np.random.default_rng(0).normal(0, 0.2, (4, 24, 3)).astype(np.float32)
fr = generate(model, poses, 2, 0, GeneratorConfig(scene=SceneConfig(image_size=(128, 128)),
                                                   texture_size=32))  # fmt: skip
net = load_pretrained()[:2]
start = {"global_orient": fr.init_pose[:, 0], "body_pose": fr.init_pose[:, 1:],
         "betas": fr.init_betas, "transl": fr.init_transl}  # fmt: skip
conf = fr.visible[..., None].astype(np.float32)


def error(params) -> float:
    out = []
    for i in range(2):
        pose = np.concatenate([params["global_orient"][i][None], params["body_pose"][i]])
        kp = forward(model, pose, params["betas"][i], params["transl"][i]).keypoints("body25")
        cam = jax.tree.map(lambda a, i=i: a[i], fr.cameras)
        d = np.linalg.norm(np.asarray(project(cam, kp)) - fr.keypoints[i], axis=-1)
        out.append(d[fr.visible[i]].mean())
    return float(np.mean(out))


print(f"initial estimate: keypoint error {error(start):.1f} px")
for name, scale in (("pixels", 1.0), ("normalised [0, 1]", 128.0)):
    kp = np.concatenate([fr.keypoints / scale, conf], -1)
    try:
        r = refine(model, list(fr.image), start, fr.cameras, net, keypoints=kp)
        print(f"{name}: status {np.asarray(r.status).tolist()}, keypoint error "
              f"{error({k: np.asarray(v) for k, v in r.params.items()}):.1f} px")  # fmt: skip
    except ValueError as exc:
        print(f"{name}: refused: {exc}")
