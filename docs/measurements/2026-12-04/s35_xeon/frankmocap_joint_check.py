"""Calibrating the check of FrankMocap files against their drawing of the joints
(``jaxrefine/inputs/frankmocap_files.py``, ``FRANKMOCAP_JOINT_TOL``): the mean distance as a
share of the joints' 2D extent, for legitimate differences (another shape; the skeleton moved
3 cm per joint and the pelvis 9 cm, as another body model's would be) and for misreadings,
over 200 random upright poses with the open body model.

Run: .venv/bin/python docs/measurements/2026-12-04/s35_xeon/frankmocap_joint_check.py
"""

import numpy as np
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import posed_joints
from jaxrefine.inputs.frankmocap_files import OPENPOSE_FROM_SMPL, draw_joints
from jaxrefine.smpl_io import load_body_model

SIZE = (480, 640)


def miss(ours, theirs):
    extent = np.linalg.norm(np.ptp(theirs, axis=0))
    return np.linalg.norm(ours - theirs, axis=1).mean() / extent


def joints(model, pose, betas):
    j = posed_joints(model, pose.astype(np.float32), betas.astype(np.float32))
    return np.asarray(j, np.float64)[list(OPENPOSE_FROM_SMPL)]


def main():
    model, rng = load_body_model(), np.random.default_rng(0)
    res = {k: [] for k in ("other shape", "joints moved 3 cm, pelvis 9 cm", "image 720x1280",
                           "image 480x600", "SPIN's order s*(X+t)", "mirrored pose")}  # fmt: skip
    for _ in range(200):
        pose = rng.normal(0, 0.2, (24, 3))
        pose[0] = Rotation.from_euler("x", np.pi + rng.normal(0, 0.1)).as_rotvec()
        betas = rng.normal(0, 0.5, 10)
        J = joints(model, pose, betas)
        cam = np.array([rng.uniform(0.8, 1), *rng.uniform(-0.3, 0.3, 2)])
        box = np.array([*rng.uniform(50, 300, 2), 224 / rng.uniform(250, 450)])
        theirs = draw_joints(J, cam, box, SIZE)
        other = joints(model, pose, rng.normal(0, 0.5, 10))
        res["other shape"].append(miss(draw_joints(other, cam, box, SIZE), theirs))
        moved = J + rng.normal(0, 0.03, J.shape)
        moved[7] += [0, 0.09, 0]  # the pelvis (OpenPose's mid hip)
        res["joints moved 3 cm, pelvis 9 cm"].append(
            miss(draw_joints(moved, cam, box, SIZE), theirs)
        )
        for h, w in ((720, 1280), (480, 600)):
            res[f"image {h}x{w}"].append(miss(draw_joints(J, cam, box, (h, w)), theirs))
        spin = np.array([cam[0], *(cam[1:] / cam[0])])
        res["SPIN's order s*(X+t)"].append(miss(draw_joints(J, spin, box, SIZE), theirs))
        mirrored = pose * [1, -1, -1]
        res["mirrored pose"].append(miss(draw_joints(joints(model, mirrored, betas), cam, box,
                                                     SIZE), theirs))  # fmt: skip
    for name, v in res.items():
        v = np.array(v)
        print(f"{name:32s} min {v.min():.3f} median {np.median(v):.3f} max {v.max():.3f}")


if __name__ == "__main__":
    main()
