"""``jaxrefine eval-real``: the photo pipeline measured on real photographs.

Per person, four rows:

- ``initial``: the landmark initializer (:func:`jaxrefine.photo.estimates_from_photo`);
- ``sparse_landmarks``: SMPLify from there on the BlazePose landmarks only (mapped to BODY_25;
  the ``dense`` preset with data kind "keypoints");
- ``learned_dense``: :func:`jaxrefine.refine.refine` with the network, no landmarks;
- ``learned_dense_landmarks``: the network's targets plus the landmark term.

``--optimizer NAME`` (any registered name, default ``adam``) fits every row but ``initial``
with that optimizer. A row whose data the optimizer has no version for is skipped and the
reason printed and kept in the JSON: the learned optimizer (``lgd``) ships checkpoints for
keypoints and for dense targets, none for both at once, so with it
``learned_dense_landmarks`` is skipped.

Scores (:func:`jaxrefine.detect.evaluate_real.score_body`): PCK@0.05 / PCK@0.1 (of the box
diagonal) of the body's projected COCO-17 keypoints and the IoU of its rendered silhouette.

- On a COCO photo with its annotation (``--image`` / ``--annotation``): against the COCO
  keypoints, box and polygon (real ground truth; the person whose BlazePose mask overlaps the
  polygon most).
- On other photos (``--pseudo``): **pseudo ground truth** -- each detected person's BlazePose
  landmarks mapped to COCO-17 (visibility >= 0.5), the box of its mask and its mask (> 0.5);
  figures are means over the people. They measure agreement with BlazePose, not accuracy.

The JSON keeps each person's scores too (``per_person``, in the order of ``boxes``: the COCO
box, or each person's mask box).

Pictures (``--out``): per photo and row, the bodies over the photo, with the photo's
attribution in the PNG's text metadata and in a caption file beside it.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROWS = ("initial", "sparse_landmarks", "learned_dense", "learned_dense_landmarks")
METRICS = ("pck@0.05", "pck@0.1", "silhouette_iou")
MASK_THRESHOLD = 0.5  # BlazePose mask probability counted as person

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
    model, params: dict, cameras, keypoints: np.ndarray, optimizer="adam"
) -> dict:
    """SMPLify on landmarks only (``dense`` preset, data kind "keypoints", BODY_25).

    Args: params (P, ...) start; cameras (P); keypoints (P, 25, 3); optimizer: name or object.
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
    res = smplify(model, p, data, preset=preset, data_kind="keypoints", keypoint_set="body25",
                  gmm=load_gmm_prior(), optimizer=optimizer)  # fmt: skip
    return {k: np.asarray(v) for k, v in res.params.items()}


# The SMPLify data kind of each fitted row (what a learned optimizer must have a version for).
ROW_DATA_KIND = {"sparse_landmarks": "keypoints", "learned_dense": "dense",
                 "learned_dense_landmarks": "dense+keypoints"}  # fmt: skip


def unavailable_rows(optimizer) -> dict[str, str]:
    """``{row: reason}`` for the rows ``optimizer`` cannot fit (no version for their data)."""
    from jaxrefine.optimizers.registry import missing_version

    reasons = {row: missing_version(optimizer, kind) for row, kind in ROW_DATA_KIND.items()}
    return {row: f"{optimizer}: {why}" for row, why in reasons.items() if why is not None}


