"""BlazePose on a photo: person boxes, 33 landmarks (2D and 3D) and a mask per person.

Three steps, each a small numpy pre/post-processing around a ``.tflite`` model run by
``ai-edge-litert`` (the models are MediaPipe 0.10.21's, see :mod:`jaxrefine.detect.models`):

1. **Detector** (``pose_detection.tflite``). The image is letterboxed into a 224 x 224 square
   (scaled by ``224 / max(H, W)``, centred, zero padding), values mapped to [-1, 1]. The model
   scores 2254 SSD anchors and regresses, per anchor, a box and 4 keypoints as offsets in
   input pixels from the anchor centre. The anchors are MediaPipe's SSD layout for this model:
   strides 8, 16, 32, 32, 32 on the 224 input (feature maps 28, 14, 7, 7, 7), two anchors per
   cell and layer (layers of equal stride share one grid: 28^2*2 + 14^2*2 + 7^2*6 = 2254),
   fixed unit size, centres at cell centres. Scores are sigmoids of the (clipped) logits;
   detections above ``min_score`` are merged by *weighted* non-maximum suppression (each
   cluster of boxes overlapping the best one by IoU > 0.3 is replaced by the score-weighted
   mean of its boxes and keypoints). Keypoint 0 is the hip centre, keypoint 1 a point whose
   distance to it is the radius of a circle around the whole body, in the body's up direction.
2. **Region of interest.** A square centred on the hip centre, side ``2.5 |k1 - k0|`` (the
   circle's diameter, enlarged by 1.25), rotated so that ``k1 - k0`` points up in the crop. A
   user box (x0, y0, x1, y1) gives an upright square around the box instead: centre = box centre,
   side = 1.25 * the box's longer side.
3. **Landmark model** (``pose_landmark_full.tflite``) on the 256 x 256 crop, values in [0, 1].
   It returns 39 points (33 landmarks and 6 auxiliary ones, dropped) as (x, y, z, visibility,
   presence) in crop pixels (z on the x scale, relative to the hips), 39 world points (metres,
   hip-centred, in the crop's axes), a pose-presence score and a 256 x 256 segmentation logit
   map. Everything is mapped back to the photo by undoing the crop's rotation and scale; the
   world points are rotated by the crop angle so their x/y axes are the photo's (x right, y
   down, z away from the camera). The person mask is the landmark model's segmentation output
   (per person, aligned with its crop), not ``selfie_segmentation.tflite``; MediaPipe's
   heatmap refinement of landmark positions and its temporal smoothing are not applied.

Coordinates: pixel ``(row i, column j)`` covers ``[j, j+1) x [i, i+1)`` (see
:mod:`jaxrefine.camera`); landmark x/y are in these continuous pixel coordinates.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np
from scipy import ndimage, special

from jaxrefine.detect.models import ensure_models, load_interpreter, model_path

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_LANDMARKS = 33
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_LAYER = 2  # aspect ratio 1 plus the interpolated-scale anchor
NUM_ANCHORS = 2254
NMS_IOU = 0.3  # MediaPipe's pose detection merges boxes overlapping by more than this
ROI_SCALE = 1.25  # the crop is the body circle's diameter enlarged by this
SCORE_CLIP = 100.0
DUPLICATE_OVERLAP = 0.7  # two people whose boxes overlap more (of the smaller) are one
# Two people whose masks (> 0.5) overlap by more than this (of the smaller) are one: a detection
# that mixes two neighbours shares 0.59 / 0.67 of its mask with them, real neighbours in the
# crowded test photos at most 0.06 (docs/measurements/2026-12-01/s20_tiles).
MASK_DUPLICATE_OVERLAP = 0.5
# MediaPipe Pose's default min_detection_confidence: detections scoring less are dropped
MIN_DETECTION_SCORE = 0.5
# people refined per photo at most (each costs a landmark run and a fit); more are cut, with
# a warning naming how many were found
MAX_PEOPLE = 10
BOX_MARGIN = 0.15  # the person box may reach this fraction of the landmark box beyond it
# The least detector tile, as a fraction of the photo's longer side: tiles overlap by half, so
# their number grows as 1 / fraction^2 (0.05: about 1,500 a photo, each a detector run; 0, once
# accepted, made 2-pixel tiles, a quarter of a million for a 640 x 425 photo, and never ended).
MIN_TILE = 0.05


class NoPersonError(ValueError):
    """No person was found in an image."""


class ImageReadError(ValueError):
    """An image file could not be read."""


@dataclasses.dataclass(frozen=True)
class Roi:
    """A square crop of the photo: centre (px), side (px), rotation (radians; crop -> photo)."""

    cx: float
    cy: float
    size: float
    rotation: float

    def crop_to_image(self, uv: np.ndarray, crop_size: int) -> np.ndarray:
        """Crop pixel coordinates (N, 2) -> photo pixel coordinates (N, 2)."""
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        rot = np.array([[c, -s], [s, c]])
        local = (np.asarray(uv, np.float64) / crop_size - 0.5) * self.size
        return local @ rot.T + np.array([self.cx, self.cy])

    def image_to_crop(self, xy: np.ndarray, crop_size: int) -> np.ndarray:
        """Photo pixel coordinates (N, 2) -> crop pixel coordinates (N, 2)."""
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        rot = np.array([[c, -s], [s, c]])
        local = (np.asarray(xy, np.float64) - np.array([self.cx, self.cy])) @ rot
        return (local / self.size + 0.5) * crop_size


@dataclasses.dataclass(frozen=True)
class PersonDetection:
    """One person found in a photo (numpy arrays, photo pixels).

    Attributes:
      box: (4,) x0, y0, x1, y1 person box, pixels: the user's box, or the box of the mask
        (probability > 0.5) within the landmarks' box enlarged by :data:`BOX_MARGIN` per side.
      score: detector score in [0, 1] (1.0 for a user box).
      detector_box: (4,) the detector's own box (BlazePose's detector boxes the *face*), or
        the user's box.
      landmarks2d: (33, 3) x, y (pixels) and visibility in [0, 1] of MediaPipe's 33 landmarks.
      presence: (33,) probability that each landmark is inside the image.
      depth: (33,) landmark depth relative to the hips, pixels (x scale), smaller = nearer.
      world: (33, 3) metric landmarks, metres, hip-centred; x right, y down, z away.
      mask: (H, W) float32 person probability.
      pose_score: () the landmark model's pose-presence score in [0, 1].
      roi: the :class:`Roi` the landmark model saw.
    """

    box: np.ndarray
    score: float
    detector_box: np.ndarray
    landmarks2d: np.ndarray
    presence: np.ndarray
    depth: np.ndarray
    world: np.ndarray
    mask: np.ndarray
    pose_score: float
    roi: Roi


# ----------------------------------------------------------------------------- image helpers
def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB (greyscale is repeated, alpha dropped), upright by
    its EXIF orientation (:func:`jaxrefine.inputs.images.decode_image`).

    Raises:
      ImageReadError: the file is missing or not a readable image.
    """
    from jaxrefine.inputs import InputError
    from jaxrefine.inputs.images import decode_image

    try:
        img = decode_image(path)
    except InputError as e:
        raise ImageReadError(str(e)) from e
    return as_rgb_uint8(img, str(path))


