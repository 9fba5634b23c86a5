"""``jaxrefine eval-real``: the photo pipeline measured on real photographs.

Per person, four rows:

- ``initial``: the landmark initializer (:func:`jaxrefine.photo.estimates_from_photo`);
- ``sparse_landmarks``: SMPLify from there on the BlazePose landmarks only (mapped to BODY_25;
  the ``dense`` preset with data kind "keypoints");
- ``learned_dense``: :func:`jaxrefine.refine.refine` with the network, no landmarks;
- ``learned_dense_landmarks``: the network's targets plus the landmark term.

``--optimizer NAME`` (any registered name, default ``adam``) fits every row but ``initial``
with that optimizer, and ``--gmm PATH`` (SMPLify's ``gmm_08.pkl`` or an ``.npz``) replaces
the shipped pose prior in the initial fits and every fitted row (the JSON's ``pose_prior``
names it; ``--resume`` refuses to mix priors). ``--model FILE`` (e.g. SMPL's own pickle; no UV
layout needed) is the body model of every row (the JSON's ``model_id``; ``--resume`` refuses
to mix models). A row whose data the optimizer has no version
for is skipped and the reason printed and kept in the JSON: the learned optimizer (``lgd``)
ships checkpoints for keypoints and for dense targets, none for both at once, so with it
``learned_dense_landmarks`` is skipped.

Against COCO ground truth a fifth row, ``input_keypoints`` (:data:`INPUT_ROW`), scores the
people's own 2D keypoints (BlazePose's landmarks, or the keypoint file's, mapped to COCO-17)
and BlazePose's mask: what the bodies start from.

Scores (:func:`jaxrefine.detect.evaluate_real.score_body`): PCK@0.05 / PCK@0.1 (of the box
diagonal) and OKS (COCO's object keypoint similarity, :func:`jaxrefine.metrics.oks`; with
pseudo ground truth the mask's pixels as the area) of the body's projected COCO-17 keypoints,
and the IoU of its rendered silhouette.

- On a COCO photo with its annotation (``--image`` / ``--annotation``): against the COCO
  keypoints, box and polygon (real ground truth) of each annotated person, scored through the
  detected person whose BlazePose mask overlaps its polygon most (IoU >= :data:`MIN_MATCH_IOU`;
  an annotated person without one is counted as missed).
- On a COCO keypoint file (``--coco FILE --coco-images DIR``, e.g. COCO's
  ``person_keypoints_val2017.json`` with ``val2017/``): the same for every image with
  annotated people (not crowds, with a polygon and ``--min-keypoints``), and the means over
  every scored person per row. With ``--json`` each finished photo is journalled beside it
  (:func:`journal_path`) and ``--resume`` continues an interrupted run from there.
- With ``--keypoints FILE`` (beside ``--image`` or ``--coco``): the people are those of a
  keypoint file instead of BlazePose's (a detector's COCO results, OpenPose or MediaPipe
  files, as ``jaxrefine refine PHOTOS --keypoints FILE`` takes them: people scoring below
  ``--min-person-score`` left out, each initialized from their keypoints,
  :func:`jaxrefine.photo.keypoint_frame_people`), matched to the annotated people by box
  (the box of their keypoints against the COCO box, IoU >= :data:`MIN_BOX_MATCH_IOU`); the
  landmark rows fit the file's keypoints; no masks, so no mask gate or silhouette term. This
  scores a 2D detector's output refined by jaxrefine; the ``detect`` extra is not needed.
- On other photos (``--pseudo``): **pseudo ground truth** -- each detected person's BlazePose
  landmarks mapped to COCO-17 (visibility >= 0.5), the box of its mask and its mask (> 0.5);
  figures are means over the people. They measure agreement with BlazePose, not accuracy.

The JSON keeps each person's scores too (``per_person``, in the order of ``boxes``: the COCO
box, or each person's mask box; ``annotation_ids``); ``--csv`` writes them one line per
person and row.

Pictures (``--out``): per photo and row, the bodies over the photo, with the photo's
attribution in the PNG's text metadata and in a caption file beside it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine import metrics
from jaxrefine.errors import refuse_below
from jaxrefine.files import output_file_arg, output_folder_arg

ROWS = ("initial", "sparse_landmarks", "learned_dense", "learned_dense_landmarks")
# Against COCO ground truth, the people's own 2D keypoints (BlazePose's landmarks or the
# keypoint file's, mapped to COCO-17) are scored too, before any body: the baseline every
# body row's keypoints are compared with. Its IoU is BlazePose's mask's (none for a keypoint
# file: NaN, printed n/a).
INPUT_ROW = "input_keypoints"
METRICS = ("pck@0.05", "pck@0.1", "oks", "silhouette_iou")
MASK_THRESHOLD = 0.5  # BlazePose mask probability counted as person
# A detected person is scored against an annotated one when BlazePose's mask and the annotated
# outline overlap at least this much (IoU): the COCO photo's person overlaps 0.92; another
# person's outline beside or behind overlaps far less, and a person the detector missed is
# counted as missed rather than scored through a neighbour.
MIN_MATCH_IOU = 0.3
# ``--keypoints``: a person of the keypoint file is scored against an annotated one when the
# box of their keypoints and the annotated box overlap at least this much. The keypoints' box
# misses the head's top, the hands and the feet that the COCO box holds (the COCO photo's
# ground-truth keypoints: IoU 0.60 with its box); the same bar as the masks' keeps a neighbour
# beside or behind from being scored in a missed person's place.
MIN_BOX_MATCH_IOU = 0.3

# Attribution lines of the photos in the project's real-image folder (from its NOTICE.md).
ATTRIBUTION = {
    "coco_000000000785.jpg": "Photo: COCO val2017 image 785, Flickr photo 6795644157 "
    "(photographer not recorded in COCO), "
    "http://farm8.staticflickr.com/7015/6795644157_f019453ae7_z.jpg, CC BY 2.0, "
    "https://creativecommons.org/licenses/by/2.0/. Annotations: COCO Consortium (CC BY 4.0).",
    "51960182045_d5d6407a3c_c.jpg": "Photo by Erik Drost, "
    "https://www.flickr.com/photos/edrost88/51960182045/, CC BY 2.0, "
    "https://creativecommons.org/licenses/by/2.0/.",
    "3969570423_58eb848b75_c.jpg": "Photo by Jan S0L0, "
    "https://www.flickr.com/photos/jansolo09/3969570423/, CC BY-SA 2.0, "
    "https://creativecommons.org/licenses/by-sa/2.0/.",
    "opencv_basketball1.png": "basketball1.png from the OpenCV samples (Debian opencv-doc "
    "4.6.0+dfsg-12), Apache-2.0 AND BSD-3-Clause.",
    "opencv_basketball2.png": "basketball2.png from the OpenCV samples (Debian opencv-doc "
    "4.6.0+dfsg-12), Apache-2.0 AND BSD-3-Clause.",
}


def attribution(path) -> str:
    """The attribution line of a known photo, else a note that none is recorded."""
    return ATTRIBUTION.get(Path(path).name, f"{Path(path).name}: attribution not recorded")


def _one(tree, i):
    return jax.tree.map(lambda a: jnp.asarray(a)[i : i + 1], tree)


def sparse_landmark_fit(
    model,
    params: dict,
    cameras,
    keypoints: np.ndarray,
    optimizer="adam",
    keypoint_set="body25",
    gmm=None,
) -> dict:
    """SMPLify on landmarks only (``dense`` preset, data kind "keypoints").

    Args: params (P, ...) start; cameras (P); keypoints (P, K, 3) of ``keypoint_set``
    ("body25" or "coco17"); optimizer: name or object; gmm: the pose prior
    (:class:`~jaxrefine.priors.GMMPrior`; None: the shipped one).
    Returns fitted params."""
    from jaxrefine.objective import FitData, get_preset, load_gmm_prior
    from jaxrefine.refine import pose_batch, with_start
    from jaxrefine.smplify import smplify

    preset = get_preset("dense")
    p = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    pose = jnp.concatenate([p["global_orient"][:, None], p["body_pose"]], 1)
    verts = pose_batch(model, pose, p["betas"], p["transl"]).vertices
    n = len(keypoints)
    data = FitData(camera=cameras, init_transl=p["transl"], pixel_scale=jnp.ones(n),
                   keypoints=jnp.asarray(keypoints[..., :2]),
                   keypoint_conf=jnp.asarray(keypoints[..., 2]))  # fmt: skip
    data = with_start(data, p["transl"], verts, preset)
    res = smplify(model, p, data, preset=preset, data_kind="keypoints",
                  keypoint_set=keypoint_set, gmm=load_gmm_prior() if gmm is None else gmm,
                  optimizer=optimizer)  # fmt: skip
    return {k: np.asarray(v) for k, v in res.params.items()}


# The SMPLify data kind of each fitted row (what a learned optimizer must have a version for).
ROW_DATA_KIND = {"sparse_landmarks": "keypoints", "learned_dense": "dense",
                 "learned_dense_landmarks": "dense+keypoints"}  # fmt: skip


def unavailable_rows(optimizer) -> dict[str, str]:
    """``{row: reason}`` for the rows ``optimizer`` cannot fit (no version for their data)."""
    from jaxrefine.optimizers.registry import missing_version

    reasons = {row: missing_version(optimizer, kind) for row, kind in ROW_DATA_KIND.items()}
    return {row: f"{optimizer}: {why}" for row, why in reasons.items() if why is not None}


def fit_rows(model, image: np.ndarray, pe, network, options, keypoints=None,
             keypoint_set="body25") -> tuple[dict, dict[str, str]]:  # fmt: skip
    """The rows' parameters (P leading) for a photo's estimates ``pe``
    (:class:`~jaxrefine.photo.PhotoEstimates`); ``image`` (H, W, 3) float in [0, 1]. The
    landmark rows fit ``keypoints`` (P, K, 3) of ``keypoint_set`` when given (a keypoint
    file's people), else BlazePose's landmarks mapped to BODY_25. Every fitted row uses
    ``options.gmm_path``'s pose prior (None: the shipped one).

    Returns ({row: params}, {skipped row: reason}) (see :func:`unavailable_rows`)."""
    from jaxrefine.keypoints import mediapipe33_keypoints
    from jaxrefine.photo import estimate_params, landmark_options
    from jaxrefine.refine import initial_prior, refine

    skipped = unavailable_rows(options.optimizer)
    init = estimate_params(pe.estimates)
    if keypoints is None:
        keypoints, keypoint_set = mediapipe33_keypoints(pe.landmarks), "body25"
    kp = keypoints
    n = len(kp)
    rows = {"initial": init}
    if "sparse_landmarks" not in skipped:
        rows["sparse_landmarks"] = sparse_landmark_fit(
            model, init, pe.cameras, kp, options.optimizer, keypoint_set, initial_prior(options)
        )
    for row, use in (("learned_dense", False), ("learned_dense_landmarks", True)):
        if row in skipped:
            continue
        masks = list(pe.masks) if options.needs_masks else None
        opts = landmark_options(options, keypoint_set) if use else options
        res = refine(model, [image] * n, init, pe.cameras, network,
                     keypoints=kp if use else None, masks=masks, options=opts)  # fmt: skip
        rows[row] = {k: np.asarray(v) for k, v in res.params.items()}
    return rows, skipped


def pseudo_ground_truth(landmarks: np.ndarray, mask: np.ndarray) -> tuple[dict, np.ndarray]:
    """One person's BlazePose output as a COCO-like annotation: (gt dict, (H, W) bool mask)."""
    from jaxrefine.keypoints import MIN_LANDMARK_VISIBILITY, mediapipe33_to

    pts, conf = mediapipe33_to("coco17", landmarks[:, :2], landmarks[:, 2])
    vis = (conf >= MIN_LANDMARK_VISIBILITY).astype(np.float64)
    m = mask > MASK_THRESHOLD
    ys, xs = np.nonzero(m)
    if len(xs):
        box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)
    else:
        box = np.concatenate([pts[vis > 0].min(0), pts[vis > 0].max(0)]).astype(np.float64)
    return {"keypoints": np.concatenate([pts, vis[:, None]], 1), "box": box}, m


