"""Linking the people detected in a video's frames into tracks (one identity per track).

The detector numbers a frame's people by its score, and the order changes from frame to frame
when two people score alike; a track must be one person, because a track's frames share one
estimated texture and are smoothed together (``--temporal-weight``). Linking, frame by frame:
every open track predicts its box in this frame at constant velocity (its last box moved by
its last per-frame motion, SORT's motion model without the Kalman filter; a new track stands
still); the frame's people are assigned to the open tracks by the Hungarian method on
``1 - IoU`` of the predicted boxes and theirs plus, when the caller gives each person a colour
histogram (:func:`appearance`), ``APPEARANCE_WEIGHT`` times the Hellinger distance between the
track's histogram (an exponential moving average of its people's) and the person's; a pair
whose IoU is below ``min_iou`` is never matched; a person left unmatched starts a new track; a
track unseen for more than ``max_gap`` frames is closed. Track ids count from 0 in order of
appearance. The motion keeps two people apart who cross each other walking (box IoU alone
swapped them where their boxes overlapped most); the colours keep apart people who stop where
they overlap and the frame where two boxes coincide (session 28, ``docs/measurements/
2026-12-03/s28_zen5/track_appearance.txt``). Two people who meet and turn back still swap
tracks (85 of 100 simulated), as do people dressed alike who stop or turn where they overlap.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from jaxrefine.detect.blazepose import box_iou
from jaxrefine.keypoints import MIN_LANDMARK_VISIBILITY

# One person's boxes in consecutive frames overlap far more than this even in fast motion at
# video rates; two people side by side overlap less.
MIN_IOU = 0.2
MAX_GAP = 5  # frames a track may miss (a detector miss, an occlusion) and still continue
MIN_VISIBILITY = MIN_LANDMARK_VISIBILITY  # landmarks below it do not shape the box
# Weight of the colour term beside 1 - IoU: a Hellinger distance between two people's
# histograms is about 0.3-0.9 for different clothes, under 0.15 for one person from frame to
# frame, so a difference in colour outweighs the small IoU differences of people who overlap;
# chosen before the measurement (docs/measurements/2026-12-03/s28_zen5/
# decision_rules_s28_tracking.md).
APPEARANCE_WEIGHT = 1.0
BINS = 4  # per RGB channel: 64 bins, coarse enough for lighting changes and small people


def landmark_box(landmarks: np.ndarray, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
    """(4,) x0, y0, x1, y1 box of the landmarks (K, 3) (x, y, visibility) at or above
    ``min_visibility`` (all of them when none is)."""
    lm = np.asarray(landmarks, np.float64)
    keep = lm[:, 2] >= min_visibility
    xy = lm[keep, :2] if keep.any() else lm[:, :2]
    return np.concatenate([xy.min(0), xy.max(0)])


def appearance(image: np.ndarray, region: np.ndarray) -> np.ndarray:
    """(BINS**3,) colour histogram (sums to 1) of a person's pixels.

    Args:
      image: (H, W, 3) float in [0, 1] (or uint8).
      region: (H, W) bool person pixels (e.g. a mask > 0.5), or a (4,) box x0, y0, x1, y1.
    """
    img = np.asarray(image)
    img = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
    h, w = img.shape[:2]
    region = np.asarray(region)
    if region.shape == (4,):
        x0, y0, x1, y1 = np.clip(np.round(region), 0, [w, h, w, h]).astype(int)
        pixels = img[y0:y1, x0:x1].reshape(-1, 3)
    else:
        pixels = img[region.astype(bool)]
    if not len(pixels):
        return np.full(BINS**3, 1.0 / BINS**3)
    q = np.clip((pixels * BINS).astype(int), 0, BINS - 1)
    hist = np.bincount((q[:, 0] * BINS + q[:, 1]) * BINS + q[:, 2], minlength=BINS**3)
    return hist / hist.sum()


def hellinger(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hellinger distance in [0, 1] between histograms (..., D) (each summing to 1)."""
    bc = np.sum(np.sqrt(np.asarray(a) * np.asarray(b)), -1)
    return np.sqrt(np.clip(1.0 - bc, 0.0, 1.0))


def link_tracks(
    boxes: list[np.ndarray],
    *,
    features: list[np.ndarray] | None = None,
    min_iou: float = MIN_IOU,
    max_gap: int = MAX_GAP,
    appearance_weight: float = APPEARANCE_WEIGHT,
) -> list[np.ndarray]:
    """Track ids of every frame's people.

    Args:
      boxes: one (P_f, 4) array of person boxes (x0, y0, x1, y1) per frame, in frame order.
      features: optional, one (P_f, D) array of the people's colour histograms per frame
        (:func:`appearance`); None: boxes and motion only.
      min_iou: the least IoU of a match. max_gap: frames a track may be unseen.
      appearance_weight: weight of the colour distance beside ``1 - IoU``.

    Returns:
      one (P_f,) int64 array of track ids per frame.
    """
    # id -> (last box, its frame, per-frame motion of the box, colour histogram or None)
    open_tracks: dict[int, tuple] = {}
    out, next_id = [], 0
    for f, frame_boxes in enumerate(boxes):
        fb = np.asarray(frame_boxes, np.float64).reshape(-1, 4)
        feats = None if features is None else np.asarray(features[f], np.float64)
        open_tracks = {k: v for k, v in open_tracks.items() if f - v[1] <= max_gap + 1}
        ids = np.full(len(fb), -1, np.int64)
        keys = list(open_tracks)
        if keys and len(fb):
            predicted = [box + motion * (f - last) for box, last, motion, _ in open_tracks.values()]
            iou = np.stack([box_iou(p, fb) for p in predicted])  # (T, P)
            cost = 1.0 - iou
            if feats is not None:
                seen = np.stack([v[3] for v in open_tracks.values()])  # (T, D)
                cost = cost + appearance_weight * hellinger(seen[:, None], feats[None])
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if iou[r, c] >= min_iou:
                    ids[c] = keys[r]
        for c in np.flatnonzero(ids < 0):
            ids[c], next_id = next_id, next_id + 1
        for c, k in enumerate(ids):
            box, last, _, hist = open_tracks.get(int(k), (fb[c], f - 1, None, None))
            if feats is not None:  # running mean, the latest frame weighing most
                hist = feats[c] if hist is None else 0.5 * (hist + feats[c])
            open_tracks[int(k)] = (fb[c], f, (fb[c] - box) / (f - last), hist)
        out.append(ids)
    return out
