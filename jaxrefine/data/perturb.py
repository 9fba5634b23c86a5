"""Initial estimates like a regressor's: structured perturbations of the ground truth.

A regressor's errors are not white noise on 72 numbers: small per-joint rotation errors
accumulate along the kinematic chain (a few degrees at the hip move the foot by centimetres),
the global orientation is off by a few degrees, the shape is biased and the depth / scale of the
weak-perspective camera is uncertain while the 2D position of the body is roughly right. The
perturbation here does exactly that, at named difficulty levels:

| level  | joint rot. deg | global rot. deg | betas std | depth err. | xy shift m |
|--------|----------------|-----------------|-----------|------------|------------|
| easy   | 6              | 4               | 0.4       | 4 %        | 0.015      |
| medium | 8              | 6               | 0.6       | 6 %        | 0.02       |
| hard   | 14             | 10              | 1.0       | 10 %       | 0.04       |

(rotation and shift values are standard deviations; joint noise is per axis, per joint)

Depth errors keep the pelvis on its viewing ray (the 2D position stays, as a regressor's
weak-perspective camera would), so the error shows in 3D and in scale. The initial errors
each level gives on CMU poses are measured by :func:`measure_levels` (256 frames, seed 0,
open model; the table is in the README): easy is about a PARE-like regressor's error on 3DPW
(MPJPE ~75 mm), medium about ProHMR's (~100 mm), hard well beyond.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation


@dataclasses.dataclass(frozen=True)
class Difficulty:
    joint_deg: float
    global_deg: float
    beta_std: float
    depth_rel: float
    shift_m: float


LEVELS = {
    "easy": Difficulty(6.0, 4.0, 0.4, 0.04, 0.015),
    "medium": Difficulty(8.0, 6.0, 0.6, 0.06, 0.02),
    "hard": Difficulty(14.0, 10.0, 1.0, 0.10, 0.04),
}


def get_level(name: str) -> Difficulty:
    if name not in LEVELS:
        raise KeyError(f"unknown difficulty {name!r}; choose from {sorted(LEVELS)}")
    return LEVELS[name]


def perturb(
    pose: np.ndarray,
    betas: np.ndarray,
    transl: np.ndarray,
    pelvis: np.ndarray,
    level: str | Difficulty,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Perturb N ground-truth frames.

    Args:
      pose: (N, 24, 3); betas: (N, NB); transl: (N, 3).
      pelvis: (N, 3) ground-truth pelvis positions in the camera frame (for the depth error
        along the viewing ray).
      level: a level name or a :class:`Difficulty`.
      seed: random seed (deterministic).

    Returns:
      (pose, betas, transl) of the initial estimates, same shapes, float32.
    """
    d = get_level(level) if isinstance(level, str) else level
    rng = np.random.default_rng(seed)
    n = len(pose)
    out = np.array(pose, np.float64)
    noise = Rotation.from_rotvec(rng.normal(0, np.deg2rad(d.joint_deg), (n * 23, 3)))
    body = Rotation.from_rotvec(out[:, 1:].reshape(-1, 3))
    out[:, 1:] = (body * noise).as_rotvec().reshape(n, 23, 3)
    g = Rotation.from_rotvec(rng.normal(0, np.deg2rad(d.global_deg) / np.sqrt(3), (n, 3)))
    out[:, 0] = (g * Rotation.from_rotvec(out[:, 0])).as_rotvec()
    b = np.asarray(betas, np.float64) + rng.normal(0, d.beta_std, betas.shape)
    scale = 1.0 + rng.normal(0, d.depth_rel, (n, 1))
    shift = rng.normal(0, d.shift_m, (n, 3)) * np.array([1.0, 1.0, 0.0])
    new_pelvis = pelvis * scale + shift  # along the viewing ray, plus a small lateral shift
    t = np.asarray(transl, np.float64) + (new_pelvis - pelvis)
    return out.astype(np.float32), b.astype(np.float32), t.astype(np.float32)


def measure_levels(model, poses: np.ndarray, n: int = 256, seed: int = 0) -> dict:
    """Initial-estimate errors of every level (mean over ``n`` sampled frames, mm).

    Returns ``{level: {"mpjpe": ..., "pa_mpjpe": ..., "pve": ..., "pa_pve": ...}}``.
    """
    import jax

    from jaxrefine.body_model import forward
    from jaxrefine.data.sampling import sample_scenes
    from jaxrefine.metrics import compute_all

    sc = sample_scenes(model, poses, n, seed)
    pose_fn = jax.jit(jax.vmap(lambda p, b, t: forward(model, p, b, t)))
    gt = pose_fn(sc.pose, sc.betas, sc.transl)
    out = {}
    for name in LEVELS:
        ip, ib, it = perturb(
            sc.pose, sc.betas, sc.transl, np.asarray(gt.joints[:, 0]), name, seed + 1
        )
        init = pose_fn(ip, ib, it)
        m = jax.vmap(compute_all)(init.joints, gt.joints, init.vertices, gt.vertices)
        out[name] = {k: float(np.mean(m[k])) for k in ("mpjpe", "pa_mpjpe", "pve", "pa_pve")}
    return out