def score_input(pe, keypoints, keypoint_set: str, gts: list) -> list[dict]:
    """:data:`INPUT_ROW`'s scores per person: their 2D keypoints (``keypoints`` (P, K, 3) of
    ``keypoint_set``, or, None, ``pe``'s BlazePose landmarks) mapped to COCO-17, and
    BlazePose's mask (> :data:`MASK_THRESHOLD`; NaN without masks), against ``gts``."""
    from jaxrefine.detect.evaluate_real import score_keypoints
    from jaxrefine.keypoints import joint_names, mediapipe33_to

    if keypoints is None:
        pts = [mediapipe33_to("coco17", lm[:, :2], lm[:, 2])[0] for lm in pe.landmarks]
    else:
        names = joint_names(keypoint_set)
        pts = [p[[names.index(n) for n in joint_names("coco17")], :2] for p in keypoints]
    out = []
    for i, (gt, gt_mask) in enumerate(gts):
        iou = np.nan if pe.masks is None else float(metrics.mask_iou(pe.masks[i] > MASK_THRESHOLD,
                                                                     gt_mask))  # fmt: skip
        out.append({**score_keypoints(pts[i], gt, gt_mask), "silhouette_iou": iou})
    return out


def _mean(values) -> float:
    """Mean of the finite values; NaN when there is none (no warning)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("nan")


def score_rows(model, rows: dict, cameras, gts: list, backend: str) -> tuple[dict, dict]:
    """:func:`score_body` per row and person: ``({row: {metric: mean over people}},
    {row: [{metric: value} per person]})``."""
    from jaxrefine.detect.evaluate_real import score_body

    means, people = {}, {}
    for row, params in rows.items():
        people[row] = [score_body(model, jax.tree.map(lambda a, i=i: jnp.asarray(a)[i], params),
                                  jax.tree.map(lambda a, i=i: a[i], cameras), gt, gm, "", backend)
                       for i, (gt, gm) in enumerate(gts) if gt is not None]  # fmt: skip
        means[row] = {m: float(np.mean([s[m] for s in people[row]])) for m in METRICS}
    return means, people


def save_row_pictures(model, image, rows, cameras, out: Path, name: str, credit: str, backend):
    """``OUT/<photo>_<row>.png`` (bodies over the photo) with the attribution in the PNG's text
    metadata and in ``OUT/<photo>_<row>.txt``."""
    from jaxrefine.photo import people_picture, save_attributed_png

    for row, params in rows.items():
        pic = people_picture(model, image, [params], cameras, backend=backend)
        save_attributed_png(out / f"{name}_{row}.png", pic, credit,
                            f"jaxrefine eval-real, row {row}: photo | bodies")  # fmt: skip


def evaluate_photo(model, path, network, options, runner, *, truth=None, out=None,
                   backend="auto", tiles=None, keypoints=None,
                   min_person_score=None, max_people=None, size=None) -> dict:  # fmt: skip
    """Rows and scores of one photo: against ``truth`` (the photo's annotated people, person
    dicts of :func:`~jaxrefine.detect.evaluate_real.read_coco_people`; each scored through the
    detected person whose mask matches its outline, :data:`MIN_MATCH_IOU`) or, without it,
    against BlazePose (pseudo ground truth). ``tiles`` default:
    :data:`jaxrefine.photo.PHOTO_TILES`; ``min_person_score`` / ``max_people``: the
    detector's least score and most people (None: its defaults).

    ``keypoints``: a :class:`~jaxrefine.inputs.Keypoints2D` whose people replace BlazePose's
    (``truth`` needed; people scoring below ``min_person_score`` left out, None: the
    default; matched by box, :data:`MIN_BOX_MATCH_IOU`). ``size``: the (height, width) the
    annotation records (:func:`~jaxrefine.detect.evaluate_real.read_annotated_photo`). The
    initial fits use ``options.gmm_path``'s pose prior (None: the shipped one), as the fitted
    rows do."""
    from jaxrefine.detect.evaluate_real import read_annotated_photo
    from jaxrefine.refine import initial_prior

    t0 = time.perf_counter()
    img = read_annotated_photo(path, size)
    kp, kp_set, left_out, prior = None, "body25", None, initial_prior(options)
    if keypoints is None:
        found = _detected_people(model, path, img, truth, runner, tiles,
                                 min_person_score, max_people, prior)  # fmt: skip
        if found is None:
            return _result(path, truth, [], {}, {}, unavailable_rows(options.optimizer), t0)
        pe, gts = found
    else:
        pe, kp, gts, left_out = _keypoint_people(model, path, img, keypoints, truth,
                                                 min_person_score, prior)  # fmt: skip
        kp_set = keypoints.set_name
    rows, skipped, scores, per_person = {}, unavailable_rows(options.optimizer), {}, {}
    if len(gts):
        rows, skipped = fit_rows(model, img, pe, network, options, kp, kp_set)
        scores, per_person = score_rows(model, rows, pe.cameras, gts, backend)
        if truth is not None:
            per_person[INPUT_ROW] = score_input(pe, kp, kp_set, gts)
            scores[INPUT_ROW] = {m: _mean([p[m] for p in per_person[INPUT_ROW]])
                                 for m in METRICS}  # fmt: skip
    if out is not None:
        save_row_pictures(model, img, rows, pe.cameras, Path(out), Path(path).stem,
                          attribution(path), backend)  # fmt: skip
    result = _result(path, truth, gts, scores, per_person, skipped, t0)
    if left_out is not None:
        result["keypoint_people_left_out"] = left_out
    return result


def _detected_people(model, path, img, truth, runner, tiles, min_score, max_people, gmm):
    """BlazePose's people of a photo (initial fits with pose prior ``gmm``) matched to
    ``truth`` (by mask) or with their pseudo ground truth: ``(PhotoEstimates of the scored
    people, [(gt, gt mask)])``, or None when nobody is detected in a photo with ``truth``."""
    from jaxrefine.detect import NoPersonError
    from jaxrefine.detect.evaluate_real import match_people, polygon_to_mask
    from jaxrefine.photo import PHOTO_TILES, estimates_from_photo

    tiles = PHOTO_TILES if tiles is None else tiles
    h, w = img.shape[:2]
    try:
        pe = estimates_from_photo(model, img, tiles=tiles, runner=runner, source=str(path),
                                  min_score=min_score, max_people=max_people,
                                  name=str(path), gmm=gmm)  # fmt: skip
    except NoPersonError:
        if truth is None:  # pseudo ground truth needs a person
            raise
        return None
    if truth is not None:
        gt_masks = [polygon_to_mask(gt["polygons"], h, w) for gt in truth]
        pairs = match_people(pe.masks > MASK_THRESHOLD, np.asarray(gt_masks).reshape(-1, h, w),
                             MIN_MATCH_IOU)  # fmt: skip
        keep = np.array([d for d, _ in pairs], np.int64)
        gts = [(truth[g], gt_masks[g]) for _, g in pairs]
    else:
        keep = np.arange(len(pe.landmarks))
        gts = [pseudo_ground_truth(lm, m) for lm, m in zip(pe.landmarks, pe.masks)]
    pe = type(pe)(
        estimates=pe.estimates.take(keep), cameras=jax.tree.map(lambda a: a[keep], pe.cameras),
        landmarks=pe.landmarks[keep], masks=pe.masks[keep],
    )  # fmt: skip
    return pe, gts


def _keypoint_people(model, path, img, keypoints, truth, min_person_score, gmm):
    """A keypoint file's people of a photo (initial fits with pose prior ``gmm``) matched to
    ``truth`` by box: ``(PhotoEstimates of the scored people (no landmarks or masks), their
    keypoints (P, K, 3), [(gt, gt mask)], {"low_score": n people below the score,
    "few_keypoints": n matched people with fewer than 4 usable keypoints})``. A photo the file
    has no frame for has nobody."""
    from jaxrefine.camera import Camera
    from jaxrefine.detect.evaluate_real import match_boxes, polygon_to_mask
    from jaxrefine.detect.track import landmark_box
    from jaxrefine.inputs import InputError
    from jaxrefine.inputs.keypoint_files import MIN_PERSON_SCORE, person_scores
    from jaxrefine.photo import TINY, PhotoEstimates, keypoint_frame_people

    if truth is None:
        raise ValueError("eval-real --keypoints scores against ground truth (--image / --coco)")
    h, w = img.shape[:2]
    try:
        (key,) = keypoints.frames_of([Path(path).stem])
    except InputError:  # no frame for this photo: the detector found nobody
        key = None
    floor = MIN_PERSON_SCORE if min_person_score is None else min_person_score
    people = keypoints.people(key, (h, w))
    ok = np.flatnonzero(person_scores(people) >= floor)  # match the people who may be refined
    boxes = np.asarray([landmark_box(p, TINY) for p in people[ok]]).reshape(-1, 4)
    pairs = match_boxes(boxes, np.asarray([gt["box"] for gt in truth]), MIN_BOX_MATCH_IOU)
    annotated = {int(ok[d]): g for d, g in pairs}  # place in the frame -> annotated person
    fp = keypoint_frame_people(model, keypoints, key, (h, w), min_person_score=floor,
                               source=str(path), only=sorted(annotated), gmm=gmm)  # fmt: skip
    gts = [(truth[annotated[j]], polygon_to_mask(truth[annotated[j]]["polygons"], h, w))
           for j in fp.index]  # fmt: skip
    est = fp.estimates
    pe = PhotoEstimates(est, Camera.from_intrinsics(est.intrinsics), None, None)
    left_out = {"low_score": len(people) - len(ok), "few_keypoints": len(fp.few)}
    return pe, fp.points, gts, left_out


def _result(path, truth, gts, scores, per_person, skipped, t0) -> dict:
    """:func:`evaluate_photo`'s record of one photo (``gts``: the scored people's (ground truth,
    mask) pairs)."""
    kind = "coco_ground_truth" if truth is not None else "pseudo_ground_truth_blazepose"
    return {"photo": str(path), "ground_truth": kind, "people": len(gts),
            "annotated": None if truth is None else len(truth), "rows": scores,
            "per_person": per_person, "boxes": [np.asarray(g[0]["box"]).round(1).tolist()
                                                for g in gts],
            "annotation_ids": [g[0].get("id") for g in gts], "skipped": skipped,
            "seconds": time.perf_counter() - t0, "attribution": attribution(path)}  # fmt: skip


def table_rows(results: list[dict]) -> list[list]:
    """Printable rows: photo, ground truth, people, row, metrics ("skipped" for skipped rows,
    "no match" when no detected person matched an annotated one)."""
    out = []
    for r in results:
        truth = "COCO" if r["ground_truth"].startswith("coco") else "pseudo (BlazePose)"
        people = r["people"] if r["annotated"] is None else f"{r['people']} of {r['annotated']}"
        for row in (INPUT_ROW, *ROWS):
            vals = r["rows"].get(row)
            if row == INPUT_ROW and vals is None and r["people"]:
                continue  # pseudo ground truth: the input is the truth
            empty = "no match" if not r["people"] else "skipped"
            cells = [empty] * len(METRICS) if vals is None else [_cell(vals[m]) for m in METRICS]
            out.append([Path(r["photo"]).name, truth, people, row, *cells])
    return out


def summary(results: list[dict]) -> dict:
    """Means over every scored person of ``results`` per row (people, not photos, weigh
    alike), with how many annotated people were matched (COCO ground truth)."""
    out = {"photos": len(results), "people": sum(r["people"] for r in results),
           "annotated": sum(r["annotated"] or 0 for r in results), "rows": {}}  # fmt: skip
    for row in (INPUT_ROW, *ROWS):
        scores = [s for r in results for s in r["per_person"].get(row, [])]
        if scores:
            out["rows"][row] = {m: _mean([s[m] for s in scores]) for m in METRICS}
    return out


def _cell(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3f}"


PLOTTED = ("pck@0.05", "oks", "silhouette_iou")  # --plot's panels


def people_scores(results: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """``{metric: {row: (N,) every scored person's value}}`` of ``results`` (finite values
    only), for :data:`PLOTTED` and the rows in table order."""
    out: dict[str, dict[str, np.ndarray]] = {m: {} for m in PLOTTED}
    for row in (INPUT_ROW, *ROWS):
        people = [p for r in results for p in r["per_person"].get(row, [])]
        for m in PLOTTED:
            v = np.asarray([p[m] for p in people], np.float64)
            if np.isfinite(v).any():
                out[m][row] = v[np.isfinite(v)]
    return out


def plot_people(results: list[dict], path) -> Path:
    """``--plot``: per metric a panel of box plots over the scored people, one box per row
    (each person a dot), as a PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxrefine.files import atomic_write

    scores = people_scores(results)
    fig, axes = plt.subplots(1, len(PLOTTED), figsize=(5 * len(PLOTTED), 4.2), sharey=True)
    rng = np.random.default_rng(0)  # dot jitter only
    for ax, m in zip(axes, PLOTTED):
        rows = list(scores[m])
        ax.boxplot([scores[m][r] for r in rows], showfliers=False)
        for i, r in enumerate(rows):
            v = scores[m][r]
            ax.plot(i + 1 + rng.uniform(-0.15, 0.15, len(v)), v, ".", alpha=0.5, ms=4)
        labels = ["\n".join([*r.split("_"), f"({len(scores[m][r])})"]) for r in rows]
        ax.set_xticks(range(1, len(rows) + 1), labels, fontsize=7)
        ax.set(title=m, ylim=(0, 1.02))
    real = sum(r["people"] for r in results if r.get("ground_truth", "coco").startswith("coco"))
    pseudo = sum(r["people"] for r in results) - real
    fig.suptitle(f"every scored person (dots; in brackets how many): {real} against COCO "
                 f"ground truth, {pseudo} against BlazePose (pseudo)", fontsize=9)  # fmt: skip
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write(path, lambda fh: fh.write(buf.getvalue()))


def per_person_csv(path, results: list[dict]) -> None:
    """One line per photo, person and row: the person's box, annotation id and scores."""
    from jaxrefine.report import write_csv

    names = ("photo", "ground_truth", "person", "annotation_id", "box", "row", *METRICS)
    columns: dict[str, list] = {k: [] for k in names}
    for r in results:
        for row, scores in r["per_person"].items():
            for i, s in enumerate(scores):
                box = " ".join(f"{v:g}" for v in r["boxes"][i])
                line = {"photo": Path(r["photo"]).name, "ground_truth": r["ground_truth"],
                        "person": i, "annotation_id": r["annotation_ids"][i] or "", "box": box,
                        "row": row, **s}  # fmt: skip
                for k in names:
                    columns[k].append(line[k])
    write_csv(path, columns)


def truth_of(image, annotation) -> tuple[list[dict], tuple[int, int]]:
    """The annotated people of ``image`` in a COCO file (the file's image of the same name,
    or its only image) and the (height, width) it records for the image."""
    from jaxrefine.detect.evaluate_real import read_coco_people

    images, _ = read_coco_people(annotation)
    named = [im for im in images if Path(im["file_name"]).name == Path(image).name]
    if not named and len(images) == 1:
        named = images
    if len(named) != 1:
        raise ValueError(f"{annotation}: no image named {Path(image).name!r} in 'images' (and "
                         "more than one image)")  # fmt: skip
    if not named[0]["people"]:
        raise ValueError(f"{annotation}: no scorable person for {Path(image).name} (a person "
                         "with a polygon outline and at least one keypoint)")  # fmt: skip
    return named[0]["people"], (named[0]["height"], named[0]["width"])


def journal_path(json_path) -> Path:
    """Where ``--coco`` keeps each finished photo while it runs: beside ``--json``."""
    return Path(f"{json_path}.partial.jsonl")


def read_journal(path: Path, settings: dict) -> dict[str, dict]:
    """The finished photos of an interrupted ``--coco`` run (``{photo: result}``);
    :class:`InputError` when the journal was made with other settings (named)."""
    from jaxrefine.inputs import InputError

    records = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # the line an interruption cut: the photo runs again
            break
    if not records:
        return {}
    old, *done = records
    differ = sorted(k for k in settings if old.get(k) != settings[k])
    if differ:
        raise InputError(f"{path}: an interrupted run with other settings ({', '.join(differ)});"
                         " give the same ones, or drop --resume to start afresh")  # fmt: skip
    return {r["photo"]: r for r in done}


def evaluate_coco(model, annotation, image_dir, network, options, runner, *, limit=None,
                  min_keypoints=1, progress=True, journal=None, settings=None,
                  resume=False, people=None, **kw) -> tuple[list[dict], dict]:  # fmt: skip
    """:func:`evaluate_photo` on the images of a COCO keypoint file that have scorable people
    (the first ``limit``, in image id order). Every image file is checked before any work.
    ``journal``: a file that gets every finished photo (first line ``settings``); with
    ``resume`` the photos it holds are not run again. ``people``: ``annotation`` as
    :func:`~jaxrefine.detect.evaluate_real.read_coco_people` read it with ``min_keypoints``
    (None: read here). Returns (results, {reason: person annotations left out})."""
    from tqdm import tqdm

    from jaxrefine.detect.evaluate_real import read_coco_people
    from jaxrefine.report import append_json_line

    images, left_out = people or read_coco_people(annotation, min_keypoints)
    images = [im for im in images if im["people"]][:limit]
    paths = [Path(image_dir) / im["file_name"] for im in images]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: an image of {annotation} is missing "
                                f"({len(missing)} of {len(paths)} are)")  # fmt: skip
    done = read_journal(journal, settings) if journal is not None and resume else {}
    if journal is not None:  # rewritten whole: the settings, then the photos kept
        journal.write_text("")
        for record in (settings, *done.values()):
            append_json_line(journal, record)
    results = []
    for p, im in zip(tqdm(paths, desc="eval-real", unit="photo", disable=not progress), images):
        if str(p) not in done:
            done[str(p)] = evaluate_photo(model, p, network, options, runner, truth=im["people"],
                                          size=(im["height"], im["width"]), **kw)  # fmt: skip
            if journal is not None:
                append_json_line(journal, done[str(p)])
        results.append(done[str(p)])
    return results, left_out


