"""CMU motion capture -> SMPL-layout poses: trial loading, retargeting, quality report and the
``jaxrefine mocap`` converter.

Retargeting (:func:`retarget`), per SMPL joint ``j`` (table :data:`RETARGET_MAP`):

1. A *reference* CMU bone ``b`` gives the joint's orientation including twist: the mocap's
   global bone rotation ``Gm_b(t)`` (identity in the CMU base pose).
2. A fixed *calibration* ``A_j`` maps the body model's rest T-pose onto the CMU base pose. For
   the limbs, collars and pelvis it aligns the model's rest bone direction ``e_j`` (joint ->
   child; for the pelvis the right-hip -> left-hip line) with the CMU base-pose direction of
   the matching segment ``s_j`` (between two CMU joint positions), and a secondary axis with
   its CMU counterpart (:data:`SECONDARY_AXES`: the knee / elbow hinge for the limbs, so that
   SMPL knees and elbows bend about their own hinge axes). Spine, neck and leaf joints (feet,
   head, hands) take their parent's calibration: they transfer the CMU rotations, and the CMU
   base pose maps to a zero local rotation there.
3. ``G_j(t) = Gm_b(t) @ A_j``; for joints with a segment, a *swing* correction (the smallest
   rotation taking ``G_j e_j`` onto the current mocap segment direction ``s_j(t)``) is applied
   on the left. It is the identity for one-to-one bones; where the segments differ (the wrist
   spans CMU ``lwrist`` + ``lhand``) it makes the SMPL bone point exactly along the mocap
   segment, keeping the reference bone's twist.
4. Local rotations down the SMPL tree: ``L_0 = G_0`` (global orientation), ``L_j = G_p^T G_j``;
   returned as axis-angle (24, 3).

Both CMU and SMPL are Y-up, left = +X, facing +Z in their rest poses, so no axis change is
needed; the global orientation is expressed in the mocap's world frame.

The quality report (:func:`bone_direction_errors`) poses the body model with the retargeted
poses and measures, per SMPL bone, the angle between the body's bone direction and the mocap
segment it stands for (plus the hip and shoulder lines, which check the twist of the pelvis and
the upper torso). Limb bones come out near 0 (float32 rounding). Trunk bones and the pelvis ->
hip bones measure how the two skeletons' rest shapes differ (SMPL's curved spine, forward head
joint and low hip joints vs CMU's straight spine); they change little over a trial.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from flax import struct
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import SMPL_PARENTS
from jaxrefine.data import asfamc, bvh
from jaxrefine.errors import JaxrefineError
from jaxrefine.files import atomic_savez, output_file_arg

# The 31 CMU bones (ASF names), the canonical joint order of :class:`MocapTrial`. A joint's
# position is the start of its bone (the root: the root position).
CMU_BONES = (
    "root", "lhipjoint", "lfemur", "ltibia", "lfoot", "ltoes", "rhipjoint", "rfemur", "rtibia",
    "rfoot", "rtoes", "lowerback", "upperback", "thorax", "lowerneck", "upperneck", "head",
    "lclavicle", "lhumerus", "lradius", "lwrist", "lhand", "lfingers", "lthumb", "rclavicle",
    "rhumerus", "rradius", "rwrist", "rhand", "rfingers", "rthumb",
)  # fmt: skip

# Motionbuilder-friendly BVH joint name -> ASF bone name (same pivots, same rotations).
BVH_TO_CMU = {
    "Hips": "root", "LHipJoint": "lhipjoint", "LeftUpLeg": "lfemur", "LeftLeg": "ltibia",
    "LeftFoot": "lfoot", "LeftToeBase": "ltoes", "RHipJoint": "rhipjoint", "RightUpLeg": "rfemur",
    "RightLeg": "rtibia", "RightFoot": "rfoot", "RightToeBase": "rtoes", "LowerBack": "lowerback",
    "Spine": "upperback", "Spine1": "thorax", "Neck": "lowerneck", "Neck1": "upperneck",
    "Head": "head", "LeftShoulder": "lclavicle", "LeftArm": "lhumerus", "LeftForeArm": "lradius",
    "LeftHand": "lwrist", "LeftFingerBase": "lhand", "LeftHandIndex1": "lfingers",
    "LThumb": "lthumb", "RightShoulder": "rclavicle", "RightArm": "rhumerus",
    "RightForeArm": "rradius", "RightHand": "rwrist", "RightFingerBase": "rhand",
    "RightHandIndex1": "rfingers", "RThumb": "rthumb",
}  # fmt: skip

# SMPL joint -> (reference CMU bone, segment start, segment end, SMPL child or None).
# Segment = the CMU joint positions the SMPL bone (joint -> child) is aligned with. The pelvis
# aligns its right-hip -> left-hip line (child "hips" is handled specially). Joints without a
# segment take their parent's calibration and follow the reference bone's rotation: the leaves
# (feet, head, hands) and the spine and neck, whose rest shapes differ too much between the
# skeletons for direction matching (the SMPL head joint sits ~40 degrees forward of the neck
# joint, the CMU head bone starts straight above it; the SMPL spine is curved, the CMU one
# straight), so the trunk transfers the CMU bone rotations instead.
RETARGET_MAP: dict[int, tuple[str, str | None, str | None, int | None]] = {
    0: ("root", "rfemur", "lfemur", None),
    1: ("lfemur", "lfemur", "ltibia", 4),
    2: ("rfemur", "rfemur", "rtibia", 5),
    3: ("lowerback", None, None, None),
    4: ("ltibia", "ltibia", "lfoot", 7),
    5: ("rtibia", "rtibia", "rfoot", 8),
    6: ("upperback", None, None, None),
    7: ("lfoot", "lfoot", "ltoes", 10),
    8: ("rfoot", "rfoot", "rtoes", 11),
    9: ("thorax", None, None, None),
    10: ("ltoes", None, None, None),
    11: ("rtoes", None, None, None),
    12: ("lowerneck", None, None, None),
    13: ("lclavicle", "lclavicle", "lhumerus", 16),
    14: ("rclavicle", "rclavicle", "rhumerus", 17),
    15: ("head", None, None, None),
    16: ("lhumerus", "lhumerus", "lradius", 18),
    17: ("rhumerus", "rhumerus", "rradius", 19),
    18: ("lradius", "lradius", "lwrist", 20),
    19: ("rradius", "rradius", "rwrist", 21),
    20: ("lhand", "lhand", "lfingers", 22),
    21: ("rhand", "rhand", "rfingers", 23),
    22: ("lfingers", None, None, None),
    23: ("rfingers", None, None, None),
}

# Quality report: name -> ((SMPL joint a, SMPL joint b), (CMU point a, CMU point b)); the angle
# between the direction a -> b on the posed body and in the mocap.
REPORT_SEGMENTS: dict[str, tuple[tuple[int, int], tuple[str, str]]] = {
    "pelvis>left_hip": ((0, 1), ("root", "lfemur")),
    "pelvis>right_hip": ((0, 2), ("root", "rfemur")),
    "pelvis>spine1": ((0, 3), ("root", "upperback")),
    "hip_line": ((2, 1), ("rfemur", "lfemur")),
    "left_hip>left_knee": ((1, 4), ("lfemur", "ltibia")),
    "right_hip>right_knee": ((2, 5), ("rfemur", "rtibia")),
    "spine1>spine2": ((3, 6), ("lowerback", "upperback")),
    "left_knee>left_ankle": ((4, 7), ("ltibia", "lfoot")),
    "right_knee>right_ankle": ((5, 8), ("rtibia", "rfoot")),
    "spine2>spine3": ((6, 9), ("upperback", "thorax")),
    "left_ankle>left_foot": ((7, 10), ("lfoot", "ltoes")),
    "right_ankle>right_foot": ((8, 11), ("rfoot", "rtoes")),
    "spine3>neck": ((9, 12), ("thorax", "lowerneck")),
    "neck>head": ((12, 15), ("lowerneck", "head")),
    "left_collar>left_shoulder": ((13, 16), ("lclavicle", "lhumerus")),
    "right_collar>right_shoulder": ((14, 17), ("rclavicle", "rhumerus")),
    "shoulder_line": ((17, 16), ("rhumerus", "lhumerus")),
    "left_shoulder>left_elbow": ((16, 18), ("lhumerus", "lradius")),
    "right_shoulder>right_elbow": ((17, 19), ("rhumerus", "rradius")),
    "left_elbow>left_wrist": ((18, 20), ("lradius", "lwrist")),
    "right_elbow>right_wrist": ((19, 21), ("rradius", "rwrist")),
    "left_wrist>left_hand": ((20, 22), ("lhand", "lfingers")),
    "right_wrist>right_hand": ((21, 23), ("rhand", "rfingers")),
}

# Secondary axes (body model rest frame, CMU base-pose frame) fixing each joint's twist in the
# calibration. Limbs use their hinge: the flexion axis of the knee (also for the hip and the
# ankle) and of the elbow (also for the shoulder and the wrist). In the body model's T-pose the
# knees flex about +x and the elbows about -y (left) / +y (right) (SMPLify's bending prior has
# the same signs). In the CMU base pose the hinges are tilted: knees Rz(+-20 deg) x (the legs'
# 20 degree splay), elbows Rz(-+90) Ry(-+30) Rx(180) x (the ASF humerus/radius axis frames,
# identical in all five CMU ASF files; the BVH conversion has the same hinges, see
# tests/test_mocap.py). The pelvis and the collars keep the forward axis (+z) forward.
_COS20, _SIN20 = float(np.cos(np.radians(20))), float(np.sin(np.radians(20)))
CMU_HINGES = {
    "left_knee": (_COS20, _SIN20, 0.0),
    "right_knee": (_COS20, -_SIN20, 0.0),
    "left_elbow": (0.0, -float(np.cos(np.radians(30))), 0.5),
    "right_elbow": (0.0, float(np.cos(np.radians(30))), -0.5),
}
_Z = (0.0, 0.0, 1.0)
_LEG_L = ((1.0, 0.0, 0.0), CMU_HINGES["left_knee"])
_LEG_R = ((1.0, 0.0, 0.0), CMU_HINGES["right_knee"])
_ARM_L = ((0.0, -1.0, 0.0), CMU_HINGES["left_elbow"])
_ARM_R = ((0.0, 1.0, 0.0), CMU_HINGES["right_elbow"])
SECONDARY_AXES = {
    0: (_Z, _Z), 13: (_Z, _Z), 14: (_Z, _Z),
    1: _LEG_L, 4: _LEG_L, 7: _LEG_L, 2: _LEG_R, 5: _LEG_R, 8: _LEG_R,
    16: _ARM_L, 18: _ARM_L, 20: _ARM_L, 17: _ARM_R, 19: _ARM_R, 21: _ARM_R,
}  # fmt: skip

AMC_FPS = 120.0  # AMC files carry no frame time; the CMU database records at 120 fps
# A segment shorter than this (metres) has no usable direction (the BVH conversion's zero-length
# thorax and wrist bones).
_MIN_SEGMENT = 1e-3
# Near-duplicate frames: after resampling, a frame whose largest joint rotation change (any of
# the 24 joints, global orientation included) from the last kept frame of its trial is below
# this angle adds nothing for a pose prior or a training set and is dropped. 2 degrees is
# about the resolution of a single-image fit and below one 30 fps step of a slow walk.
DUPLICATE_THRESHOLD_DEG = 2.0

_CMU_INDEX = {n: i for i, n in enumerate(CMU_BONES)}


@struct.dataclass
class MocapTrial:
    """One trial's skeleton motion in the canonical CMU joint order (:data:`CMU_BONES`).

    Attributes:
      positions: (F, 31, 3) joint positions (bone starts), metres, Y up.
      rotations: (F, 31, 3, 3) global bone rotations relative to the CMU base pose.
      rest_positions: (31, 3) joint positions of the base pose (all channels zero), metres.
      source_frames: (F,) int, index of each frame in the file (the BVH T-pose frame is 0).
      trial: static trial id, e.g. ``"02_01"``.
      subject: static subject id, e.g. ``"02"``.
      fps: static frames per second of the file.
      source: static file path.
    """

    positions: np.ndarray
    rotations: np.ndarray
    rest_positions: np.ndarray
    source_frames: np.ndarray
    trial: str = struct.field(pytree_node=False)
    subject: str = struct.field(pytree_node=False)
    fps: float = struct.field(pytree_node=False)
    source: str = struct.field(pytree_node=False)

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])


def _canonical_order(names: tuple[str, ...], source: str, mapping: dict | None) -> np.ndarray:
    renamed = [mapping.get(n, n) if mapping else n for n in names]
    missing = [b for b in CMU_BONES if b not in renamed]
    if missing:
        raise ValueError(
            f"{source}:1: not a CMU skeleton (missing joints {missing[:6]}"
            f"{'...' if len(missing) > 6 else ''}); retargeting needs the CMU 31-bone layout"
        )
    return np.asarray([renamed.index(b) for b in CMU_BONES])


def trial_ids(path: str | os.PathLike) -> tuple[str, str]:
    """(trial, subject) from a file name ``SS_TT.ext``; else (stem, parent folder name)."""
    path = Path(path)
    m = re.fullmatch(r"(\d+)_(\d+)", path.stem)
    if m:
        return path.stem, m.group(1)
    return path.stem, path.parent.name


def find_asf(amc_path: str | os.PathLike) -> Path:
    """The skeleton of an AMC file: ``<subject>.asf`` in the same folder, else its only .asf."""
    amc_path = Path(amc_path)
    _, subject = trial_ids(amc_path)
    candidate = amc_path.with_name(f"{subject}.asf")
    if candidate.is_file():
        return candidate
    others = sorted(amc_path.parent.glob("*.asf"))
    if len(others) == 1:
        return others[0]
    raise ValueError(
        f"{amc_path}:1: no skeleton for this AMC ({candidate.name} missing"
        f"{'' if not others else f'; several .asf files: {[o.name for o in others]}'})"
    )


def load_trial(
    path: str | os.PathLike,
    frames_at_fps: float | None = None,
    asf_cache: dict | None = None,
) -> MocapTrial:
    """Load a CMU trial (``.bvh``, or ``.amc`` with its subject's ``.asf``) with FK applied.

    Drops the BVH converter's T-pose first frame.

    Args:
      path: a ``.bvh`` or ``.amc`` file.
      frames_at_fps: if given, keep only frames resampled to this rate (see
        :func:`resample_indices`); forward kinematics then runs on those frames only.
      asf_cache: optional dict path -> parsed ASF, reused across trials of one subject.

    Raises:
      ValueError: unreadable or non-CMU files (message names the file and line).
    """
    path = Path(path)
    trial, subject = trial_ids(path)
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        b = bvh.load_bvh(path)
        if b.num_frames < 2:
            raise ValueError(f"{path}:1: no motion frames after the T-pose frame")
        fps = b.fps
        frames = np.arange(1, b.num_frames)  # frame 0 is the converter's T-pose
        if frames_at_fps is not None:
            frames = frames[resample_indices(len(frames), fps, frames_at_fps)]
        order = _canonical_order(b.joint_names, str(path), BVH_TO_CMU)
        kin = bvh.forward_kinematics(b, frames=frames)
        rest = bvh.forward_kinematics(b.replace(motion=np.zeros((1, b.motion.shape[1]))))
    elif suffix == ".amc":
        asf_path = find_asf(path)
        if asf_cache is not None and str(asf_path) in asf_cache:
            skel = asf_cache[str(asf_path)]
        else:
            skel = asfamc.load_asf(asf_path)
            if asf_cache is not None:
                asf_cache[str(asf_path)] = skel
        order = _canonical_order(skel.bone_names, str(asf_path), None)
        motion = asfamc.load_amc(path, skel)
        if motion.num_frames < 1:
            raise ValueError(f"{path}:1: no motion frames")
        fps = AMC_FPS
        frames = np.arange(motion.num_frames)
        if frames_at_fps is not None:
            frames = frames[resample_indices(len(frames), fps, frames_at_fps)]
        kin = asfamc.forward_kinematics(skel, motion, frames=frames)
        rest = asfamc.forward_kinematics(skel)
    else:
        raise ValueError(f"{path}:1: not a .bvh or .amc file")
    return MocapTrial(
        positions=kin.positions[:, order],
        rotations=kin.rotations[:, order],
        rest_positions=rest.positions[0, order] - rest.positions[0, order[0]],
        source_frames=frames,
        trial=trial,
        subject=subject,
        fps=float(fps),
        source=str(path),
    )


def resample_indices(num_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Indices of the source frames nearest to the times ``k / dst_fps`` (k = 0, 1, ...).

    Nearest-frame sampling (no interpolation): at 120 -> 30 fps this is every 4th frame; for
    rates that do not divide the source rate the timing error is at most half a source frame.

    Raises:
      ValueError: if ``dst_fps`` is not in (0, src_fps] (no upsampling).
    """
    if not 0 < dst_fps <= src_fps * (1 + 1e-6):
        raise ValueError(f"fps must be in (0, {src_fps:g}] (the source rate), got {dst_fps}")
    duration = (num_frames - 1) / src_fps
    times = np.arange(int(np.floor(duration * dst_fps + 1e-9)) + 1) / dst_fps
    idx = np.rint(times * src_fps).astype(np.int64)
    return np.unique(np.clip(idx, 0, num_frames - 1))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def min_rotation(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smallest rotation (..., 3, 3) taking unit vectors u (..., 3) to v (..., 3).

    ``R = I + K + K^2 / (1 + u.v)`` with ``K = skew(u x v)``; for opposite vectors a half turn
    about an axis perpendicular to ``u``.
    """
    u, v = np.broadcast_arrays(np.asarray(u, float), np.asarray(v, float))
    w = np.cross(u, v)
    c = np.sum(u * v, -1)
    K = np.zeros((*w.shape[:-1], 3, 3))
    K[..., 0, 1], K[..., 0, 2] = -w[..., 2], w[..., 1]
    K[..., 1, 0], K[..., 1, 2] = w[..., 2], -w[..., 0]
    K[..., 2, 0], K[..., 2, 1] = -w[..., 1], w[..., 0]
    opposite = c < -1 + 1e-9
    denom = np.where(opposite, 1.0, 1.0 + c)[..., None, None]
    R = np.eye(3) + K + (K @ K) / denom
    if np.any(opposite):
        ref = np.where(np.abs(u[..., :1]) < 0.9, [1.0, 0, 0], [0, 1.0, 0])
        a = _unit(np.cross(u, ref))
        half = 2 * a[..., :, None] * a[..., None, :] - np.eye(3)
        R = np.where(opposite[..., None, None], half, R)
    return R


def _frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frame (3, 3) with columns: primary, secondary made orthogonal, their cross."""
    p = _unit(primary)
    s = _unit(secondary - np.dot(secondary, p) * p)
    return np.stack([p, s, np.cross(p, s)], axis=-1)


def calibrate(rest_joints: np.ndarray, rest_positions: np.ndarray) -> np.ndarray:
    """Per-joint calibration rotations ``A`` (24, 3, 3) from the body model's rest T-pose to the
    CMU base pose: ``A_j`` maps the model's rest bone direction onto the CMU segment direction
    and the model's secondary axis onto the CMU one (:data:`SECONDARY_AXES`; the limb hinges).

    Args:
      rest_joints: (24, 3) the body model's rest-pose joints.
      rest_positions: (31, 3) CMU base-pose joint positions (:data:`CMU_BONES` order).
    """
    A = np.zeros((24, 3, 3))
    for j in range(24):
        ref, a, b, child = RETARGET_MAP[j]
        seg = None if a is None else rest_positions[_CMU_INDEX[b]] - rest_positions[_CMU_INDEX[a]]
        if seg is None or np.linalg.norm(seg) < _MIN_SEGMENT:
            A[j] = A[SMPL_PARENTS[j]] if j > 0 else np.eye(3)
            continue
        e = rest_joints[1] - rest_joints[2] if j == 0 else rest_joints[child] - rest_joints[j]
        body_axis, cmu_axis = SECONDARY_AXES[j]
        A[j] = _frame(seg, np.asarray(cmu_axis)) @ _frame(e, np.asarray(body_axis)).T
    return A


def retarget(trial: MocapTrial, rest_joints: np.ndarray) -> np.ndarray:
    """SMPL-layout poses for every frame of a trial.

    Args:
      trial: the mocap (see :func:`load_trial`).
      rest_joints: (24, 3) the body model's rest T-pose joints (``body_model.rest_joints``),
        SMPL joint order and kinematic tree.

    Returns:
      (F, 24, 3) float64 axis-angle: global orientation (in the mocap's Y-up world) then the
      23 local joint rotations relative to the model's rest pose.
    """
    rest_joints = np.asarray(rest_joints, dtype=np.float64)
    if rest_joints.shape != (24, 3):
        raise ValueError(f"rest_joints must be (24, 3), got {rest_joints.shape}")
    A = calibrate(rest_joints, trial.rest_positions)
    P, Gm = trial.positions, trial.rotations
    F = P.shape[0]
    G = np.zeros((F, 24, 3, 3))
    for j in range(24):
        ref, a, b, child = RETARGET_MAP[j]
        Gj = Gm[:, _CMU_INDEX[ref]] @ A[j]
        rest = trial.rest_positions
        seg0 = None if a is None else rest[_CMU_INDEX[b]] - rest[_CMU_INDEX[a]]
        if seg0 is not None and np.linalg.norm(seg0) >= _MIN_SEGMENT:
            e = rest_joints[1] - rest_joints[2] if j == 0 else rest_joints[child] - rest_joints[j]
            now = Gj @ _unit(e)
            target = _unit(P[:, _CMU_INDEX[b]] - P[:, _CMU_INDEX[a]])
            Gj = min_rotation(now, target) @ Gj
        G[:, j] = Gj
    L = np.empty_like(G)
    L[:, 0] = G[:, 0]
    for j in range(1, 24):
        L[:, j] = np.swapaxes(G[:, SMPL_PARENTS[j]], -1, -2) @ G[:, j]
    return Rotation.from_matrix(L.reshape(-1, 3, 3)).as_rotvec().reshape(F, 24, 3)


def mocap_segments(trial: MocapTrial) -> tuple[tuple[str, ...], np.ndarray]:
    """The mocap side of the quality report: names and (F, S, 3) segment vectors (metres);
    zero-length segments (BVH thorax) are NaN."""
    names = tuple(REPORT_SEGMENTS)
    a = [_CMU_INDEX[REPORT_SEGMENTS[n][1][0]] for n in names]
    b = [_CMU_INDEX[REPORT_SEGMENTS[n][1][1]] for n in names]
    seg = trial.positions[:, b] - trial.positions[:, a]
    rest = trial.rest_positions[b] - trial.rest_positions[a]
    seg[:, np.linalg.norm(rest, axis=-1) < _MIN_SEGMENT] = np.nan
    return names, seg


def segment_angles(joints: np.ndarray, mocap_segs: np.ndarray) -> np.ndarray:
    """Angles in degrees (F, S) between posed-body segments and mocap segments.

    Args:
      joints: (F, 24, 3) posed body-model joints.
      mocap_segs: (F, S, 3) from :func:`mocap_segments` (NaN rows give NaN angles).
    """
    ia = [REPORT_SEGMENTS[n][0][0] for n in REPORT_SEGMENTS]
    ib = [REPORT_SEGMENTS[n][0][1] for n in REPORT_SEGMENTS]
    body = _unit(joints[:, ib] - joints[:, ia])
    cos = np.sum(body * _unit(mocap_segs), -1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def posed_joints_fn(model):
    """A jitted ``(B, 24, 3) poses -> (B, 24, 3) joints`` for the model's mean shape (via
    :func:`jaxrefine.body_model.posed_joints`, the same rigid chain as ``forward``)."""
    import jax
    import jax.numpy as jnp

    from jaxrefine.body_model import posed_joints

    betas = jnp.zeros(model.num_betas, jnp.float32)
    return jax.jit(jax.vmap(lambda p: posed_joints(model, p, betas)))


def summarize_angles(names: Iterable[str], angles: np.ndarray) -> dict[str, dict[str, float]]:
    """Per segment ``{"mean", "p95", "max", "count"}`` in degrees over frames (NaN ignored)."""
    out = {}
    for k, name in enumerate(names):
        col = angles[:, k]
        col = col[np.isfinite(col)]
        if col.size == 0:
            continue
        out[name] = {
            "mean": float(col.mean()),
            "p95": float(np.percentile(col, 95)),
            "max": float(col.max()),
            "count": int(col.size),
        }
    return out


def bone_direction_errors(model, poses: np.ndarray, trial: MocapTrial, chunk: int = 512) -> dict:
    """Quality report of a retargeted trial: per segment mean / 95th percentile / max angle
    (degrees) between the body posed with ``poses`` (mean shape) and the mocap.

    Args:
      model: the :class:`~jaxrefine.body_model.BodyModel` used for retargeting.
      poses: (F, 24, 3) from :func:`retarget` for ``trial``.
      trial: the mocap.
      chunk: frames per jitted call (padded, so one compilation serves all trials).
    """
    joints = _posed_joints_chunked(posed_joints_fn(model), poses, chunk)
    names, segs = mocap_segments(trial)
    return summarize_angles(names, segment_angles(joints, segs))


def _posed_joints_chunked(fn, poses: np.ndarray, chunk: int) -> np.ndarray:
    out = []
    for s in range(0, len(poses), chunk):
        part = np.asarray(poses[s : s + chunk], np.float32)
        pad = np.zeros((chunk, 24, 3), np.float32)
        pad[: len(part)] = part
        out.append(np.asarray(fn(pad))[: len(part)])
    return np.concatenate(out) if out else np.zeros((0, 24, 3))


def drop_near_duplicates(
    poses: np.ndarray, threshold_deg: float = DUPLICATE_THRESHOLD_DEG
) -> np.ndarray:
    """Indices of frames to keep: the first, then each frame whose largest joint rotation
    change from the last kept frame exceeds ``threshold_deg``.

    Args:
      poses: (F, 24, 3) axis-angle poses of one trial, in time order.

    Returns:
      (K,) int indices, increasing.
    """
    if len(poses) == 0:
        return np.zeros(0, np.int64)
    R = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(len(poses), -1, 3, 3)
    keep = [0]
    last = R[0]
    thresh = np.radians(threshold_deg)
    for f in range(1, len(poses)):
        rel = np.einsum("jab,jac->jbc", last, R[f])  # last^T @ current, per joint
        cos = np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0)
        if np.max(np.arccos(cos)) > thresh:
            keep.append(f)
            last = R[f]
    return np.asarray(keep, np.int64)


class MocapConversionError(JaxrefineError, ValueError):
    """A folder gave no poses: no trial files in it, or every trial failed (listed)."""


def find_trials(src_dir: str | os.PathLike) -> list[Path]:
    """All ``.bvh`` and ``.amc`` files under ``src_dir`` (recursive, sorted)."""
    src = Path(src_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"mocap folder not found: {src}")
    return sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in (".bvh", ".amc"))


def _resolve_model(model):
    from jaxrefine.body_model import BodyModel
    from jaxrefine.smpl_io import load_body_model

    if isinstance(model, BodyModel):
        return model
    return load_body_model(model, gender=None if model is not None else "neutral")


def _atomic_savez(out_path: Path, arrays: dict) -> None:
    atomic_savez(out_path, arrays, compressed=False)


def convert_folder(
    src_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    fps: float = 30.0,
    model=None,
    progress: bool = True,
    duplicate_threshold_deg: float = DUPLICATE_THRESHOLD_DEG,
) -> dict:
    """Convert every CMU trial under a folder to SMPL-layout poses in one ``.npz``.

    Per trial: load (BVH T-pose frame dropped), resample to ``fps`` (nearest frame), retarget,
    drop near-duplicate frames (:func:`drop_near_duplicates`). Files that cannot be read are
    printed to stderr and listed in the output's ``skipped``; the rest are converted. When no
    trial converts, nothing is written and :class:`MocapConversionError` lists the failures.

    Output arrays: ``pose`` (N, 24, 3) float32 axis-angle; ``trial`` (N,) and ``subject``
    (N,) strings; ``frame`` (N,) int32 frame index in the source file; ``fps`` (); ``model_id``
    (); ``skipped`` (K,) ``"path: reason"`` strings; ``quality_names`` (S,) and
    ``quality_deg`` (S, 3) mean / p95 / max bone-direction angle in degrees; ``source_fps``
    (T,) and ``trials`` (T,) per converted trial; ``duplicate_threshold_deg`` ().
    Written atomically (temporary file + ``os.replace``).

    Args:
      src_dir: folder searched recursively for ``.bvh`` and ``.amc`` (+ ``.asf``) files.
      out_path: the ``.npz`` to write.
      fps: output frame rate (at most the source rate, 120 for CMU).
      model: a BodyModel, a model path, or None for the shipped open model.
      progress: show a tqdm progress bar.
      duplicate_threshold_deg: see :data:`DUPLICATE_THRESHOLD_DEG`.

    Returns:
      A summary dict: ``frames``, ``trials``, ``skipped`` (list of strings), ``quality``
      (per segment stats), ``seconds``, ``out_path``.

    Raises:
      ValueError: ``fps`` not above 0 or ``duplicate_threshold_deg`` below 0 (before any file
        is read; a rate above a file's own is that file's failure).
      FileNotFoundError: ``src_dir`` is not a folder.
      MocapConversionError: no ``.bvh`` / ``.amc`` file under ``src_dir``, or none converted.
    """
    t0 = time.perf_counter()
    if not fps > 0:
        raise ValueError(f"--fps (output frame rate) must be > 0, got {fps:g}")
    if not duplicate_threshold_deg >= 0:
        raise ValueError("--duplicate-threshold (degrees; 0 drops only repeated frames) must be "
                         f"at least 0, got {duplicate_threshold_deg:g}")  # fmt: skip
    body = _resolve_model(model)
    if tuple(body.parents) != SMPL_PARENTS:
        raise ValueError(f"body model {body.model_id!r} does not have SMPL's kinematic tree")
    import jax.numpy as jnp

    from jaxrefine.body_model import rest_joints

    rest = np.asarray(rest_joints(body, jnp.zeros(body.num_betas, jnp.float32)), np.float64)
    files = find_trials(src_dir)
    if not files:
        raise MocapConversionError(f"{src_dir}: no .bvh or .amc files in this folder or below")
    converted, skipped = _convert_trials(files, rest, fps, duplicate_threshold_deg, progress)
    if not converted:
        raise MocapConversionError(
            f"{src_dir}: none of the {len(files)} trial files converted; nothing written:\n  "
            + "\n  ".join(skipped)
        )
    arrays, quality = _collection(body, converted)
    out_path = Path(out_path)
    _atomic_savez(out_path, {
        **arrays, "fps": np.float32(fps), "model_id": np.asarray(body.model_id),
        "skipped": np.asarray(skipped, dtype=str),
        "duplicate_threshold_deg": np.float32(duplicate_threshold_deg),
    })  # fmt: skip
    return {
        "frames": int(len(arrays["pose"])),
        "trials": len(arrays["trials"]),
        "skipped": skipped,
        "quality": quality,
        "seconds": time.perf_counter() - t0,
        "out_path": str(out_path),
    }


def _collection(body, converted: list) -> tuple[dict, dict]:
    """The converted trials (:func:`_convert_trials`) as :func:`convert_folder`'s per-frame and
    per-trial arrays, with the retargeting quality of ``body``'s posed joints (per segment:
    mean / p95 / max bone-direction angle, degrees)."""
    runs = [tr for tr, *_ in converted]
    poses, segs, frames = ([c[k] for c in converted] for k in (1, 2, 3))
    pose = np.concatenate(poses).astype(np.float32)
    joints = _posed_joints_chunked(posed_joints_fn(body), pose, 2048)
    quality = summarize_angles(tuple(REPORT_SEGMENTS), segment_angles(joints, np.concatenate(segs)))
    stats = [[q["mean"], q["p95"], q["max"]] for q in quality.values()]
    return {
        "pose": pose,
        "trial": np.asarray([tr.trial for tr, p in zip(runs, poses) for _ in p], dtype=str),
        "subject": np.asarray([tr.subject for tr, p in zip(runs, poses) for _ in p], dtype=str),
        "frame": np.concatenate(frames).astype(np.int32),
        "quality_names": np.asarray(list(quality), dtype=str),
        "quality_deg": np.asarray(stats, np.float32).reshape(-1, 3),
        "trials": np.asarray([tr.trial for tr in runs], dtype=str),
        "source_fps": np.asarray([tr.fps for tr in runs], np.float32),
    }, quality


def _convert_trials(files, rest: np.ndarray, fps: float, threshold_deg: float, progress: bool):
    """Each file loaded, resampled, retargeted and thinned (:func:`convert_folder`).

    Returns the converted trials as (trial, poses (F, 24, 3), segments (F, ...), source frame
    indices (F,)) and the skipped files as ``"path: reason"`` strings (also printed).
    """
    from tqdm import tqdm

    converted, skipped, asf_cache = [], [], {}
    bar = tqdm(files, desc="mocap", unit="trial", disable=not progress, file=sys.stderr)
    for path in bar:
        bar.set_postfix_str(path.name)
        try:
            tr = load_trial(path, frames_at_fps=fps, asf_cache=asf_cache)
            p = retarget(tr, rest)
        except Exception as exc:  # noqa: BLE001 - one bad file is reported and skipped
            reason = str(exc) if isinstance(exc, (ValueError, OSError)) else repr(exc)
            msg = reason if reason.startswith(str(path)) else f"{path}: {reason}"
            print(f"jaxrefine mocap: skipped {msg}", file=sys.stderr)
            skipped.append(msg)
            continue
        keep = drop_near_duplicates(p, threshold_deg)
        _, segments = mocap_segments(tr)
        converted.append((tr, p[keep], segments[keep], tr.source_frames[keep]))
    return converted, skipped


def format_quality(quality: dict) -> str:
    """The quality report as a text table (degrees)."""
    lines = [f"{'segment':<28} {'mean':>6} {'p95':>6} {'max':>6} {'frames':>8}"]
    for name, q in quality.items():
        lines.append(f"{name:<28} {q['mean']:6.2f} {q['p95']:6.2f} {q['max']:6.2f} {q['count']:8d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``jaxrefine mocap SRC_DIR --out POSES.npz [--fps 30] [--model PATH]``."""
    parser = argparse.ArgumentParser(
        prog="jaxrefine mocap",
        description="Convert CMU motion capture (BVH, ASF/AMC; recursive) to SMPL-layout poses.",
    )
    parser.add_argument("src_dir", help="folder with .bvh and/or .asf + .amc files")
    parser.add_argument("--out", required=True, type=output_file_arg, help="output .npz")
    parser.add_argument("--fps", type=float, default=30.0, help="output frame rate (<= 120)")
    parser.add_argument("--model", default=None, help="body model file (default: shipped model)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--duplicate-threshold",
        type=float,
        default=DUPLICATE_THRESHOLD_DEG,
        help="drop frames whose largest joint rotation change is below this (degrees)",
    )
    args = parser.parse_args(argv)
    try:
        summary = convert_folder(
            args.src_dir,
            args.out,
            fps=args.fps,
            model=args.model,
            progress=not args.no_progress,
            duplicate_threshold_deg=args.duplicate_threshold,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"jaxrefine mocap: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {summary['out_path']}: {summary['frames']} poses from {summary['trials']} "
        f"trials at {args.fps:g} fps in {summary['seconds']:.1f} s; "
        f"{len(summary['skipped'])} files skipped"
    )
    for s in summary["skipped"]:
        print(f"  skipped {s}")
    print("bone-direction error, degrees (retargeted body vs mocap):")
    print(format_quality(summary["quality"]))
    return 0
