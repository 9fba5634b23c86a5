"""SMPLify's objective in JAX: sparse keypoints or dense vertex targets, with SPIN's priors.

The method and every setting below are explained in docs/METHOD.md (sections *SMPLify as SPIN
runs it*, *The Geman-McClure error*, *The GMM pose prior*, *Deviations we chose*).

Every term is written in residual form (a vector whose squares sum to the term's loss), so the
same objective serves gradient optimizers (Adam, L-BFGS) and least-squares ones (LM, GN):

- **keypoints** (body stage): ``sum_j c_j^2 sum_xy rho(r_j)``, ``r_j`` = projected minus
  target pixel, ``rho`` = Geman-McClure with ``sigma``; residual ``c_j * gm(r_j)`` with the
  signed square root ``gm(r) = sigma r / sqrt(sigma^2 + r^2)`` (``gm(r)^2 = rho(r)``, smooth;
  :func:`jaxrefine.optimizers.base.geman_mcclure_residual`).
- **dense** (the paper's data term): the same robust error between the projected vertices and their
  targets, summed over visible vertices (weights ``w_v``; 0 = not visible).
- **dense + keypoints** (data kind ``"dense+keypoints"``): both data terms summed, the keypoint
  term with its own weight ``keypoint_in_dense`` (e.g. detected keypoints beside the
  network's dense targets); the camera stage likewise sums both of its data terms.
- **pose prior**: ``w_pose^2 * GMM(theta_body)``, SMPLify's max-mixture:
  ``min_m 0.5 d^T Lambda_m d - log nw_m``. Residual of the active component
  ``w_pose [sqrt(0.5) W_m d, sqrt(-log nw_m)]`` with ``W_m^T W_m = Lambda_m`` (both forms from
  :mod:`jaxrefine.priors`).
- **angle prior**: ``w_angle^2 sum_k exp(s_k theta_k)^2`` over elbows/knees
  (body-pose indices 52, 55, 9, 12; signs +1, -1, -1, -1).
- **shape prior**: ``w_shape^2 ||beta||^2``.
- **camera stage**: plain squared pixel error of the torso keypoints (or of the visible
  vertices for a dense fit) plus ``w_depth^2 (t_z - t_z^init)^2``.

Data-term scale: residuals in pixels are multiplied by ``data.pixel_scale`` before the robust
function. The ``spin`` preset uses 1 (SPIN fits in a 224-pixel crop); the ``dense`` preset uses
``REFERENCE_PERSON_SIZE / person_size_px`` so a person ``REFERENCE_PERSON_SIZE`` pixels tall
weighs like SPIN's crop whatever the image size (the paper's fitting change (4); its
own weights were lost, this choice and the dense normalisation below are ours).

The dense term is additionally normalised to the keypoint term's size: it is multiplied by
``dense_weight^2 * 25 / n_visible`` so thousands of visible vertices do not swamp the priors
that were tuned for 25 keypoints. The ``dense`` preset uses ``dense_weight = 2`` (chosen on the
oracle experiment, seed 0, 32 frames: 1 under-uses the dense data, 2 and 4 are equally good).

Parameters (one sample): ``{"global_orient": (3,), "body_pose": (23, 3), "betas": (NB,),
"transl": (3,)}``; the body is posed by :func:`jaxrefine.body_model.forward`, translated by
``transl`` and seen by ``data.camera``. With SPIN's camera (R = I, t = 0) ``transl`` is SPIN's
camera translation.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrefine.body_model import (
    BodyModel,
    forward,
    rest_joints,
    rigid_chain,
    shape_vertices,
    skin,
    skin_vertices,
)
from jaxrefine.camera import Camera, check_cameras, perspective, project
from jaxrefine.geometry import first_joint_past_a_turn, rodrigues, rotate_points
from jaxrefine.keypoints import (
    BODY25_IGNORED_BY_SMPLIFY,
    MAX_CONFIDENCE,
    NORMALISED_KEYPOINT_BOUND,
    get_set,
    keypoint_sets_for,
    looks_normalised,
)
from jaxrefine.optimizers.base import AbstractObjective, geman_mcclure_residual
from jaxrefine.priors import GMMPrior, load_gmm
from jaxrefine.silhouette import SilhouetteTarget, silhouette_residuals

# body-pose (69-D) indices and signs of SPIN's angle prior: left/right elbow y, left/right knee x
ANGLE_PRIOR_INDICES = (52, 55, 9, 12)
ANGLE_PRIOR_SIGNS = (1.0, -1.0, -1.0, -1.0)
# OpenPose BODY_25 torso joints used by the camera stage: RHip, LHip, RShoulder, LShoulder
BODY25_TORSO = (9, 12, 2, 5)
REFERENCE_PERSON_SIZE = 224.0  # px: SPIN's crop side, in which its weights were tuned
DENSE_REFERENCE_COUNT = 25.0  # the dense term is scaled to weigh like 25 keypoints
DENSE_AND_KEYPOINTS = "dense+keypoints"  # data kind with both terms (see make_objectives)
DATA_KINDS = ("keypoints", "dense", DENSE_AND_KEYPOINTS)
# The dense preset's camera stage fits every 4th visible vertex (~500-1,100 of the open model's
# 2,000-4,400 visible ones): 6 rigid parameters need no more. On the oracle's 32 frames the
# stage took 0.95 instead of 2.29 ms per frame and the errors after Adam 100 + 100 and after
# LGD moved by at most 0.8 mm (docs/measurements/2026-11-30/s12_screens/camera_stride*).
CAMERA_VERTEX_STRIDE = 4


# The pose prior of the objective is priors.GMMPrior (the one implementation of SMPLify's
# max-mixture energy and of its residual form); the old name stays for callers.
GMMResidualPrior = GMMPrior


def load_gmm_prior(path=None) -> GMMPrior:
    """The shipped CMU-fitted GMM (``path=None``) or SMPLify's ``gmm_08.pkl``
    (:func:`jaxrefine.priors.load_gmm`)."""
    return load_gmm(path)


def check_gmm_choice(use_gmm: bool, path) -> None:
    """Refuse a prior file (``path``) given together with ``use_gmm=False``."""
    if path is not None and not use_gmm:
        raise ValueError(f"gmm_path={path} names a pose prior, but use_gmm=False turns the "
                         "prior off: give one of them")  # fmt: skip


def choose_gmm_prior(use_gmm: bool = True, path=None) -> GMMPrior | None:
    """A fit's pose prior: ``path``'s (None: the shipped one), or None without ``use_gmm``
    (:func:`check_gmm_choice` first)."""
    check_gmm_choice(use_gmm, path)
    return load_gmm_prior(path) if use_gmm else None


@struct.dataclass
class FitData:
    """Per-sample inputs of a fit (leaves get a leading batch axis for batched fits).

    Attributes:
      camera: the :class:`~jaxrefine.camera.Camera`.
      keypoints: (K, 2) target pixels (finite, also where missing) or None.
      keypoint_conf: (K,) confidences in [0, 1] (0 = missing; never fitted to; to
        :data:`~jaxrefine.keypoints.MAX_CONFIDENCE` taken as given) or None.
      dense_targets: (V, 2) target pixels per vertex (finite, also at weight 0) or None.
      dense_weights: (V,) per-vertex weights >= 0 (visibility / confidence) or None.
      dense_ids: (K,) int32 or None. When given, ``dense_targets`` (K, 2) and ``dense_weights``
        (K,) belong to these vertices only and only they are skinned (see :func:`compact_dense`).
      silhouette: a :class:`~jaxrefine.silhouette.SilhouetteTarget` (a person mask) or None;
        with a dense data kind the body stage adds the silhouette term for it.
      init_transl: (3,) translation at the start (depth anchor of the camera stage).
      pixel_scale: () multiplier of pixel residuals (see module docstring).
    """

    camera: Camera
    init_transl: jnp.ndarray
    pixel_scale: jnp.ndarray
    keypoints: jnp.ndarray | None = None
    keypoint_conf: jnp.ndarray | None = None
    dense_targets: jnp.ndarray | None = None
    dense_weights: jnp.ndarray | None = None
    dense_ids: jnp.ndarray | None = None
    silhouette: SilhouetteTarget | None = None


def compact_dense(data: FitData, multiple: int = 256, min_width: int = 0) -> FitData:
    """Keep only each frame's weighted (visible) vertices, for a batch of dense fit data.

    The data term is a sum over visible vertices (the paper's dense term), so the vertices nobody
    sees need not be skinned at all. Per frame, the vertices with weight > 0 come first, padded with
    weight-0 vertices to K = the batch's largest visible count rounded up to ``multiple`` (so
    batches of similar visibility share one compiled program), and at least ``min_width``: a
    caller that fits many batches passes the largest K so far, so that its batches share one
    program instead of compiling one per width (each compiled fit program holds thousands of
    memory maps on CPU; docs/METHOD_NOTES.md, "Compiled programs and memory maps"). Host-side
    (numpy), batched.

    Args:
      data: FitData with (B, V, 2) dense_targets and (B, V) dense_weights, no dense_ids.
      multiple: K's rounding.
      min_width: K's lower bound (capped at V).

    Returns:
      FitData with (B, K, 2) targets, (B, K) weights and (B, K) int32 dense_ids.
    """
    if data.dense_ids is not None:
        return data
    w = np.asarray(data.dense_weights)
    if w.ndim != 2:
        raise ValueError(f"compact_dense takes a batch: dense_weights (B, V), got {w.shape}")
    vis = w > 0
    V = w.shape[1]
    k = int(max(vis.sum(1).max(), 1))
    k = min(V, max(-(-k // multiple) * multiple, int(min_width)))
    ids = jnp.asarray(_visible_first(vis, k))
    targets, weights = _gather_vertices(data.dense_targets, data.dense_weights, ids)
    return data.replace(dense_targets=targets, dense_weights=weights, dense_ids=ids)


def _visible_first(vis: np.ndarray, k: int) -> np.ndarray:
    """(B, K) int32: per row of the (B, V) mask, the visible ids in order, then the first
    invisible ones as padding (a stable argsort of ``~vis``, cut to K; row by row with
    ``flatnonzero`` it takes 0.6 instead of 1.6 ms at (32, 13348))."""
    out = np.empty((vis.shape[0], k), np.int32)
    for i, row in enumerate(vis):
        on = np.flatnonzero(row)[:k]
        out[i, : len(on)] = on
        out[i, len(on) :] = np.flatnonzero(~row)[: k - len(on)]
    return out


@jax.jit
def _gather_vertices(targets, weights, ids):
    """(B, V, 2) targets and (B, V) weights at (B, K) vertex ids. On the device: numpy's
    ``take_along_axis`` of a batch-32 frame set took 2.4-3.5 ms of compact_dense's ~6 (open
    model), this 0.3-0.4 (docs/measurements/2026-11-30/s11_screens/compact_parts.txt)."""
    return jnp.take_along_axis(targets, ids[..., None], 1), jnp.take_along_axis(weights, ids, 1)


@dataclasses.dataclass(frozen=True)
class Weights:
    """Term weights (squared in the loss, as in SPIN) and the robust scale, in one place."""

    sigma: float = 100.0
    keypoint: float = 1.0
    dense: float = 1.0
    # the keypoint term's weight beside the dense term (data kind "dense+keypoints"); the
    # dense term weighs like 25 keypoints times dense^2, so 1 gives detections ~1/4 of its say
    keypoint_in_dense: float = 1.0
    pose_prior: float = 4.78
    angle_prior: float = 15.2
    shape_prior: float = 5.0
    depth: float = 100.0
    # the silhouette term (only where the data has a mask); like the dense term it is scaled
    # to weigh like 25 keypoints, so 1 gives the outline the say of the dense targets
    silhouette: float = 1.0


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named SMPLify configuration.

    Attributes:
      name: "spin" or "dense".
      weights: :class:`Weights`.
      use_angle_prior / use_depth_prior: the paper's dense variant drops both.
      scale_by_person_size: multiply pixel residuals by REFERENCE_PERSON_SIZE / person size.
      camera_steps / body_steps: iterations of the two stages (SPIN: 100 + 100).
      learning_rate: Adam's step (SPIN: 1e-2).
      ignore_body25: BODY_25 joints ignored in the body stage (SPIN: neck and hips).
      body_stage_params: what the body stage optimises (SPIN keeps the camera translation
        fixed; without a depth anchor the dense preset lets it move too).
      camera_vertex_stride: the dense camera stage fits every s-th of the dense term's
        vertices (the visible ones in order), not all: it moves the body rigidly (6 numbers),
        for which a few hundred to a thousand points suffice (see ``CAMERA_VERTEX_STRIDE``).
    """

    name: str
    weights: Weights = Weights()
    use_angle_prior: bool = True
    use_depth_prior: bool = True
    scale_by_person_size: bool = False
    camera_steps: int = 100
    body_steps: int = 100
    learning_rate: float = 1e-2
    ignore_body25: tuple[int, ...] = BODY25_IGNORED_BY_SMPLIFY
    body_stage_params: tuple[str, ...] = ("body_pose", "betas", "global_orient")
    camera_vertex_stride: int = 1