def build_parser():
    """``jaxrefine eval-real``'s command line."""
    import argparse

    from jaxrefine.optimizers.registry import optimizer_arg, optimizer_help
    from jaxrefine.photo import LANDMARK_WEIGHT, PHOTO_MASK_GATE, PHOTO_TILES
    from jaxrefine.priors import GMM_FILE_HELP, prior_file_arg

    ap = argparse.ArgumentParser(prog="jaxrefine eval-real", description=__doc__.split("\n\n")[0])
    a = ap.add_argument
    a("--image", default=None, help="a COCO photo with its ground truth (e.g. coco_...785.jpg)")
    a("--annotation", default=None, help="its COCO JSON (default: the photo's .json)")
    a("--pseudo", nargs="*", default=[], help="photos scored against BlazePose (pseudo GT)")
    a("--coco", default=None,
      help="a COCO keypoint file (e.g. person_keypoints_val2017.json): score every image "
           "with annotated people, found in --coco-images")  # fmt: skip
    a("--coco-images", default=None, help="the folder of --coco's images")
    a("--limit", type=int, default=None, help="--coco: the first N images (image id order)")
    a("--min-keypoints", type=int, default=1,
      help="--coco: score people with at least this many annotated keypoints")  # fmt: skip
    a("--keypoints", default=None,
      help="score the people of this keypoint file instead of BlazePose's (a detector's COCO "
           "results, OpenPose or MediaPipe files, named after the photos; with --image or "
           "--coco; no mask gate or silhouette term)")  # fmt: skip
    a("--min-person-score", type=float, default=None,
      help="the least score of a person scored: with --keypoints their keypoints' mean "
           "confidence, else BlazePose's detector score (defaults: refine's)")  # fmt: skip
    a("--max-people", type=int, default=None,
      help="without --keypoints: at most this many of BlazePose's people per photo "
           "(default: refine's)")  # fmt: skip
    a("--csv", default=None, type=output_file_arg,
      help="write every person's scores per row as CSV")  # fmt: skip
    a("--plot", default=None, type=output_file_arg,
      help="write a PNG of every scored person's PCK@0.05, OKS and IoU per row (box "
           "plots)")  # fmt: skip
    a("--resume", action="store_true",
      help="--coco with --json: keep the photos an interrupted run finished (kept in "
           "JSON.partial.jsonl while it runs) and run the rest")  # fmt: skip
    a("--checkpoint", default=None, help="network checkpoint (default: the shipped one)")
    a("--tiles", nargs="+", type=float, default=list(PHOTO_TILES),
      help="detector tiles, coarsest first (default: the photos' default "
           f"{' '.join(f'{t:g}' for t in PHOTO_TILES)})")  # fmt: skip
    a("--camera-steps", type=int, default=None)
    a("--body-steps", type=int, default=None)
    a("--texture-size", type=int, default=256)
    a("--backend", default="auto", choices=["auto", "egl", "jax"])
    a("--silhouette-weight", type=float, default=0.0,
      help="the learned rows add the silhouette term on BlazePose's mask (0 = off)")  # fmt: skip
    a("--mask-gate", type=float, default=None,
      help="the learned rows drop dense targets this far outside BlazePose's mask (a "
           f"fraction of the mask's size; 0 = off; default {PHOTO_MASK_GATE}, off with "
           "--keypoints)")  # fmt: skip
    a("--confidence", action=argparse.BooleanOptionalAction, default=None,
      help="the learned rows weight vertices by the network's confidence head (default: "
           "the photos' default, on when the network has one)")  # fmt: skip
    a("--rerun-every", type=int, default=0,
      help="the learned rows re-run the network every k body iterations (0 = once)")  # fmt: skip
    a("--keypoint-weight", type=float, default=None,
      help="learned_dense_landmarks: the landmark term's weight beside the dense term "
           f"(default: the photos' {LANDMARK_WEIGHT:g})")  # fmt: skip
    a("--model", default=None,
      help="body model file, e.g. your SMPL_NEUTRAL.pkl as it is (default: the open model); "
           "every row fits it")  # fmt: skip
    a("--gmm", default=None, metavar="PATH", type=prior_file_arg,
      help=GMM_FILE_HELP + "; the initial fits' and every fitted row's")  # fmt: skip
    a("--optimizer", default="adam", type=optimizer_arg,
      help=f"optimizer of the fitted rows: {optimizer_help()}; rows it has no checkpoint "
           "for are skipped, with the reason")  # fmt: skip
    a("--out", default=None, type=output_folder_arg, help="folder for the overlay pictures")
    a("--json", default=None, type=output_file_arg, help="write the results as JSON")
    return ap


