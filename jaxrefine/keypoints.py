"""Named keypoint sets (SMPL-24, OpenPose BODY_25, COCO-17) for any SMPL-layout model.

A keypoint is either one of the 24 SMPL joints or a surface landmark of the model (a convex
combination of vertices: nose, eyes, ears, toes, heels). Landmarks are defined per mesh: for
real SMPL files they are smplx's vertex ids (REFERENCE.md section 2.7, :data:`SMPL_LANDMARKS`);
the open model ships its own (chosen on its mesh, see scripts/build_open_body_model.py).

BODY_25 follows SPIN / smplify-x's SMPL -> OpenPose table: MidHip is the SMPL pelvis joint, Neck
the SMPL neck joint, hips/knees/ankles/shoulders/elbows/wrists the SMPL joints. COCO-17 uses the
same sources in COCO's order.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from jaxrefine.body_model import SMPL_JOINT_NAMES, BodyModel, Landmark

# smplx vertex ids of SMPL's surface landmarks (vertex_ids['smplh'], REFERENCE.md 2.7).
SMPL_LANDMARKS: tuple[Landmark, ...] = tuple(
    Landmark(name, (vid,), (1.0,))
    for name, vid in [
        ("nose", 332), ("right_eye", 6260), ("left_eye", 2800), ("right_ear", 4071),
        ("left_ear", 583), ("left_big_toe", 3216), ("left_small_toe", 3226),
        ("left_heel", 3387), ("right_big_toe", 6617), ("right_small_toe", 6624),
        ("right_heel", 6787),
    ]
)  # fmt: skip

_J = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}

# (keypoint name, source) where source is a SMPL joint name or "lm:<landmark name>".
_BODY25 = (
    ("nose", "lm:nose"), ("neck", "neck"), ("right_shoulder", "right_shoulder"),
    ("right_elbow", "right_elbow"), ("right_wrist", "right_wrist"),
    ("left_shoulder", "left_shoulder"), ("left_elbow", "left_elbow"),
    ("left_wrist", "left_wrist"), ("mid_hip", "pelvis"), ("right_hip", "right_hip"),
    ("right_knee", "right_knee"), ("right_ankle", "right_ankle"), ("left_hip", "left_hip"),
    ("left_knee", "left_knee"), ("left_ankle", "left_ankle"), ("right_eye", "lm:right_eye"),
    ("left_eye", "lm:left_eye"), ("right_ear", "lm:right_ear"), ("left_ear", "lm:left_ear"),
    ("left_big_toe", "lm:left_big_toe"), ("left_small_toe", "lm:left_small_toe"),
    ("left_heel", "lm:left_heel"), ("right_big_toe", "lm:right_big_toe"),
    ("right_small_toe", "lm:right_small_toe"), ("right_heel", "lm:right_heel"),
)  # fmt: skip
_COCO17 = (
    ("nose", "lm:nose"), ("left_eye", "lm:left_eye"), ("right_eye", "lm:right_eye"),
    ("left_ear", "lm:left_ear"), ("right_ear", "lm:right_ear"),
    ("left_shoulder", "left_shoulder"), ("right_shoulder", "right_shoulder"),
    ("left_elbow", "left_elbow"), ("right_elbow", "right_elbow"),
    ("left_wrist", "left_wrist"), ("right_wrist", "right_wrist"), ("left_hip", "left_hip"),
    ("right_hip", "right_hip"), ("left_knee", "left_knee"), ("right_knee", "right_knee"),
    ("left_ankle", "left_ankle"), ("right_ankle", "right_ankle"),
)  # fmt: skip
_SMPL24 = tuple((n, n) for n in SMPL_JOINT_NAMES)

SET_DEFINITIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "smpl24": _SMPL24,
    "body25": _BODY25,
    "coco17": _COCO17,
}
SET_ALIASES = {"smpl": "smpl24", "openpose": "body25", "body_25": "body25", "coco": "coco17"}

# OpenPose BODY_25 joints SMPLify ignores in the body stage (neck, right hip, left hip:
# REFERENCE.md 1.3 / smplify-x's joints_to_ign): SMPL has no true neck and hip labels differ.
BODY25_IGNORED_BY_SMPLIFY = (1, 9, 12)


class KeypointSet(NamedTuple):
    """Static definition of one set: per keypoint a joint index (or -1) and landmark weights."""

    name: str
    names: tuple[str, ...]
    joint_index: tuple[int, ...]  # -1 where the keypoint is a landmark
    vertex_ids: tuple[tuple[int, ...], ...]  # () where the keypoint is a joint
    vertex_weights: tuple[tuple[float, ...], ...]

    @property
    def vertex_ids_flat(self) -> tuple[int, ...]:
        return tuple(sorted({v for ids in self.vertex_ids for v in ids}))


def canonical_set_name(set_name: str) -> str:
    key = set_name.lower()
    key = SET_ALIASES.get(key, key)
    if key not in SET_DEFINITIONS:
        raise KeyError(f"unknown keypoint set {set_name!r}; known sets: {sorted(SET_DEFINITIONS)}")
    return key


def joint_names(set_name: str) -> tuple[str, ...]:
    """Names of a set's keypoints, in order (``joint_names("body25")[8] == "mid_hip"``)."""
    return tuple(n for n, _ in SET_DEFINITIONS[canonical_set_name(set_name)])


