"""Why does `eval` show LGD's fit no faster than Adam's? `refine`'s fit time per frame, the
two optimizers called in turn, 3 rounds, on the eval's frames (session 16).
Usage: python refine_fit_time.py POSES.npz [N]"""

import sys

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)  # as the CLI runs

import numpy as np  # noqa: E402

from jaxrefine.data.poses import VALIDATION_SUBJECTS, load_poses  # noqa: E402
from jaxrefine.data.sampling import SceneConfig  # noqa: E402
from jaxrefine.data.scenes import GeneratorConfig  # noqa: E402
from jaxrefine.evaluate import _refine_timed, eval_frames  # noqa: E402
from jaxrefine.network import load_pretrained  # noqa: E402
from jaxrefine.objective import params_from_pose  # noqa: E402
from jaxrefine.refine import RefineOptions  # noqa: E402
from jaxrefine.smpl_io import load_body_model  # noqa: E402

n = int(sys.argv[2]) if len(sys.argv) > 2 else 128
poses = load_poses(sys.argv[1], subjects=VALIDATION_SUBJECTS).pose
model = load_body_model()
net = load_pretrained()[:2]
config = GeneratorConfig(scene=SceneConfig(image_size=(256, 256)), difficulty="medium")
batch, subjects = eval_frames(model, poses, n, 1, config, 8)
init = params_from_pose(batch.init_pose, batch.init_betas, batch.init_transl)
times = {"adam": [], "lgd": []}
for r in range(3):
    for opt in times:
        res = _refine_timed(model, batch, init, subjects, net, None, RefineOptions(optimizer=opt))
        times[opt].append(res.ms["fit"])
        print(f"round {r} {opt}: fit {res.ms['fit']:.2f} ms/frame", flush=True)
for opt, t in times.items():
    print(f"{opt}: median fit {np.median(t):.2f} ms per frame ({n} frames, batch 16)")