def main(argv: list[str]) -> int:
    from jaxrefine.detect import BlazePose
    from jaxrefine.network import load_pretrained
    from jaxrefine.refine import check_network, initial_prior, warn_network_model
    from jaxrefine.smpl_io import load_body_model

    ap = build_parser()
    args = ap.parse_args(argv)
    _check_args(ap, args)
    model = load_body_model(args.model, gender=None)
    cfg, params, meta = load_pretrained(args.checkpoint)
    options = _refine_options(args, cfg)
    source = args.checkpoint or "the shipped network"
    check_network((cfg, params), options, source)
    trained_on = warn_network_model(meta, model.model_id, source)
    initial_prior(options)  # a bad --gmm fails before any photo is read
    truth = None
    if args.image is not None:
        _check_truth_files(ap, args)
        truth = truth_of(args.image, _annotation(args))
    coco = None
    if args.coco is not None:  # read once: --keypoints' check and the evaluation use it
        from jaxrefine.detect.evaluate_real import read_coco_people

        coco = read_coco_people(args.coco, args.min_keypoints)
    kp = None if args.keypoints is None else _read_keypoints(args, _annotation(args), coco)
    runner = BlazePose() if kp is None else None  # a keypoint file's people need no detector
    journal = None if args.json is None or args.coco is None else journal_path(args.json)
    results, dataset, left_out = _evaluate_all(args, model, (cfg, params), options, runner, kp,
                                               truth, coco, journal)  # fmt: skip
    names = (cfg.name, model.model_id, trained_on)
    _report(args, names, options, results, dataset, left_out)
    if journal is not None:  # everything is in --json now
        journal.unlink(missing_ok=True)
    return 0


