"""How closely ``jaxrefine.vertex_fit.fit_vertices`` recovers a body model's own meshes, and
how far it stays from a mesh of another model with the same vertex count (the tolerance of
``jaxrefine.inputs.mesh_files.MESH_MISS_TOL_MM``). 12 CMU poses (the shipped demo poses) with
random global orientations, shapes and translations 3-8 m from the camera.

Run: python docs/measurements/2026-12-04/s36_xeon/vertex_fit_check.py
"""

import time

import jax
import numpy as np
from scipy.spatial.transform import Rotation

from jaxrefine.body_model import forward, from_arrays
from jaxrefine.data.poses import load_demo_poses
from jaxrefine.smpl_io import load_body_model
from jaxrefine.testing import make_smpl_size_arrays
from jaxrefine.vertex_fit import fit_vertices


def meshes(model, rng, n):
    pose = load_demo_poses().pose[rng.integers(0, 10**9, n) % len(load_demo_poses().pose)]
    pose = pose.astype(np.float32)
    pose[:, 0] = Rotation.random(n, random_state=int(rng.integers(1000))).as_rotvec()
    betas = rng.normal(0, 1, (n, model.num_betas)).astype(np.float32)
    transl = np.column_stack([rng.normal(0, 0.3, (n, 2)), rng.uniform(3, 8, n)])
    f = jax.vmap(lambda p, b, t: forward(model, p, b, t).vertices)
    return np.asarray(f(pose, betas, transl.astype(np.float32)))


def main() -> None:
    rng = np.random.default_rng(0)
    smpl_size = from_arrays(make_smpl_size_arrays(0), model_id="s0", gender="neutral",
                            num_betas=10)  # fmt: skip
    other = from_arrays(make_smpl_size_arrays(1), model_id="s1", gender="neutral", num_betas=10)
    cases = (("open model, its own meshes", load_body_model(), None),
             ("SMPL-size model (pose correctives), its own", smpl_size, None),
             ("SMPL-size model, another one's meshes", smpl_size, other))  # fmt: skip
    print("case                                          mean miss (mm): min / median / max"
          "   max vertex error (mm)   s")  # fmt: skip
    for name, model, source in cases:
        target = meshes(source or model, rng, 12)
        t0 = time.perf_counter()
        fit = fit_vertices(model, target)
        dt = time.perf_counter() - t0
        f = jax.vmap(lambda p, b, t, m=model: forward(m, p, b, t).vertices)
        err = np.abs(np.asarray(f(fit.pose, fit.betas, fit.transl)) - target).max() * 1000
        m = fit.miss_mm
        print(f"{name:46s} {m.min():8.3f} / {np.median(m):7.3f} / {m.max():8.3f}"
              f"   {err:21.3f}   {dt:4.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
