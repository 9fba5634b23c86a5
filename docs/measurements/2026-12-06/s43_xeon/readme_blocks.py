"""The figures the session-43 note quotes for the README's "Using it" blocks: run as printed
(tests/test_readme.py's steps) on that test's synthetic frame: the open body model, one 128 px
frame generated with seed 0, the shipped network. Run from the repository root:
    python docs/measurements/2026-12-06/s43_xeon/readme_blocks.py
"""

import sys

import numpy as np

sys.path.insert(0, "tests")
import test_readme as tr  # noqa: E402
from jaxrefine.data.scenes import GeneratorConfig, SceneConfig, generate  # noqa: E402
from jaxrefine.smpl_io import load_body_model  # noqa: E402

model = load_body_model()
poses = np.random.default_rng(0).normal(0, 0.2, (4, 24, 3)).astype(np.float32)
frame = generate(model, poses, 1, 0, GeneratorConfig(scene=SceneConfig(image_size=(128, 128)),
                                                     texture_size=32))
body, learned, sparse = tr._blocks()
ns = {}
exec(body, ns)
ns["images"] = list(frame.image)
ns["params"] = {"global_orient": frame.init_pose[:, 0], "body_pose": frame.init_pose[:, 1:],
                "betas": frame.init_betas, "transl": frame.init_transl}
exec(learned, ns)
r = ns["result"]
print(f"refine: body-stage loss {float(r.init_loss[0]):.0f} -> {float(r.final_loss[0]):.0f}, "
      f"status {int(r.status[0])}, visible vertices {int(r.visible[0])}")
kp = np.concatenate([frame.keypoints, frame.visible[..., None].astype(np.float32)], -1)
ns.update(keypoints=kp, pose=frame.init_pose, betas=frame.init_betas, transl=frame.init_transl)
start = tr._keypoint_error(ns["model"], ns["params"], ns["cameras"], kp)
exec(sparse, ns)
end = tr._keypoint_error(ns["model"], ns["result"].params, ns["cameras"], kp)
print(f"SMPLify on the frame's keypoints: mean keypoint error {start:.1f} -> {end:.1f} px, "
      f"status {int(ns['result'].status[0])}")
