"""Where a fit program's first call goes: jax's trace, lowering to StableHLO, XLA's compile,
for one SMPLify program (batch 1, camera 2 + body 2 steps, persistent compilation cache off).
Run it with PYTHONPATH at the checkout to measure (a git worktree before a change, or the
working tree after it), one fresh process per measurement.

Usage: PYTHONPATH=CHECKOUT python compile_split.py open|smpl-size keypoints|dense
"""

import sys
import time

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import jaxrefine.fit as F  # noqa: E402
from jaxrefine import body_model as bm  # noqa: E402
from jaxrefine.bench.smplify import make_problem, model_arrays  # noqa: E402
from jaxrefine.keypoints import SMPL_LANDMARKS  # noqa: E402
from jaxrefine.objective import FitData, params_from_pose  # noqa: E402
from jaxrefine.priors import load_gmm  # noqa: E402
from jaxrefine.smplify import smplify  # noqa: E402


def load(name):
    if name == "open":
        from jaxrefine.smpl_io import load_body_model

        return load_body_model()
    arrays, _ = model_arrays("smpl-size")
    model = bm.from_arrays(arrays, model_id="s", gender="neutral", num_betas=10)
    return model.replace(landmarks=SMPL_LANDMARKS)


def fit_program_args(model, kind):
    """The arguments smplify hands to the batch fit program (captured, not run)."""
    start, _, _, targets, conf, cams = make_problem(model, 1, kind)
    ipose, ibetas, itransl = start
    extra = (
        {"keypoints": jnp.asarray(targets), "keypoint_conf": jnp.asarray(conf)}
        if kind == "keypoints"
        else {"dense_targets": jnp.asarray(targets), "dense_weights": jnp.asarray(conf)}
    )
    data = FitData(camera=cams, init_transl=jnp.asarray(itransl), pixel_scale=jnp.ones(1), **extra)
    captured, program = {}, F._fit_stages_batch_jit

    def spy(dyn, params, d, **kw):
        captured["args"] = (dyn, params, d, kw)
        raise KeyboardInterrupt

    F._fit_stages_batch_jit = spy
    try:
        smplify(model, params_from_pose(ipose, ibetas, itransl), data, data_kind=kind,
                preset="spin" if kind == "keypoints" else "dense", gmm=load_gmm(),
                camera_steps=2, body_steps=2)  # fmt: skip
    except KeyboardInterrupt:
        pass
    finally:
        F._fit_stages_batch_jit = program
    return program, captured["args"]


def main(mname, kind):
    jax.config.update("jax_enable_compilation_cache", False)
    program, (dyn, params, d, kw) = fit_program_args(load(mname), kind)
    t0 = time.perf_counter()
    traced = program.trace(dyn, params, d, **kw)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2 = time.perf_counter()
    lowered.compile()
    t3 = time.perf_counter()
    print(f"{mname} {kind}: trace {t1 - t0:.2f} s, lower {t2 - t1:.2f} s, XLA compile "
          f"{t3 - t2:.2f} s; top-level jaxpr eqns {len(traced.jaxpr.eqns)}")  # fmt: skip


if __name__ == "__main__":
    main(*sys.argv[1:3])
