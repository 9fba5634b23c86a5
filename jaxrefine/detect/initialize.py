"""An initial body estimate from 2D landmarks or keypoints, without a regressor.

Given MediaPipe's 33 landmarks of one person in a photo (pixels, with visibilities) and,
optionally, its 33 metric world landmarks (hip-centred, photo axes: x right, y down, z away),
or a user's OpenPose BODY_25 / COCO-17 keypoints (pixels, confidences; no world points),
the body model is fitted in two Adam stages (one compiled program; Levenberg-Marquardt
converged in fewer steps but took minutes to compile on CPU), once per global-orientation
hypothesis (a batch, vmapped), and the hypothesis with the lowest final
objective is kept:

1. **3D stage** (pose and shape; the translation has no effect here): the model's landmarks,
   centred on the midpoint of its hip joints, match the world landmarks centred the same way
   (residual ``w_world * c_k (X_k - W_k)``, metres), with the GMM pose prior, the elbow/knee
   angle prior and the shape prior of SMPLify. Without world landmarks this stage is skipped.
2. **Translation** in closed form: with the pose fixed, ``u = f (X + t_x) / (Z + t_z) + c_x``
   (and the same for v) is linear in ``t`` once multiplied out; weighted least squares over
   the visible landmarks.
3. **2D stage** (all parameters): the same 3D term with a smaller weight plus the
   reprojection error of the landmarks under the full-image camera, with SMPLify's
   Geman-McClure robustifier (sigma 100 px) on residuals rescaled so a person
   ``REFERENCE_PERSON_SIZE`` px tall weighs like SMPLify's 224-px crop.

Only landmarks with a true counterpart on the model are used (MediaPipe's eye corners, mouth
and finger points are left out, :data:`jaxrefine.keypoints.MEDIAPIPE33_APPROXIMATE`; of
BODY_25 the neck and hips SMPLify leaves out, :data:`jaxrefine.keypoints.
BODY25_IGNORED_BY_SMPLIFY`), weighted by their visibility or confidence (MediaPipe's below
``min_visibility`` count 0; a keypoint file's confidences are not on that scale, so there every
positive confidence counts). The camera is the caller's intrinsics, else the paper's focal
approximation ``f = sqrt(W^2 + H^2)`` with the principal point at the image centre; R = I (the
body carries the translation).

Hypotheses: with world landmarks, the rotation that best aligns the model's rest-pose torso
(shoulders, hips) to the world torso (Kabsch), the same turned half way round about the body's
vertical axis, and the model facing the camera / facing away; without them, facing the camera
turned by 0, 90, 180 and 270 degrees about the vertical.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import BodyModel, skin_vertices
from jaxrefine.camera import Camera, focal_from_image_size, project
from jaxrefine.fit import Stage, fit_stages_batch
from jaxrefine.keypoints import (
    BODY25_IGNORED_BY_SMPLIFY,
    MEDIAPIPE33_APPROXIMATE,
    MIN_LANDMARK_VISIBILITY,
    canonical_set_name,
    get_set,
    joint_names,
    keypoint_sets_for,
)
from jaxrefine.objective import (
    ANGLE_PRIOR_INDICES,
    ANGLE_PRIOR_SIGNS,
    REFERENCE_PERSON_SIZE,
    load_gmm_prior,
    person_size_px,
)
from jaxrefine.optimizers import adam
from jaxrefine.optimizers.base import AbstractObjective, geman_mcclure_residual
from jaxrefine.priors import GMMPrior

HIPS = (23, 24)  # MediaPipe's left / right hip
TORSO = (11, 12, 23, 24)  # shoulders and hips: the orientation hypotheses align these
# Per keypoint set: the left / right hip (the world term centres on their midpoint) and the
# points a fit leaves out (no true counterpart on the model, or labelled differently).
SET_HIPS = {"mediapipe33": HIPS, "body25": (12, 9), "coco17": (11, 12)}
SET_LEFT_OUT = {
    "mediapipe33": MEDIAPIPE33_APPROXIMATE,
    "body25": BODY25_IGNORED_BY_SMPLIFY,
    "coco17": (),
}


class TooFewLandmarksError(ValueError):
    """Fewer than 4 of a person's points can be fitted (see :func:`fit_weights`)."""