def _annotation(args) -> str | None:
    """``--image``'s COCO JSON: ``--annotation``, else the photo's ``.json`` (None without)."""
    if args.image is None:
        return args.annotation
    return args.annotation or str(Path(args.image).with_suffix(".json"))


def _check_truth_files(ap, args) -> None:
    """``--image`` and its COCO JSON exist: ``ap.error`` (exit 2) names a missing one, and for
    a photo without ground truth says how to give it or score the photo without."""
    if not Path(args.image).is_file():
        ap.error(f"--image {args.image}: no such photo file")
    ann = _annotation(args)
    if Path(ann).is_file():
        return
    if args.annotation is not None:
        ap.error(f"--annotation {ann}: no such file")
    ap.error(f"--image {args.image}: its COCO ground truth {ann} does not exist; give the "
             f"JSON with --annotation FILE, or score the photo against BlazePose's landmarks "
             f"and mask (pseudo ground truth) with --pseudo {args.image}")  # fmt: skip


def _evaluate_all(args, model, network, options, runner, kp, truth, coco, journal):
    """``--image`` (``truth``: its people and size, :func:`truth_of`), ``--pseudo`` and
    ``--coco`` evaluated: ``(their results, the --coco results, {reason: --coco people left
    out})``."""
    kw = {"out": args.out, "backend": args.backend, "tiles": tuple(args.tiles), "keypoints": kp,
          "min_person_score": args.min_person_score, "max_people": args.max_people}  # fmt: skip
    results, dataset, left_out = [], [], {}
    if args.image is not None:
        people, size = truth
        results.append(evaluate_photo(model, args.image, network, options, runner, truth=people,
                                      size=size, **kw))  # fmt: skip
    for p in args.pseudo:
        results.append(evaluate_photo(model, p, network, options, runner, **kw))
    if args.coco is not None:
        dataset, left_out = evaluate_coco(model, args.coco, args.coco_images, network, options,
                                          runner, limit=args.limit,
                                          min_keypoints=args.min_keypoints, journal=journal,
                                          settings=_coco_settings(args, model, network, options),
                                          resume=args.resume, people=coco, **kw)  # fmt: skip
    return results, dataset, left_out


