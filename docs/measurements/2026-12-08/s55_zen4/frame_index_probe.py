"""refine()'s Python API with temporal_weight and a frame_index the smoothing misreads: one
of another length, one subject twice in a frame (two people under one id), times in seconds
instead of frame numbers. Six synthetic 64x64 frames of the open model, one subject, the
shipped network; then how far the smoothing moved the body poses from the per-frame fits."""

import dataclasses

import numpy as np

from jaxrefine import network
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.fit import status_name
from jaxrefine.refine import RefineOptions, refine
from jaxrefine.smpl_io import load_body_model

model = load_body_model()
rng = np.random.default_rng(0)
poses = rng.normal(0, 0.2, (16, 24, 3)).astype(np.float32)
cfg = GeneratorConfig(scene=SceneConfig(image_size=(64, 64)), texture_size=32)
fr = generate(model, poses, 6, 0, cfg)
init = {"global_orient": fr.init_pose[:, 0], "body_pose": fr.init_pose[:, 1:],
        "betas": fr.init_betas, "transl": fr.init_transl}  # fmt: skip
net = network.load_pretrained()[:2]
opts = RefineOptions(batch_size=6, camera_steps=3, body_steps=6, texture_size=32,
                     temporal_weight=1.0)  # fmt: skip
for name, fi in [("frame_index of 4 for 6 images", np.arange(4)),
                 ("frame_index 0 1 2 2 3 4 (one id, two people in frame 2)",
                  np.array([0, 1, 2, 2, 3, 4])),
                 ("frame_index in seconds at 30 fps", np.arange(6) / 30)]:  # fmt: skip
    try:
        r = refine(model, list(fr.image), init, fr.cameras, net, subjects=np.zeros(6, int),
                   frame_index=fi, options=opts)  # fmt: skip
        print(f"{name}: status {[status_name(int(s)) for s in r.status]}")
    except ValueError as e:
        print(f"{name}: ValueError: {e}")

# what the smoothing did: each run's body poses against the per-frame fits (no smoothing)
plain = refine(model, list(fr.image), init, fr.cameras, net, subjects=np.zeros(6, int),
               options=dataclasses.replace(opts, temporal_weight=0.0))  # fmt: skip
for name, fi in [("frame numbers 0-5", np.arange(6)), ("seconds at 30 fps", np.arange(6) / 30)]:
    try:
        r = refine(model, list(fr.image), init, fr.cameras, net, subjects=np.zeros(6, int),
                   frame_index=fi, options=opts)  # fmt: skip
        moved = float(np.abs(r.params["body_pose"] - plain.params["body_pose"]).max())
        print(f"{name}: body pose moved by the smoothing up to {moved:.4f} rad")
    except ValueError as e:
        print(f"{name}: ValueError: {str(e)[:60]}...")
