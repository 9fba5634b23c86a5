"""Session 53's probe: refine() given cameras whose focal is not in pixels: normalised by the
image width (f / W), and in millimetres of a 50 mm lens on a 36 mm wide sensor read as pixels
for 1920x1080 frames (here scaled: the synthetic frames are 128 px, so '50' stands for
50 * 128 / 1920 px, the same field of view).

Two synthetic 128x128 frames of the open model, the shipped network, default options. Prints
each case's status, the warnings, and how far the parameters moved. Run from the repository
root: ``.venv/bin/python docs/measurements/2026-12-07/s53_zen4/focal_probe.py``.
"""

import warnings

import numpy as np

from jaxrefine.camera import Camera
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
f = float(np.asarray(fr.cameras.fx)[0])
print(f"the frames' focal: {f:.1f} px")
for name, focal in (("pixels", f), ("normalised by the width", f / 128),
                    ("50 mm read as pixels (scaled)", 50 * 128 / 1920)):  # fmt: skip
    cams = Camera.from_intrinsics(np.tile([focal, focal, 64.0, 64.0], (2, 1)))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        r = refine(model, list(fr.image), start, cams, net)
    moved = {k: float(np.abs(np.asarray(r.params[k]) - np.asarray(v)).max())
             for k, v in start.items()}  # fmt: skip
    print(f"{name} (focal {focal:.3g}): status {np.asarray(r.status).tolist()}, visible "
          f"{np.asarray(r.visible).tolist()}, largest change "
          + ", ".join(f"{k} {v:.3g}" for k, v in moved.items()))  # fmt: skip
    for m in {str(x.message) for x in said}:
        print("  warning:", m)