def as_rgb_uint8(image: np.ndarray, what: str = "image") -> np.ndarray:
    """(H, W), (H, W, 1|3|4) uint8 or float in [0, 1] -> (H, W, 3) uint8."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[-1] not in (1, 3, 4) or min(img.shape[:2]) < 2:
        raise ImageReadError(f"{what}: expected an (H, W[, 1|3|4]) image, got shape {img.shape}")
    if img.dtype != np.uint8:
        if not np.issubdtype(img.dtype, np.floating):
            raise ImageReadError(f"{what}: expected uint8 or float pixels, got {img.dtype}")
        img = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    img = img[..., :3]
    return np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img


def warp(image: np.ndarray, out_to_in, out_shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling: output pixel centres mapped by ``out_to_in`` into ``image``.

    Args:
      image: (H, W) or (H, W, C) float.
      out_to_in: maps (N, 2) output (x, y) pixel coordinates to input coordinates.
      out_shape: (h, w) of the output.

    Returns:
      (h, w) or (h, w, C) float32; samples outside the input are 0.
    """
    h, w = out_shape
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    src = out_to_in(np.stack([jj.ravel(), ii.ravel()], -1))
    coords = [src[:, 1] - 0.5, src[:, 0] - 0.5]  # (row, col) of pixel centres
    chans = image[..., None] if image.ndim == 2 else image
    out = np.stack(
        [
            ndimage.map_coordinates(chans[..., c].astype(np.float32), coords, order=1, cval=0.0)
            for c in range(chans.shape[-1])
        ],
        -1,
    ).reshape(h, w, -1)
    return out[..., 0] if image.ndim == 2 else out


