"""MMHuman3D's demo output end to end: 4 synthetic frames (CMU poses, the open body model)
whose initial estimates are written as ``demo/estimate_smpl.py --output DIR`` writes them
(``DIR/inference_result.npz``, a HumanData saved with np.savez_compressed: the ``smpl`` dict,
crop cameras ``pred_cams`` of the demo's square crop of each detection box ``bboxes_xyxy``,
the posed ``verts``, ``image_path``; the frames in ``DIR/images/``), read back by
``read_estimates`` and refined by ``jaxrefine refine`` (the shipped network, defaults, the
scene's intrinsics given with --intrinsics).

Run: python docs/measurements/2026-12-04/s37_xeon/mmhuman3d_end_to_end.py WORKDIR
"""

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import jax
import numpy as np

from jaxrefine.body_model import forward
from jaxrefine.data.poses import load_demo_poses
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.inputs import read_estimates
from jaxrefine.metrics import pa_pve, pve
from jaxrefine.smpl_io import load_body_model


def bodies(model, pose, betas, transl) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (N, V, 3), root joints (N, 3))."""
    f = jax.vmap(lambda p, b, x: (lambda o: (o.vertices, o.joints[0]))(forward(model, p, b, x)))
    v, root = f(*(np.asarray(a, np.float32) for a in (pose, betas, transl)))
    return np.asarray(v), np.asarray(root)


def write_demo_output(out: Path, model, batch) -> None:
    """The demo's files for the batch's initial estimates: each person's detection box is
    the box of their projected vertices, the crop camera the one SPIN's convention gives
    for the demo's crop of it (side 1.25 * the box's longer side)."""
    (fx, fy, cx, cy) = batch.intrinsics[0]
    n = len(batch.image)
    verts, _ = bodies(model, batch.init_pose, batch.init_betas, np.zeros((n, 3)))
    p = verts + batch.init_transl[:, None]
    uv = np.stack([cx + fx * p[..., 0] / p[..., 2], cy + fy * p[..., 1] / p[..., 2]], -1)
    box = np.column_stack([uv.min(1), uv.max(1), np.full(n, 0.999)])
    centre, side = (box[:, :2] + box[:, 2:4]) / 2, 1.25 * (box[:, 2:4] - box[:, :2]).max(1)
    tz = batch.init_transl[:, 2]
    shift = batch.init_transl[:, :2] + (np.array([cx, cy]) - centre) * tz[:, None] / fx
    cam = np.column_stack([2 * fx / (tz * side), shift])
    (out / "images").mkdir(parents=True, exist_ok=True)
    names = [f"{i:06d}.png" for i in range(n)]
    for i, name in enumerate(names):
        iio.imwrite(out / "images" / name, (batch.image[i] * 255).astype(np.uint8))
    pose = batch.init_pose.astype(np.float32)
    smpl = {"body_pose": pose[:, 1:], "global_orient": pose[:, 0],
            "betas": batch.init_betas[:, :10].astype(np.float32)}
    np.savez_compressed(out / "inference_result.npz", __key_strict__=False,
                        __temporal_len__=-1, __keypoints_compressed__=False, smpl=smpl,
                        verts=list(verts), pred_cams=list(cam.astype(np.float32)),
                        bboxes_xyxy=list(box.astype(np.float32)),
                        image_path=[f"images/{s}" for s in names], person_id=[0] * n,
                        frame_id=list(range(n)))


def main(work: Path) -> None:
    model = load_body_model()
    config = GeneratorConfig(scene=SceneConfig(focal_scale=(1.0, 1.0)))  # one K for the camera
    batch = generate(model, load_demo_poses().pose, 4, seed=3, config=config)
    assert model.num_betas == 10 and np.allclose(batch.intrinsics, batch.intrinsics[:1])
    out = work / "demo_out"
    write_demo_output(out, model, batch)
    k = [f"{x:.6f}" for x in batch.intrinsics[0]]
    est = read_estimates(out / "inference_result.npz", image_size=lambda key: (256, 256),
                         num_betas=model.num_betas, model=model,
                         intrinsics=np.asarray(batch.intrinsics[0], np.float64))
    gt = bodies(model, batch.pose, batch.betas, batch.transl)
    init = bodies(model, batch.init_pose, batch.init_betas, batch.init_transl)
    read = bodies(model, est.pose, est.betas, est.transl)
    miss = np.abs(read[0] - init[0]).max() * 1000
    print(f"read back vs the initial estimates: max vertex distance {miss:.3f} mm (float32 "
          "cameras)")
    cmd = ["jaxrefine", "refine", str(out / "images"), "--estimates",
           str(out / "inference_result.npz"), "--intrinsics", *k, "--out",
           str(work / "refined"), "--overwrite"]
    print("$", " ".join(cmd))
    subprocess.run(cmd, check=True, capture_output=True)
    r = np.load(work / "refined" / "refined.npz")
    pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(-1, 23, 3)], 1)
    refined = bodies(model, pose, r["betas"], r["transl"] + r["camera_t"])
    print("frame  PVE initial -> refined (mm, root-aligned)  PA-PVE initial -> refined (mm)")
    for i in range(len(gt[0])):
        a = [float(pve(v[i], gt[0][i], r_[i], gt[1][i])) for v, r_ in (init, refined)]
        b = [float(pa_pve(v[i], gt[0][i])) for v, _ in (init, refined)]
        print(f"{i:5d}  {a[0]:12.1f} -> {a[1]:6.1f}  {b[0]:27.1f} -> {b[1]:6.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
