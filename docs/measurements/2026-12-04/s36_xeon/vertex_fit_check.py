"""How closely ``jaxrefine.vertex_fit.fit_vertices`` recovers a body model's own meshes, and
how far it stays from a mesh of another model with the same vertex count (the tolerance of
``jaxrefine.inputs.mesh_files.MESH_MISS_TOL_MM``). 12 CMU poses (the shipped demo poses) with
random global orientations, shapes and translations 3-8 m from the camera. Then the time of
one mesh at a time after the compile (as a folder of files is read), median of 5, with the
shipped stopping tolerances and with tighter ones.

Run: python docs/measurements/2026-12-04/s36_xeon/vertex_fit_check.py
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from jaxrefine import vertex_fit
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
    print("one mesh at a time (s, median of 5 after the compile)   rtol / atol   mean miss (mm)")
    shipped = (vertex_fit.FIT_RTOL, vertex_fit.FIT_ATOL)
    for name, model in (("open model", cases[0][1]), ("SMPL-size model", smpl_size)):
        target = meshes(model, rng, 6)
        for tols in (shipped, (1e-6, 1e-7)):
            print(f"{name:20s} {_one_at_a_time(model, target, tols)}")


def _one_at_a_time(model, target, tols) -> str:
    """Median seconds of one mesh per call (after a first, compiling call) with stopping
    tolerances ``tols``, and the largest mean miss."""
    vertex_fit.FIT_RTOL, vertex_fit.FIT_ATOL = tols  # read when traced: trace again
    vertex_fit._polish_batch = jax.jit(jax.vmap(vertex_fit._polish, in_axes=(None, 0, 0, None)),
                                       static_argnums=3)  # fmt: skip
    fit_vertices(model, target[:1])
    times, misses = [], []
    for m in target[1:]:
        t0 = time.perf_counter()
        fit = fit_vertices(model, m[None])
        jnp.asarray(fit.miss_mm).block_until_ready()
        times.append(time.perf_counter() - t0)
        misses.append(float(fit.miss_mm[0]))
    return f"{np.median(times):40.2f}   {tols[0]:g} / {tols[1]:g}   {max(misses):.4f}"


if __name__ == "__main__":
    main()