# --------------------------------------------------------------------------------- detector
def ssd_anchor_centres() -> np.ndarray:
    """(2254, 2) anchor centres (x, y) in [0, 1] of the detector input, in the model's order."""
    centres = []
    layer = 0
    while layer < len(ANCHOR_STRIDES):
        stride = ANCHOR_STRIDES[layer]
        same = sum(1 for s in ANCHOR_STRIDES[layer:] if s == stride)  # consecutive, equal stride
        fm = int(np.ceil(DETECTOR_SIZE / stride))
        ys, xs = np.meshgrid(np.arange(fm), np.arange(fm), indexing="ij")
        grid = np.stack([(xs.ravel() + 0.5) / fm, (ys.ravel() + 0.5) / fm], -1)
        centres.append(np.repeat(grid, same * ANCHORS_PER_LAYER, axis=0))
        layer += same
    out = np.concatenate(centres)
    assert out.shape == (NUM_ANCHORS, 2), out.shape
    return out


def letterbox_transform(height: int, width: int) -> tuple[float, np.ndarray]:
    """Scale and offset of the letterbox: input pixel = scale * photo pixel + offset."""
    scale = DETECTOR_SIZE / max(height, width)
    offset = (DETECTOR_SIZE - scale * np.array([width, height])) / 2.0
    return scale, offset


def check_min_score(min_score: float) -> None:
    """Raise ``ValueError`` unless the detector's score threshold is in (0, 1]: its scores are
    sigmoids, and at 0 or below every one of its anchors in every tile is a candidate
    (``refine --dry-run`` of one 640 x 425 photo with the default tiles, on 2 cores: 16 s at
    the default, 26 s at 0.02, past 5 minutes at -1, where every anchor passes as at 0)."""
    if not 0 < min_score <= 1:
        raise ValueError("--min-person-score for BlazePose's detector is a score in (0, 1] "
                         f"(default {MIN_DETECTION_SCORE:g}), got {min_score:g}")  # fmt: skip


def check_tiles(fractions) -> None:
    """Raise ``ValueError`` naming the tile fractions outside ``[MIN_TILE, 1]``."""
    bad = [f for f in fractions if not MIN_TILE <= f <= 1.0]
    if bad:
        got = " ".join(f"{f:g}" for f in bad)
        raise ValueError(f"--tiles are fractions of the photo's longer side in [{MIN_TILE:g}, 1] "
                         f"(1 = the whole photo), got {got}")  # fmt: skip


