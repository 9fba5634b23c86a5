"""Session 32: calibrating jaxrefine.inputs.hybrik_files.HYBRIK_JOINT_TOL. HybrIK's posed
joints are compared with the body model's posed with the rotations as read (centred, ours
scaled to theirs). How far apart are a legitimate reading on another skeleton and a misread
one? Open body model, 200 random poses and shapes. Run: python <this file>."""
import numpy as np, jax
from scipy.spatial.transform import Rotation
from jaxrefine.smpl_io import load_body_model
from jaxrefine.body_model import posed_joints
m = load_body_model()
rng = np.random.default_rng(0)
def joints(pose, b):
    return np.asarray(jax.vmap(lambda p, x: posed_joints(m, p, x))(pose.astype(np.float32), b))
n = 200
pose = rng.normal(0, 0.25, (n, 24, 3)); pose[:, 0] = Rotation.random(n, random_state=1).as_rotvec()
b = rng.normal(0, 1.0, (n, m.num_betas)).astype(np.float32)
J = joints(pose, b)
q = Rotation.from_rotvec(pose.reshape(-1, 3)).as_quat()  # xyzw
wxyz = q[:, [3, 0, 1, 2]]
wrong = Rotation.from_quat(wxyz).as_rotvec().reshape(n, 24, 3)  # wxyz read as xyzw
Jw = joints(wrong, b)
def miss(a, t, scale=True):
    a = a - a.mean(1, keepdims=True); t = t - t.mean(1, keepdims=True)
    if scale:
        s = (a * t).sum((1, 2)) / (a * a).sum((1, 2)); a = a * s[:, None, None]
    return np.linalg.norm(a - t, axis=-1).mean(1)
# a stand-in for SMPL's skeleton: the pelvis 9 cm higher (root-relative), 6 % taller, other betas
Js = joints(pose, (b + rng.normal(0, 1, b.shape)).astype(np.float32))
print("wrong order: min/median", np.min(miss(Jw, J)).round(3), np.median(miss(Jw, J)).round(3))
print("other betas (shape space stand-in): max", np.max(miss(Js, J)).round(3))
Jp = J.copy(); Jp[:, 0, 1] -= 0.09
print("pelvis 9 cm: max", np.max(miss(Jp, J)).round(3))
# root-relative raw
print("root-rel other betas max", np.max(np.linalg.norm((Js - Js[:, :1]) - (J - J[:, :1]), axis=-1).mean(1)).round(3))
