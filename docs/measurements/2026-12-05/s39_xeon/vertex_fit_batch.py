"""Is fitting a folder's meshes in one batch faster than one by one? 8 open-model meshes of CMU
poses (the demo poses), fitted by ``jaxrefine.vertex_fit.fit_vertices`` one at a time and as one
(8, V, 3) batch, both compiled first, mean of 2 repetitions.

Run: python docs/measurements/2026-12-05/s39_xeon/vertex_fit_batch.py
"""

import time, numpy as np, jax
from jaxrefine.smpl_io import load_body_model
from jaxrefine.vertex_fit import fit_vertices
from jaxrefine.body_model import forward
from jaxrefine.data.poses import load_demo_poses
model = load_body_model()
poses = load_demo_poses().pose
rng = np.random.default_rng(0)
n = 8
pose = poses[rng.integers(0, len(poses), n)].astype(np.float32)
betas = rng.normal(0, 1, (n, model.num_betas)).astype(np.float32)
transl = np.column_stack([rng.normal(0, .3, (n, 2)), rng.uniform(4, 8, n)]).astype(np.float32)
v = np.asarray(jax.vmap(lambda p, b, t: forward(model, p, b, t).vertices)(pose, betas, transl))
fit_vertices(model, v[:1]); fit_vertices(model, v[:8])  # compile both
for k in (1, 8):
    t = time.perf_counter()
    for rep in range(2):
        if k == 1:
            for i in range(8): fit_vertices(model, v[i:i+1])
        else:
            fit_vertices(model, v)
    print(k, "at a time: 8 meshes in", (time.perf_counter() - t) / 2, "s")
