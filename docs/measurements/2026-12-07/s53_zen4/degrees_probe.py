"""Session 53's probe: refine() given its estimates' axis-angle pose in degrees.

Two synthetic 128x128 frames of the open model, the shipped network, default RefineOptions.
The estimates' global_orient and body_pose are given in radians, then in degrees (the same
numbers times 180 / pi). Prints each run's status, the largest rotation angle given, and
the mean distance (px) of the refined body's projected BODY_25 keypoints to the true ones,
or the refusal. Run from the repository root:
``.venv/bin/python docs/measurements/2026-12-07/s53_zen4/degrees_probe.py``.
"""

import warnings

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


def error(params) -> list:
    out = []
    for i in range(2):
        pose = np.concatenate([params["global_orient"][i][None], params["body_pose"][i]])
        kp = forward(model, pose, params["betas"][i], params["transl"][i]).keypoints("body25")
        cam = jax.tree.map(lambda a, i=i: a[i], fr.cameras)
        d = np.linalg.norm(np.asarray(project(cam, kp)) - fr.keypoints[i], axis=-1)
        out.append(round(float(d[fr.visible[i]].mean()), 1))
    return out


for name, scale in (("radians", 1.0), ("degrees", 180 / np.pi)):
    start = {"global_orient": fr.init_pose[:, 0] * scale, "body_pose": fr.init_pose[:, 1:] * scale,
             "betas": fr.init_betas, "transl": fr.init_transl}  # fmt: skip
    angle = float(np.linalg.norm(fr.init_pose * scale, axis=-1).max())
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            r = refine(model, list(fr.image), start, fr.cameras, net)
        except ValueError as exc:
            print(f"{name} (largest angle {angle:.3g}): refused: {exc}")
            continue
    print(f"{name} (largest angle {angle:.3g}): start keypoint error {error(start)} px, refined: "
          f"status {np.asarray(r.status).tolist()}, keypoint error "
          f"{error({k: np.asarray(v) for k, v in r.params.items()})} px")  # fmt: skip
    for m in {str(x.message) for x in said}:
        print("  warning:", m)
