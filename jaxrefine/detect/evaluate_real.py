"""Measurements on real photos with COCO ground truth.

:func:`evaluate_coco_photo` runs BlazePose and the landmark initializer on the photo and
compares with the COCO annotation:

- ``box_iou``: the person box (:class:`~jaxrefine.detect.blazepose.PersonDetection`) against
  the annotated box (the detector's own box is a face box, reported as ``detector_box_iou``).
- ``pck@0.05`` / ``pck@0.1``: fraction of the annotated (v > 0) COCO-17 keypoints within 5% /
  10% of the annotated box's diagonal, for BlazePose's landmarks mapped to COCO-17
  (``landmarks_*``) and for the initial body's projected COCO-17 keypoints (``init_*``).
- ``mask_iou``: BlazePose's mask (> 0.5) and the initial body's rendered silhouette
  (``init_silhouette_iou``) against the rasterised COCO polygon.
- ``oks`` (bodies only): the COCO keypoint metric's object keypoint similarity of the body's
  projected COCO-17 keypoints (:func:`jaxrefine.metrics.oks`), with the annotation's ``area``
  (the rasterised polygon's pixels where the annotation has none).

:func:`score_body` scores any body (e.g. after SMPLify or refinement) the same way.

The person matched to the annotation is the one whose box overlaps the annotated box most.
:func:`read_coco_people` reads a whole COCO keypoint file (every image's people) and
:func:`match_people` pairs detected with annotated people by their masks, for ``jaxrefine
eval-real --coco``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from matplotlib.path import Path as PolyPath

from jaxrefine import metrics
from jaxrefine.detect.blazepose import box_iou, detect_people
from jaxrefine.keypoints import mediapipe33_to

PCK_THRESHOLDS = (0.05, 0.1)  # fractions of the annotated box diagonal


def polygon_to_mask(polygons, height: int, width: int) -> np.ndarray:
    """COCO polygons (list of flat [x0, y0, x1, y1, ...] lists, pixels) -> (H, W) bool mask of
    the pixels whose centre lies inside any polygon."""
    jj, ii = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    centres = np.stack([jj.ravel(), ii.ravel()], -1)
    mask = np.zeros(height * width, bool)
    for poly in polygons:
        pts = np.asarray(poly, np.float64).reshape(-1, 2)
        if len(pts) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(pts)}")
        mask |= PolyPath(pts).contains_points(centres)
    return mask.reshape(height, width)


def _person(ann: dict, where: str) -> dict:
    """One COCO person annotation: keypoints (17, 3), box (4,) x0, y0, x1, y1, polygons, id."""
    try:
        x, y, w, h = (float(v) for v in ann["bbox"])
        keypoints = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
        polygons = ann["segmentation"]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{where}: expected 'bbox', 17 x 3 'keypoints' and 'segmentation'") from e
    return {"keypoints": keypoints, "box": np.array([x, y, x + w, y + h]),
            "polygons": polygons, "id": ann.get("id"),
            "area": float(ann.get("area", 0.0))}  # fmt: skip


def read_annotated_photo(path, size=None) -> np.ndarray:
    """(H, W, 3) float32 photo in the orientation its annotation was made on: ``size``, the
    annotation's recorded (height, width), or None: upright by its EXIF orientation
    (:func:`jaxrefine.inputs.images.decode_image`). A photo whose stored pixels have the
    annotation's size and whose upright ones do not (a tagged photo annotated as stored, as
    tools that ignore the tag do) is read as stored; a size that fits neither way is refused.
    """
    from jaxrefine.inputs import InputError
    from jaxrefine.inputs.images import decode_image, to_float_rgb

    upright = decode_image(path)
    if size is None or tuple(upright.shape[:2]) == tuple(size):
        return to_float_rgb(upright, str(path))
    stored = decode_image(path, exif=False)
    if tuple(stored.shape[:2]) == tuple(size):
        return to_float_rgb(stored, str(path))
    (h, w), (ah, aw) = upright.shape[:2], size
    raise InputError(f"{path}: a {w}x{h} photo, but its annotation was made on a {aw}x{ah} "
                     "image")  # fmt: skip


def read_coco_person(path: str | os.PathLike) -> dict:
    """The single person annotation of a COCO JSON file: keypoints (17, 3), box (4,) x0, y0,
    x1, y1, polygons, image height and width."""
    path = Path(path)
    text = path.read_text()  # a missing file fails as itself
    try:
        doc = json.loads(text)
        ann = [a for a in doc["annotations"] if a.get("category_id", 1) == 1]
        image = doc["images"][0]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: not a COCO annotation file with images and annotations") from e
    if len(ann) != 1:
        raise ValueError(f"{path}: expected exactly one person annotation, found {len(ann)}")
    return {**_person(ann[0], str(path)), "height": int(image["height"]),
            "width": int(image["width"])}  # fmt: skip


def read_coco_people(path: str | os.PathLike, min_keypoints: int = 1) -> tuple[list, dict]:
    """Every image of a COCO keypoint annotation file (e.g. ``person_keypoints_val2017.json``)
    with its scorable people, in image id order.

    A person is scored when it is not a crowd region (``iscrowd``), has a polygon outline (not
    RLE) and at least ``min_keypoints`` annotated keypoints.

    Returns:
      ([{"file_name", "height", "width", "people": [person dicts as :func:`read_coco_person`
      gives, without the image size]}], {reason: number of person annotations left out}).
    """
    path = Path(path)
    text = path.read_text()  # a missing file fails as itself
    try:
        doc = json.loads(text)
        images = {im["id"]: {"file_name": str(im["file_name"]), "height": int(im["height"]),
                             "width": int(im["width"])} for im in doc["images"]}  # fmt: skip
        anns = list(doc["annotations"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a COCO annotation file with images (id, file_name, "
                         "height, width) and annotations") from e  # fmt: skip
    people: dict = {k: [] for k in images}
    left_out = {"crowd": 0, "rle_outline": 0, "few_keypoints": 0}
    for i, a in enumerate(anns):  # i: the annotation's place in the file, for messages
        if not isinstance(a, dict):
            raise ValueError(f"{path}: annotation {i} is not a JSON object")
        if a.get("category_id", 1) != 1:
            continue
        if a.get("iscrowd", 0):
            left_out["crowd"] += 1
        elif not isinstance(a.get("segmentation"), list):
            left_out["rle_outline"] += 1
        elif int(a.get("num_keypoints", 17)) < min_keypoints:
            left_out["few_keypoints"] += 1
        elif a.get("image_id") not in people:
            raise ValueError(f"{path}: annotation {i} names image {a.get('image_id')!r}, "
                             "which is not in 'images'")  # fmt: skip
        else:
            people[a["image_id"]].append(_person(a, f"{path} annotation {i}"))
    out = [{**im, "people": people[k]} for k, im in sorted(images.items())]
    return out, left_out


def match_people(detected: np.ndarray, annotated: np.ndarray, min_iou: float) -> list:
    """Detected people matched to annotated ones by mask IoU (the Hungarian method; a pair
    below ``min_iou`` is not matched).

    Args: detected (P, H, W) and annotated (G, H, W) bool masks.
    Returns: sorted list of (detected index, annotated index) pairs.
    """
    if not len(detected) or not len(annotated):
        return []
    iou = np.array([[float(metrics.mask_iou(d, g)) for g in annotated] for d in detected])
    return _assign(iou, min_iou)


def match_boxes(detected: np.ndarray, annotated: np.ndarray, min_iou: float) -> list:
    """:func:`match_people` by box IoU: detected (P, 4) and annotated (G, 4) boxes x0, y0,
    x1, y1 (people without masks, e.g. from a keypoint file)."""
    if not len(detected) or not len(annotated):
        return []
    iou = np.stack([box_iou(np.asarray(d, np.float64), annotated) for d in detected])
    return _assign(iou, min_iou)


def _assign(iou: np.ndarray, min_iou: float) -> list:
    """Hungarian assignment on a (P, G) IoU matrix; sorted pairs at or above ``min_iou``."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-iou)
    return sorted((int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= min_iou)


def _pcks(pred: np.ndarray, gt: dict, prefix: str) -> dict:
    diag = float(np.hypot(*(gt["box"][2:] - gt["box"][:2])))
    vis = gt["keypoints"][:, 2] > 0
    return {
        f"{prefix}pck@{t:g}": float(metrics.pck(pred, gt["keypoints"][:, :2], vis, t * diag))
        for t in PCK_THRESHOLDS
    }


def score_keypoints(pred: np.ndarray, gt: dict, gt_mask: np.ndarray, prefix: str = "") -> dict:
    """PCK@0.05 / PCK@0.1 and OKS of COCO-17 pixels ``pred`` (17, 2) against ``gt`` (its
    ``area``, or, where it has none, the pixels of ``gt_mask``)."""
    area = gt.get("area") or float(np.count_nonzero(gt_mask))
    vis = gt["keypoints"][:, 2] > 0
    return {
        **_pcks(pred, gt, prefix),
        f"{prefix}oks": float(metrics.oks(pred, gt["keypoints"][:, :2], vis, area)),
    }


def evaluate_coco_photo(
    image_path: str | os.PathLike,
    annotation_path: str | os.PathLike,
    *,
    model=None,
    initialize_body: bool = True,
    render_backend: str = "auto",
    runner=None,
) -> dict:
    """Detector, landmark and initializer accuracy on one COCO-annotated photo.

    Args:
      image_path: the photo.
      annotation_path: its COCO JSON with one person annotation.
      model: body model for the initializer (default: the open model).
      initialize_body: also fit and score the initial body (slower: a fit and a rendering).
      render_backend: rasterizer backend for the silhouette.
      runner: a loaded :class:`~jaxrefine.detect.blazepose.BlazePose`.

    Returns:
      dict of floats (see the module docstring) plus ``num_people``.
    """
    gt = read_coco_person(annotation_path)
    image = read_annotated_photo(image_path, (gt["height"], gt["width"]))
    h, w = image.shape[:2]
    people = detect_people(image, runner=runner)
    ious = [float(box_iou(p.box, gt["box"])[0]) for p in people]
    person = people[int(np.argmax(ious))]
    gt_mask = polygon_to_mask(gt["polygons"], h, w)
    lm17, _ = mediapipe33_to("coco17", person.landmarks2d[:, :2], person.landmarks2d[:, 2])
    out = {
        "num_people": len(people),
        "box_iou": max(ious),
        "detector_box_iou": float(box_iou(person.detector_box, gt["box"])[0]),
        "mask_iou": float(metrics.mask_iou(person.mask > 0.5, gt_mask)),
        **_pcks(lm17, gt, "landmarks_"),
    }
    if initialize_body:
        out.update(_evaluate_initial_body(model, person, (h, w), gt, gt_mask, render_backend))
    return out


def score_body(model, params: dict, camera, gt: dict, gt_mask: np.ndarray, prefix: str = "",
               backend: str = "auto") -> dict:  # fmt: skip
    """PCK of a body's projected COCO-17 keypoints and IoU of its rendered silhouette.

    Args:
      model: the body model.
      params: one person's dict global_orient (3,), body_pose (23, 3), betas (NB,), transl (3,).
      camera: the full-image :class:`~jaxrefine.camera.Camera`.
      gt: :func:`read_coco_person` output; gt_mask: (H, W) bool (:func:`polygon_to_mask`).
      prefix: prepended to the keys (e.g. "init_", "smplify_", "refined_").
      backend: rasterizer backend.

    Returns:
      dict ``{prefix}pck@0.05``, ``{prefix}pck@0.1``, ``{prefix}oks``,
      ``{prefix}silhouette_iou``.
    """
    import jax.numpy as jnp

    from jaxrefine.body_model import forward
    from jaxrefine.camera import project
    from jaxrefine.detect.initialize import model_keypoints
    from jaxrefine.render import rasterize

    proj = np.asarray(project(camera, model_keypoints(model, params, "coco17")))
    pose = jnp.concatenate([params["global_orient"][None], params["body_pose"]], 0)
    verts = forward(model, pose, params["betas"], params["transl"]).vertices
    h, w = gt_mask.shape
    frags = rasterize(verts, model.faces, camera, h, w, backend, cull_backfaces=True)
    return {
        **score_keypoints(proj, gt, gt_mask, prefix),
        f"{prefix}silhouette_iou": float(metrics.mask_iou(np.asarray(frags.mask), gt_mask)),
    }


def _evaluate_initial_body(model, person, image_size, gt, gt_mask, backend) -> dict:
    from jaxrefine.detect.initialize import initialize
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model() if model is None else model
    est = initialize(model, person.landmarks2d, image_size, person.world)
    return {
        **score_body(model, est.params, est.camera, gt, gt_mask, "init_", backend),
        "init_hypothesis": est.hypothesis,
        "init_loss": est.loss,
    }
