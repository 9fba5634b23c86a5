"""Session 54's probe: `jaxrefine refine --estimates E --keypoints K` (the library call) with
OpenPose keypoints whose confidences are percentages (0-100) instead of fractions (0-1).

Eight synthetic 128x128 frames of the open model, the initial estimates of the synthetic
engine, their ground truth's BODY_25 keypoints with Gaussian noise (sigma 3 px) and
confidence 0.9 where visible ("fractions"), or 90 ("percent"); the shipped network, default
options. Prints the warnings, the statuses, and the mean MPJPE / PVE (mm) against the ground
truth (not root-aligned: the translation's error is in them), at the start and refined. Run
from the repository root:
``.venv/bin/python docs/measurements/2026-12-07/s54_zen4/confidence_probe.py``.
"""

import json
import tempfile
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from jaxrefine.data.scenes import GeneratorConfig, SceneConfig, generate
from jaxrefine.io import load_result
from jaxrefine.network import load_pretrained
from jaxrefine.refine import pose_batch
from jaxrefine.refine_files import refine_files
from jaxrefine.refine_outputs import Outputs
from jaxrefine.smpl_io import load_body_model

N = 8
model = load_body_model()
poses = np.random.default_rng(0).normal(0, 0.2, (N, 24, 3)).astype(np.float32)
fr = generate(
    model, poses, N, 0, GeneratorConfig(scene=SceneConfig(image_size=(128, 128)), texture_size=32)
)
root = Path(tempfile.mkdtemp())
(root / "imgs").mkdir()
names = [f"frame{i}.png" for i in range(N)]
for n, img in zip(names, fr.image):
    iio.imwrite(root / "imgs" / n, (np.asarray(img) * 255).astype(np.uint8))
K = np.stack([np.asarray(fr.camera(i).K) for i in range(N)])
np.savez(
    root / "est.npz",
    global_orient=fr.init_pose[:, 0],
    body_pose=fr.init_pose[:, 1:],
    betas=fr.init_betas,
    transl=fr.init_transl,
    imgname=names,
    camera_K=K,
)
net = load_pretrained()[:2]
true = pose_batch(model, np.asarray(fr.pose), np.asarray(fr.betas), np.asarray(fr.transl))
noise = np.random.default_rng(1).normal(0, 3.0, np.shape(fr.keypoints))


def errors(pose, betas, transl):
    b = pose_batch(model, np.asarray(pose), np.asarray(betas), np.asarray(transl))
    mpjpe = np.linalg.norm(b.joints[:, :24] - true.joints[:, :24], axis=-1).mean() * 1e3
    pve = np.linalg.norm(b.vertices - true.vertices, axis=-1).mean() * 1e3
    return mpjpe, pve


def say(what, pose, betas, transl):
    mpjpe, pve = errors(pose, betas, transl)
    print(f"{what} MPJPE {mpjpe:.1f}, PVE {pve:.1f} mm")


say("start:", fr.init_pose, fr.init_betas, fr.init_transl)
for name, scale in {"fractions (0.9)": 1.0, "percent (90)": 100.0}.items():
    kp = root / f"kp{scale:g}"
    kp.mkdir()
    for i in range(N):
        conf = 0.9 * scale * np.asarray(fr.visible[i], np.float32)[:, None]
        pts = np.concatenate([np.asarray(fr.keypoints[i]) + noise[i], conf], 1)
        doc = {"people": [{"pose_keypoints_2d": pts.reshape(-1).tolist()}]}
        (kp / f"frame{i}_keypoints.json").write_text(json.dumps(doc))
    out = root / f"out{scale:g}"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        refine_files(root / "imgs", root / "est.npz", out, model=model, network=net,
                     keypoints_path=kp, progress=False,
                     outputs=Outputs(overlays=False, tracks=False))  # fmt: skip
    r = load_result(out / "refined.npz")
    pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(N, 23, 3)], 1)
    status = sorted({str(x) for x in r["status_name"]})
    say(f"{name}: status {status}; refined", pose, r["betas"], r["transl"])
    for m in {str(x.message) for x in said}:
        print("  warning:", m.replace(str(root), "TMP"))
