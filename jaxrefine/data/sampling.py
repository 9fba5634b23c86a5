"""Seeded sampling of synthetic frames' parameters: shape, mocap pose, placement, camera.

Everything is expressed in the camera frame (OpenCV: x right, y down, z forward; camera
R = I, t = 0, principal point at the image centre), which is also SPIN's fitting convention.
A body in SMPL's rest frame (y up, facing +z) is turned to face the camera by a 180-degree
rotation about x, then rotated about the vertical by a random yaw and tilted a little.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import BodyModel
from jaxrefine.camera import focal_from_image_size

_FLIP = Rotation.from_euler("x", 180, degrees=True)  # SMPL y-up/+z-facing -> camera frame


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """Ranges of the sampler (all uniform unless stated).

    Attributes:
      image_size: (height, width) in pixels.
      focal_scale: focal = U(focal_scale) * sqrt(w^2 + h^2).
      person_height_frac: the body's vertical extent (standing height, 1.7 m) as a fraction
        of the image height; sets the distance.
      offset_frac: horizontal / vertical offset of the pelvis from the image centre, as a
        fraction of the image size (large values push the body partly out of frame).
      yaw_deg / tilt_deg: rotation about the vertical; tilt about the two horizontal axes.
      beta_std / beta_clip: betas ~ N(0, beta_std) clipped to +-beta_clip.
    """

    image_size: tuple[int, int] = (256, 256)
    focal_scale: tuple[float, float] = (0.8, 1.25)
    person_height_frac: tuple[float, float] = (0.55, 0.85)
    offset_frac: tuple[float, float] = (-0.08, 0.08)
    yaw_deg: tuple[float, float] = (-180.0, 180.0)
    tilt_deg: float = 8.0
    beta_std: float = 1.0
    beta_clip: float = 2.5


@dataclasses.dataclass
class SceneParams:
    """Parameters of N frames (numpy, camera frame).

    Attributes:
      pose: (N, 24, 3) axis-angle, global orientation first.
      betas: (N, NB).
      transl: (N, 3) body translation (the pelvis ends at rest_pelvis(betas) + transl).
      focal: (N,) focal length in pixels; principal point = image centre.
      image_size: (height, width).
      pose_index: (N,) index of the mocap frame used.
    """

    pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    focal: np.ndarray
    image_size: tuple[int, int]
    pose_index: np.ndarray


def sample_scenes(
    model: BodyModel,
    poses: np.ndarray,
    n: int,
    seed: int,
    config: SceneConfig = SceneConfig(),
) -> SceneParams:
    """Sample ``n`` frames deterministically from ``seed``.

    Args:
      model: body model (its shape space and rest joints set the placement).
      poses: (M, 24, 3) mocap poses in SMPL layout (global orientation in SMPL's frame).
      n: number of frames; seed: random seed.
    """
    from jaxrefine.body_model import rest_joints

    rng = np.random.default_rng(seed)
    H, W = config.image_size
    idx = rng.integers(0, len(poses), n)
    pose = np.array(poses[idx], np.float64)
    nb = model.num_betas
    betas = np.clip(rng.normal(0, config.beta_std, (n, nb)), -config.beta_clip, config.beta_clip)
    yaw = Rotation.from_euler("y", rng.uniform(*config.yaw_deg, n)[:, None], degrees=True)
    tilt = Rotation.from_euler(
        "xz", rng.uniform(-config.tilt_deg, config.tilt_deg, (n, 2)), degrees=True
    )
    root = Rotation.from_rotvec(pose[:, 0])
    # remove the mocap heading: keep only the root's deviation from upright facing, then yaw
    heading = _heading(root)
    pose[:, 0] = (_FLIP * tilt * yaw * heading.inv() * root).as_rotvec()
    focal = rng.uniform(*config.focal_scale, n) * focal_from_image_size(H, W)
    frac = rng.uniform(*config.person_height_frac, n)
    depth = focal * 1.7 / (frac * H)
    off = rng.uniform(*config.offset_frac, (n, 2)) * np.array([W, H])
    pelvis_cam = np.stack([off[:, 0] * depth / focal, off[:, 1] * depth / focal, depth], 1)
    J0 = np.stack(
        [np.asarray(rest_joints(model, betas[i].astype(np.float32))[0]) for i in range(n)]
    )
    transl = pelvis_cam - J0
    return SceneParams(
        pose=pose.astype(np.float32),
        betas=betas.astype(np.float32),
        transl=transl.astype(np.float32),
        focal=focal.astype(np.float32),
        image_size=(H, W),
        pose_index=idx,
    )


def _heading(rot: Rotation) -> Rotation:
    """The rotation about the vertical (y) axis closest to ``rot`` (its heading)."""
    fwd = rot.apply(np.array([0.0, 0.0, 1.0]))
    ang = np.arctan2(fwd[..., 0], fwd[..., 2])
    return Rotation.from_euler("y", np.reshape(ang, (-1, 1)))


def cameras_for(scenes: SceneParams):
    """Batched :class:`~jaxrefine.camera.Camera` (R = I, t = 0, centre principal point)."""
    import jax.numpy as jnp

    from jaxrefine.camera import Camera

    n = len(scenes.focal)
    H, W = scenes.image_size
    f = jnp.asarray(scenes.focal)
    return Camera(
        fx=f,
        fy=f,
        cx=jnp.full((n,), W / 2.0, jnp.float32),
        cy=jnp.full((n,), H / 2.0, jnp.float32),
        R=jnp.tile(jnp.eye(3, dtype=jnp.float32), (n, 1, 1)),
        t=jnp.zeros((n, 3), jnp.float32),
    )
