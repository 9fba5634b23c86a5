"""jaxrefine's own meshes as estimates: 4 synthetic frames (CMU poses, the open body model)
with MMHuman3D-layout initial estimates (session 37's end-to-end script writes them) are
refined with ``jaxrefine refine --ply``; its ``meshes/<frame>_<track>.ply`` are read back by
``read_estimates`` (the body model fitted to each mesh) and compared with the refined
parameters' bodies; then ``jaxrefine refine --estimates <its meshes folder>`` refines again
from them (a second pass).

Run: python docs/measurements/2026-12-05/s38_xeon/ply_round_trip.py WORKDIR
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

from jaxrefine.data.poses import load_demo_poses
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.inputs import read_estimates
from jaxrefine.metrics import pa_pve, pve
from jaxrefine.smpl_io import load_body_model

S37 = Path(__file__).parents[2] / "2026-12-04/s37_xeon/mmhuman3d_end_to_end.py"


def load_s37():
    spec = importlib.util.spec_from_file_location("s37", S37)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def refine(images, estimates, k, out, *extra) -> dict:
    cmd = ["jaxrefine", "refine", str(images), "--estimates", str(estimates), "--intrinsics",
           *k, "--out", str(out), "--overwrite", *extra]
    print("$", " ".join(cmd))
    subprocess.run(cmd, check=True, capture_output=True)
    return dict(np.load(out / "refined.npz"))


def params_bodies(s37, model, r):
    pose = np.concatenate([r["global_orient"][:, None], r["body_pose"].reshape(-1, 23, 3)], 1)
    return s37.bodies(model, pose, r["betas"], r["transl"] + r["camera_t"])


def main(work: Path) -> None:
    s37, model = load_s37(), load_body_model()
    config = GeneratorConfig(scene=SceneConfig(focal_scale=(1.0, 1.0)))
    batch = generate(model, load_demo_poses().pose, 4, seed=3, config=config)
    s37.write_demo_output(work / "demo_out", model, batch)
    k = [f"{x:.6f}" for x in batch.intrinsics[0]]
    images = work / "demo_out" / "images"
    r1 = refine(images, work / "demo_out" / "inference_result.npz", k, work / "pass1", "--ply")
    meshes = work / "pass1" / "meshes"
    print("meshes:", ", ".join(sorted(p.name for p in meshes.iterdir())))
    est = read_estimates(meshes, image_size=lambda key: (256, 256), model=model,
                         num_betas=model.num_betas, intrinsics=np.asarray(batch.intrinsics[0]))
    one = params_bodies(s37, model, r1)
    back = s37.bodies(model, est.pose, est.betas, est.transl)
    d = np.linalg.norm(back[0] - one[0], axis=-1) * 1000
    print(f"meshes read back vs pass 1's parameters: vertex distance mean {d.mean():.4f} mm, "
          f"max {d.max():.4f} mm over {len(d)} bodies")
    r2 = refine(images, meshes, k, work / "pass2")
    gt = s37.bodies(model, batch.pose, batch.betas, batch.transl)
    init = s37.bodies(model, batch.init_pose, batch.init_betas, batch.init_transl)
    two = params_bodies(s37, model, r2)
    print("frame  PVE initial -> pass 1 -> pass 2 (mm)  PA-PVE initial -> pass 1 -> pass 2 (mm)")
    for i in range(len(gt[0])):
        a = [float(pve(v[i], gt[0][i], r_[i], gt[1][i])) for v, r_ in (init, one, two)]
        b = [float(pa_pve(v[0][i], gt[0][i])) for v in (init, one, two)]
        print(f"{i:5d}  {a[0]:7.1f} -> {a[1]:6.1f} -> {a[2]:6.1f}  "
              f"{b[0]:20.1f} -> {b[1]:6.1f} -> {b[2]:6.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
