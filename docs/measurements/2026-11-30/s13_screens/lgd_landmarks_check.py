"""Why eval-real's sparse_landmarks row with --optimizer lgd equals `initial`: the landmark fit
on the COCO photo with Adam and with LGD, printing each stage's loss curve and the status.
usage: python lgd_landmarks_check.py PHOTO"""
import sys

import jax.numpy as jnp
import numpy as np

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)
from jaxrefine.detect import BlazePose, read_image  # noqa: E402
from jaxrefine.objective import FitData, get_preset, load_gmm_prior  # noqa: E402
from jaxrefine.photo import estimate_params, estimates_from_photo, landmark_keypoints  # noqa: E402
from jaxrefine.refine import pose_batch, with_start  # noqa: E402
from jaxrefine.smpl_io import load_body_model  # noqa: E402
from jaxrefine.smplify import smplify  # noqa: E402

model = load_body_model()
img = np.asarray(read_image(sys.argv[1]), np.float32) / 255.0
pe = estimates_from_photo(model, img, runner=BlazePose())
init = estimate_params(pe.estimates)
kp = landmark_keypoints(pe.landmarks)
p = {k: jnp.asarray(v, jnp.float32) for k, v in init.items()}
preset = get_preset("dense")
pose = jnp.concatenate([p["global_orient"][:, None], p["body_pose"]], 1)
verts = pose_batch(model, pose, p["betas"], p["transl"]).vertices
n = len(kp)
data = FitData(camera=pe.cameras, init_transl=p["transl"], pixel_scale=jnp.ones(n),
               keypoints=jnp.asarray(kp[..., :2]), keypoint_conf=jnp.asarray(kp[..., 2]))
data = with_start(data, p["transl"], verts, preset)
for opt in ("adam", "lgd"):
    res = smplify(model, p, data, preset=preset, data_kind="keypoints", keypoint_set="body25",
                  gmm=load_gmm_prior(), optimizer=opt)
    for name, st in (("camera", res.camera_stage), ("body", res.body_stage)):
        c = np.asarray(st.loss_curve)[0]
        print(f"{opt} {name}: loss {c[0]:.4g} -> min {c.min():.4g} (iterate {int(c.argmin())}) "
              f"last {c[-1]:.4g}")
    moved = max(float(jnp.abs(res.params[k] - p[k]).max()) for k in p)
    print(f"{opt}: status {np.asarray(res.status)}, largest parameter change {moved:.3g}, "
          f"never-worse check on the last stage's objective: start {float(res.init_loss[0]):.4g},"
          f" end {float(res.final_loss[0]):.4g}")