def tile_grid(height: int, width: int, fractions) -> list[tuple[int, int, int]]:
    """(x0, y0, side) of square tiles: for each fraction (:func:`check_tiles`), tiles of side
    ``fraction * max(H, W)`` overlapping by at least half, covering the photo."""
    check_tiles(fractions)
    out = []
    for frac in fractions:
        side = max(int(round(frac * max(height, width))), 2)
        starts = []
        for extent in (width, height):
            n = 1 if side >= extent else int(np.ceil((extent - side) / (side / 2))) + 1
            starts.append(np.unique(np.linspace(0, max(extent - side, 0), n).astype(int)))
        out += [(int(x), int(y), side) for y in starts[1] for x in starts[0]]
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box (4,) ``a`` with boxes (N, 4) ``b`` (x0, y0, x1, y1) -> (N,)."""
    b = np.atleast_2d(b)
    lo = np.maximum(a[:2], b[:, :2])
    hi = np.minimum(a[2:], b[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), -1)
    area = lambda x: np.prod(np.clip(x[..., 2:] - x[..., :2], 0, None), -1)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float, max_out: int
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Weighted non-maximum suppression (boxes (N, 4), keypoints (N, P, 2), scores (N,)).

    The best remaining box and every box overlapping it by IoU > ``iou`` form a cluster; the
    cluster becomes one detection: score-weighted mean box and keypoints, the best score.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    alive = np.ones(len(scores), bool)
    out = []
    while alive.any() and len(out) < max_out:
        top = int(np.argmax(alive))
        cluster = alive & (box_iou(boxes[top], boxes) > iou)
        cluster[top] = True
        w = scores[cluster] / scores[cluster].sum()
        out.append(
            (
                np.einsum("n,nc->c", w, boxes[cluster]),
                np.einsum("n,npc->pc", w, keypoints[cluster]),
                float(scores[top]),
            )
        )
        alive &= ~cluster
    return out


def decode_detections(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float
):
    """Detector outputs -> boxes (N, 4) and keypoints (N, 4, 2) in input pixels, scores (N,).

    Args:
      raw_boxes: (2254, 12): box centre offset x, y, width, height, then 4 keypoints (x, y),
        all in input pixels, offsets from the anchor centre.
      raw_scores: (2254,) logits.
      anchors: (2254, 2) from :func:`ssd_anchor_centres`.
      min_score: keep anchors whose sigmoid score is at least this.
    """
    scores = special.expit(np.clip(raw_scores.astype(np.float64), -SCORE_CLIP, SCORE_CLIP))
    keep = scores >= min_score
    r = raw_boxes[keep].astype(np.float64)
    a = anchors[keep] * DETECTOR_SIZE
    centre = r[:, :2] + a
    half = r[:, 2:4] / 2.0
    boxes = np.concatenate([centre - half, centre + half], -1)
    kps = r[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
    return boxes, kps, scores[keep]


class BlazePose:
    """The three interpreters, loaded once (host-side, not a pytree; not thread-safe)."""

    def __init__(self, cache_dir: str | os.PathLike | None = None, download: bool = False):
        where = ensure_models(cache_dir, download=download)
        self.detector = load_interpreter(model_path(where, "pose_detection.tflite"))
        self.landmarker = load_interpreter(model_path(where, "pose_landmark_full.tflite"))
        self.anchors = ssd_anchor_centres()

    @staticmethod
    def _run(interp, x: np.ndarray) -> list[np.ndarray]:
        interp.set_tensor(interp.get_input_details()[0]["index"], x[None].astype(np.float32))
        interp.invoke()
        return [interp.get_tensor(d["index"])[0] for d in interp.get_output_details()]

    def detect(
        self,
        image: np.ndarray,
        min_score: float = MIN_DETECTION_SCORE,
        max_people: int | None = MAX_PEOPLE,
        tiles: tuple[float, ...] = (1.0,),
    ) -> list[list[tuple[np.ndarray, np.ndarray, float]]]:
        """Person detections on an (H, W, 3) uint8 photo, one list per tile size in the order
        of ``tiles``: (box (4,), keypoints (4, 2), score) in photo pixels, best first (at most
        ``max_people`` per size; None: all).

        ``tiles``: square tile sides as fractions of the photo's longer side; 1.0 is the whole
        photo. Smaller tiles (overlapping by half) let the detector, trained on people filling
        much of its input, see small people in crowds. The detections of one tile size are
        merged by weighted NMS; sizes are not merged here (:func:`detect_people` lets a finer
        size only add people). ``min_score``: :func:`check_min_score`.
        """
        check_min_score(min_score)
        h, w = image.shape[:2]
        out = []
        for frac in tiles:
            found = [d for x0, y0, side in tile_grid(h, w, (frac,))
                     for d in self._detect_tile(image, x0, y0, side, min_score)]  # fmt: skip
            if not found:
                out.append([])
                continue
            boxes, kps, scores = (np.stack([d[i] for d in found]) for i in range(3))
            out.append(weighted_nms(boxes, kps, scores, NMS_IOU,
                                    len(scores) if max_people is None else max_people))  # fmt: skip
        return out

    def _detect_tile(self, image, x0: int, y0: int, side: int, min_score: float):
        tile = image[y0 : y0 + side, x0 : x0 + side]
        h, w = tile.shape[:2]
        scale, offset = letterbox_transform(h, w)
        x = warp(tile.astype(np.float32), lambda p: (p - offset) / scale, (DETECTOR_SIZE,) * 2)
        outs = self._run(self.detector, x / 127.5 - 1.0)
        raw_boxes = next(o for o in outs if o.shape[-1] == 12)
        raw_scores = next(o for o in outs if o.shape[-1] == 1)[:, 0]
        boxes, kps, scores = decode_detections(raw_boxes, raw_scores, self.anchors, min_score)
        shift = np.array([x0, y0], np.float64)
        boxes = ((boxes.reshape(-1, 2, 2) - offset) / scale + shift).reshape(-1, 4)
        return list(zip(boxes, (kps - offset) / scale + shift, scores))

    def landmarks(
        self, image: np.ndarray, roi: Roi, box: np.ndarray, score: float, user_box: bool = False
    ) -> PersonDetection:
        """Run the landmark model on one region of interest of an (H, W, 3) uint8 photo
        (``box``, ``score``: the detector's, or the user's box and 1.0 with ``user_box``)."""
        h, w = image.shape[:2]
        crop = warp(
            image.astype(np.float32),
            lambda p: roi.crop_to_image(p, LANDMARK_SIZE),
            (LANDMARK_SIZE,) * 2,
        )
        outs = self._run(self.landmarker, crop / 255.0)
        lm = next(o for o in outs if o.shape == (195,)).reshape(39, 5)[:NUM_LANDMARKS]
        world = next(o for o in outs if o.shape == (117,)).reshape(39, 3)[:NUM_LANDMARKS]
        flag = next(o for o in outs if o.size == 1).reshape(())
        seg = next(o for o in outs if o.shape[:2] == (LANDMARK_SIZE, LANDMARK_SIZE))[..., 0]
        sig = lambda v: special.expit(np.asarray(v, np.float64))  # noqa: E731
        c, s = np.cos(roi.rotation), np.sin(roi.rotation)
        rot = np.array([[c, -s], [s, c]])
        xy = roi.crop_to_image(lm[:, :2], LANDMARK_SIZE)
        world_xy = world[:, :2].astype(np.float64) @ rot.T
        mask = warp(sig(seg), lambda p: roi.image_to_crop(p, LANDMARK_SIZE), (h, w))
        flag = float(flag) if 0.0 <= float(flag) <= 1.0 else float(sig(flag))
        return PersonDetection(
            box=np.asarray(box, np.float64) if user_box else person_box(xy, mask),
            score=float(score),
            detector_box=np.asarray(box, np.float64),
            landmarks2d=np.concatenate([xy, sig(lm[:, 3:4])], -1),
            presence=sig(lm[:, 4]),
            depth=lm[:, 2] / LANDMARK_SIZE * roi.size,
            world=np.concatenate([world_xy, world[:, 2:3]], -1),
            mask=mask.astype(np.float32),
            pose_score=flag,
            roi=roi,
        )


def person_box(landmarks_xy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(4,) box of the mask pixels (> 0.5) inside the landmarks' box enlarged by BOX_MARGIN of
    its size per side (so another person in the crop does not widen it); the landmarks' box
    itself when the mask is empty there."""
    lo, hi = landmarks_xy.min(0), landmarks_xy.max(0)
    pad = BOX_MARGIN * (hi - lo)
    x0, y0 = np.floor(np.maximum(lo - pad, 0)).astype(int)
    x1, y1 = np.ceil(hi + pad).astype(int)
    ys, xs = np.nonzero(mask[y0:y1, x0:x1] > 0.5)
    if len(xs) == 0:
        return np.concatenate([lo, hi]).astype(np.float64)
    return np.array([x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1], float)


