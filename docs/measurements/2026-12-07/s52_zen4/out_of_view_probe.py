"""Session 52's probe: refine() on estimates in another convention or unit than jaxrefine's.

Two synthetic 128x128 frames of the open model, the shipped network, default RefineOptions;
the estimates' translations changed as a user's file might have them: OpenGL-style (z
negative), millimetres, or 20 m beside the image. Prints each case's status, visible
vertices and how far each parameter moved. Run from the repository root:
``.venv/bin/python docs/measurements/2026-12-07/s52_zen4/out_of_view_probe.py``.
"""

import warnings

import numpy as np

from jaxrefine.camera import Camera, focal_from_image_size
from jaxrefine.data.scenes import GeneratorConfig, SceneConfig, generate
from jaxrefine.network import load_pretrained
from jaxrefine.refine import refine
from jaxrefine.smpl_io import load_body_model

model = load_body_model()
poses = np.random.default_rng(0).normal(0, 0.2, (4, 24, 3)).astype(np.float32)
fr = generate(model, poses, 2, 0, GeneratorConfig(scene=SceneConfig(image_size=(128, 128)),
                                                   texture_size=32))  # fmt: skip
h, w = fr.image[0].shape[:2]
f = focal_from_image_size(h, w)
cams = Camera.from_intrinsics(np.tile([f, f, w / 2, h / 2], (2, 1)))
net = load_pretrained()[:2]
start = {"global_orient": fr.init_pose[:, 0], "body_pose": fr.init_pose[:, 1:],
         "betas": fr.init_betas, "transl": fr.init_transl}  # fmt: skip
CASES = {"as given": lambda t: t, "OpenGL (z negative)": lambda t: t * [1, -1, -1],
         "millimetres": lambda t: t * 1000, "20 m beside the image": lambda t: t + [20, 0, 0]}
for name, change in CASES.items():
    p = {k: np.array(v, np.float32) for k, v in start.items()}
    p["transl"] = change(p["transl"]).astype(np.float32)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        r = refine(model, list(fr.image), p, cams, net)
    moved = {k: float(np.abs(np.asarray(r.params[k]) - p[k]).max()) for k in p}
    print(f"{name}: status {np.asarray(r.status).tolist()}, visible "
          f"{np.asarray(r.visible).tolist()}, largest change "
          + ", ".join(f"{k} {v:.3g}" for k, v in moved.items()))  # fmt: skip
    for m in {str(x.message) for x in said if "bodies are" in str(x.message)}:
        print("  warning:", m)
