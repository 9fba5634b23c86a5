"""EasyMocap's files end to end: 4 synthetic frames (CMU poses, the open body model) whose
initial estimates are written as EasyMocap writes them (world frame of a calibrated camera
that is not the identity, ``poses[:3] = 0``, rounded to 5 decimals), read back by
``read_estimates`` and refined by ``jaxrefine refine`` (the shipped network, defaults).

Run: python docs/measurements/2026-12-04/s36_xeon/easymocap_end_to_end.py WORKDIR
"""

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import jax
import numpy as np
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import forward, rest_joints
from jaxrefine.data.poses import load_demo_poses
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.inputs import read_estimates
from jaxrefine.metrics import pa_pve, pve
from jaxrefine.smpl_io import load_body_model

RVEC, T = np.array([0.3, -0.5, 0.2]), np.array([0.4, -0.1, 1.5])  # the world camera


def matrix(key: str, a: np.ndarray) -> list[str]:
    a = np.atleast_2d(a)
    data = ", ".join(f"{x:.6f}" for x in a.reshape(-1))
    return [f"{key}: !!opencv-matrix", f"  rows: {a.shape[0]}", f"  cols: {a.shape[1]}",
            "  dt: d", f"  data: [{data}]"]  # fmt: skip


def write_dataset(root: Path, model, batch) -> None:
    h, w = batch.image.shape[1:3]
    (fx, fy, cx, cy), R = batch.intrinsics[0], Rotation.from_rotvec(RVEC).as_matrix()
    head = ["%YAML:1.0", "---", "names:", '  - "03"']
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    intri = head + matrix("K_03", K) + matrix("dist_03", np.zeros((1, 5)))
    intri += [f"H_03: {h}", f"W_03: {w}"]
    extri = head + matrix("R_03", RVEC.reshape(3, 1)) + matrix("T_03", T.reshape(3, 1))
    root.mkdir(parents=True, exist_ok=True)
    (root / "intri.yml").write_text("\r\n".join(intri + [""]))
    (root / "extri.yml").write_text("\r\n".join(extri + [""]))
    (root / "images" / "03").mkdir(parents=True, exist_ok=True)
    (root / "output" / "smpl").mkdir(parents=True, exist_ok=True)
    for i in range(len(batch.image)):
        image = (batch.image[i] * 255).astype(np.uint8)
        iio.imwrite(root / "images" / "03" / f"{i:06d}.png", image)
        # camera frame -> EasyMocap's world: Rh = R^T G, Th = R^T (J0 + t - T) - Rh J0
        G = Rotation.from_rotvec(batch.init_pose[i, 0]).as_matrix()
        j0 = np.asarray(rest_joints(model, batch.init_betas[i])[0], np.float64)
        rh = R.T @ G
        th = R.T @ (j0 + batch.init_transl[i] - T) - rh @ j0
        poses = batch.init_pose[i].astype(np.float64)
        poses[0] = 0
        person = {"id": 0, "Rh": [Rotation.from_matrix(rh).as_rotvec().round(5).tolist()],
                  "Th": [th.round(5).tolist()], "poses": [poses.reshape(-1).round(5).tolist()],
                  "shapes": [batch.init_betas[i].round(5).tolist()]}  # fmt: skip
        (root / "output" / "smpl" / f"{i:06d}.json").write_text(json.dumps([person], indent=4))


def bodies(model, pose, betas, transl) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (N, V, 3), root joints (N, 3))."""
    f = jax.vmap(lambda p, b, x: (lambda o: (o.vertices, o.joints[0]))(forward(model, p, b, x)))
    v, root = f(*(np.asarray(a, np.float32) for a in (pose, betas, transl)))
    return np.asarray(v), np.asarray(root)


def main(work: Path) -> None:
    model = load_body_model()
    config = GeneratorConfig(scene=SceneConfig(focal_scale=(1.0, 1.0)))  # one K for the camera
    batch = generate(model, load_demo_poses().pose, 4, seed=3, config=config)
    write_dataset(work / "data", model, batch)
    est = read_estimates(work / "data" / "output" / "smpl", image_size=lambda k: (256, 256),
                         num_betas=model.num_betas, model=model, camera="03")  # fmt: skip
    gt = bodies(model, batch.pose, batch.betas, batch.transl)
    init = bodies(model, batch.init_pose, batch.init_betas, batch.init_transl)
    read = bodies(model, est.pose, est.betas, est.transl)
    miss = np.abs(read[0] - init[0]).max() * 1000
    print(f"read back vs the initial estimates: max vertex distance {miss:.3f} mm (the files' "
          "5-decimal rounding)")  # fmt: skip
    data = work / "data"
    cmd = ["jaxrefine", "refine", str(data / "images" / "03"), "--estimates",
           str(data / "output" / "smpl"), "--out", str(work / "out"), "--overwrite"]  # fmt: skip
    print("$", " ".join(cmd))
    subprocess.run(cmd, check=True, capture_output=True)
    r = np.load(work / "out" / "refined.npz")
    pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(-1, 23, 3)], 1)
    refined = bodies(model, pose, r["betas"], r["transl"] + r["camera_t"])
    print("frame  PVE initial -> refined (mm, root-aligned)  PA-PVE initial -> refined (mm)")
    for i in range(len(gt[0])):
        a = [float(pve(v[i], gt[0][i], r_[i], gt[1][i])) for v, r_ in (init, refined)]
        b = [float(pa_pve(v[i], gt[0][i])) for v, _ in (init, refined)]
        print(f"{i:5d}  {a[0]:12.1f} -> {a[1]:6.1f}  {b[0]:27.1f} -> {b[1]:6.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