def fit_rows(model, image: np.ndarray, pe, network, options) -> tuple[dict, dict[str, str]]:
    """The rows' parameters (P leading) for a photo's estimates ``pe``
    (:class:`~jaxrefine.photo.PhotoEstimates`); ``image`` (H, W, 3) float in [0, 1].

    Returns ({row: params}, {skipped row: reason}) (see :func:`unavailable_rows`)."""
    from jaxrefine.keypoints import mediapipe33_keypoints
    from jaxrefine.photo import estimate_params, landmark_options
    from jaxrefine.refine import refine

    skipped = unavailable_rows(options.optimizer)
    init = estimate_params(pe.estimates)
    kp = mediapipe33_keypoints(pe.landmarks)
    n = len(kp)
    rows = {"initial": init}
    if "sparse_landmarks" not in skipped:
        rows["sparse_landmarks"] = sparse_landmark_fit(
            model, init, pe.cameras, kp, options.optimizer
        )
    for row, use in (("learned_dense", False), ("learned_dense_landmarks", True)):
        if row in skipped:
            continue
        masks = list(pe.masks) if options.needs_masks else None
        res = refine(model, [image] * n, init, pe.cameras, network,
                     keypoints=kp if use else None, masks=masks,
                     options=landmark_options(options) if use else options)  # fmt: skip
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


def evaluate_photo(model, path, network, options, runner, *, annotation=None, out=None,
                   backend="auto", tiles=None) -> dict:  # fmt: skip
    """Rows and scores of one photo (COCO ground truth with ``annotation``, else pseudo);
    ``tiles`` default: :data:`jaxrefine.photo.PHOTO_TILES`."""
    from jaxrefine import metrics
    from jaxrefine.detect import read_image
    from jaxrefine.detect.evaluate_real import polygon_to_mask, read_coco_person
    from jaxrefine.photo import PHOTO_TILES, estimates_from_photo

    tiles = PHOTO_TILES if tiles is None else tiles
    t0 = time.perf_counter()
    img = np.asarray(read_image(path), np.float32) / 255.0
    h, w = img.shape[:2]
    pe = estimates_from_photo(model, img, tiles=tiles, runner=runner, source=str(path))
    if annotation is not None:
        gt = read_coco_person(annotation)
        gt_mask = polygon_to_mask(gt["polygons"], h, w)
        best = int(np.argmax([metrics.mask_iou(m > MASK_THRESHOLD, gt_mask) for m in pe.masks]))
        keep = np.array([best])
        gts = [(gt, gt_mask)]
    else:
        keep = np.arange(len(pe.landmarks))
        gts = [pseudo_ground_truth(lm, m) for lm, m in zip(pe.landmarks, pe.masks)]
    pe = type(pe)(
        estimates=_select(pe.estimates, keep), cameras=jax.tree.map(lambda a: a[keep], pe.cameras),
        landmarks=pe.landmarks[keep], masks=pe.masks[keep],
    )  # fmt: skip
    rows, skipped = fit_rows(model, img, pe, network, options)
    scores, per_person = score_rows(model, rows, pe.cameras, gts, backend)
    boxes = [np.asarray(g[0]["box"]).round(1).tolist() for g in gts]
    if out is not None:
        save_row_pictures(model, img, rows, pe.cameras, Path(out), Path(path).stem,
                          attribution(path), backend)  # fmt: skip
    kind = "coco_ground_truth" if annotation is not None else "pseudo_ground_truth_blazepose"
    return {"photo": str(path), "ground_truth": kind, "people": len(keep), "rows": scores,
            "per_person": per_person, "boxes": boxes, "skipped": skipped,
            "seconds": time.perf_counter() - t0, "attribution": attribution(path)}  # fmt: skip


def _select(est, keep):
    import dataclasses

    keys = ("global_orient", "body_pose", "betas", "transl", "intrinsics", "frame", "track_id")
    return dataclasses.replace(est, **{k: getattr(est, k)[keep] for k in keys})


def table_rows(results: list[dict]) -> list[list]:
    """Printable rows: photo, ground truth, people, row, metrics ("skipped" for skipped rows)."""
    out = []
    for r in results:
        truth = "COCO" if r["ground_truth"].startswith("coco") else "pseudo (BlazePose)"
        for row in ROWS:
            vals = r["rows"].get(row)
            cells = (
                ["skipped"] * len(METRICS) if vals is None else [f"{vals[m]:.3f}" for m in METRICS]
            )
            out.append([Path(r["photo"]).name, truth, r["people"], row, *cells])
    return out