PRESETS = {
    "spin": Preset("spin"),
    "dense": Preset(
        "dense",
        weights=Weights(dense=2.0),
        use_angle_prior=False,
        use_depth_prior=False,
        scale_by_person_size=True,
        body_stage_params=("body_pose", "betas", "global_orient", "transl"),
        camera_vertex_stride=CAMERA_VERTEX_STRIDE,
    ),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(f"unknown SMPLify preset {name!r}; choose from {sorted(PRESETS)}")
    return PRESETS[name]


@struct.dataclass
class SMPLifyObjective(AbstractObjective):
    """SMPLify objective for one sample (see the module docstring for every term).

    Attributes:
      model: the body model (array leaves are traced, not batched).
      gmm: :class:`~jaxrefine.priors.GMMPrior` or None (no pose prior).
      w: dict of term weights as () arrays (changing them does not recompile).
      stage: static, "camera" or "body".
      data_kind: static, one of :data:`DATA_KINDS`.
      keypoint_set: static name of the keypoint set the targets follow.
      use_angle_prior / use_depth_prior: static switches.
      ignore: static keypoint indices ignored in the body stage.
      camera_stride: static; the camera stage's dense term uses every s-th vertex of the
        data's (:meth:`_dense_view`).
      rigid: None, or the dense data term's body posed once for a stage that holds body_pose
        and betas fixed (see :meth:`specialize`): ``{"points": (3, N), "camera_offset": (3, N)}``
        (coordinate rows; see :meth:`_dense_projection`).
    """

    model: BodyModel
    gmm: GMMPrior | None
    w: dict
    rigid: dict | None = None
    stage: str = struct.field(pytree_node=False, default="body")
    data_kind: str = struct.field(pytree_node=False, default="keypoints")
    keypoint_set: str = struct.field(pytree_node=False, default="body25")
    use_angle_prior: bool = struct.field(pytree_node=False, default=True)
    use_depth_prior: bool = struct.field(pytree_node=False, default=True)
    ignore: tuple[int, ...] = struct.field(pytree_node=False, default=())
    camera_stride: int = struct.field(pytree_node=False, default=1)

    has_residuals = True

    # -- a stage that moves the body rigidly ---------------------------------------------------
    def specialize(self, frozen, data: FitData) -> SMPLifyObjective:
        """Pose the body once when only the global orientation and translation are trained.

        SMPL's global rotation ``R0`` turns the whole posed body about the root joint ``J0``,
        and the pose correctives depend on the body pose only, so a vertex with skinning
        weights summing to ``s`` is ``R0 @ (v_I - s J0) + s J0 + transl``, where ``v_I`` is
        the vertex posed with the identity root rotation. The camera stage (SPIN's first) then
        skips the blend shapes and the kinematic chain at every iteration, which dominate dense
        fits on models with pose correctives (two matrix products with 207 x 3V numbers per
        iteration). Same values up to float rounding; dense data kind only (the keypoint fits
        are cheap already).
        """
        if not isinstance(frozen, dict) or self.data_kind != "dense":
            return self
        if {k for k, v in frozen.items() if v is None} - {"global_orient", "transl"}:
            return self
        base = {**frozen, "global_orient": jnp.zeros(3, frozen["betas"].dtype)}
        base["transl"] = jnp.zeros(3, frozen["betas"].dtype)
        ids = self._dense_view(data)[0]
        if ids is not None:
            v_id = self._visible_vertices(base, ids)
            s = jnp.sum(self.model.lbs_weights[ids], axis=-1)
        else:
            v_id = self._vertices(base)
            s = jnp.sum(self.model.lbs_weights, axis=-1)
        offset = s[:, None] * rest_joints(self.model, frozen["betas"])[0][None]
        cam = data.camera  # camera-frame offsets, one row per coordinate: see _dense_projection
        cam_offset = rotate_points(offset, cam.R) + cam.t[None]
        return self.replace(rigid={"points": (v_id - offset).T, "camera_offset": cam_offset.T})

    # -- model evaluation ---------------------------------------------------------------------
    def _pose(self, params) -> jnp.ndarray:
        return jnp.concatenate([params["global_orient"][None], params["body_pose"]], 0)

    def _keypoints3d(self, params) -> jnp.ndarray:
        """Keypoints (K, 3) via the cheap path: joints + only the landmark vertices."""
        ks = get_set(keypoint_sets_for(self.model), self.keypoint_set)
        vids = ks.vertex_ids_flat
        if vids:
            J, v = skin_vertices(
                self.model, self._pose(params), params["betas"], vids, params["transl"]
            )
        else:
            from jaxrefine.body_model import posed_joints

            J = posed_joints(self.model, self._pose(params), params["betas"], params["transl"])
            v = jnp.zeros((0, 3), J.dtype)
        col = {vid: i for i, vid in enumerate(vids)}
        rows = []
        for k, j in enumerate(ks.joint_index):
            if j >= 0:
                rows.append(J[j])
            else:
                ids = np.asarray([col[i] for i in ks.vertex_ids[k]])
                wts = jnp.asarray(ks.vertex_weights[k], J.dtype)
                rows.append(wts @ v[ids])
        return jnp.stack(rows)

    def _visible_vertices(self, params, ids: jnp.ndarray) -> jnp.ndarray:
        """Posed vertices ``ids`` (K,) -> (K, 3), for the compacted dense term.

        The blend shapes (shape, and the 207 pose correctives when the model has them) are
        evaluated for the whole mesh and only then gathered to the K visible rows; skinning,
        projection and the robust error run on the K rows only. Under ``vmap`` the blend shapes
        are then one matrix product for the whole batch (the model's matrices read once),
        whereas gathering each frame's own corrective rows (207 x 3K numbers per frame and
        iteration) and multiplying them one frame at a time was memory-bound: 11x slower than
        posing the whole mesh at batch 32 on an SMPL-size model (see ``jaxrefine bench
        smplify --model smpl-size``).
        """
        model, betas = self.model, params["betas"]
        R = rodrigues(self._pose(params))
        v = shape_vertices(model, betas)
        if model.posedirs is not None:
            feat = (R[1:] - jnp.eye(3, dtype=R.dtype)[None]).reshape(-1)
            v = v + (feat @ model.posedirs).reshape(-1, 3)
        _, A = rigid_chain(R, rest_joints(model, betas), model.parents)
        return skin(model.lbs_weights[ids], A, v[ids]) + params["transl"][None]

    def _dense_view(self, data: FitData):
        """``(ids, targets, weights)`` of the dense term: the data's, or in the camera stage
        only every ``camera_stride``-th weighted vertex (in vertex order).

        Compacted data hold their weighted vertices first, in vertex order (as
        :func:`compact_dense` makes them), so that is every s-th column; on the whole mesh
        (ids None) the other weighted vertices get weight 0 (the same vertices: compacting
        changes no result, it only skips work).
        """
        ids, t, w = data.dense_ids, data.dense_targets, data.dense_weights
        s = self.camera_stride
        if self.stage != "camera" or s == 1:
            return ids, t, w
        if ids is not None:
            return ids[::s], t[::s], w[::s]
        rank = jnp.cumsum(w > 0) - 1
        return None, t, jnp.where(rank % s == 0, w, 0.0)

    def _dense_projection(self, params, data: FitData) -> jnp.ndarray:
        """Pixels (N, 2) of the vertices the dense terms see: the compacted visible ones or the
        whole mesh, or (:meth:`specialize`) the body posed once and moved rigidly.

        The rigid case works on coordinate rows: a vertex's camera-frame position is
        ``M p + q + c`` with ``M = R_cam R0``, ``c = R_cam transl`` (per iteration, 3 x 3
        numbers) and ``p``, ``q = R_cam offset + t_cam`` fixed (3, N) rows. Written on (N, 3)
        columns, the backward pass builds each column's cotangent as a padded (N, 3) array and
        sums them; on rows it is a few fused reductions (the dense camera stage at batch 32 on
        the open model: see ``docs/measurements/2026-11-30/camera_stage_ab.txt``).
        """
        if self.rigid is None:
            ids = self._dense_view(data)[0]
            if ids is not None:
                verts = self._visible_vertices(params, ids)
            else:
                verts = self._vertices(params)
            return project(data.camera, verts)
        cam = data.camera
        M = cam.R @ rodrigues(params["global_orient"])
        c = cam.R @ params["transl"]
        p, q = self.rigid["points"], self.rigid["camera_offset"]
        x, y, z = (M[i, 0] * p[0] + M[i, 1] * p[1] + M[i, 2] * p[2] + q[i] + c[i] for i in range(3))
        return perspective(cam, x, y, z)

    def _vertices(self, params) -> jnp.ndarray:
        return forward(self.model, self._pose(params), params["betas"], params["transl"]).vertices

    # -- residual blocks ----------------------------------------------------------------------
    def _data_residuals(self, params, data: FitData) -> jnp.ndarray:
        if self.data_kind == DENSE_AND_KEYPOINTS:  # both terms; keypoints with their own weight
            dense = self.replace(data_kind="dense")._data_residuals(params, data)
            kp = self.replace(data_kind="keypoints", w={**self.w, "data": self.w["keypoint"]})
            return jnp.concatenate([dense, kp._data_residuals(params, data)])
        s = data.pixel_scale
        if self.data_kind == "keypoints":
            proj = project(data.camera, self._keypoints3d(params))
            r = (proj - data.keypoints) * s
            conf = data.keypoint_conf
            if self.stage == "camera":  # SPIN: unweighted torso error; missing ones dropped
                idx = np.asarray(BODY25_TORSO)
                present = (conf[idx] > 0).astype(r.dtype)[:, None]
                return (r[idx] * present * self.w["data"]).reshape(-1)
            if self.ignore:
                conf = conf.at[np.asarray(self.ignore)].set(0.0)
            robust = geman_mcclure_residual(r, self.w["sigma"])
            return (conf[:, None] * robust * self.w["data"]).reshape(-1)
        proj = self._dense_projection(params, data)
        _, targets, wv = self._dense_view(data)
        r = (proj - targets) * s
        norm = jnp.sqrt(DENSE_REFERENCE_COUNT / jnp.maximum(jnp.sum(wv > 0), 1.0))
        if self.stage == "camera":
            return (jnp.sqrt(wv)[:, None] * r * norm * self.w["data"]).reshape(-1)
        rr = jnp.sqrt(wv)[:, None] * geman_mcclure_residual(r, self.w["sigma"])
        return (rr * norm * self.w["data"]).reshape(-1)

    def _silhouette_residuals(self, params, data: FitData) -> jnp.ndarray:
        """The silhouette term over the dense term's visible vertices (same projection: XLA
        computes it once)."""
        proj = self._dense_projection(params, data)
        r = silhouette_residuals(
            data.silhouette, proj, data.dense_weights, self.w["sigma"], data.pixel_scale
        )
        return r * jnp.sqrt(DENSE_REFERENCE_COUNT) * self.w["silhouette"]

    def _blocks(self, params, data: FitData, gmm_residuals: bool = True) -> dict[str, jnp.ndarray]:
        out = {"data": self._data_residuals(params, data)}
        if data.silhouette is not None and "dense" in self.data_kind and self.stage == "body":
            out["silhouette"] = self._silhouette_residuals(params, data)
        if self.stage == "camera":
            if self.use_depth_prior:
                out["depth"] = (self.w["depth"] * (params["transl"][2] - data.init_transl[2]))[None]
            return out
        body = params["body_pose"].reshape(-1)
        if self.gmm is not None and gmm_residuals:
            out["pose_prior"] = self.w["pose_prior"] * self.gmm.residuals(body)
        if self.use_angle_prior:
            idx = np.asarray(ANGLE_PRIOR_INDICES)
            sg = jnp.asarray(ANGLE_PRIOR_SIGNS, body.dtype)
            out["angle_prior"] = self.w["angle_prior"] * jnp.exp(sg * body[idx])
        out["shape_prior"] = self.w["shape_prior"] * params["betas"]
        return out

    def residuals(self, params, data):
        return jnp.concatenate(list(self._blocks(params, data).values()))

    def terms(self, params, data):
        return {k: jnp.sum(v**2) for k, v in self._blocks(params, data).items()}

    def loss(self, params, data):
        blocks = self._blocks(params, data, gmm_residuals=False)
        total = sum(jnp.sum(v**2) for v in blocks.values())
        if self.stage == "body" and self.gmm is not None:  # min over components, computed once
            body = params["body_pose"].reshape(-1)
            total = total + self.w["pose_prior"] ** 2 * self.gmm.energy(body)
        return total


def make_objectives(
    model: BodyModel,
    preset: Preset,
    data_kind: str,
    gmm: GMMPrior | None,
    keypoint_set: str = "body25",
) -> tuple[SMPLifyObjective, SMPLifyObjective]:
    """The (camera stage, body stage) objectives of a preset.

    ``data_kind`` (one of :data:`DATA_KINDS`): "keypoints" (``data.keypoints`` /
    ``keypoint_conf``), "dense" (``data.dense_targets`` / ``dense_weights``) or
    "dense+keypoints": the sum of both data terms, the dense one as for "dense", the keypoint
    one as for "keypoints" but weighted by ``weights.keypoint_in_dense``; both in pixels times
    ``data.pixel_scale`` (the person-size scale); priors once.
    """
    if data_kind not in DATA_KINDS:
        raise ValueError(f"data_kind must be one of {DATA_KINDS}, got {data_kind!r}")
    wt = preset.weights
    w = {
        "sigma": jnp.float32(wt.sigma),
        "data": jnp.float32(wt.keypoint if data_kind == "keypoints" else wt.dense),
        "keypoint": jnp.float32(wt.keypoint_in_dense),
        "pose_prior": jnp.float32(wt.pose_prior),
        "angle_prior": jnp.float32(wt.angle_prior),
        "shape_prior": jnp.float32(wt.shape_prior),
        "depth": jnp.float32(wt.depth),
        "silhouette": jnp.float32(wt.silhouette),
    }
    uses_keypoints = data_kind in ("keypoints", DENSE_AND_KEYPOINTS)
    ignore = preset.ignore_body25 if (uses_keypoints and keypoint_set == "body25") else ()
    common = dict(
        model=model,
        gmm=gmm,
        w=w,
        data_kind=data_kind,
        keypoint_set=keypoint_set,
        use_angle_prior=preset.use_angle_prior,
        use_depth_prior=preset.use_depth_prior,
    )
    return (
        SMPLifyObjective(
            stage="camera", ignore=(), camera_stride=preset.camera_vertex_stride, **common
        ),  # fmt: skip
        SMPLifyObjective(stage="body", ignore=tuple(ignore), **common),
    )


def person_size_px(points2d: jnp.ndarray, weights: jnp.ndarray) -> jnp.ndarray:
    """Size of a person in pixels: the larger side of the bounding box of the weighted points."""
    big = 1e9
    m = weights > 0
    lo = jnp.min(jnp.where(m[:, None], points2d, big), 0)
    hi = jnp.max(jnp.where(m[:, None], points2d, -big), 0)
    return jnp.maximum(jnp.max(hi - lo), 1.0)


# The fit's parameters with their per-sample shapes ("NB": the body model's betas).
PARAM_SHAPES = {"global_orient": (3,), "body_pose": (23, 3), "betas": ("NB",), "transl": (3,)}
# SMPL-X's and SMPL+H's body_pose has 21 joints (SMPL's 23): named when one is given.
SMPLX_BODY_POSE_JOINTS = 21


def check_params(params: dict, num_betas: int, who: str = "params") -> dict:
    """A batch of fit parameters, checked by shape (traced values too: nothing is read).

    ``params``: global_orient (B, 3) (or (B, 1, 3)), body_pose (B, 23, 3) or smplx's (B, 69)
    (both reshaped), betas (B, ``num_betas``), transl (B, 3), one B; other keys are kept as
    they are.

    Raises:
      ValueError: naming ``who``, the key, its shape and what was expected: a key missing,
        rotation matrices (axis-angle is expected), another layout's body_pose, another
        number of betas than the body model's, or differing batch sizes.
    """
    missing = [k for k in PARAM_SHAPES if k not in params]
    if missing:
        raise ValueError(
            f"{who} lacks {', '.join(map(repr, missing))}; expected {_expected(num_betas)}"
        )
    out = dict(params)
    bp, go = jnp.shape(params["body_pose"]), jnp.shape(params["global_orient"])
    if len(bp) == 2 and bp[1] == 69:
        out["body_pose"] = jnp.reshape(params["body_pose"], (bp[0], 23, 3))
    if len(go) == 3 and go[1:] == (1, 3):
        out["global_orient"] = jnp.reshape(params["global_orient"], (go[0], 3))
    for key, shape in PARAM_SHAPES.items():
        want = tuple(num_betas if d == "NB" else d for d in shape)
        got = tuple(jnp.shape(out[key]))
        if got[1:] != want or len(got) != len(want) + 1:
            raise ValueError(f"{who}[{key!r}] has shape {got}: {_shape_hint(key, got, want)}")
    sizes = {k: jnp.shape(out[k])[0] for k in PARAM_SHAPES}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{who} holds different batch sizes: {sizes}")
    return out


def check_fit_data(
    model: BodyModel, data: FitData, data_kind: str, keypoint_set: str, batch: int,
    who: str = "data",
) -> None:  # fmt: skip
    """Refuse, by shape, a batch of :class:`FitData` that does not fit the data kind: a field
    it needs is None, or a field's shape is not the one expected for ``batch`` samples,
    ``keypoint_set``'s keypoints (x, y) and the model's vertices (or the compacted width of
    ``dense_ids``); traced data too. Then, where the values are on the host, values the fit
    would misread: cameras (:func:`~jaxrefine.camera.check_cameras`), keypoints
    (:func:`check_keypoint_values`), dense targets (:func:`check_dense_values`).

    Raises:
      ValueError: naming ``who``, the field, and its shape and the expected one, or the
        value found and what is expected.
    """
    want = {"init_transl": (batch, 3), "pixel_scale": (batch,), "camera.fx": (batch,)}
    k = None  # the keypoint set is read only where keypoints are fitted
    if data_kind in ("keypoints", DENSE_AND_KEYPOINTS):
        k = len(get_set(keypoint_sets_for(model), keypoint_set).names)
        want |= {"keypoints": (batch, k, 2), "keypoint_conf": (batch, k)}
    if "dense" in data_kind:
        v = model.num_vertices if data.dense_ids is None else jnp.shape(data.dense_ids)[-1]
        want |= {"dense_targets": (batch, v, 2), "dense_weights": (batch, v)}
    for name, shape in want.items():
        value = data.camera.fx if name == "camera.fx" else getattr(data, name)
        if value is None:
            raise ValueError(f"{who}.{name} is None; data_kind={data_kind!r} needs it {shape}")
        got = tuple(jnp.shape(value))
        if got != shape:
            hint = ""
            if name == "keypoints" and got[-1:] == (3,):
                hint = " (x, y: give the confidences as keypoint_conf)"
            elif name.startswith("keypoint") and got[:1] == shape[:1] and got[1:2] != (k,):
                hint = f" ({keypoint_set!r} has {k} keypoints; keypoint_set= names the set)"
            raise ValueError(f"{who}.{name} has shape {got}; expected {shape}{hint}")
    check_cameras(data.camera, f"{who}.camera")
    if data_kind in ("keypoints", DENSE_AND_KEYPOINTS):
        check_keypoint_values(data.keypoints, data.keypoint_conf, f"{who}.keypoints")
    if "dense" in data_kind:
        check_dense_values(data.dense_targets, data.dense_weights, f"{who}.dense_targets")


# what refusing normalised keypoints or dense targets says (no person fits in 3x3 pixels)
_NORMALISED_HINT = (
    f"every {{what}} > 0 lies within [-{NORMALISED_KEYPOINT_BOUND:g}, "
    f"{NORMALISED_KEYPOINT_BOUND:g}]; full-image pixels are expected (normalised coordinates? "
    "multiply x by the image's width and y by its height)"
)


def _finite_points(points, weights, who: str, what: str, missing: str):
    """Host float64 (..., P, 2) ``points`` and (..., P) ``weights``, or None when traced
    (unknown); NaN or inf in either is refused, naming how many and the first (0 * NaN is
    NaN: a point of weight 0 at NaN x, y ends every fit of its batch "non-finite")."""
    if isinstance(points, jax.core.Tracer) or isinstance(weights, jax.core.Tracer):
        return None
    points, weights = np.asarray(points, np.float64), np.asarray(weights, np.float64)
    bad = ~(np.isfinite(weights) & np.all(np.isfinite(points), -1))
    if bad.any():
        at = ", ".join(map(str, np.argwhere(bad)[0]))
        raise ValueError(f"{who}: {int(bad.sum())} {what} hold NaN or inf (e.g. [{at}]); "
                         f"{missing} at any finite x, y (np.nan_to_num gives both)")  # fmt: skip
    return points, weights


def check_keypoint_values(xy, conf, who: str) -> None:
    """Refuse keypoints (..., K, 2) with (..., K) confidences that the fit would misread:
    NaN or inf (0 * NaN is NaN: a missing keypoint of confidence 0 at NaN ends every fit of
    its batch "non-finite"), confidences beyond [0, :data:`MAX_CONFIDENCE`] (another scale;
    the fit weighs a keypoint by its confidence squared), or normalised coordinates
    (:func:`jaxrefine.keypoints.looks_normalised`: fitted as pixels they pull the body into
    the image's corner). Traced values are not checked (unknown)."""
    host = _finite_points(xy, conf, who, "keypoints", "a missing keypoint is one of confidence 0")
    if host is None:
        return
    xy, conf = host
    lo, hi = (float(conf.min()), float(conf.max())) if conf.size else (0.0, 0.0)
    if lo < 0 or hi > MAX_CONFIDENCE:
        flags = np.all(np.isin(conf, (0.0, 1.0, 2.0)))  # COCO's annotation visibility v
        hint = ("COCO's visibility flags (0, 1, 2)? np.minimum(v, 1) reads them as its "
                "reader does" if flags else "percent? a detector's unnormalised scores? "
                "divide them by their scale")  # fmt: skip
        raise ValueError(
            f"{who}: confidences from {lo:g} to {hi:g}; fractions of 1 are expected ({hint}), "
            f"up to {MAX_CONFIDENCE:g} (a pose model's overshoot) taken as given"
        )
    if looks_normalised(xy, conf):
        raise ValueError(f"{who}: {_NORMALISED_HINT.format(what='keypoint of confidence')}")


def check_dense_values(targets, weights, who: str) -> None:
    """Refuse dense targets (..., V, 2) with (..., V) weights holding NaN or inf (0 * NaN is
    NaN: a vertex without a target, at weight 0 and NaN x, y, ends every fit of its batch
    "non-finite"), negative weights, or normalised coordinates (as for keypoints:
    :func:`jaxrefine.keypoints.looks_normalised`). Traced values are not checked (unknown)."""
    missing = "a vertex without a target is one of weight 0"
    host = _finite_points(targets, weights, who, "dense targets", missing)
    if host is None:
        return
    targets, weights = host
    if weights.size and weights.min() < 0:
        at = ", ".join(map(str, np.argwhere(weights < 0)[0]))
        raise ValueError(f"{who}: dense weights below 0 (e.g. {weights.min():g} at [{at}]); "
                         "weights are >= 0 (0: no target)")  # fmt: skip
    if looks_normalised(targets, weights):
        raise ValueError(f"{who}: {_NORMALISED_HINT.format(what='target of weight')}")


def check_joint_angles(body_pose, who: str) -> None:
    """Refuse a (N, 23, 3) axis-angle ``body_pose`` with a joint rotated past a full turn
    (:func:`jaxrefine.geometry.first_joint_past_a_turn`): degrees read as radians, which
    twist the body beyond recognition. Traced values are not checked (unknown)."""
    if isinstance(body_pose, jax.core.Tracer):
        return
    past = first_joint_past_a_turn(body_pose)
    if past is not None:
        i, j, angle = past
        raise ValueError(
            f"{who}['body_pose'] holds a joint rotated by {angle:.3g} (frame {i}, joint {j}); "
            "axis-angle is in radians, a joint's within a turn (2 pi): degrees? (np.radians "
            "converts them)"
        )


def has_data(data: FitData, data_kind: str) -> jnp.ndarray:
    """(B,) bool: the samples of a batch whose data term has something to fit: a keypoint of
    confidence > 0 (keypoint kinds) or a vertex of weight > 0 (dense kinds; the silhouette
    term is taken over those vertices too). Without any, an objective is its priors alone,
    whose minimum is the mean pose and shape, not the image."""
    batch = jnp.shape(data.init_transl)[0]
    found = jnp.zeros(batch, bool)
    if data_kind in ("keypoints", DENSE_AND_KEYPOINTS):
        found |= jnp.any(jnp.asarray(data.keypoint_conf) > 0, axis=-1)
    if "dense" in data_kind:
        found |= jnp.any(jnp.asarray(data.dense_weights) > 0, axis=-1)
    return found


def _expected(num_betas: int) -> str:
    return ", ".join(
        f"{k} (B, {', '.join(str(num_betas if d == 'NB' else d) for d in s)})"
        for k, s in PARAM_SHAPES.items()
    )


def _shape_hint(key: str, got: tuple, want: tuple) -> str:
    batch = f"(B, {', '.join(map(str, want))})"
    if got[-2:] == (3, 3) and key in ("global_orient", "body_pose"):
        return (f"rotation matrices? expected axis-angle {batch} (convert with "
                "scipy.spatial.transform.Rotation.from_matrix(R).as_rotvec())")  # fmt: skip
    joints = got[1] if len(got) == 3 and got[2] == 3 else (got[1] // 3 if len(got) == 2 else 0)
    if key == "body_pose" and joints == SMPLX_BODY_POSE_JOINTS:
        return (f"an SMPL-X or SMPL+H body_pose ({joints} joints), expected SMPL's {batch} "
                "or (B, 69) (convert the body to SMPL first, e.g. with smplx's "
                "transfer_model)")  # fmt: skip
    if key == "betas" and len(got) == 2:
        fix = "pad them with zeros" if got[1] < want[0] else "drop the extra ones if they are 0"
        return (f"{got[1]} shape coefficients, but the body model has {want[0]} ({fix}, or "
                "use the body model the estimates were made with)")  # fmt: skip
    return f"expected {batch}, a leading batch axis first"


def params_from_pose(pose: jnp.ndarray, betas: jnp.ndarray, transl: jnp.ndarray) -> dict:
    """(..., 24, 3) or (..., 72) axis-angle pose, (..., NB) betas, (..., 3) transl -> the
    fit's parameter dict."""
    pose = jnp.asarray(pose)
    if pose.shape[-1:] == (72,):
        pose = pose.reshape(pose.shape[:-1] + (24, 3))
    if pose.shape[-2:] != (24, 3):
        raise ValueError(
            f"pose has shape {pose.shape}; expected (..., 24, 3) or (..., 72) axis-angle"
        )
    return {
        "global_orient": pose[..., 0, :],
        "body_pose": pose[..., 1:, :],
        "betas": jnp.asarray(betas),
        "transl": jnp.asarray(transl),
    }


def pose_from_params(params: dict) -> jnp.ndarray:
    return jnp.concatenate([params["global_orient"][..., None, :], params["body_pose"]], -2)
