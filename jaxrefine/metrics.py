"""3D pose and shape errors: MPJPE, PA-MPJPE, N-MPJPE, PVE, PA-PVE, N-PVE (millimetres).

Protocol (every function is for ONE sample; ``vmap`` or :func:`compute_all_batch` for many):

- **Units.** Inputs in metres, outputs in millimetres (x1000), mean over points of the
  Euclidean distance.
- **Joints.** Whatever joint set is passed. jaxrefine reports the **24 SMPL joints** (the body
  model's ``J_regressor`` applied to the posed mesh; pelvis = joint 0) because the open body
  model has no Human3.6M joint regressor. Numbers are therefore *not* directly comparable with
  papers that use SPIN's protocol (17 H36M-regressed joints, 14 LSP joints, pelvis = H36M joint
  0; docs/METHOD.md, *Metrics*); pass such joints yourself to follow that protocol.
- **MPJPE** (root-aligned): subtract the root from prediction and ground truth separately,
  then average the joint distances. The root is one joint index (default 0, the SMPL pelvis)
  or the mean of several (e.g. ``(1, 2)``, the hip midpoint).
- **PA-MPJPE**: the prediction is aligned to the ground truth by the similarity transform
  (scale, rotation, translation) minimising the squared error (Umeyama 1991; Procrustes with
  scale). Reflections are excluded: the rotation has determinant +1 even when the best
  orthogonal map would be a mirror. No root alignment is needed (the translation absorbs it).
- **N-MPJPE** (Rhodin et al., CVPR 2018): after root alignment, the prediction is multiplied by
  the least-squares scale ``s = <p, g> / <p, p>``; no rotation.
- **PVE** (per-vertex error): vertices aligned with the *joint* root translation, i.e. the
  predicted root joint is subtracted from the predicted vertices and the ground-truth root
  joint from the ground-truth vertices (as 4D-Humans / PARE do with the pelvis).
- **PA-PVE**: Procrustes with scale estimated on the vertices themselves.
- **N-PVE**: root-aligned as PVE, then the least-squares scale estimated on the vertices.

Degenerate inputs (all points coincident) give a zero scale instead of NaN.

>>> import numpy as np
>>> gt = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.2, -0.4, 0.1]])
>>> pred = 2.0 * gt + 1.0  # twice as large, shifted: only the scale is wrong
>>> {k: round(float(v), 1) for k, v in compute_all(pred, gt).items()}
{'mpjpe': 319.4, 'pa_mpjpe': 0.0, 'n_mpjpe': 0.0}
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

M_TO_MM = 1000.0  # inputs are metres, errors are reported in millimetres

Root = int | Sequence[int]

METRIC_NAMES = ("mpjpe", "pa_mpjpe", "n_mpjpe", "pve", "pa_pve", "n_pve")


def _check_points(x: jax.Array, name: str) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim != 2 or x.shape[-1] != 3:
        raise ValueError(
            f"{name} must have shape (N, 3) for one sample (vmap for batches), got {x.shape}"
        )
    return x


def _check_pair(pred: jax.Array, gt: jax.Array, what: str) -> tuple[jax.Array, jax.Array]:
    pred = _check_points(pred, f"pred_{what}")
    gt = _check_points(gt, f"gt_{what}")
    if pred.shape != gt.shape:
        raise ValueError(f"pred_{what} {pred.shape} and gt_{what} {gt.shape} differ in shape")
    return pred, gt


def _root_point(joints: jax.Array, root: Root) -> jax.Array:
    idx = (root,) if isinstance(root, int) else tuple(int(i) for i in root)
    if not idx:
        raise ValueError("root must name at least one joint")
    return jnp.mean(joints[jnp.asarray(idx)], axis=0)


def _mean_dist_mm(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.mean(jnp.linalg.norm(a - b, axis=-1)) * M_TO_MM


def procrustes_align(pred: jax.Array, gt: jax.Array) -> jax.Array:
    """Similarity-aligned copy of ``pred`` (Umeyama 1991, rotation with det +1).

    Finds ``s, R, t`` minimising ``sum_i |s R p_i + t - g_i|^2`` with ``R`` a proper rotation.

    Args:
      pred: (N, 3) points to align.
      gt: (N, 3) target points.

    Returns:
      (N, 3) ``s R pred + t``.
    """
    pred, gt = _check_pair(pred, gt, "points")
    mu_p = jnp.mean(pred, axis=0, keepdims=True)
    mu_g = jnp.mean(gt, axis=0, keepdims=True)
    p = pred - mu_p
    g = gt - mu_g
    h = p.T @ g  # (3, 3) cross-covariance
    u, sv, vt = jnp.linalg.svd(h)
    d = jnp.where(jnp.linalg.det(vt.T @ u.T) < 0, -1.0, 1.0).astype(p.dtype)
    signs = jnp.stack([jnp.ones_like(d), jnp.ones_like(d), d])
    rot = (vt.T * signs[None]) @ u.T  # (3, 3), maps centred pred onto centred gt
    var_p = jnp.sum(p * p)
    scale = jnp.sum(sv * signs) / jnp.maximum(var_p, jnp.finfo(p.dtype).tiny)
    return scale * p @ rot.T + mu_g


def scale_align(pred: jax.Array, gt: jax.Array) -> jax.Array:
    """``s * pred`` with the least-squares scale ``s = <pred, gt> / <pred, pred>`` (no centring;
    root-align both first).

    Args:
      pred: (N, 3).
      gt: (N, 3).

    Returns:
      (N, 3) scaled prediction.
    """
    pred, gt = _check_pair(pred, gt, "points")
    denom = jnp.maximum(jnp.sum(pred * pred), jnp.finfo(pred.dtype).tiny)
    return jnp.sum(pred * gt) / denom * pred


def mpjpe(pred: jax.Array, gt: jax.Array, *, root: Root = 0) -> jax.Array:
    """Root-aligned mean per-joint position error.

    Args:
      pred: (J, 3) predicted joints, metres.
      gt: (J, 3) ground-truth joints, metres.
      root: root joint index or indices (their mean is the root).

    Returns:
      () error in mm.
    """
    pred, gt = _check_pair(pred, gt, "joints")
    return _mean_dist_mm(pred - _root_point(pred, root)[None], gt - _root_point(gt, root)[None])


def pa_mpjpe(pred: jax.Array, gt: jax.Array) -> jax.Array:
    """Mean per-joint error after Procrustes alignment with scale.

    Args:
      pred: (J, 3) predicted joints, metres.
      gt: (J, 3) ground-truth joints, metres.

    Returns:
      () error in mm.
    """
    pred, gt = _check_pair(pred, gt, "joints")
    return _mean_dist_mm(procrustes_align(pred, gt), gt)


def n_mpjpe(pred: jax.Array, gt: jax.Array, *, root: Root = 0) -> jax.Array:
    """Root-aligned, scale-normalised MPJPE (Rhodin et al. 2018).

    Args:
      pred: (J, 3) predicted joints, metres.
      gt: (J, 3) ground-truth joints, metres.
      root: root joint index or indices.

    Returns:
      () error in mm.
    """
    pred, gt = _check_pair(pred, gt, "joints")
    p = pred - _root_point(pred, root)[None]
    g = gt - _root_point(gt, root)[None]
    return _mean_dist_mm(scale_align(p, g), g)


def pve(
    pred_verts: jax.Array, gt_verts: jax.Array, pred_root: jax.Array, gt_root: jax.Array
) -> jax.Array:
    """Per-vertex error after aligning each mesh by its root joint.

    Args:
      pred_verts: (V, 3) predicted vertices, metres.
      gt_verts: (V, 3) ground-truth vertices, metres.
      pred_root: (3,) predicted root joint (e.g. the pelvis), metres.
      gt_root: (3,) ground-truth root joint, metres.

    Returns:
      () error in mm.
    """
    pred_verts, gt_verts = _check_pair(pred_verts, gt_verts, "verts")
    return _mean_dist_mm(pred_verts - pred_root[None], gt_verts - gt_root[None])


def pa_pve(pred_verts: jax.Array, gt_verts: jax.Array) -> jax.Array:
    """Per-vertex error after Procrustes alignment (with scale) of the vertices.

    Args:
      pred_verts: (V, 3) predicted vertices, metres.
      gt_verts: (V, 3) ground-truth vertices, metres.

    Returns:
      () error in mm.
    """
    pred_verts, gt_verts = _check_pair(pred_verts, gt_verts, "verts")
    return _mean_dist_mm(procrustes_align(pred_verts, gt_verts), gt_verts)


def n_pve(
    pred_verts: jax.Array, gt_verts: jax.Array, pred_root: jax.Array, gt_root: jax.Array
) -> jax.Array:
    """Root-aligned (by the root joint), scale-normalised per-vertex error.

    Args:
      pred_verts: (V, 3) predicted vertices, metres.
      gt_verts: (V, 3) ground-truth vertices, metres.
      pred_root: (3,) predicted root joint, metres.
      gt_root: (3,) ground-truth root joint, metres.

    Returns:
      () error in mm.
    """
    pred_verts, gt_verts = _check_pair(pred_verts, gt_verts, "verts")
    p = pred_verts - pred_root[None]
    g = gt_verts - gt_root[None]
    return _mean_dist_mm(scale_align(p, g), g)


def compute_all(
    pred_joints: jax.Array,
    gt_joints: jax.Array,
    pred_verts: jax.Array | None = None,
    gt_verts: jax.Array | None = None,
    *,
    root: Root = 0,
) -> dict[str, jax.Array]:
    """All six metrics for one sample (the vertex ones only when vertices are given).

    Args:
      pred_joints: (J, 3) predicted joints (SMPL-24 in jaxrefine), metres.
      gt_joints: (J, 3) ground-truth joints, metres.
      pred_verts: (V, 3) predicted vertices, metres, or None.
      gt_verts: (V, 3) ground-truth vertices, metres, or None.
      root: root joint index or indices, also used to align the vertices.

    Returns:
      dict with ``mpjpe``, ``pa_mpjpe``, ``n_mpjpe`` and, with vertices, ``pve``, ``pa_pve``,
      ``n_pve``; each () in mm.
    """
    out = {
        "mpjpe": mpjpe(pred_joints, gt_joints, root=root),
        "pa_mpjpe": pa_mpjpe(pred_joints, gt_joints),
        "n_mpjpe": n_mpjpe(pred_joints, gt_joints, root=root),
    }
    if (pred_verts is None) != (gt_verts is None):
        raise ValueError("give both pred_verts and gt_verts, or neither")
    if pred_verts is not None:
        pred_root = _root_point(_check_points(pred_joints, "pred_joints"), root)
        gt_root = _root_point(_check_points(gt_joints, "gt_joints"), root)
        out["pve"] = pve(pred_verts, gt_verts, pred_root, gt_root)
        out["pa_pve"] = pa_pve(pred_verts, gt_verts)
        out["n_pve"] = n_pve(pred_verts, gt_verts, pred_root, gt_root)
    return out


def compute_all_batch(
    pred_joints: jax.Array,
    gt_joints: jax.Array,
    pred_verts: jax.Array | None = None,
    gt_verts: jax.Array | None = None,
    *,
    root: Root = 0,
) -> dict[str, jax.Array]:
    """:func:`compute_all` over a leading batch axis: inputs (B, J, 3) / (B, V, 3), outputs
    dict of (B,) per-sample errors in mm (average them yourself)."""
    root = root if isinstance(root, int) else tuple(int(i) for i in root)

    def one(pj, gj, pv, gv):
        return compute_all(pj, gj, pv, gv, root=root)

    return jax.vmap(one)(pred_joints, gt_joints, pred_verts, gt_verts)


def accel_error(pred_joints: jax.Array, gt_joints: jax.Array) -> jax.Array:
    """Acceleration error of a sequence (the video literature's "Accel" metric): the mean
    distance between predicted and ground-truth joint accelerations (second differences
    over frames), in mm per frame squared.

    Args:
      pred_joints / gt_joints: (T, J, 3) joints of T consecutive frames, metres (T >= 3).

    Returns:
      () in mm / frame^2.
    """
    pred_joints, gt_joints = jnp.asarray(pred_joints), jnp.asarray(gt_joints)
    for name, x in (("pred_joints", pred_joints), ("gt_joints", gt_joints)):
        if x.ndim != 3 or x.shape[0] < 3 or x.shape[-1] != 3:
            raise ValueError(f"{name} must have shape (T >= 3, J, 3), got {x.shape}")
    if pred_joints.shape != gt_joints.shape:
        raise ValueError(f"pred_joints {pred_joints.shape} and gt_joints {gt_joints.shape} differ")

    def acc(x):
        return x[2:] - 2.0 * x[1:-1] + x[:-2]

    return 1000.0 * jnp.mean(jnp.linalg.norm(acc(pred_joints) - acc(gt_joints), axis=-1))


# --- 2D metrics for real photos (keypoints against annotations, silhouettes against masks) ----
def pck(pred: jax.Array, gt: jax.Array, visible: jax.Array, threshold_px) -> jax.Array:
    """Percentage of correct keypoints: the fraction of visible keypoints whose predicted pixel
    lies within ``threshold_px`` (inclusive) of the annotation. On COCO-style data the threshold
    is a fraction of the person's box diagonal (PCK@0.05 / PCK@0.1 of the diagonal).

    >>> round(float(pck([[0.0, 0.0], [3.0, 4.0], [9.0, 0.0]], [[0.0, 0.0]] * 3, [1, 1, 0], 5.0)), 2)
    1.0

    Args:
      pred: (K, 2) predicted pixels.
      gt: (K, 2) annotated pixels.
      visible: (K,) bool / 0-1 mask of the annotated keypoints to score.
      threshold_px: () distance threshold in pixels.

    Returns:
      () fraction in [0, 1]; NaN when no keypoint is visible.
    """
    pred, gt = jnp.asarray(pred), jnp.asarray(gt)
    if pred.ndim != 2 or pred.shape[-1] != 2 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt must both be (K, 2), got {pred.shape} and {gt.shape}")
    vis = jnp.asarray(visible) > 0
    if vis.shape != pred.shape[:1]:
        raise ValueError(f"visible must be ({pred.shape[0]},), got {vis.shape}")
    hit = (jnp.linalg.norm(pred - gt, axis=-1) <= threshold_px) & vis
    return jnp.sum(hit) / jnp.where(jnp.any(vis), jnp.sum(vis), jnp.nan)


# COCO's per-keypoint standard deviations of the 17 keypoints, as a fraction of the object's
# scale (the COCO keypoint evaluation, pycocotools ``COCOeval``'s ``kpt_oks_sigmas``): nose,
# eyes, ears, shoulders, elbows, wrists, hips, knees, ankles in COCO-17 order.
COCO17_OKS_SIGMAS = tuple(
    s / 10.0
    for s in (0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07,
              0.87, 0.87, 0.89, 0.89)
)  # fmt: skip


def oks(pred: jax.Array, gt: jax.Array, visible: jax.Array, area, sigmas=COCO17_OKS_SIGMAS):
    """Object keypoint similarity (the COCO keypoint metric's per-person score): the mean over
    the visible keypoints of ``exp(-d^2 / (2 * area * (2 * sigma)^2))``, with ``d`` the pixel
    distance and ``area`` the person's segmented area in pixels (COCO's ``area``), as
    pycocotools' ``COCOeval.computeOks`` computes it for an annotation with visible keypoints.

    Args:
      pred: (K, 2) predicted pixels. gt: (K, 2) annotated pixels.
      visible: (K,) bool / 0-1 mask of the annotated keypoints to score.
      area: () the person's area (px^2). sigmas: (K,) per-keypoint sigmas (default COCO-17's).

    Returns:
      () in [0, 1] (1: every keypoint exact); NaN when no keypoint is visible.
    """
    pred, gt = jnp.asarray(pred), jnp.asarray(gt)
    if pred.ndim != 2 or pred.shape[-1] != 2 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt must both be (K, 2), got {pred.shape} and {gt.shape}")
    k2 = (2.0 * jnp.asarray(sigmas, pred.dtype)) ** 2
    if k2.shape != pred.shape[:1]:
        raise ValueError(f"sigmas must be ({pred.shape[0]},), got {k2.shape}")
    vis = jnp.asarray(visible) > 0
    e = jnp.sum((pred - gt) ** 2, -1) / k2 / (area + jnp.finfo(pred.dtype).eps) / 2.0
    return jnp.sum(jnp.where(vis, jnp.exp(-e), 0.0)) / jnp.where(jnp.any(vis), jnp.sum(vis),
                                                                jnp.nan)  # fmt: skip


def mask_iou(a: jax.Array, b: jax.Array) -> jax.Array:
    """Intersection over union of two binary masks (H, W) (nonzero = inside) -> (); 1 when both
    are empty (they agree)."""
    a, b = jnp.asarray(a) > 0, jnp.asarray(b) > 0
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"masks must both be (H, W), got {a.shape} and {b.shape}")
    inter = jnp.sum(a & b)
    union = jnp.sum(a | b)
    return jnp.where(union > 0, inter / jnp.maximum(union, 1), 1.0)
