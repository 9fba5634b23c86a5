"""Session 52's probe: dense smplify() on a sample without data, for the open model and an
SMPL-size model with pose correctives (jaxrefine.testing.make_smpl_size_arrays(seed=0)).

Two synthetic dense problems per model (jaxrefine.bench.smplify.make_problem, random half of
the vertices visible); sample 0's weights set to 0 (nothing visible: a body behind the
camera). Default "dense" preset, shipped pose prior. Prints each sample's status and the
largest change of its parameters. Run from the repository root.
"""

import jax.numpy as jnp
import numpy as np

from jaxrefine.bench.smplify import make_problem
from jaxrefine.body_model import from_arrays
from jaxrefine.objective import FitData, load_gmm_prior, params_from_pose
from jaxrefine.smpl_io import load_body_model
from jaxrefine.smplify import smplify
from jaxrefine.testing import make_smpl_size_arrays

MODELS = {"open": load_body_model(),
          "smpl-size": from_arrays(make_smpl_size_arrays(seed=0), model_id="smpl-size",
                                   gender="neutral", num_betas=10)}  # fmt: skip
for name, model in MODELS.items():
    (pose, betas, transl), focal, center, targets, conf, cams = make_problem(model, 2, "dense")
    weights = np.asarray(conf, np.float32).copy()
    weights[0] = 0.0
    data = FitData(camera=cams, init_transl=jnp.asarray(transl), pixel_scale=jnp.ones(2),
                   dense_targets=jnp.asarray(targets), dense_weights=jnp.asarray(weights))  # fmt: skip
    start = params_from_pose(pose, betas, transl)
    res = smplify(model, start, data, preset="dense", data_kind="dense", gmm=load_gmm_prior())
    for i in range(2):
        moved = ", ".join(f"{k} {float(np.abs(np.asarray(res.params[k][i]) - np.asarray(start[k][i])).max()):.3g}"
                          for k in start)  # fmt: skip
        print(f"{name} sample {i} ({'no data' if i == 0 else 'data'}): status "
              f"{int(res.status[i])}, largest change {moved}")
