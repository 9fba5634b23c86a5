"""Linking the people detected in a video's frames into tracks (one identity per track).

The detector numbers a frame's people by its score, and the order changes from frame to frame
when two people score alike; a track must be one person, because a track's frames share one
estimated texture and are smoothed together (``--temporal-weight``). Linking, frame by frame:
every open track predicts its box in this frame at constant velocity (its last box moved by
its last per-frame motion, SORT's motion model without the Kalman filter; a new track stands
still); the frame's people are assigned to the open tracks by the Hungarian method on 1 - IoU
of the predicted boxes and theirs; a pair whose IoU is below ``min_iou`` is never matched; a
person left unmatched starts a new track; a track unseen for more than ``max_gap`` frames is
closed. Track ids count from 0 in order of appearance. The motion keeps two people apart who
cross each other walking (box IoU alone swapped them where their boxes overlapped most); no
appearance model: people who cross while changing speed or direction can still swap tracks.
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


def landmark_box(landmarks: np.ndarray, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
    """(4,) x0, y0, x1, y1 box of the landmarks (K, 3) (x, y, visibility) at or above
    ``min_visibility`` (all of them when none is)."""
    lm = np.asarray(landmarks, np.float64)
    keep = lm[:, 2] >= min_visibility
    xy = lm[keep, :2] if keep.any() else lm[:, :2]
    return np.concatenate([xy.min(0), xy.max(0)])


def link_tracks(
    boxes: list[np.ndarray], *, min_iou: float = MIN_IOU, max_gap: int = MAX_GAP
) -> list[np.ndarray]:
    """Track ids of every frame's people.

    Args:
      boxes: one (P_f, 4) array of person boxes (x0, y0, x1, y1) per frame, in frame order.
      min_iou: the least IoU of a match. max_gap: frames a track may be unseen.

    Returns:
      one (P_f,) int64 array of track ids per frame.
    """
    # id -> (last box, its frame, per-frame motion of the box)
    open_tracks: dict[int, tuple[np.ndarray, int, np.ndarray]] = {}
    out, next_id = [], 0
    for f, frame_boxes in enumerate(boxes):
        fb = np.asarray(frame_boxes, np.float64).reshape(-1, 4)
        open_tracks = {k: v for k, v in open_tracks.items() if f - v[1] <= max_gap + 1}
        ids = np.full(len(fb), -1, np.int64)
        keys = list(open_tracks)
        if keys and len(fb):
            predicted = [box + motion * (f - last) for box, last, motion in open_tracks.values()]
            iou = np.stack([box_iou(p, fb) for p in predicted])  # (T, P)
            rows, cols = linear_sum_assignment(1.0 - iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= min_iou:
                    ids[c] = keys[r]
        for c in np.flatnonzero(ids < 0):
            ids[c], next_id = next_id, next_id + 1
        for c, k in enumerate(ids):
            box, last, _ = open_tracks.get(int(k), (fb[c], f - 1, None))
            open_tracks[int(k)] = (fb[c], f, (fb[c] - box) / (f - last))
        out.append(ids)
    return out