@functools.lru_cache(maxsize=64)
def _build_sets(landmarks: tuple[Landmark, ...]) -> tuple[KeypointSet, ...]:
    lm = {l.name: l for l in landmarks}
    sets = []
    for set_name, entries in SET_DEFINITIONS.items():
        names, jidx, vids, vws = [], [], [], []
        ok = True
        for kp, src in entries:
            names.append(kp)
            if src.startswith("lm:"):
                l = lm.get(src[3:])
                if l is None:
                    ok = False
                    break
                jidx.append(-1)
                vids.append(l.vertices)
                vws.append(l.weights)
            else:
                jidx.append(_J[src])
                vids.append(())
                vws.append(())
        if ok:
            sets.append(KeypointSet(set_name, tuple(names), tuple(jidx), tuple(vids), tuple(vws)))
    return tuple(sets)


def keypoint_sets_for(model: BodyModel) -> tuple[KeypointSet, ...]:
    """All keypoint sets a model supports (those needing missing landmarks are left out)."""
    return _build_sets(model.landmarks)


def get_set(sets: tuple[KeypointSet, ...], set_name: str) -> KeypointSet:
    key = canonical_set_name(set_name)
    for s in sets:
        if s.name == key:
            return s
    raise KeyError(
        f"keypoint set {key!r} needs surface landmarks this model does not define "
        f"(available: {[s.name for s in sets]})"
    )


def gather_keypoints(
    sets: tuple[KeypointSet, ...], set_name: str, joints: jnp.ndarray, vertices: jnp.ndarray
) -> jnp.ndarray:
    """Keypoints (K, 3) of a set from posed joints (24, 3) and vertices (V, 3).

    ``vertices`` may also be only the landmark vertices, indexed like the full mesh through
    :func:`landmark_vertex_ids` (see :func:`gather_keypoints_from_subset`).
    """
    ks = get_set(sets, set_name)
    jidx = np.asarray([max(j, 0) for j in ks.joint_index])
    is_joint = np.asarray([j >= 0 for j in ks.joint_index])
    out = joints[jidx]
    if (~is_joint).any():
        width = max(len(v) for v in ks.vertex_ids)
        ids = np.zeros((len(ks.names), width), np.int32)
        w = np.zeros((len(ks.names), width), np.float32)
        for k, (vi, vw) in enumerate(zip(ks.vertex_ids, ks.vertex_weights)):
            ids[k, : len(vi)] = vi
            w[k, : len(vw)] = vw
        surf = jnp.einsum("kn,knc->kc", jnp.asarray(w, vertices.dtype), vertices[ids])
        out = jnp.where(jnp.asarray(is_joint)[:, None], out, surf)
    return out


def keypoint_weights_matrix(ks: KeypointSet, num_joints: int, vertex_ids: tuple[int, ...]):
    """Dense (K, 24 + len(vertex_ids)) matrix mapping [joints; selected vertices] to keypoints."""
    col = {v: num_joints + i for i, v in enumerate(vertex_ids)}
    M = np.zeros((len(ks.names), num_joints + len(vertex_ids)), np.float32)
    for k, j in enumerate(ks.joint_index):
        if j >= 0:
            M[k, j] = 1.0
        else:
            for v, w in zip(ks.vertex_ids[k], ks.vertex_weights[k]):
                M[k, col[v]] += w
    return M