def _report(args, names: tuple[str, str, str], options, results, dataset, left_out) -> None:
    """The tables, the skipped rows, the keypoint file's people left out, and ``--csv``,
    ``--plot`` and ``--json`` (``names``: the network's, the body model's and the one the
    network was trained on)."""
    from jaxrefine.report import print_table

    if results:
        print_table(["photo", "ground truth", "people", "row", *METRICS], table_rows(results))
    totals = summary(dataset) if args.coco is not None else None
    if totals is not None:
        print_summary(args.coco, totals, left_out)
    for row, why in unavailable_rows(args.optimizer).items():
        print(f"eval-real: row {row} skipped: {why}")
    if args.keypoints is not None:
        _print_keypoint_people_left_out(args.keypoints, results + dataset)
    per_person_csv(args.csv, results + dataset)
    if args.plot is not None:
        print(f"wrote {plot_people(results + dataset, args.plot)}")
    coco_part = None if totals is None else {
        "annotation": args.coco, "summary": totals, "left_out": left_out,
        "min_keypoints": args.min_keypoints, "results": dataset}  # fmt: skip
    _write_json(args, names, options, results, coco_part)


def _check_args(ap, args) -> None:
    """Flags that only make sense together, and numbers out of range; ``ap.error`` (exit 2)
    names what is wrong."""
    if args.image is None and not args.pseudo and args.coco is None:
        ap.error("give --image (a COCO photo with its .json), --coco FILE --coco-images DIR "
                 "and/or --pseudo PHOTO...")  # fmt: skip
    if (args.coco is None) != (args.coco_images is None):
        ap.error("--coco and --coco-images go together")
    if args.coco is not None:
        _check_coco_paths(ap, Path(args.coco), Path(args.coco_images))
    if args.resume and (args.coco is None or args.json is None):
        ap.error("--resume continues a --coco run that wrote --json: give both")
    # a negative --limit once left out the last image; a person without an annotated
    # keypoint has no PCK or OKS
    refuse_below(ap, ("--limit", args.limit, 1), ("--min-keypoints", args.min_keypoints, 1))
    from jaxrefine.detect.blazepose import check_min_score, check_tiles

    try:
        check_tiles(args.tiles)
        if args.min_person_score is not None and args.keypoints is None:
            check_min_score(args.min_person_score)
    except ValueError as e:
        ap.error(str(e))
    _check_keypoint_flags(ap, args)


