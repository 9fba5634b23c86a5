"""A jaxrefine result's meshes refined again with the camera taken from its ``refined.npz``:
session 38's round trip (``../s38_xeon/ply_round_trip.py``: 4 synthetic frames, CMU poses,
the open body model, MMHuman3D-layout initial estimates, ``refine --ply``) with the second
pass given ``--intrinsics pass1/refined.npz`` instead of the four numbers; the same pass
without ``--intrinsics`` must be refused (a PLY mesh holds no camera).

Run: python docs/measurements/2026-12-05/s39_xeon/ply_camera_from_result.py WORKDIR
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

from jaxrefine.data.poses import load_demo_poses
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, generate
from jaxrefine.metrics import pve
from jaxrefine.smpl_io import load_body_model

S38 = Path(__file__).parents[1] / "s38_xeon/ply_round_trip.py"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(work: Path) -> None:
    s38 = load(S38, "s38")
    s37, model = s38.load_s37(), load_body_model()
    config = GeneratorConfig(scene=SceneConfig(focal_scale=(1.0, 1.0)))
    batch = generate(model, load_demo_poses().pose, 4, seed=3, config=config)
    s37.write_demo_output(work / "demo_out", model, batch)
    k = [f"{x:.6f}" for x in batch.intrinsics[0]]
    images, meshes = work / "demo_out" / "images", work / "pass1" / "meshes"
    r1 = s38.refine(images, work / "demo_out" / "inference_result.npz", k, work / "pass1", "--ply")
    print("pass 1 camera_K rows alike:", bool(np.all(r1["camera_K"] == r1["camera_K"][0])))
    cmd = ["jaxrefine", "refine", str(images), "--estimates", str(meshes), "--out",
           str(work / "no_camera"), "--overwrite"]
    print("$", " ".join(cmd))
    run = subprocess.run(cmd, capture_output=True, text=True)
    print(f"exit {run.returncode}:", run.stderr.strip().splitlines()[-1])
    r2 = s38.refine(images, meshes, [str(work / "pass1" / "refined.npz")], work / "pass2")
    gt = s37.bodies(model, batch.pose, batch.betas, batch.transl)
    one, two = (s38.params_bodies(s37, model, r) for r in (r1, r2))
    print("frame  PVE pass 1 -> pass 2 (mm)")
    for i in range(len(gt[0])):
        a = [float(pve(v[0][i], gt[0][i], v[1][i], gt[1][i])) for v in (one, two)]
        print(f"{i:5d}  {a[0]:6.1f} -> {a[1]:6.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