def roi_from_keypoints(hip: np.ndarray, top: np.ndarray) -> Roi:
    """The landmark crop of a detection: centred on the hip centre, side 2.5 |top - hip|,
    rotated so that ``top - hip`` points up in the crop."""
    d = np.asarray(top, np.float64) - np.asarray(hip, np.float64)
    radius = float(np.hypot(*d))
    angle = float(np.arctan2(d[0], -d[1]))
    return Roi(float(hip[0]), float(hip[1]), 2.0 * radius * ROI_SCALE, angle)


def check_boxes(boxes) -> np.ndarray:
    """The user's person boxes as an (N, 4) float array x0, y0, x1, y1 (pixels).

    Raises:
      ValueError: naming the box (as ``--box`` takes it) that is not four finite numbers with
        x1 > x0 and y1 > y0.
    """
    arr = np.asarray(boxes, np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] != 4 or arr.size == 0:
        raise ValueError(f"a box is four numbers x0 y0 x1 y1, got shape {arr.shape}")
    arr = arr.reshape(-1, 4)
    for box in arr:
        if not (np.isfinite(box).all() and box[2] > box[0] and box[3] > box[1]):
            raise ValueError(f"--box {' '.join(f'{v:g}' for v in box)}: a box is x0 y0 x1 y1 "
                             "in pixels, finite, with x1 > x0 and y1 > y0")  # fmt: skip
    return arr


