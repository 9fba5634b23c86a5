"""Measure the keypoint initializer (body25 / coco17, no world points) on synthetic bodies."""

import sys

import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

import jaxrefine
from jaxrefine import metrics
from jaxrefine.body_model import forward
from jaxrefine.camera import Camera, project
from jaxrefine.detect import initialize as ini
from jaxrefine.objective import load_gmm_prior

H, W = 480, 640
model = jaxrefine.load_body_model()
gmm = load_gmm_prior()
FX = 900.0


def joints(p):
    pose = jnp.concatenate([jnp.asarray(p["global_orient"])[None], jnp.asarray(p["body_pose"])], 0)
    return forward(model, pose, jnp.asarray(p["betas"]), jnp.asarray(p["transl"])).joints


for set_name in sys.argv[1:] or ["body25"]:
    rows = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        yaw = rng.uniform(-np.pi, np.pi)
        body_pose = np.asarray(gmm.means[seed % gmm.means.shape[0]]).reshape(23, 3)
        rot = ini.FACING_CAMERA @ ini._rot_y(yaw)
        truth = {
            "global_orient": jnp.asarray(Rotation.from_matrix(rot).as_rotvec(), jnp.float32),
            "body_pose": jnp.asarray(body_pose, jnp.float32),
            "betas": jnp.asarray(rng.normal(0, 0.5, model.num_betas), jnp.float32),
            "transl": jnp.asarray([0.2, 0.1, 6.0], jnp.float32),
        }
        kp = np.asarray(ini.LandmarkObjective(model, gmm, {}, set_name).keypoints(truth))
        cam = Camera.create(FX, cx=W / 2, cy=H / 2)
        px = np.asarray(project(cam, jnp.asarray(kp))) + rng.normal(0, 2.0, (len(kp), 2))
        lm = np.concatenate([px, rng.uniform(0.3, 0.9, (len(kp), 1))], 1)
        for intr in [(FX, FX, W / 2, H / 2), None]:
            est = ini.initialize(model, lm, (H, W), gmm=gmm, set_name=set_name, intrinsics=intr)
            jt, je = joints(truth), joints(est.params)
            rows.append(
                (
                    seed,
                    yaw,
                    intr is not None,
                    float(metrics.mpjpe(je, jt)),
                    float(metrics.pa_mpjpe(je, jt)),
                    abs(float(est.params["transl"][2]) - 6.0),
                )
            )
            print(
                set_name, *[f"{v:.3f}" if isinstance(v, float) else v for v in rows[-1]], flush=True
            )
    r = np.array([x[3:] for x in rows])
    w = np.array([x[2] for x in rows])
    for flag in (True, False):
        m = r[w == flag]
        print(
            set_name,
            "intrinsics" if flag else "approx",
            f"MPJPE mean/max {m[:, 0].mean():.0f}/{m[:, 0].max():.0f} "
            f"PA {m[:, 1].mean():.0f}/{m[:, 1].max():.0f} "
            f"depth err mean/max {m[:, 2].mean():.2f}/{m[:, 2].max():.2f}",
        )