@dataclasses.dataclass(frozen=True)
class InitConfig:
    """Weights and step counts of the initializer (see the module docstring).

    Attributes:
      world_3d / world_2d: weight of the world-landmark term (per metre) in stage 1 / 3.
      keypoint: weight of the reprojection term; sigma: its Geman-McClure scale (px).
      pose_prior / angle_prior / shape_prior: SMPLify's prior weights.
      steps: Adam steps of stage 1 and of stage 3 (one compiled program serves both).
      learning_rate: Adam's step size.
      min_visibility: landmarks below this visibility are not fitted.
    """

    world_3d: float = 100.0
    world_2d: float = 30.0
    keypoint: float = 1.0
    sigma: float = 100.0
    pose_prior: float = 4.78
    angle_prior: float = 15.2
    shape_prior: float = 5.0
    steps: int = 300
    learning_rate: float = 0.02
    min_visibility: float = MIN_LANDMARK_VISIBILITY


@dataclasses.dataclass(frozen=True)
class InitialEstimate:
    """The kept hypothesis.

    Attributes:
      params: dict global_orient (3,), body_pose (23, 3), betas (NB,), transl (3,).
      camera: the full-image :class:`~jaxrefine.camera.Camera`.
      loss: () final objective of the kept hypothesis.
      losses: (N,) final objective of every hypothesis.
      hypothesis: index of the kept one.
    """

    params: dict
    camera: Camera
    loss: float
    losses: np.ndarray
    hypothesis: int


@struct.dataclass
class LandmarkObjective(AbstractObjective):
    """Residuals of one person's landmark fit (one sample; see the module docstring).

    ``data``: dict camera (Camera), points2d (K, 2) px, conf2d (K,), world (K, 3) m,
    conf3d (K,), pixel_scale (); K points of the keypoint set ``set_name`` (MediaPipe-33 by
    default, or BODY_25 / COCO-17).
    """

    model: BodyModel
    gmm: GMMPrior
    w: dict
    set_name: str = struct.field(pytree_node=False, default="mediapipe33")
    has_residuals = True

    def keypoints(self, params) -> jnp.ndarray:
        """(K, 3) model points of the keypoint set (with translation)."""
        ks = get_set(keypoint_sets_for(self.model), self.set_name)
        vids = ks.vertex_ids_flat
        pose = jnp.concatenate([params["global_orient"][None], params["body_pose"]], 0)
        J, v = skin_vertices(self.model, pose, params["betas"], vids, params["transl"])
        col = {vid: i for i, vid in enumerate(vids)}
        rows = [
            J[j]
            if j >= 0
            else jnp.asarray(ks.vertex_weights[k], J.dtype)
            @ v[np.asarray([col[i] for i in ks.vertex_ids[k]])]
            for k, j in enumerate(ks.joint_index)
        ]
        return jnp.stack(rows)

    def residuals(self, params, data):
        kp = self.keypoints(params)
        hips = np.asarray(SET_HIPS[self.set_name])
        centred = kp - jnp.mean(kp[hips], 0, keepdims=True)
        world = data["world"] - jnp.mean(data["world"][hips], 0, keepdims=True)
        r3 = (data["conf3d"][:, None] * (centred - world) * self.w["world"]).reshape(-1)
        r2 = (project(data["camera"], kp) - data["points2d"]) * data["pixel_scale"]
        r2 = geman_mcclure_residual(r2, self.w["sigma"]) * self.w["keypoint"]
        r2 = data["conf2d"][:, None] * r2
        body = params["body_pose"].reshape(-1)
        angle = jnp.exp(jnp.asarray(ANGLE_PRIOR_SIGNS) * body[np.asarray(ANGLE_PRIOR_INDICES)])
        return jnp.concatenate(
            [
                r3,
                r2.reshape(-1),
                self.w["pose_prior"] * self.gmm.residuals(body),
                self.w["angle_prior"] * angle,
                self.w["shape_prior"] * params["betas"],
            ]
        )


def _weights(cfg: InitConfig, world: float, keypoint: float) -> dict:
    f32 = jnp.float32
    return {
        "world": f32(world),
        "keypoint": f32(keypoint),
        "sigma": f32(cfg.sigma),
        "pose_prior": f32(cfg.pose_prior),
        "angle_prior": f32(cfg.angle_prior),
        "shape_prior": f32(cfg.shape_prior),
    }


def _adam_fit(obj, params, batch, learning_rate, steps, result=False):
    """One Adam stage over every parameter. Both stages share this program (same objective
    structure, trainable set and step count; weights and learning rate are array leaves), so
    it compiles once."""
    stage = Stage(obj, adam(learning_rate), steps, None)
    res = fit_stages_batch([stage], params, batch, record_terms=False)[0]
    return res if result else res.params


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


FACING_CAMERA = np.diag([1.0, -1.0, -1.0])  # model y up / +z front -> camera y down / -z


def kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) minimising ``sum |R (src_i - mean) - (dst_i - mean)|^2`` (det +1)."""
    a = src - src.mean(0)
    b = dst - dst.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def orientation_hypotheses(rest_points: np.ndarray, world: np.ndarray | None) -> np.ndarray:
    """(4, 3, 3) global rotations to try (see the module docstring).

    Args:
      rest_points: (33, 3) the model's MediaPipe-33 points in the rest pose.
      world: (33, 3) world landmarks, or None.
    """
    if world is None:
        return np.stack([FACING_CAMERA @ _rot_y(k * np.pi / 2) for k in range(4)])
    torso = np.asarray(TORSO)
    r = kabsch(rest_points[torso], np.asarray(world, np.float64)[torso])
    return np.stack([r, r @ _rot_y(np.pi), FACING_CAMERA, FACING_CAMERA @ _rot_y(np.pi)])


def solve_translation(
    points: np.ndarray, pixels: np.ndarray, conf: np.ndarray, camera: Camera
) -> np.ndarray:
    """Translation (3,) putting body points (N, 3) (camera axes, R = I, t = 0) at ``pixels``
    (N, 2) in the weighted least-squares sense of ``f (X + t) - (u - c)(Z + t_z) = 0``."""
    f = np.array([float(camera.fx), float(camera.fy)])
    c = np.array([float(camera.cx), float(camera.cy)])
    d = pixels - c  # (N, 2)
    rows, rhs = [], []
    for axis in range(2):
        a = np.zeros((len(points), 3))
        a[:, axis] = f[axis]
        a[:, 2] = -d[:, axis]
        rows.append(a * conf[:, None])
        rhs.append((d[:, axis] * points[:, 2] - f[axis] * points[:, axis]) * conf)
    t, *_ = np.linalg.lstsq(np.concatenate(rows), np.concatenate(rhs), rcond=None)
    return t


def fit_weights(
    visibility: np.ndarray, min_visibility: float, set_name: str = "mediapipe33"
) -> np.ndarray:
    """(K,) fit weights: the visibility (confidence) where it counts and the point is not left
    out of the set (:data:`SET_LEFT_OUT`), else 0. MediaPipe's visibility counts from
    ``min_visibility``; other sets' confidences (a keypoint file's) from any positive value."""
    vis = np.nan_to_num(np.asarray(visibility, np.float32))
    floor = min_visibility if set_name == "mediapipe33" else np.finfo(np.float32).tiny
    conf = np.where(vis >= floor, vis, 0.0).astype(np.float32)
    conf[np.asarray(SET_LEFT_OUT[set_name], np.int64)] = 0.0
    return conf


def initialize(
    model: BodyModel,
    landmarks2d: np.ndarray,
    image_size: tuple[int, int],
    world: np.ndarray | None = None,
    *,
    gmm: GMMPrior | None = None,
    config: InitConfig = InitConfig(),
    set_name: str = "mediapipe33",
    intrinsics: tuple[float, float, float, float] | None = None,
) -> InitialEstimate:
    """Fit the body model to one person's landmarks (see the module docstring).

    Args:
      model: body model (the open model by default in callers).
      landmarks2d: (K, 3) x, y (pixels) and visibility / confidence of the K points of
        ``set_name``: MediaPipe's 33 landmarks (default), or BODY_25 / COCO-17 keypoints.
      image_size: (height, width) of the photo.
      world: (33, 3) world landmarks (metres, hip-centred, photo axes) or None; MediaPipe only.
      gmm: pose prior (default: :func:`jaxrefine.objective.load_gmm_prior`).
      config: weights and step counts.
      set_name: the keypoint set of ``landmarks2d``.
      intrinsics: (fx, fy, cx, cy) pixels, or None: the focal approximation.

    Returns:
      :class:`InitialEstimate`.

    Raises:
      ValueError: wrong shapes, or world points for another set than MediaPipe's.
      TooFewLandmarksError: fewer than 4 usable points.
    """
    set_name = canonical_set_name(set_name)
    lm, conf = _checked_landmarks(landmarks2d, world, set_name, config.min_visibility)
    camera = _camera(image_size, intrinsics)
    gmm = load_gmm_prior() if gmm is None else gmm
    has_world = world is not None
    obj = LandmarkObjective(model, gmm, _weights(config, config.world_3d, 0.0), set_name)
    params = _hypotheses(obj, model.num_betas, world)
    batch = _fit_data(lm, conf, world, camera, len(params["transl"]))
    if has_world:
        params = _adam_fit(obj, params, batch, config.learning_rate, config.steps)
    kp = _hypotheses_keypoints(obj, params)
    transl = np.stack(
        [solve_translation(np.asarray(k, np.float64), lm[:, :2], conf, camera) for k in kp]
    )
    params = dict(params, transl=jnp.asarray(transl, jnp.float32))
    obj2 = LandmarkObjective(
        model,
        gmm,
        _weights(config, config.world_2d if has_world else 0.0, config.keypoint),
        set_name,
    )
    res = _adam_fit(obj2, params, batch, config.learning_rate, config.steps, result=True)
    losses = np.asarray(res.final_loss)
    best = int(np.nanargmin(losses))
    return InitialEstimate(
        params=jax.tree.map(lambda x: x[best], res.params),
        camera=camera,
        loss=float(losses[best]),
        losses=losses,
        hypothesis=best,
    )


# The model points outside the fits, one compiled program each: op by op they were dispatched
# primitive by primitive, about half a second per call on a 2-core CPU, twice per person.
_rest_keypoints = jax.jit(lambda obj, params: obj.keypoints(params))  # (K, 3)
_hypotheses_keypoints = jax.jit(lambda obj, params: jax.vmap(obj.keypoints)(params))  # (H, K, 3)


def _checked_landmarks(landmarks2d, world, set_name: str, min_visibility: float):
    """(K, 3) landmarks as float32 and their (K,) fit weights, checked (see :func:`initialize`'s
    Raises)."""
    k = len(joint_names(set_name))
    lm = np.asarray(landmarks2d, np.float32)
    if lm.shape != (k, 3) or set_name not in SET_HIPS:
        raise ValueError(f"landmarks2d must be ({k}, 3) x, y, visibility of {set_name} (one of "
                         f"{sorted(SET_HIPS)}); got {lm.shape}")  # fmt: skip
    if world is not None and set_name != "mediapipe33":
        raise ValueError(f"world landmarks are MediaPipe's; {set_name} has none")
    conf = fit_weights(lm[:, 2], min_visibility, set_name)
    if np.count_nonzero(conf) < 4:
        raise TooFewLandmarksError(
            f"only {np.count_nonzero(conf)} usable landmarks; need at least 4"
        )
    return lm, conf


def _hypotheses(obj, num_betas: int, world) -> dict:
    """The starting parameters, one per global-orientation hypothesis
    (:func:`orientation_hypotheses` of the rest body's keypoints): (H, ...) each."""
    zero = {
        "global_orient": jnp.zeros(3),
        "body_pose": jnp.zeros((23, 3)),
        "betas": jnp.zeros(num_betas),
        "transl": jnp.zeros(3),
    }
    hyps = orientation_hypotheses(np.asarray(_rest_keypoints(obj, zero), np.float64), world)
    n = len(hyps)
    return {
        "global_orient": jnp.asarray(Rotation.from_matrix(hyps).as_rotvec(), jnp.float32),
        "body_pose": jnp.zeros((n, 23, 3)),
        "betas": jnp.zeros((n, num_betas)),
        "transl": jnp.zeros((n, 3)),
    }


def _fit_data(lm: np.ndarray, conf: np.ndarray, world, camera, n: int) -> dict:
    """The landmark objective's data, broadcast to the ``n`` hypotheses (no world points:
    zeros with weight 0)."""
    has_world = world is not None
    world_arr = np.asarray(world, np.float32) if has_world else np.zeros((len(lm), 3), np.float32)
    size = person_size_px(jnp.asarray(lm[:, :2]), jnp.asarray(conf))
    data = {
        "camera": camera,
        "points2d": jnp.asarray(lm[:, :2]),
        "conf2d": jnp.asarray(conf),
        "world": jnp.asarray(world_arr),
        "conf3d": jnp.asarray(conf if has_world else np.zeros_like(conf)),
        "pixel_scale": REFERENCE_PERSON_SIZE / size,
    }
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + jnp.shape(x)), data)


def _camera(image_size, intrinsics) -> Camera:
    """The full-image camera: the intrinsics (fx, fy, cx, cy) or the focal approximation."""
    if intrinsics is not None:
        fx, fy, cx, cy = (float(v) for v in intrinsics)
        return Camera.create(fx, fy, cx, cy)
    h, w = image_size
    return Camera.create(focal_from_image_size(h, w), cx=w / 2.0, cy=h / 2.0)


def model_keypoints(model: BodyModel, params: dict, set_name: str = "coco17") -> jnp.ndarray:
    """(K, 3) keypoints of a named set for one parameter dict (camera axes when R = I)."""
    from jaxrefine.body_model import forward
    from jaxrefine.keypoints import gather_keypoints

    pose = jnp.concatenate([params["global_orient"][None], params["body_pose"]], 0)
    out = forward(model, pose, params["betas"], params["transl"])
    return gather_keypoints(keypoint_sets_for(model), set_name, out.joints, out.vertices)
