"""Session 28: `refine PHOTO --keypoints FILE` (no BlazePose) on the COCO photo, fed its COCO
ground-truth keypoints as a user's keypoint file would be, scored against that ground truth.

PCK is circular here (the fit's input *is* the ground truth it is scored on): it says how well
the fit meets its keypoints. The silhouette IoU against the COCO polygon is independent of the
input. Rows: the keypoint initializer; refined with the photos' landmark weight (3) and with
1; refined with --no-landmarks (dense targets only after the keypoint initialization).

Run: .venv/bin/python docs/measurements/2026-12-03/s28_zen5/keypoint_photo_coco.py \
        ../shared/real_images OUT_DIR
"""

import sys
import warnings
from pathlib import Path

import jax
import numpy as np

from jaxrefine.camera import Camera
from jaxrefine.detect import read_image
from jaxrefine.detect.evaluate_real import polygon_to_mask, read_coco_person, score_body
from jaxrefine.io import load_result
from jaxrefine.network import load_pretrained
from jaxrefine.photo import read_keypoint_photo_inputs
from jaxrefine.refine import RefineOptions
from jaxrefine.refine_files import _photo_defaults, refine_files
from jaxrefine.smpl_io import load_body_model

real, out = Path(sys.argv[1]), Path(sys.argv[2])
photo, ann = real / "coco_000000000785.jpg", real / "coco_000000000785.json"
model = load_body_model()
net = load_pretrained(None)[:2]
gt = read_coco_person(ann)
h, w = read_image(photo).shape[:2]
gt_mask = polygon_to_mask(gt["polygons"], h, w)
keys = ("global_orient", "body_pose", "betas", "transl")


def camera(k):
    return Camera.create(float(k[0]), float(k[1]), float(k[2]), float(k[3]))


_, est, *_ = read_keypoint_photo_inputs(photo, model, ann)
init = {k: np.asarray(getattr(est, k)[0]) for k in keys}
rows = {
    "initial (keypoint initializer)": score_body(
        model, jax.tree.map(np.asarray, init), camera(est.intrinsics[0]), gt, gt_mask
    )
}
for name, weight, landmarks in [
    ("refined, keypoint weight 3 (default)", None, True),
    ("refined, keypoint weight 1", 1.0, True),
    ("refined, --no-landmarks", None, False),
]:
    opts = _photo_defaults(RefineOptions(keypoint_weight=weight), None, None, None, net[0], ann)
    d = out / name.split(",")[1].strip().replace(" ", "_").replace("-", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refine_files(
            photo,
            None,
            d,
            model=model,
            network=net,
            keypoints_path=ann,
            options=opts,
            progress=False,
            use_landmarks=landmarks,
        )
    res = load_result(d / "refined.npz", model)
    p = {
        "global_orient": res["global_orient"][0],
        "body_pose": res["body_pose"][0].reshape(23, 3),
        "betas": res["betas"][0],
        "transl": res["transl"][0],
    }
    k = res["camera_K"][0]
    rows[name] = score_body(model, p, camera([k[0, 0], k[1, 1], k[0, 2], k[1, 2]]), gt, gt_mask)
print(f"{'row':40s} {'PCK@0.05':>9s} {'PCK@0.1':>8s} {'IoU':>6s}")
for name, r in rows.items():
    print(f"{name:40s} {r['pck@0.05']:9.3f} {r['pck@0.1']:8.3f} {r['silhouette_iou']:6.3f}")