def _check_coco_paths(ap, annotation: Path, images: Path) -> None:
    """``--coco`` is a file and ``--coco-images`` a folder: ``ap.error`` names the one that is
    not (they failed as "Is a directory", or as every image of the set missing)."""
    if annotation.is_dir():
        ap.error(f"--coco {annotation} is a folder, not a COCO keypoint file (e.g. "
                 "person_keypoints_val2017.json)")  # fmt: skip
    if not annotation.is_file():
        ap.error(f"--coco {annotation}: no such file")
    if not images.is_dir():
        what = "a file, not a folder" if images.exists() else "no such folder"
        ap.error(f"--coco-images {images}: {what} (the set's images, e.g. val2017/)")


def _refine_options(args, cfg):
    """The flags as :class:`jaxrefine.refine.RefineOptions`; confidence weights by default
    when the network has a confidence head (:func:`jaxrefine.photo.photo_options`)."""
    from jaxrefine.photo import photo_options
    from jaxrefine.refine import RefineOptions

    confidence = photo_options(cfg).use_confidence if args.confidence is None else args.confidence
    return RefineOptions(camera_steps=args.camera_steps, body_steps=args.body_steps,
                         texture_size=args.texture_size, backend=args.backend,
                         silhouette_weight=args.silhouette_weight,
                         mask_gate=_mask_gate(args), optimizer=args.optimizer,
                         use_confidence=confidence,
                         rerun_every=args.rerun_every,
                         keypoint_weight=args.keypoint_weight,
                         gmm_path=args.gmm,
                         )  # fmt: skip


