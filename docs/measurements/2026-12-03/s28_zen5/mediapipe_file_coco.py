"""Session 28: a MediaPipe Tasks-style JSON (written here from our BlazePose run on the COCO
photo, so the landmarks are the same as the photo path's) refined with `--keypoints`, with and
without its world landmarks, beside the photo path itself (BlazePose inside, mask gate on);
scored against the photo's COCO ground truth (independent of the input).

Run: .venv/bin/python docs/measurements/2026-12-03/s28_zen5/mediapipe_file_coco.py \
        ../shared/real_images OUT_DIR
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np

from jaxrefine.camera import Camera
from jaxrefine.detect import detect_people, read_image
from jaxrefine.detect.blazepose import box_iou
from jaxrefine.detect.evaluate_real import polygon_to_mask, read_coco_person, score_body
from jaxrefine.io import load_result
from jaxrefine.network import load_pretrained
from jaxrefine.photo import read_keypoint_photo_inputs
from jaxrefine.refine import RefineOptions
from jaxrefine.refine_files import _photo_defaults, refine_files
from jaxrefine.smpl_io import load_body_model

real, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
photo, ann = real / "coco_000000000785.jpg", real / "coco_000000000785.json"
model, net = load_body_model(), load_pretrained(None)[:2]
gt = read_coco_person(ann)
img = read_image(photo)
h, w = img.shape[:2]
gt_mask = polygon_to_mask(gt["polygons"], h, w)
people = detect_people(img)
person = people[int(np.argmax([box_iou(p.box, gt["box"])[0] for p in people]))]
lm = [
    {"x": float(x) / w, "y": float(y) / h, "visibility": float(v)} for x, y, v in person.landmarks2d
]
world = [{"x": float(x), "y": float(y), "z": float(z)} for x, y, z in person.world]
files = {
    "with_world": {"pose_landmarks": [lm], "pose_world_landmarks": [world]},
    "without_world": {"pose_landmarks": [lm]},
}
keys = ("global_orient", "body_pose", "betas", "transl")


def cam(k):
    return Camera.create(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]))


def params(res, i=0):
    return {
        "global_orient": res["global_orient"][i],
        "body_pose": res["body_pose"][i].reshape(23, 3),
        "betas": res["betas"][i],
        "transl": res["transl"][i],
    }


rows = {}
for name, doc in files.items():
    kp = out / name / "coco_000000000785.json"
    kp.parent.mkdir(parents=True, exist_ok=True)
    kp.write_text(json.dumps(doc))
    _, est, *_ = read_keypoint_photo_inputs(photo, model, kp)
    k = est.intrinsics[0]
    init = {key: np.asarray(getattr(est, key)[0]) for key in keys}
    rows[f"{name}: initial"] = score_body(model, init, Camera.create(*map(float, k)), gt, gt_mask)
    opts = _photo_defaults(RefineOptions(), None, None, None, net[0], kp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refine_files(
            photo,
            None,
            out / name / "run",
            model=model,
            network=net,
            keypoints_path=kp,
            options=opts,
            progress=False,
        )
    res = load_result(out / name / "run" / "refined.npz", model)
    rows[f"{name}: refined"] = score_body(model, params(res), cam(res["camera_K"][0]), gt, gt_mask)
opts = _photo_defaults(RefineOptions(), None, None, None, net[0])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    refine_files(
        photo, None, out / "photo_path", model=model, network=net, options=opts, progress=False
    )
res = load_result(out / "photo_path" / "refined.npz", model)
i = 0  # the photo has one person
rows["photo path (BlazePose inside): refined"] = score_body(
    model, params(res, i), cam(res["camera_K"][i]), gt, gt_mask
)
print(f"{'row':42s} {'PCK@0.05':>9s} {'PCK@0.1':>8s} {'IoU':>6s}")
for name, r in rows.items():
    print(f"{name:42s} {r['pck@0.05']:9.3f} {r['pck@0.1']:8.3f} {r['silhouette_iou']:6.3f}")
