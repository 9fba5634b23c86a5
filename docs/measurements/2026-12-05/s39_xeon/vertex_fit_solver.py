"""The linear solver of ``jaxrefine.vertex_fit``'s Levenberg-Marquardt steps: lineax's QR of
the tall Jacobian (optimistix's default, sessions 36-38) against the normal equations solved
by Cholesky (``lx.Normal(lx.Cholesky())``). 6 meshes of CMU poses (the demo poses), random
shapes, 4-8 m from the camera, for the open model and the SMPL-size test model (207 pose
correctives); each solver compiled first, then the meshes one at a time (as a folder of files
is read); the mean vertex distance left.

Run: python docs/measurements/2026-12-05/s39_xeon/vertex_fit_solver.py
"""

import time

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from jaxrefine import vertex_fit as vf
from jaxrefine.body_model import forward, from_arrays
from jaxrefine.data.poses import load_demo_poses
from jaxrefine.smpl_io import load_body_model
from jaxrefine.testing import make_smpl_size_arrays

N = 6


def meshes(model, seed: int) -> np.ndarray:
    rng, poses = np.random.default_rng(seed), load_demo_poses().pose
    pose = poses[rng.integers(0, len(poses), N)].astype(np.float32)
    betas = rng.normal(0, 1, (N, model.num_betas)).astype(np.float32)
    transl = np.column_stack([rng.normal(0, 0.3, (N, 2)), rng.uniform(4, 8, N)])
    f = jax.vmap(lambda p, b, t: forward(model, p, b, t).vertices)
    return np.asarray(f(pose, betas, transl.astype(np.float32)))


def run(model, v, solver) -> tuple[float, list[float]]:
    vf.FIT_LINEAR_SOLVER = solver  # read when _polish is traced: a fresh jit per solver
    fit = jax.jit(jax.vmap(vf._polish, in_axes=(None, 0, 0, None)), static_argnums=3)
    starts = [vf.initial_pose(model, m.astype(np.float64)).astype(np.float32) for m in v]
    fit(model, jnp.asarray(v[:1]), jnp.asarray(starts[0][None]), vf.FIT_STEPS)[1].block_until_ready()
    t, miss = time.perf_counter(), []
    for m, s in zip(v, starts):
        miss.append(float(fit(model, jnp.asarray(m[None]), jnp.asarray(s[None]), vf.FIT_STEPS)[1][0]))
    return (time.perf_counter() - t) / len(v), miss


def main() -> None:
    models = {"open model": load_body_model(),
              "SMPL-size model": from_arrays(make_smpl_size_arrays(0), model_id="s",
                                             gender="neutral", num_betas=10)}
    print("model             solver              s per mesh   mean miss (mm): mean / max")
    for name, model in models.items():
        v = meshes(model, 0)
        for label, solver in (("QR", lx.QR()), ("Normal(Cholesky)", lx.Normal(lx.Cholesky()))):
            dt, miss = run(model, v, solver)
            print(f"{name:17s} {label:18s} {dt:10.3f}   {np.mean(miss):.4f} / {np.max(miss):.4f}")


if __name__ == "__main__":
    main()