def main(argv: list[str]) -> int:
    import argparse

    from jaxrefine.detect import BlazePose
    from jaxrefine.network import load_pretrained
    from jaxrefine.optimizers.registry import optimizer_arg, optimizer_help
    from jaxrefine.photo import PHOTO_MASK_GATE, PHOTO_TILES, photo_options
    from jaxrefine.refine import RefineOptions, check_network
    from jaxrefine.report import machine_info, print_table, write_json
    from jaxrefine.smpl_io import load_body_model

    ap = argparse.ArgumentParser(prog="jaxrefine eval-real", description=__doc__.split("\n\n")[0])
    a = ap.add_argument
    a("--image", default=None, help="a COCO photo with its ground truth (e.g. coco_...785.jpg)")
    a("--annotation", default=None, help="its COCO JSON (default: the photo's .json)")
    a("--pseudo", nargs="*", default=[], help="photos scored against BlazePose (pseudo GT)")
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
    a("--mask-gate", type=float, default=PHOTO_MASK_GATE,
      help="the learned rows drop dense targets this far outside BlazePose's mask (a "
           f"fraction of the mask's size; 0 = off; default {PHOTO_MASK_GATE})")  # fmt: skip
    a("--confidence", action=argparse.BooleanOptionalAction, default=None,
      help="the learned rows weight vertices by the network's confidence head (default: "
           "the photos' default, on when the network has one)")  # fmt: skip
    a("--rerun-every", type=int, default=0,
      help="the learned rows re-run the network every k body iterations (0 = once)")  # fmt: skip
    a("--optimizer", default="adam", type=optimizer_arg,
      help=f"optimizer of the fitted rows: {optimizer_help()}; rows it has no checkpoint "
           "for are skipped, with the reason")  # fmt: skip
    a("--out", default=None, help="folder for the overlay pictures")
    a("--json", default=None, help="write the results as JSON")
    args = ap.parse_args(argv)
    image = args.image
    if image is None and not args.pseudo:
        ap.error("give --image (a COCO photo with its .json) and/or --pseudo PHOTO...")
    annotation = args.annotation or (str(Path(image).with_suffix(".json")) if image else None)
    model = load_body_model()
    cfg, params, meta = load_pretrained(args.checkpoint)
    confidence = photo_options(cfg).use_confidence if args.confidence is None else args.confidence
    options = RefineOptions(camera_steps=args.camera_steps, body_steps=args.body_steps,
                            texture_size=args.texture_size, backend=args.backend,
                            silhouette_weight=args.silhouette_weight,
                            mask_gate=args.mask_gate, optimizer=args.optimizer,
                            use_confidence=confidence,
                            rerun_every=args.rerun_every)  # fmt: skip
    check_network((cfg, params), options, args.checkpoint or "the shipped network")
    runner = BlazePose()
    kw = {"out": args.out, "backend": args.backend}
    results = []
    if image is not None:
        results.append(evaluate_photo(model, image, (cfg, params), options, runner,
                                      annotation=annotation, tiles=tuple(args.tiles),
                                      **kw))  # fmt: skip
    for p in args.pseudo:
        results.append(evaluate_photo(model, p, (cfg, params), options, runner,
                                      tiles=tuple(args.tiles), **kw))  # fmt: skip
    print_table(["photo", "ground truth", "people", "row", *METRICS], table_rows(results))
    for row, why in (results[0]["skipped"] if results else {}).items():
        print(f"eval-real: row {row} skipped: {why}")
    write_json(args.json, {"network": args.checkpoint or "shipped", "network_name": cfg.name,
                           "silhouette_weight": args.silhouette_weight,
                           "mask_gate": args.mask_gate,
                           "confidence": confidence,
                           "rerun_every": args.rerun_every,
                           "optimizer": args.optimizer, "results": results,
                           "machine": machine_info()})  # fmt: skip
    return 0
