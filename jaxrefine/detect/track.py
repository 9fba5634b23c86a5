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
2026-12-03/s28_zen5/track_appearance.txt``).

Then, with colours, every crossing (a run of frames in which two tracks overlap) is decided
again looking ahead (:func:`resolve_crossings`): the colours each track shows clear of it,
before and after, say whether the two continue as linked or exchanged. Frame by frame, two
people who meet and turn back swapped tracks in 85 of 100 simulated sequences (the constant
velocity carries each track onto the other person); re-decided, in none (session 31,
``docs/measurements/2026-12-03/s31_zen5/track_crossings.txt``). People dressed alike who stop
or turn where they overlap still swap: nothing in boxes or colours tells them apart.
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
# Crossings re-decided after the linking (:func:`resolve_crossings`; fixed before the
# measurement, docs/measurements/2026-12-03/s31_zen5/decision_rules_s31_tracking.md): frames
# of each side of a crossing whose colours are compared, and by how much exchanging two
# tracks must beat keeping them (a sum of two Hellinger distances: one person moves under 0.15
# from frame to frame, two people differ by 0.3-0.9, so people dressed alike stay as linked)
CROSSING_CONTEXT = 3
CROSSING_MARGIN = 0.1


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
    resolve: bool = True,
) -> list[np.ndarray]:
    """Track ids of every frame's people.

    Args:
      boxes: one (P_f, 4) array of person boxes (x0, y0, x1, y1) per frame, in frame order.
      features: optional, one (P_f, D) array of the people's colour histograms per frame
        (:func:`appearance`); None: boxes and motion only.
      min_iou: the least IoU of a match. max_gap: frames a track may be unseen.
      appearance_weight: weight of the colour distance beside ``1 - IoU``.
      resolve: with ``features``, re-decide every crossing by the colours seen clear of it
        (:func:`resolve_crossings`).

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
    if features is not None and resolve:
        out = resolve_crossings(out, boxes, features, min_iou=min_iou)
    return out


def resolve_crossings(
    ids: list[np.ndarray],
    boxes: list[np.ndarray],
    features: list[np.ndarray],
    *,
    min_iou: float = MIN_IOU,
    context: int = CROSSING_CONTEXT,
    margin: float = CROSSING_MARGIN,
) -> list[np.ndarray]:
    """Re-decide, looking ahead, which track each of two crossing people continues.

    A crossing is a run of consecutive frames in which two tracks' boxes overlap (IoU >=
    ``min_iou``). Each track's colours clear of it (the mean histogram of its frames among
    the ``context`` before and after the run where its box overlaps nobody's) decide: the two
    tracks' ids are exchanged from the frame after the run's largest overlap on when that
    matches the colours before and after better than keeping them, by more than ``margin``
    (summed Hellinger distances). Crossings are taken in time order; one without clear
    frames on both sides of both tracks stays as linked.

    Args:
      ids: one (P_f,) array of track ids per frame (:func:`link_tracks`).
      boxes, features: as for :func:`link_tracks`.

    Returns:
      the ids, one (P_f,) int64 array per frame.
    """
    ids = [np.array(i, np.int64).reshape(-1) for i in ids]
    boxes = [np.asarray(b, np.float64).reshape(-1, 4) for b in boxes]
    overlap = [_overlaps(b) for b in boxes]
    now: dict[int, int] = {}  # a track id as linked -> as relabelled by earlier exchanges
    for start, end, a, b, peak in _crossings(ids, overlap, min_iou):
        a, b = now.get(a, a), now.get(b, b)
        sides = [_clear_colour(ids, overlap, features, k, frames, min_iou)
                 for k in (a, b) for frames in (range(start - context, start),
                                                range(end + 1, end + 1 + context))]  # fmt: skip
        if any(h is None for h in sides):
            continue
        a0, a1, b0, b1 = sides
        keep = hellinger(a0, a1) + hellinger(b0, b1)
        if hellinger(a0, b1) + hellinger(b0, a1) < keep - margin:
            swap = {a: b, b: a}
            now = {k: swap.get(v, v) for k, v in now.items()} | {
                k: swap[k] for k in (a, b) if k not in now}  # fmt: skip
            for f in range(peak + 1, len(ids)):
                ids[f] = np.array([swap.get(int(k), int(k)) for k in ids[f]], np.int64)
    return ids


def _overlaps(boxes: np.ndarray) -> np.ndarray:
    """(P, P) IoU of a frame's boxes with each other, 0 on the diagonal."""
    iou = np.stack([box_iou(b, boxes) for b in boxes]) if len(boxes) else np.zeros((0, 0))
    np.fill_diagonal(iou, 0.0)
    return iou


def _crossings(ids, overlap, min_iou: float) -> list[tuple[int, int, int, int, int]]:
    """(start, end, track a, track b, frame of the largest overlap) of every run of frames in
    which tracks a and b overlap, by start."""
    runs: dict[tuple[int, int], list] = {}  # (a, b) -> [start, end, peak, peak IoU]
    done = []
    for f, (frame_ids, iou) in enumerate(zip(ids, overlap)):
        for i, j in zip(*np.nonzero(np.triu(iou >= min_iou, 1))):
            key = tuple(sorted((int(frame_ids[i]), int(frame_ids[j]))))
            run = runs.get(key)
            if run is None or run[1] < f - 1:  # a new run
                if run is not None:
                    done.append((key, run))
                run = runs[key] = [f, f, f, -1.0]
            run[1] = f
            if iou[i, j] > run[3]:
                run[2:] = [f, float(iou[i, j])]
    done += list(runs.items())
    return sorted((r[0], r[1], k[0], k[1], r[2]) for k, r in done)


def _clear_colour(ids, overlap, features, track: int, frames, min_iou: float):
    """Mean histogram of ``track`` over ``frames`` (within the video) where its box overlaps
    no other box (IoU < ``min_iou``); None without such a frame."""
    seen = []
    for f in frames:
        if 0 <= f < len(ids):
            at = np.flatnonzero(ids[f] == track)
            if len(at) and not np.any(overlap[f][at[0]] >= min_iou):
                seen.append(np.asarray(features[f], np.float64)[at[0]])
    return np.mean(seen, 0) if seen else None
