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

    def __post_init__(self):
        if min(self.image_size) < 1:  # checked before any frame is made, not by the rasterizer
            height, width = self.image_size
            raise ValueError(f"image size must be positive, got {height}x{width}")


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
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(poses), n)
    draws = _draw_placements(rng, n, model.num_betas, config)
    pose = np.array(poses[idx], np.float64)
    return _place(model, pose, _heading(Rotation.from_rotvec(pose[:, 0])), idx, draws, config)


def sample_sequences(
    model: BodyModel,
    poses: np.ndarray,
    trials: np.ndarray,
    num_tracks: int,
    length: int,
    seed: int,
    config: SceneConfig = SceneConfig(),
) -> SceneParams:
    """``num_tracks`` video tracks of ``length`` consecutive mocap frames each (one trial
    per track), deterministically from ``seed``: frames of a track share the shape, camera,
    placement, yaw and tilt, and keep the mocap's turning relative to the track's first frame
    (the body stays at its placement: pose files carry no root trajectory).

    Args:
      poses: (M, 24, 3) mocap poses, rows of a trial in time order.
      trials: (M,) trial name of each row.

    Returns:
      :class:`SceneParams` of ``num_tracks * length`` frames, track after track.

    Raises:
      ValueError: no trial has ``length`` rows.
    """
    trials = np.asarray(trials)
    starts = np.flatnonzero(
        [i + length <= len(trials) and trials[i] == trials[i + length - 1]
         for i in range(len(trials))]
    )  # fmt: skip
    if len(starts) == 0:
        raise ValueError(f"no trial of the pose file has {length} frames")
    rng = np.random.default_rng(seed)
    first = rng.choice(starts, num_tracks)
    idx = (first[:, None] + np.arange(length)).reshape(-1)
    draws = _draw_placements(rng, num_tracks, model.num_betas, config)
    draws = {k: np.repeat(v, length, axis=0) for k, v in draws.items()}
    pose = np.array(poses[idx], np.float64)
    heading = _heading(Rotation.from_rotvec(pose[::length, 0]))
    heading = Rotation.concatenate([heading[i] for i in np.repeat(np.arange(num_tracks), length)])
    return _place(model, pose, heading, idx, draws, config)


def with_one_shape(model: BodyModel, scenes: SceneParams) -> SceneParams:
    """The same frames played by one person: every frame gets the first frame's betas, and its
    translation moves so that its pelvis stays where it was placed (the framing is kept).

    A real subject keeps one shape across a video; :func:`sample_scenes` draws a shape per
    frame. Evaluating one-shape-per-person options (``RefineOptions.share_betas``) needs this.
    """
    betas = np.repeat(scenes.betas[:1], len(scenes.betas), axis=0)
    shift = _rest_pelvis(model, scenes.betas) - _rest_pelvis(model, scenes.betas[:1])
    transl = (scenes.transl + shift).astype(np.float32)
    return dataclasses.replace(scenes, betas=betas, transl=transl)


def _rest_pelvis(model: BodyModel, betas: np.ndarray) -> np.ndarray:
    """(N, 3) rest-pose pelvis of each shape in ``betas`` (N, NB)."""
    from jaxrefine.body_model import rest_joints

    return np.stack([np.asarray(rest_joints(model, b.astype(np.float32))[0]) for b in betas])


def _draw_placements(rng: np.random.Generator, n: int, num_betas: int, config: SceneConfig):
    """Shape, yaw, tilt, focal scale, height fraction and offset of n frames (in this order
    of draws: reproducible streams depend on it)."""
    return {
        "betas": np.clip(rng.normal(0, config.beta_std, (n, num_betas)), -config.beta_clip,
                         config.beta_clip),
        "yaw": rng.uniform(*config.yaw_deg, n),
        "tilt": rng.uniform(-config.tilt_deg, config.tilt_deg, (n, 2)),
        "focal": rng.uniform(*config.focal_scale, n),
        "frac": rng.uniform(*config.person_height_frac, n),
        "off": rng.uniform(*config.offset_frac, (n, 2)),
    }  # fmt: skip


def _place(model, pose, heading, idx, draws, config) -> SceneParams:
    """Turn the mocap poses to face the camera (heading removed, then yaw and tilt) and place
    the bodies in front of it."""
    H, W = config.image_size
    betas = draws["betas"]
    yaw = Rotation.from_euler("y", draws["yaw"][:, None], degrees=True)
    tilt = Rotation.from_euler("xz", draws["tilt"], degrees=True)
    root = Rotation.from_rotvec(pose[:, 0])
    pose[:, 0] = (_FLIP * tilt * yaw * heading.inv() * root).as_rotvec()
    focal = draws["focal"] * focal_from_image_size(H, W)
    depth = focal * 1.7 / (draws["frac"] * H)
    off = draws["off"] * np.array([W, H])
    pelvis_cam = np.stack([off[:, 0] * depth / focal, off[:, 1] * depth / focal, depth], 1)
    transl = pelvis_cam - _rest_pelvis(model, betas)
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