def _check_boxes_meet(boxes: np.ndarray, width: int, height: int, what: str) -> None:
    """Raise ``ValueError`` naming a user box that lies wholly outside the photo."""
    for box in boxes:
        if box[2] <= 0 or box[3] <= 0 or box[0] >= width or box[1] >= height:
            raise ValueError(f"--box {' '.join(f'{v:g}' for v in box)} lies outside {what} "
                             f"({width}x{height} px)")  # fmt: skip


def roi_from_box(box) -> Roi:
    """An upright square crop around a user box (x0, y0, x1, y1; :func:`check_boxes`)."""
    x0, y0, x1, y1 = check_boxes(box)[0]
    return Roi((x0 + x1) / 2, (y0 + y1) / 2, ROI_SCALE * max(x1 - x0, y1 - y0), 0.0)


def box_containment(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of boxes ``a`` and ``b`` (4,) over the smaller one's area."""
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    smaller = min(np.prod(np.clip(x[2:] - x[:2], 0, None)) for x in (a, b))
    return float(inter / max(smaller, 1e-12))


def _same_person(p: PersonDetection, q: PersonDetection) -> bool:
    """Two detections of one body: one box lies mostly inside (or around) the other
    (:data:`DUPLICATE_OVERLAP`; tiled detection finds a body whole and from the waist up), or
    the masks overlap by more than :data:`MASK_DUPLICATE_OVERLAP` of the smaller (a detection
    that mixes two neighbours)."""
    if box_containment(p.box, q.box) > DUPLICATE_OVERLAP:
        return True
    a, b = p.mask > 0.5, q.mask > 0.5
    smaller = min(a.sum(), b.sum())
    return bool(smaller) and (a & b).sum() / smaller > MASK_DUPLICATE_OVERLAP


def _distinct(people: list[PersonDetection], kept=()) -> list[PersonDetection]:
    """``people`` that are not the same person (:func:`_same_person`) as one in ``kept`` or as
    a better one of ``people`` (higher landmark pose score), in detector-score order."""
    kept, new = list(kept), []
    for p in sorted(people, key=lambda q: -q.pose_score):
        if not any(_same_person(p, q) for q in kept + new):
            new.append(p)
    return sorted(new, key=lambda q: -q.score)


def _posed(runner: BlazePose, image: np.ndarray, dets, min_pose_score: float):
    """The landmark model on one tile size's detections; people below ``min_pose_score``
    dropped (before the sizes are merged, so a failed coarse pose does not hide a finer one)."""
    people = [runner.landmarks(image, roi_from_keypoints(k[0], k[1]), b, s) for b, k, s in dets]
    return [p for p in people if p.pose_score >= min_pose_score]


def _coarse_first(levels: list[list[PersonDetection]]) -> list[PersonDetection]:
    """People of all tile sizes (coarsest first): a person of a finer size is kept only if no
    person of a coarser size is the same (:func:`_distinct`), so finer tiles only add people
    and a person the whole photo shows keeps the whole-photo detection. Detector-score order."""
    kept: list[PersonDetection] = []
    for people in levels:
        kept += _distinct(people, kept)
    return sorted(kept, key=lambda q: -q.score)


def detect_people(
    image,
    boxes=None,
    *,
    max_people: int = MAX_PEOPLE,
    min_score: float = MIN_DETECTION_SCORE,
    min_pose_score: float = 0.5,
    tiles: tuple[float, ...] = (1.0,),
    runner: BlazePose | None = None,
    cache_dir: str | os.PathLike | None = None,
    name: str | None = None,
) -> list[PersonDetection]:
    """People in a photo: detector boxes (or the given ones), 33 landmarks, world points, mask.

    Args:
      image: (H, W, 3) uint8 / float in [0, 1] array, or a path to an image file.
      boxes: optional (N, 4) user boxes x0, y0, x1, y1 in pixels; skips the detector.
      min_score: detector score threshold.
      min_pose_score: drop people whose landmark pose-presence score is below this.
      tiles: detector tiles (see :meth:`BlazePose.detect`), coarsest first; e.g. (1.0, 0.6,
        0.4) for crowds. A finer size only adds people: one who is the same as a person found
        at a coarser size (box mostly inside the other's, or masks mostly shared) is dropped.
      max_people: at most this many people, the best detector scores (more found: a
        warning says how many).
      runner: a loaded :class:`BlazePose` (default: load one from ``cache_dir``).
      cache_dir: model folder (see :func:`jaxrefine.detect.models.ensure_models`).
      name: the photo's name in errors and warnings (default: its path, or "image").

    Returns:
      list of :class:`PersonDetection`, best detector score first.

    Raises:
      ImageReadError: unreadable image file or wrong array.
      NoPersonError: nobody found (no box above ``min_score``, or no pose above
        ``min_pose_score``).
      ModelsUnavailableError: the extra or the model files are missing.
    """
    what = name or (str(image) if isinstance(image, str | os.PathLike) else "image")
    img = read_image(image) if isinstance(image, str | os.PathLike) else as_rgb_uint8(image)
    runner = runner if runner is not None else BlazePose(cache_dir)
    if boxes is not None:
        boxes = check_boxes(boxes)
        _check_boxes_meet(boxes, img.shape[1], img.shape[0], what)
        people = [runner.landmarks(img, roi_from_box(b), b, 1.0, user_box=True) for b in boxes]
    else:
        levels = runner.detect(img, min_score=min_score, max_people=None, tiles=tiles)
        people = _coarse_first([_posed(runner, img, d, min_pose_score) for d in levels])
        if len(people) > max_people:
            warnings.warn(f"{what}: {len(people)} people found; the {max_people} with the best "
                          "detector scores are kept (max_people, --max-people)",
                          stacklevel=2)  # fmt: skip
            people = people[:max_people]
    people = [p for p in people if p.pose_score >= min_pose_score]
    if not people:
        where = (
            f"{len(boxes)} given box(es)"
            if boxes is not None
            else f"detector threshold {min_score}, tiles {' '.join(f'{t:g}' for t in tiles)}"
        )
        raise NoPersonError(f"no person found in {what} ({img.shape[1]}x{img.shape[0]} px; "
                            f"{where}, pose threshold {min_pose_score})")  # fmt: skip
    return people
