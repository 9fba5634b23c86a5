"""Named keypoint sets (SMPL-24, OpenPose BODY_25, COCO-17, MediaPipe-33) for any SMPL-layout
model.

A keypoint is either one of the 24 SMPL joints or a surface landmark of the model (a convex
combination of vertices: nose, eyes, ears, toes, heels). Landmarks are defined per mesh: for
real SMPL files they are smplx's vertex ids (:data:`SMPL_LANDMARKS`; docs/METHOD.md, *Body model
and keypoints*);
the open model ships its own (chosen on its mesh, see jaxrefine/data/open_model_build.py).

BODY_25 follows SPIN / smplify-x's SMPL -> OpenPose table: MidHip is the SMPL pelvis joint, Neck
the SMPL neck joint, hips/knees/ankles/shoulders/elbows/wrists the SMPL joints. COCO-17 uses the
same sources in COCO's order. MediaPipe-33 (BlazePose) has its own table below, and its
mapping to COCO-17 and BODY_25 for fitting MediaPipe's landmarks as those sets.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

# SMPL's 24 joints in order (the "smpl24" set; the body model's joint names).
SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip


class Landmark(NamedTuple):
    """A surface point: a convex combination of a few vertices (static, hashable)."""

    name: str
    vertices: tuple[int, ...]
    weights: tuple[float, ...]


# smplx vertex ids of SMPL's surface landmarks (its 'smplh' table; docs/METHOD.md).
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
# OpenPose's older COCO model (``--model_pose COCO``; OpenPose's default before BODY_25) writes
# 18 points: BODY_25's first 15 without the mid hip, then the eyes and ears. Its points are
# BODY_25's (the same training data for these), so a file of it is read as BODY_25 with the mid
# hip and the feet missing (confidence 0).
OPENPOSE_COCO18 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip

# --- MediaPipe / BlazePose 33 landmarks (jaxrefine.detect) ------------------------------------
# MediaPipe's order and names ("left" = the subject's left, as in COCO). Points the body model
# has no counterpart for take the nearest model point and are listed in MEDIAPIPE33_APPROXIMATE
# (eye corners -> eye, mouth corners -> nose, pinky / index / thumb -> the SMPL hand joint):
# fits should give them zero weight. Hips are the SMPL hip joints, as for COCO-17.
_MEDIAPIPE33 = (
    ("nose", "lm:nose"), ("left_eye_inner", "lm:left_eye"), ("left_eye", "lm:left_eye"),
    ("left_eye_outer", "lm:left_eye"), ("right_eye_inner", "lm:right_eye"),
    ("right_eye", "lm:right_eye"), ("right_eye_outer", "lm:right_eye"),
    ("left_ear", "lm:left_ear"), ("right_ear", "lm:right_ear"), ("mouth_left", "lm:nose"),
    ("mouth_right", "lm:nose"), ("left_shoulder", "left_shoulder"),
    ("right_shoulder", "right_shoulder"), ("left_elbow", "left_elbow"),
    ("right_elbow", "right_elbow"), ("left_wrist", "left_wrist"), ("right_wrist", "right_wrist"),
    ("left_pinky", "left_hand"), ("right_pinky", "right_hand"), ("left_index", "left_hand"),
    ("right_index", "right_hand"), ("left_thumb", "left_hand"), ("right_thumb", "right_hand"),
    ("left_hip", "left_hip"), ("right_hip", "right_hip"), ("left_knee", "left_knee"),
    ("right_knee", "right_knee"), ("left_ankle", "left_ankle"), ("right_ankle", "right_ankle"),
    ("left_heel", "lm:left_heel"), ("right_heel", "lm:right_heel"),
    ("left_foot_index", "lm:left_big_toe"), ("right_foot_index", "lm:right_big_toe"),
)  # fmt: skip
MEDIAPIPE33_APPROXIMATE = (1, 3, 4, 6, 9, 10, 17, 18, 19, 20, 21, 22)
# COCO-17 keypoint k is MediaPipe landmark MEDIAPIPE33_TO_COCO17[k].
MEDIAPIPE33_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
# BODY_25 keypoint k is MediaPipe landmark MEDIAPIPE33_TO_BODY25[k]; a pair is the mean of two
# (neck = shoulders' midpoint, mid_hip = hips' midpoint); -1: none (the small toes).
MEDIAPIPE33_TO_BODY25 = (
    0, (11, 12), 12, 14, 16, 11, 13, 15, (23, 24), 24, 26, 28, 23, 25, 27, 5, 2, 8, 7,
    31, -1, 29, 32, -1, 30,
)  # fmt: skip


def mediapipe33_to(target: str, points, conf):
    """MediaPipe-33 points (33, D) and confidences (33,) -> a COCO-17 or BODY_25 set.

    A keypoint that is the mean of two landmarks gets the smaller confidence; one with no
    MediaPipe counterpart gets position 0 and confidence 0 (numpy in, numpy out).
    """
    points, conf = np.asarray(points), np.asarray(conf)
    if points.shape[0] != 33 or conf.shape != (33,):
        got = f"{points.shape}, {conf.shape}"
        raise ValueError(f"expected (33, D) points and (33,) conf, got {got}")
    key = canonical_set_name(target)
    table = {"coco17": MEDIAPIPE33_TO_COCO17, "body25": MEDIAPIPE33_TO_BODY25}.get(key)
    if table is None:
        raise KeyError(f"no MediaPipe-33 mapping to {target!r}; choose coco17 or body25")
    out = np.zeros((len(table),) + points.shape[1:], points.dtype)
    out_conf = np.zeros(len(table), conf.dtype)
    for k, src in enumerate(table):
        ids = src if isinstance(src, tuple) else (src,)
        if ids[0] >= 0:
            out[k] = points[list(ids)].mean(0)
            out_conf[k] = conf[list(ids)].min()
    return out, out_conf


# MediaPipe's landmarks below this visibility are not fitted: out of the image, or hidden
# and guessed (the landmark initializer, jaxrefine.detect.initialize, uses the same gate).
MIN_LANDMARK_VISIBILITY = 0.5


def mediapipe33_keypoints(landmarks, set_name: str = "body25") -> np.ndarray:
    """(P, 33, 3) MediaPipe landmarks (x, y, visibility) -> (P, K, 3) keypoints of ``set_name``
    (x, y, confidence); landmarks below :data:`MIN_LANDMARK_VISIBILITY` get confidence 0."""
    landmarks = np.asarray(landmarks, np.float32).reshape(-1, 33, 3)
    out = [np.zeros((0, len(joint_names(set_name)), 3), np.float32)]
    for lm in landmarks:
        conf = np.where(lm[:, 2] >= MIN_LANDMARK_VISIBILITY, lm[:, 2], 0.0).astype(np.float32)
        pts, c = mediapipe33_to(set_name, lm[:, :2], conf)
        out.append(np.concatenate([pts, c[:, None]], 1)[None])
    return np.concatenate(out).astype(np.float32)


# --- end MediaPipe-33 ----------------------------------------------------------------------------

# Keypoints of confidence > 0 (and not at exactly (0, 0), some detectors' missing joint) all
# within this of the origin are normalised coordinates (MediaPipe's and OpenPose's
# --keypoint_scale 3 [0, 1]; SPIN's crop and --keypoint_scale 4 [-1, 1]), not pixels: no
# person fits in 3x3 pixels.
NORMALISED_KEYPOINT_BOUND = 1.5


def looks_normalised(xy, conf) -> bool:
    """Whether host keypoints (..., K, 2) with (..., K) confidences are in normalised
    coordinates: some are confident and all of those lie within
    :data:`NORMALISED_KEYPOINT_BOUND` of the origin."""
    xy = np.asarray(xy, np.float64)
    sure = (np.asarray(conf) > 0) & np.any(xy != 0, -1)
    return bool(sure.any() and np.all(np.abs(xy[sure]) <= NORMALISED_KEYPOINT_BOUND))


# Confidences are fractions of 1. A pose model's scores overshoot 1 a little (a heatmap's or
# SimCC's peak: RTMPose's reach about 1.1; the OpenPose / EasyMocap readers clip them to [0, 1],
# as COCO's and MediaPipe's values are). Beyond this bound (or below 0) they are on another
# scale (percent, a detector's unnormalised scores, logits): the fit weighs a keypoint by its
# confidence squared, so percent would weigh the keypoints 10^4 times against the priors.
MAX_CONFIDENCE = 1.5


# A detector's keypoints lie in the image it ran on, give or take a guess for a joint just cut
# off (a top-down model's crop reaches a little past the edge). A keypoint more than this
# fraction of the image's side past an edge was found on a frame of another size (a video's
# full-size frames, the images given resized): its person is drawn away from the image's.
KEYPOINT_PAST_EDGE = 0.25


def keypoints_past_edge(kp, sizes) -> np.ndarray:
    """(N, K) bool: which of N people's keypoints ((N, K, 3) x, y in pixels, confidence; only
    confidence > 0 counts) lie more than :data:`KEYPOINT_PAST_EDGE` of their image's side past
    an edge of their image of (N, 2) ``sizes`` (H, W)."""
    kp, sizes = np.asarray(kp, np.float64), np.asarray(sizes, np.float64).reshape(-1, 1, 2)
    h, w, m = sizes[..., 0], sizes[..., 1], KEYPOINT_PAST_EDGE
    x, y = kp[..., 0], kp[..., 1]
    past = (x < -m * w) | (x > (1 + m) * w) | (y < -m * h) | (y > (1 + m) * h)
    return past & (kp[..., 2] > 0)


SET_DEFINITIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "smpl24": _SMPL24,
    "body25": _BODY25,
    "coco17": _COCO17,
    "mediapipe33": _MEDIAPIPE33,
}
SET_ALIASES = {"smpl": "smpl24", "openpose": "body25", "body_25": "body25", "coco": "coco17"}
SET_ALIASES["mediapipe"] = "mediapipe33"

# OpenPose BODY_25 joints SMPLify ignores in the body stage (neck, right hip, left hip:
# docs/METHOD.md, *SMPLify as SPIN runs it*): SMPL has no true neck and hip labels differ.
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


def keypoint_sets_for(model) -> tuple[KeypointSet, ...]:
    """All keypoint sets a model supports (those needing missing landmarks are left out).

    ``model``: anything with a ``landmarks`` tuple of :class:`Landmark`, e.g. a
    :class:`jaxrefine.body_model.BodyModel` (this module does not import the model back)."""
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