def _coco_settings(args, model, network, options) -> dict:
    """What a ``--coco`` run's journal must match for ``--resume`` to continue it."""
    from jaxrefine.parts import run_settings

    return {"run": run_settings(model, network, options),
            "annotation": str(Path(args.coco).resolve()),
            "images": str(Path(args.coco_images).resolve()),
            "tiles": list(args.tiles), "min_keypoints": args.min_keypoints,
            "keypoints": _people_from(args),
            "min_person_score": args.min_person_score,
            "max_people": args.max_people}  # fmt: skip


def _write_json(args, names: tuple[str, str, str], options, results: list[dict], coco) -> None:
    """``--json``: the settings (``names``: the network's, the body model's and the one the
    network was trained on), every photo's results and the COCO part (or None)."""
    from jaxrefine.photo import landmark_options
    from jaxrefine.report import machine_info, write_json

    network_name, model_id, trained_on = names
    write_json(args.json, {"network": args.checkpoint or "shipped", "network_name": network_name,
                           "network_body_model": trained_on, "model_id": model_id,
                           "silhouette_weight": args.silhouette_weight,
                           "mask_gate": options.mask_gate,
                           "people_from": _people_from(args),
                           "min_person_score": args.min_person_score,
                           "max_people": args.max_people,
                           "confidence": options.use_confidence,
                           "rerun_every": args.rerun_every,
                           "keypoint_weight": landmark_options(options).keypoint_weight,
                           "optimizer": args.optimizer, "pose_prior": options.gmm_path or "shipped",
                           "results": results, "coco": coco,
                           "machine": machine_info()})  # fmt: skip


def _check_keypoint_flags(ap, args) -> None:
    """``--keypoints`` scores a keypoint file's people against ground truth, without masks."""
    refuse_below(ap, ("--max-people", args.max_people, 1))
    if args.keypoints is None:
        return
    if args.max_people is not None:
        ap.error("--max-people limits BlazePose's people; a keypoint file brings its own")
    if args.pseudo:
        ap.error("--pseudo scores against BlazePose's own output; --keypoints needs ground "
                 "truth (--image or --coco)")  # fmt: skip
    if args.silhouette_weight or args.mask_gate:
        ap.error("--silhouette-weight / --mask-gate need BlazePose's person masks; a keypoint "
                 "file's people have none")  # fmt: skip


def _print_keypoint_people_left_out(path, results: list[dict]) -> None:
    """How many of the keypoint file's people were not refined, and why."""
    counts = {k: sum(r.get("keypoint_people_left_out", {}).get(k, 0) for r in results)
              for k in ("low_score", "few_keypoints")}  # fmt: skip
    print(f"eval-real: people of {path} not refined: {counts['low_score']} below "
          f"--min-person-score (never matched), {counts['few_keypoints']} matched to an "
          "annotated person but with fewer than 4 usable keypoints (that person counts as "
          "missed)")  # fmt: skip


def _mask_gate(args) -> float:
    from jaxrefine.photo import PHOTO_MASK_GATE

    if args.mask_gate is not None:
        return args.mask_gate
    return 0.0 if args.keypoints is not None else PHOTO_MASK_GATE


def _people_from(args) -> str:
    return "blazepose" if args.keypoints is None else str(Path(args.keypoints).resolve())


def _read_keypoints(args, annotation, coco):
    """``--keypoints``, its COCO results' image ids named by ``--coco`` (or the photo's
    annotation); :class:`InputError` when it has no frame for any photo to score (``coco``:
    ``--coco`` as :func:`~jaxrefine.detect.evaluate_real.read_coco_people` read it, or None)."""
    from jaxrefine.inputs import read_keypoints

    names_from = args.coco if args.coco is not None else annotation
    kp = read_keypoints(args.keypoints, images_json=names_from, only_results=False)
    names = [] if args.image is None else [Path(args.image).stem]
    if coco is not None:
        names += [Path(im["file_name"]).stem for im in coco[0] if im["people"]]
    kp.frames_of(names, names_from)  # fails naming both when nothing matches
    return kp


def print_summary(annotation, totals: dict, left_out: dict) -> None:
    """The ``--coco`` table: per row the means over every scored person."""
    from jaxrefine.report import print_table

    print(f"{annotation}: {totals['photos']} photos, {totals['people']} of "
          f"{totals['annotated']} annotated people matched to a detected person and scored "
          f"(left out: {', '.join(f'{n} {k}' for k, n in left_out.items())})")  # fmt: skip
    lines = [[row, totals["people"], *(_cell(v[m]) for m in METRICS)]
             for row, v in totals["rows"].items()]  # fmt: skip
    print_table(["row", "people", *METRICS], lines)
