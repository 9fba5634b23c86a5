"""Training learned gradient descent (:mod:`jaxrefine.optimizers.learned`) on CMU mocap.

As the public LGD code does, training needs no images: every sample is a synthetic frame made
from a mocap pose (training subjects only; :data:`jaxrefine.data.poses.VALIDATION_SUBJECTS`
are held out and used for validation), with

- a random shape, placement and camera (:func:`jaxrefine.data.sampling.sample_scenes`),
- an initial estimate like a regressor's (:func:`jaxrefine.data.perturb.perturb`, "medium"),
  with ``camera_stage`` (``--camera-stage``) then moved by SMPLify's Adam camera stage on the
  sample's observations: the start ``--optimizer lgd`` hands the learned steps at test time
  (the shipped checkpoints were fine-tuned so; trained from raw starts only, the dense one
  ended 84 % above Adam's PVE on the oracle, 23 % after 3,000 steps from such starts, 3 %
  after 12,000 more with ``point_loss="root_vertices"``),
- observations: ``sparse`` = the 25 BODY_25 keypoints projected, each dropped with
  probability ``drop`` (LGD's Bernoulli(0.8) confidences) or when outside the image, plus
  Gaussian pixel noise; ``dense`` = the ground-truth dense targets of the oracle (the field
  between ground truth and initial estimate over the rendering of the initial mesh,
  transferred to its visible vertices: :func:`jaxrefine.correspondence.ground_truth_dense_targets`),
  rendered on the host by :func:`jaxrefine.render.rasterize_batch` outside the jitted step and
  packed to a fixed number of visible vertices (a random subset when more are visible);
  ``dense_keypoints`` = both, for SMPLify's data kind "dense+keypoints" (the dense term plus
  the keypoint term, as ``refine`` fits a regressor's keypoints or a photo's landmarks beside
  the network's targets). A dense_keypoints run can start from a dense LGD
  (:func:`extend_start`: the keypoint summary's weights start at zero, so the start updates
  as the dense LGD does). The oracle's targets are perfect, the network's are not: with
  ``dense_shrink`` / ``dense_part_noise_px`` (``--dense-shrink``, ``--dense-part-noise``;
  off by default) they are degraded as a network's might be (:func:`degrade_dense`: moved
  part of the way back to the start, and shifted per body part), so that an LGD learns how
  far to trust them next to the keypoints. With ``start_scale`` (``--start-scale``) the starts
  are moved part of the way to the truth (:func:`scale_start`), as near as the photo
  initializer's fits to landmarks can be.

The loss, as LGD's training, is over every state the learned steps produce (states 1..T; the
start is given, not predicted): per state the L1 error of the pose (72 axis-angle numbers)
and of the betas, plus a point term; averaged over states and samples. The point term
(``point_loss``), weighted by ``joint_weight``:

- ``"camera_joints"`` (the published form, and the default): the mean 3D error of the 24 SMPL
  joints in the camera frame, in metres, so it includes the translation;
- ``"root_joints"``: the mean error of the root-aligned joints (the pelvis subtracted from each
  skeleton, as MPJPE aligns) plus ``root_weight`` times the pelvis's camera-frame error;
- ``"root_vertices"``: the same with every vertex instead of the joints (each mesh minus its
  own pelvis joint: the PVE the evaluation reports), plus ``root_weight`` times the pelvis's
  error.

Why root-aligned: from a single view the depth is ambiguous with the body's size. With the
dense checkpoint on the dense validation frames, 86 of the 89 mm root error after 10 steps is
depth and barely moves over the steps, while the root-aligned joint error keeps falling (93 ->
40 mm); in the camera-frame sum that depth error dominates the term. Why vertices: the betas'
L1 error hardly falls (0.50 -> 0.39), and the PVE gap to Adam is larger than the MPJPE gap
(oracle: +11 mm PVE over MPJPE with LGD, +7 with Adam): the vertices weigh the shape as the
evaluation does.

The fit inside the loss is the generic engine (:func:`jaxrefine.fit.fit`, ``select="none"``,
``return_iterates=True``) on SMPLify's body-stage data term (:func:`data_term_objective`):
what LGD runs at test time. Everything else (Adam, schedule, orbax checkpoints, resume, logs,
progress) is the shared loop :func:`jaxrefine.train.loop.train`.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.body_model import OPEN_MODEL_ID, BodyModel, forward, posed_joints, skin_vertices
from jaxrefine.camera import Camera, project
from jaxrefine.correspondence import ground_truth_dense_targets
from jaxrefine.data.perturb import perturb
from jaxrefine.data.sampling import SceneConfig, cameras_for, sample_scenes
from jaxrefine.errors import fields_below
from jaxrefine.fit import fit
from jaxrefine.objective import (
    REFERENCE_PERSON_SIZE,
    FitData,
    get_preset,
    make_objectives,
    params_from_pose,
    person_size_px,
)
from jaxrefine.optimizers.learned import (
    LearnedGradientDescent,
    calibrate,
    data_term_objective,
    init_lgd,
    layout_size,
)
from jaxrefine.optimizers.lgd_features import EXTENDS, vertex_parts
from jaxrefine.train.loop import Task

KINDS = ("sparse", "dense", "dense_keypoints")
POINT_LOSSES = ("camera_joints", "root_joints", "root_vertices")
# "root_vertices" measures every 8th vertex (862 of the 6,890): an unbiased sample of the PVE's
# per-vertex mean at an eighth of the skinning; on the whole mesh the loss doubled the step.
LOSS_VERTEX_STRIDE = 8
LGD_KEYS = ("global_orient", "body_pose", "betas", "transl")
_DATA_KIND = {"sparse": "keypoints", "dense": "dense", "dense_keypoints": "dense+keypoints"}
_FEATURES = _DATA_KIND  # each kind's observation summary is named as its data kind
_USES_KEYPOINTS = ("sparse", "dense_keypoints")
_USES_DENSE = ("dense", "dense_keypoints")
_DEGRADE_STREAM = 7  # the random stream of degrade_dense: np.random.default_rng([seed, 7])
_START_STREAM = 8  # the random stream of start_scale: np.random.default_rng([seed, 8])
# LGDConfig fields added after runs had begun (session 17), at their defaults (= what those
# runs did): a run started before them resumes (loop.Task.added_settings)
_ADDED_CONFIG_SETTINGS = {"dense_shrink": (1.0, 1.0), "dense_part_noise_px": 0.0,
                          "start_scale": (1.0, 1.0)}  # fmt: skip


# The least value of each numeric LGDConfig field: sizes and step counts at least 1, the
# block count, noise and weights at least 0.
_LEAST = {"num_steps": 1, "hidden": 1, "num_blocks": 0, "dense_capacity": 1, "noise_px": 0,
          "dense_part_noise_px": 0, "joint_weight": 0, "root_weight": 0}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class LGDConfig:
    """What an LGD is trained on and how big it is.

    Attributes:
      kind: "sparse" (BODY_25 keypoints), "dense" (visible vertices) or "dense_keypoints"
        (both, SMPLify's data kind "dense+keypoints": the keypoints as "sparse" makes them).
      num_steps: learned steps per fit (the public code uses 3 after its initial prediction).
      hidden / num_blocks: MLP width (published 1024) and residual blocks (published 2).
      step_size: alpha (published 0.1).
      difficulty: initial-estimate level of :mod:`jaxrefine.data.perturb`.
      image_size: (H, W) of the synthetic frames.
      drop: sparse keypoint drop-out probability. noise_px: sparse keypoint noise (pixels,
        at a person 224 px tall; scaled with the person).
      dense_capacity: visible vertices per dense sample (fixed shape for one compiled step).
      dense_shrink: (lo, hi): every dense sample's targets are moved back towards the initial
        estimate's projection, ``p_init + a * (target - p_init)`` with ``a ~ U(lo, hi)`` per
        sample; (1, 1) = the oracle's targets. A network's targets correct only part of the
        error (the shipped one leaves 57 % of the zero field's EPE on synthetic validation, more
        on photos): see :func:`degrade_dense`.
      dense_part_noise_px: std of a 2D offset drawn per body part (the vertex's largest skinning
        weight) and added to that part's dense targets (pixels at a person 224 px tall, scaled
        with the person): spatially correlated errors, a limb pulled aside; 0 = none.
      start_scale: (lo, hi): every sample's initial estimate is moved towards the truth by a
        factor ``s ~ U(lo, hi)`` per sample (each joint's rotation error, the betas' and the
        translation's scaled by s: :func:`scale_start`); (1, 1) = the ``difficulty`` level as
        it is. Starts nearer than a regressor's, as the photo initializer's fits can be.
      joint_weight: weight of the point term (metres) against the L1 parameter errors.
      point_loss: the point term, one of ``POINT_LOSSES`` (see the module docstring).
      root_weight: weight of the root's camera-frame error (metres) with the root-aligned
        point terms.
      preset: SMPLify preset whose data term LGD minimises (pixel scale by person size).
      camera_stage: start each sample where ``--optimizer lgd`` starts at test time, after
        SMPLify's Adam camera stage on the sample's observations (:func:`start_after_camera_stage`),
        instead of at the perturbed estimate itself.
    """

    kind: str = "sparse"
    num_steps: int = 10
    hidden: int = 256
    num_blocks: int = 2
    step_size: float = 0.1
    difficulty: str = "medium"
    image_size: tuple[int, int] = (256, 256)
    drop: float = 0.2
    noise_px: float = 2.0
    dense_capacity: int = 4096
    dense_shrink: tuple[float, float] = (1.0, 1.0)
    dense_part_noise_px: float = 0.0
    start_scale: tuple[float, float] = (1.0, 1.0)
    joint_weight: float = 10.0
    preset: str = "dense"
    camera_stage: bool = False
    point_loss: str = "camera_joints"
    root_weight: float = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"LGD kind must be one of {KINDS}, got {self.kind!r}")
        if self.point_loss not in POINT_LOSSES:
            raise ValueError(f"point_loss must be one of {POINT_LOSSES}, got {self.point_loss!r}")
        lo, hi = self.dense_shrink
        if not 0.0 <= lo <= hi:
            raise ValueError(f"dense_shrink must be (lo, hi), 0 <= lo <= hi: {self.dense_shrink}")
        lo, hi = self.start_scale
        if not 0.0 <= lo <= hi:
            raise ValueError(f"start_scale must be (lo, hi), 0 <= lo <= hi: {self.start_scale}")
        bad = fields_below(self, _LEAST)
        if min(self.image_size) < 1:
            bad.append(f"image_size={tuple(self.image_size)} (at least 1 each)")
        if bad:
            raise ValueError(f"LGD config: {', '.join(bad)}")

    @property
    def degrades_dense(self) -> bool:
        """Whether the dense targets are degraded (:func:`degrade_dense`)."""
        return tuple(self.dense_shrink) != (1.0, 1.0) or self.dense_part_noise_px > 0


# ---------------------------------------------------------------------------------------------
# Synthetic samples (host side, numpy)


# Jitted once per shape with the model as an argument (a closure over it would recompile for
# every batch the host makes).
_forward_batch = jax.jit(jax.vmap(forward, in_axes=(None, 0, 0, 0)))
_dense_batch = jax.jit(jax.vmap(ground_truth_dense_targets, in_axes=(0, 0, 0, 0, None, 0, 0)))


@jax.jit
def _body25_batch(out):
    """(B, 25, 3) BODY_25 keypoints of a batched BodyOutput."""
    return jax.vmap(lambda j, v: out.replace(joints=j, vertices=v).keypoints("body25"))(
        out.joints, out.vertices
    )


def _camera_arrays(cams: Camera) -> dict[str, np.ndarray]:
    return {k: np.asarray(getattr(cams, k), np.float32) for k in ("fx", "fy", "cx", "cy")}


def _pack_visible(targets, weights, capacity: int, rng) -> tuple[np.ndarray, ...]:
    """(B, V, 2), (B, V) -> fixed-size (B, C, 2) targets, (B, C) weights, (B, C) int32 ids:
    each frame's visible vertices (a random subset of C when more), padded with weight 0."""
    b = targets.shape[0]
    ids = np.zeros((b, capacity), np.int32)
    w = np.zeros((b, capacity), np.float32)
    for i in range(b):
        vis = np.flatnonzero(weights[i] > 0)
        if len(vis) > capacity:
            vis = np.sort(rng.choice(vis, capacity, replace=False))
        ids[i, : len(vis)] = vis
        w[i, : len(vis)] = weights[i, vis]
    return np.take_along_axis(targets, ids[..., None], 1).astype(np.float32), w, ids


def make_samples(
    model: BodyModel, poses: np.ndarray, config: LGDConfig, seed: int, size: int, backend="auto"
) -> dict[str, np.ndarray]:
    """``size`` synthetic training samples from ``poses`` (N, 24, 3), deterministic in ``seed``.

    Returns a dict of numpy arrays, leading axis ``size``: ``gt_pose`` (24, 3), ``gt_betas``,
    ``gt_transl``, ``gt_joints`` (24, 3), ``init_pose``, ``init_betas``, ``init_transl``,
    camera ``fx``/``fy``/``cx``/``cy``, ``pixel_scale``, and ``keypoints`` (25, 2) +
    ``keypoint_conf`` (25,) (sparse) and/or ``dense_targets`` (C, 2) + ``dense_weights`` (C,) +
    ``dense_ids`` (C,) (dense; both for dense_keypoints).
    """
    rng = np.random.default_rng(seed)
    sc = sample_scenes(model, poses, size, seed, SceneConfig(image_size=config.image_size))
    cams = cameras_for(sc)
    gt = _forward_batch(model, sc.pose, sc.betas, sc.transl)
    start = perturb(
        sc.pose, sc.betas, sc.transl, np.asarray(gt.joints[:, 0]), config.difficulty, seed + 1
    )
    if tuple(config.start_scale) != (1.0, 1.0):  # its own stream: the rest draws as before
        rng_s = np.random.default_rng([seed % 2**31, _START_STREAM])
        start = scale_start((sc.pose, sc.betas, sc.transl), start,
                            rng_s.uniform(*config.start_scale, size))  # fmt: skip
    init = _forward_batch(model, *start)
    proj_init = jax.vmap(project)(cams, init.vertices)
    size_px = np.asarray(jax.vmap(person_size_px)(proj_init, jnp.ones(proj_init.shape[:2])))
    out = {
        "gt_pose": sc.pose, "gt_betas": sc.betas, "gt_transl": sc.transl,
        "gt_joints": np.asarray(gt.joints, np.float32),
        "init_pose": start[0], "init_betas": start[1], "init_transl": start[2],
        "pixel_scale": (REFERENCE_PERSON_SIZE / size_px).astype(np.float32),
        **_camera_arrays(cams),
    }  # fmt: skip
    # keypoints first: each kind draws from ``rng`` in the order it always has
    if config.kind in _USES_KEYPOINTS:
        out.update(_keypoint_observations(gt, cams, out["pixel_scale"], config, rng))
    if config.kind in _USES_DENSE:
        out.update(_dense_observations(model, gt, init, cams, config, rng, backend))
        if config.degrades_dense:  # its own stream: the oracle's targets draw as before
            out["dense_targets"] = degrade_dense(
                out, np.asarray(proj_init), np.asarray(vertex_parts(model.lbs_weights)), config,
                np.random.default_rng([seed % 2**31, _DEGRADE_STREAM]),
            )  # fmt: skip
    return start_after_camera_stage(model, config, out) if config.camera_stage else out


def _keypoint_observations(gt, cams: Camera, pixel_scale, config: LGDConfig, rng) -> dict:
    """``keypoints`` (B, 25, 2): the truth's BODY_25 keypoints projected, plus noise;
    ``keypoint_conf`` (B, 25): 0 outside the image or dropped (probability ``config.drop``)."""
    H, W = config.image_size
    kp = np.asarray(jax.vmap(project)(cams, _body25_batch(gt)))
    inside = (kp[..., 0] >= 0) & (kp[..., 0] < W) & (kp[..., 1] >= 0) & (kp[..., 1] < H)
    kept = rng.uniform(size=inside.shape) >= config.drop
    noise = rng.normal(0, 1, kp.shape) * config.noise_px / pixel_scale[:, None, None]
    return {"keypoints": (kp + noise).astype(np.float32),
            "keypoint_conf": (inside & kept).astype(np.float32)}  # fmt: skip


def _dense_observations(model, gt, init, cams: Camera, config: LGDConfig, rng, backend) -> dict:
    """``dense_targets`` (B, C, 2), ``dense_weights`` (B, C), ``dense_ids`` (B, C): the
    oracle's targets over the rendering of the initial mesh, packed to C visible vertices."""
    from jaxrefine.render import rasterize_batch

    H, W = config.image_size
    frags = rasterize_batch(init.vertices, model.faces, cams, H, W, backend, cull_backfaces=True)
    targets, weights = _dense_batch(
        gt.vertices, cams, init.vertices, cams, model.faces, frags.tri_id, frags.bary
    )
    t, w, ids = _pack_visible(np.asarray(targets), np.asarray(weights), config.dense_capacity, rng)
    return {"dense_targets": t, "dense_weights": w, "dense_ids": ids}


def scale_start(truth: tuple, start: tuple, s: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each sample's start moved towards the truth by ``s`` (N,) (0 = the truth, 1 = the
    start), for (pose (N, J, 3), betas, transl) tuples: every joint's rotation error scaled
    (``R_truth exp(s log(R_truth^T R_start))``, not the axis-angle numbers, which jump near
    180 degrees), betas and translation linearly."""
    from scipy.spatial.transform import Rotation

    pose_t, pose_s = (np.asarray(a, np.float64).reshape(-1, 3) for a in (truth[0], start[0]))
    r_t = Rotation.from_rotvec(pose_t)
    each = np.repeat(np.asarray(s, np.float64), np.shape(truth[0])[1])[:, None]
    delta = (r_t.inv() * Rotation.from_rotvec(pose_s)).as_rotvec()
    pose = (r_t * Rotation.from_rotvec(each * delta)).as_rotvec().reshape(np.shape(truth[0]))
    lin = [g + np.reshape(s, (-1,) + (1,) * (np.ndim(g) - 1)) * (p - g)
           for g, p in zip(truth[1:], start[1:])]  # fmt: skip
    return tuple(np.asarray(a, np.float32) for a in (pose, *lin))


def degrade_dense(batch: dict, proj_init: np.ndarray, parts: np.ndarray, config: LGDConfig,
                  rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """(B, C, 2) dense targets as a network might give them (``config.dense_shrink``,
    ``config.dense_part_noise_px``): each sample's targets moved back towards its initial
    projection ``proj_init`` (B, V, 2) by a factor drawn per sample, plus an offset per body
    part (``parts`` (V,) int, part of each vertex). Padding (weight 0) is left as it is."""
    t, ids, w = batch["dense_targets"], batch["dense_ids"], batch["dense_weights"]
    b = t.shape[0]
    a = rng.uniform(*config.dense_shrink, b)[:, None, None]
    p0 = np.take_along_axis(proj_init, ids[..., None], 1)
    sigma = config.dense_part_noise_px / batch["pixel_scale"]
    offsets = rng.normal(0, 1, (b, int(parts.max()) + 1, 2)) * sigma[:, None, None]
    moved = p0 + a * (t - p0) + np.take_along_axis(offsets, parts[ids][..., None], 1)
    return np.where((w > 0)[..., None], moved, t).astype(np.float32)


def start_after_camera_stage(model: BodyModel, config: LGDConfig, batch: dict) -> dict:
    """``batch`` with its start's global orientation and translation replaced by SMPLify's
    camera stage on the batch's own observations (Adam, the preset's steps): the start that
    ``smplify(optimizer="lgd")`` hands the learned steps at test time."""
    from jaxrefine.smplify import smplify

    params, data = fit_inputs(batch)
    res = smplify(model, params, data, preset=config.preset, data_kind=_DATA_KIND[config.kind],
                  optimizer="adam", body_steps=0, devices=jax.local_devices()[:1])  # fmt: skip
    pose = np.array(batch["init_pose"])
    pose[:, 0] = np.asarray(res.params["global_orient"])
    return {**batch, "init_pose": pose, "init_transl": np.asarray(res.params["transl"], np.float32)}


# ---------------------------------------------------------------------------------------------
# From a batch to the fit's inputs, and the loss over all states


def fit_inputs(batch: dict) -> tuple[dict, FitData]:
    """(init params, FitData) of a batch dict (leading batch axis; numpy or jax arrays)."""
    b = batch["fx"].shape[0]
    cams = Camera(
        fx=batch["fx"], fy=batch["fy"], cx=batch["cx"], cy=batch["cy"],
        R=jnp.broadcast_to(jnp.eye(3), (b, 3, 3)), t=jnp.zeros((b, 3)),
    )  # fmt: skip
    data = FitData(
        camera=cams,
        init_transl=jnp.asarray(batch["init_transl"]),
        pixel_scale=jnp.asarray(batch["pixel_scale"]),
        keypoints=batch.get("keypoints"),
        keypoint_conf=batch.get("keypoint_conf"),
        dense_targets=batch.get("dense_targets"),
        dense_weights=batch.get("dense_weights"),
        dense_ids=batch.get("dense_ids"),
    )
    params = params_from_pose(batch["init_pose"], batch["init_betas"], batch["init_transl"])
    return params, data


def body_objective(model: BodyModel, config: LGDConfig):
    """The data term LGD minimises (SMPLify's body-stage objective without priors)."""
    _, body = make_objectives(model, get_preset(config.preset), _DATA_KIND[config.kind], None)
    return data_term_objective(body)


def run_lgd(lgd: LearnedGradientDescent, objective, params, data, num_steps: int | None = None):
    """Batched fit with every iterate (``FitResult.iterates``, (B, T + 1, ...) leaves)."""
    steps = lgd.num_steps if num_steps is None else num_steps

    def one(p, d):
        return fit(
            objective, p, d, lgd, num_steps=steps, trainable=set(LGD_KEYS),
            record_terms=False, select="none", return_iterates=True,
        )  # fmt: skip

    return jax.vmap(one)(params, data)


def state_errors(
    model: BodyModel, iterates: dict, batch: dict, vertices: bool = False
) -> dict[str, jax.Array]:
    """Per sample and state (B, S): L1 pose and betas errors, mean joint error in the camera
    frame (``joint_m``) and root-aligned (``joint_ra_m``), the root's error (``root_m``) and,
    with ``vertices``, the mean root-aligned error of every :data:`LOSS_VERTEX_STRIDE`-th vertex
    (``vertex_ra_m``, the PVE on a uniform subset of the mesh); metres."""
    pose = jnp.concatenate([iterates["global_orient"][..., None, :], iterates["body_pose"]], -2)
    states = (pose, iterates["betas"], iterates["transl"])
    truth = (batch["gt_pose"], batch["gt_betas"], batch["gt_transl"])
    if vertices:
        ids = tuple(range(0, model.num_vertices, LOSS_VERTEX_STRIDE))
        skinned = functools.partial(_skin_subset, model, ids)
        joints, verts = jax.vmap(jax.vmap(skinned))(*states)
        gt_joints, gt_verts = jax.vmap(skinned)(*truth)
    else:
        joints = jax.vmap(jax.vmap(lambda p, b, t: posed_joints(model, p, b, t)))(*states)
    gt = jnp.asarray(batch["gt_joints"])[:, None]
    diff = joints - gt
    err = {
        "pose_l1": jnp.mean(jnp.abs(pose - batch["gt_pose"][:, None]), (-1, -2)),
        "betas_l1": jnp.mean(jnp.abs(iterates["betas"] - batch["gt_betas"][:, None]), -1),
        "joint_m": jnp.mean(_norm(diff), -1),
        "joint_ra_m": jnp.mean(_norm(diff - diff[..., :1, :]), -1),  # the root's own is 0
        "root_m": _norm(diff[..., 0, :]),
    }
    if vertices:
        v = verts - joints[..., :1, :]
        g = (gt_verts - gt_joints[:, :1, :])[:, None]
        err["vertex_ra_m"] = jnp.mean(_norm(v - g), -1)
    return err


def _skin_subset(model: BodyModel, ids: tuple[int, ...], pose, betas, transl):
    return skin_vertices(model, pose, betas, ids, transl)


def _norm(v: jax.Array) -> jax.Array:
    """Euclidean norm over the last axis with gradient 0 (not NaN) at the zero vector: the
    root's root-aligned error is always 0, and any error is 0 at the truth."""
    sq = jnp.sum(v * v, -1)
    nonzero = sq > 0
    return jnp.where(nonzero, jnp.sqrt(jnp.where(nonzero, sq, 1.0)), 0.0)


def state_loss(config: LGDConfig, err: dict[str, jax.Array]) -> jax.Array:
    """(B, S) per-state training loss of :func:`state_errors` (see the module docstring)."""
    params_l1 = err["pose_l1"] + err["betas_l1"]
    if config.point_loss == "camera_joints":
        return params_l1 + config.joint_weight * err["joint_m"]
    points = err["joint_ra_m" if config.point_loss == "root_joints" else "vertex_ra_m"]
    return params_l1 + config.joint_weight * points + config.root_weight * err["root_m"]


def lgd_loss(
    template: LearnedGradientDescent, model: BodyModel, config: LGDConfig, params: dict, batch
) -> tuple[jax.Array, dict]:
    """LGD's training loss over all states (see the module docstring) and metrics."""
    lgd = template.replace(weights=params["weights"])
    init_params, data = fit_inputs(batch)
    res = run_lgd(lgd, body_objective(model, config), init_params, data)
    err = state_errors(model, res.iterates, batch, config.point_loss == "root_vertices")
    per_state = state_loss(config, err)
    metrics = {
        "joint_mm_init": 1e3 * jnp.mean(err["joint_m"][:, 0]),
        "joint_mm_final": 1e3 * jnp.mean(err["joint_m"][:, -1]),
        "mpjpe_final": 1e3 * jnp.mean(err["joint_ra_m"][:, -1]),
        "pose_l1_final": jnp.mean(err["pose_l1"][:, -1]),
    }
    if "vertex_ra_m" in err:
        metrics["pve_final"] = 1e3 * jnp.mean(err["vertex_ra_m"][:, -1])
    return jnp.mean(per_state[:, 1:]), metrics


# ---------------------------------------------------------------------------------------------
# The task for the shared loop


def make_template(
    model: BodyModel, config: LGDConfig, calibration: dict, seed: int = 0
) -> LearnedGradientDescent:
    """An untrained LGD whose feature standardisation comes from a calibration batch."""
    params, data = fit_inputs(calibration)
    one = jax.tree_util.tree_map(lambda a: a[0], (params, data))
    obj = body_objective(model, config)
    lgd = init_lgd(
        jax.random.key(seed), one[0], obj, one[1], features=_FEATURES[config.kind],
        keys=LGD_KEYS, hidden=config.hidden, num_blocks=config.num_blocks,
        num_steps=config.num_steps, step_size=config.step_size,
    )  # fmt: skip
    return calibrate(lgd, obj, params, data)


def _batch_fn(model, train_poses, config, seed, size):
    return make_samples(model, train_poses, config, seed, size)


def make_task(
    model: BodyModel,
    train_poses: np.ndarray,
    val_poses: np.ndarray,
    config: LGDConfig,
    *,
    calibration_size: int = 64,
    val_size: int = 32,
    start: LearnedGradientDescent | None = None,
) -> tuple[Task, LearnedGradientDescent]:
    """The :class:`~jaxrefine.train.loop.Task` training an LGD, and its (untrained) template
    (structure + feature standardisation; the task's params are ``{"weights": ...}``).

    ``start``: fine-tune a trained LGD (:func:`check_start`): its weights are the initial
    params and its feature standardisation is kept (no new calibration batch); one with a
    shorter observation summary is extended first (:func:`extend_start`, the new features
    standardised on a calibration batch).
    """
    if start is None or start.features != _FEATURES[config.kind]:
        calib = make_samples(model, train_poses, config, seed=-1 % 2**31, size=calibration_size)
        template = make_template(model, config, calib)
        if start is not None:  # a shorter summary (check_start): extended, same updates
            start = template = extend_start(start, template)
    else:
        template = start
    val_batch = make_samples(model, val_poses, config, seed=12345, size=val_size)

    # The body model and the template reach the jitted programs as arguments (``consts``), not
    # closures: as constants, XLA folds e.g. the skinning weights' argmax at compile time.
    consts = {"template": template, "model": model}

    def init(key):
        if start is not None:
            return {"weights": start.weights}
        return {"weights": _fresh_weights(template, key)}

    def loss(params, batch, key, consts):
        del key
        return lgd_loss(consts["template"], consts["model"], config, params, batch)

    @functools.cache
    def _val_fn():
        return jax.jit(functools.partial(loss, key=None))

    def validate(params):
        value, metrics = _val_fn()(params, val_batch, consts=consts)
        return {"loss": float(value), **{k: float(v) for k, v in metrics.items()}}

    describe = {
        "task": f"lgd-{config.kind}",
        "lgd_config": dataclasses.asdict(config),
        "train_frames": int(len(train_poses)),
        "val_frames": int(len(val_poses)),
        "body_model": model.model_id,  # a resumed run must keep it
    }
    make_batch = functools.partial(_batch_fn, model, train_poses, config)
    task = Task(init, loss, make_batch, validate, describe, consts,
                added_settings={"lgd_config": _ADDED_CONFIG_SETTINGS,
                                "body_model": OPEN_MODEL_ID})  # fmt: skip
    return task, template


def check_start(lgd: LearnedGradientDescent, config: LGDConfig, source: str) -> None:
    """Raise ValueError naming ``source`` and the fields when a checkpoint to fine-tune does
    not have the run's structure (kind, width, blocks, learned steps). A checkpoint whose
    observation summary the run's extends (:data:`~jaxrefine.optimizers.lgd_features.EXTENDS`:
    a dense LGD for a dense_keypoints run) is accepted; :func:`make_task` extends it."""
    want = {"features": _FEATURES[config.kind], "hidden": config.hidden,
            "num_blocks": config.num_blocks, "num_steps": config.num_steps}  # fmt: skip
    have = {k: getattr(lgd, k) for k in want}
    diff = {k: (have[k], want[k]) for k in want if have[k] != want[k]}
    if diff.get("features") == (EXTENDS.get(want["features"]), want["features"]):
        del diff["features"]
    if diff:
        raise ValueError(f"{source}: the LGD to fine-tune differs from the run: {diff} "
                         "(checkpoint, run)")  # fmt: skip


def extend_start(start: LearnedGradientDescent, template: LearnedGradientDescent):
    """``start`` (observation summary S) as an LGD with ``template``'s structure, whose summary
    is S followed by E more features (``EXTENDS[template.features] == start.features``), with
    the same updates: the first layer of every group's MLP gets zero weights for the E new
    features, whose standardisation comes from ``template`` (calibrated on the run's data);
    every other weight and the old features' standardisation are ``start``'s.

    Feature vectors are [summary, theta, gradient] (:meth:`LearnedGradientDescent.feature_vector`),
    so the new columns sit after the old summary. The gradient feature is that of the new data
    term (more terms), so the start's updates are the same function of a different input:
    fine-tuning adapts them.
    """
    if EXTENDS.get(template.features) != start.features:
        raise ValueError(f"an LGD with features {start.features!r} does not extend to "
                         f"{template.features!r} (extensions: {EXTENDS})")  # fmt: skip
    old_n, new_n = start.feature_mean.shape[0], template.feature_mean.shape[0]
    obs_old = old_n - 2 * layout_size(start.layout)
    extra = new_n - old_n

    def widen(old: jax.Array, new: jax.Array) -> jax.Array:
        return jnp.concatenate([old[:obs_old], new[obs_old : obs_old + extra], old[obs_old:]])

    weights = {}
    for name, w in start.weights.items():
        first = w["Dense_0"]["kernel"]  # (old_n, hidden): the layer that reads the features
        zeros = jnp.zeros((extra, first.shape[1]), first.dtype)
        kernel = jnp.concatenate([first[:obs_old], zeros, first[obs_old:]])
        weights[name] = {**w, "Dense_0": {**w["Dense_0"], "kernel": kernel}}
    return template.replace(
        weights=weights,
        feature_mean=widen(start.feature_mean, template.feature_mean),
        feature_std=widen(start.feature_std, template.feature_std),
        step_size=start.step_size,
    )


def load_start(path: str, config: LGDConfig) -> tuple[LearnedGradientDescent, dict]:
    """The LGD to fine-tune from ``path`` (an exported checkpoint, or "shipped" = the packaged
    one of the run's kind), checked by :func:`check_start`, and where it came from."""
    from jaxrefine.optimizers.learned import ASSETS, checkpoint_meta, load_lgd

    shipped = str(path) == "shipped"
    stem = ASSETS / f"lgd_{config.kind}" if shipped else path
    lgd = load_lgd(stem)
    source = f"shipped lgd_{config.kind}" if shipped else str(path)
    check_start(lgd, config, source)
    meta = checkpoint_meta(stem)
    origin = {"path": source, "step": meta.get("steps"), "command": meta.get("command")}
    if lgd.features != _FEATURES[config.kind]:
        origin["extended_from"] = lgd.features
    return lgd, origin


def _fresh_weights(template: LearnedGradientDescent, key: jax.Array) -> dict:
    """New random weights with the template's structure."""
    nf = template.feature_mean.shape[0]
    keys = jax.random.split(key, len(template.groups))
    return {
        "+".join(g): template.mlp(g).init(k, jnp.zeros((nf,)))["params"]
        for g, k in zip(template.groups, keys)
    }


def export(template: LearnedGradientDescent, params: dict, path: str | Path, meta: dict):
    """Write a trained LGD as a shipped checkpoint (:func:`save_lgd`)."""
    from jaxrefine.optimizers.learned import save_lgd

    return save_lgd(path, template.replace(weights=params["weights"]), meta)


# ---------------------------------------------------------------------------------------------
# Command line (``scripts/train_lgd.py``)


def parser():
    import argparse

    from jaxrefine.files import output_file_arg, output_folder_arg
    from jaxrefine.jax_platform import PLATFORMS

    p = argparse.ArgumentParser(prog="train_lgd", description=__doc__.split("\n")[0])
    a = p.add_argument
    a("--platform", choices=sorted(PLATFORMS), default="cpu", help="JAX backend (gpu = CUDA)")
    a("--kind", choices=KINDS, default="sparse", help="observations: keypoints, vertices, or both")
    a("--model", default=None,
      help="body model file or folder to learn the steps for, e.g. your SMPL files "
           "(default: the open model); refine with the export as `--optimizer lgd:PATH` "
           "and the same --model")  # fmt: skip
    a("--gender", default=None, help="gender of a model folder (neutral/male/female)")
    a("--steps", type=int, default=20000, help="training steps of the whole run")
    a("--batch", type=int, default=64, help="global batch")
    a("--out", type=lambda p: Path(output_folder_arg(p)), default=Path("runs/lgd"),
      help="run folder")  # fmt: skip
    a("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    a("--poses", type=Path, default=None, help="pose file made by `jaxrefine mocap`")
    a("--mocap", type=Path, default=None, help="CMU folder converted when --poses is absent")
    a("--export", type=lambda p: Path(output_file_arg(p)), default=None,
      help="write the trained LGD here (.npz + .json; default OUT/lgd_KIND)")  # fmt: skip
    a("--init-from", default=None,
      help="fine-tune: start from this LGD (exported .npz, or 'shipped' = the packaged one of "
           "--kind) with a fresh optimizer and schedule; a dense LGD starts a dense_keypoints "
           "run, extended with zero weights for the keypoint features")  # fmt: skip
    a(
        "--camera-stage",
        action="store_true",
        help="start every sample after SMPLify's Adam camera stage, as --optimizer lgd does",
    )
    a("--point-loss", choices=POINT_LOSSES, default=LGDConfig.point_loss,
      help="point term of the loss: camera-frame joints (published), or root-aligned joints or "
           "vertices plus --root-weight times the root's error")  # fmt: skip
    a("--root-weight", type=float, default=LGDConfig.root_weight,
      help="weight of the root's error (metres) with the root-aligned point terms")  # fmt: skip
    a("--dense-shrink", type=float, nargs=2, default=LGDConfig.dense_shrink, metavar=("LO", "HI"),
      help="dense kinds: move each sample's targets back towards the initial projection "
           "by a ~ U(LO, HI) (1 1 = the oracle's), as a network's partial correction")  # fmt: skip
    a("--dense-part-noise", type=float, default=LGDConfig.dense_part_noise_px, metavar="PX",
      help="dense kinds: std of a 2D offset per body part added to its targets (pixels at a "
           "person 224 px tall)")  # fmt: skip
    a("--start-scale", type=float, nargs=2, default=LGDConfig.start_scale, metavar=("LO", "HI"),
      help="move each sample's start towards the truth: truth + s (start - truth), "
           "s ~ U(LO, HI) (1 1 = the medium perturbation as it is)")  # fmt: skip
    a("--lgd-steps", type=int, default=LGDConfig.num_steps, help="learned steps per fit")
    a("--hidden", type=int, default=LGDConfig.hidden, help="MLP width (published: 1024)")
    a("--blocks", type=int, default=LGDConfig.num_blocks, help="residual blocks per MLP")
    a("--image-size", type=int, default=256)
    a("--lr", type=float, default=1e-3)
    a("--warmup", type=int, default=200)
    a("--clip", type=float, default=1.0)
    a("--seed", type=int, default=0)
    a("--workers", type=int, default=0, help="grain worker processes making batches")
    a("--ckpt-every", type=int, default=500)
    a("--val-every", type=int, default=500)
    a("--log-every", type=int, default=10)
    a("--export-only", action="store_true",
      help="no training: export the newest checkpoint in --out (same flags as the run) with "
           "its validation, e.g. of a run stopped early")  # fmt: skip
    return p


def body_model_record(model: BodyModel) -> dict:
    """What an exported LGD records of the body model it learned on (``refine`` compares the
    id with its own model's: :func:`jaxrefine.optimizers.learned.trained_body_model`)."""
    return {"model_id": model.model_id, "gender": model.gender,
            "num_vertices": model.num_vertices,
            "pose_correctives": model.has_pose_correctives}  # fmt: skip


def latest_params(out: str | Path, abstract: dict) -> tuple[int, dict]:
    """(step, ``params`` item) of the newest orbax checkpoint in ``out/checkpoints``."""
    import orbax.checkpoint as ocp

    from jaxrefine.train import checkpoint

    mgr = checkpoint.manager(Path(out) / "checkpoints")
    step = mgr.latest_step()
    if step is None:
        raise FileNotFoundError(f"no checkpoint in {Path(out) / 'checkpoints'}")
    shapes = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, abstract)
    args = ocp.args.Composite(params=ocp.args.StandardRestore(shapes))
    params = mgr.restore(step, args=args).params
    mgr.close()
    return int(step), params


def _logged_wall_s(out: Path) -> float | None:
    """Training seconds of a run so far: the last ``wall_s`` of ``out/log.csv`` (None: none)."""
    import csv

    log = out / "log.csv"
    if not log.is_file():
        return None
    with log.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return float(rows[-1]["wall_s"]) if rows else None


def _configs(args):
    """The flags as ``(LGDConfig, TrainConfig)``: the optimizer's and the training loop's."""
    from jaxrefine.train.loop import TrainConfig

    config = LGDConfig(
        kind=args.kind, num_steps=args.lgd_steps, hidden=args.hidden,
        num_blocks=args.blocks, image_size=(args.image_size, args.image_size),
        camera_stage=args.camera_stage, point_loss=args.point_loss,
        root_weight=args.root_weight, dense_shrink=tuple(args.dense_shrink),
        dense_part_noise_px=args.dense_part_noise, start_scale=tuple(args.start_scale),
    )  # fmt: skip
    tc = TrainConfig(
        steps=args.steps, batch=args.batch, lr=args.lr, warmup=args.warmup, clip=args.clip,
        seed=args.seed, workers=args.workers, ckpt_every=args.ckpt_every,
        val_every=args.val_every, log_every=args.log_every,
    )  # fmt: skip
    return config, tc


def _trained(args, task, tc, template, command: str) -> tuple:
    """Train (or, with ``--export-only``, take the run as it is): ``(step, params, final
    metrics, wall seconds, machine)`` of the run's newest checkpoint."""
    from jaxrefine.train import logs
    from jaxrefine.train.loop import train

    abstract = {"weights": template.weights}
    if args.export_only:
        step, params = latest_params(args.out, abstract)
        final = {f"val_{k}": v for k, v in task.validate(params).items()}
        return step, params, final, _logged_wall_s(args.out), logs.machine_info()
    summary = train(task, tc, args.out, resume=args.resume, run_info={"command": command})
    step, params = latest_params(args.out, abstract)
    return step, params, summary["final"], summary["wall_s_total"], summary["machine"]


def main(argv: list[str] | None = None) -> int:
    import sys

    from jaxrefine import jax_platform
    from jaxrefine.train.run import resolve_poses, use_platform

    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    use_platform(args.platform)
    jax_platform.check(args.platform, "--platform")  # one process: nothing to initialize first
    from jaxrefine.data.poses import VALIDATION_SUBJECTS, load_poses
    from jaxrefine.smpl_io import load_body_model

    config, tc = _configs(args)
    # checked before the data are made
    if not args.export_only:
        from jaxrefine.train.loop import check_out

        check_out(args.out, args.resume)
    start, origin = (None, None) if args.init_from is None else load_start(args.init_from, config)
    model = load_body_model(args.model, gender=args.gender)
    path = resolve_poses(args, model)  # CMU retargeted to the model trained for
    train_poses = load_poses(path, exclude_subjects=VALIDATION_SUBJECTS).pose
    val_poses = load_poses(path, subjects=VALIDATION_SUBJECTS).pose
    args.out.mkdir(parents=True, exist_ok=True)
    task, template = make_task(model, train_poses, val_poses, config, start=start)
    command = " ".join(["train_lgd.py", *(a for a in argv if a != "--export-only")])
    step, params, final, wall_s, machine = _trained(args, task, tc, template, command)
    dest = args.export or args.out / f"lgd_{args.kind}"
    meta = {
        "command": command, "poses": str(path), "seed": args.seed, "steps": step,
        "scheduled_steps": args.steps, "batch": args.batch, "wall_s": wall_s,
        "machine": machine, "validation_subjects": list(VALIDATION_SUBJECTS),
        "lgd_config": task.describe, "init_from": origin, "final": final,
        "body_model": body_model_record(model),
    }  # fmt: skip
    npz, _ = export(template, params, dest, meta)
    keys = ("loss", "joint_mm_final", "val_joint_mm_init", "val_joint_mm_final")
    print("train_lgd: done;", ", ".join(f"{k} {final[k]:.4g}" for k in keys if k in final))
    print(f"train_lgd: wrote {npz}")
    return 0
