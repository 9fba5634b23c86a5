"""In one process, on the random SMPL-size model (6,890 vertices, 207 pose correctives) of
`jaxrefine bench smplify --model smpl-size`: dense SMPLify with the `dense` preset at batch 32
(Adam 100 + 100, Adam 100 + LGD 10, and the camera stage alone) with the camera stage on every
s-th visible vertex; dense visibility a random quarter of the vertices, as the bench.
Configurations called in turn, ROUNDS rounds; medians. Timing only (the model is random).
usage: python camera_stride_smplsize.py ROUNDS STRIDE [STRIDE ...]
"""
import dataclasses
import sys
import time

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)  # 2 host devices, as the CLI
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxrefine.bench.smplify import _fit_data, _model_with_landmarks, make_problem, model_arrays  # noqa: E402
from jaxrefine.objective import get_preset, load_gmm_prior, params_from_pose  # noqa: E402
from jaxrefine.smplify import smplify  # noqa: E402

rounds, strides = int(sys.argv[1]), [int(s) for s in sys.argv[2:]]
arrays, what = model_arrays("smpl-size")
model = _model_with_landmarks("smpl-size", arrays)
(ip, ib, it), _, _, targets, conf, cams = make_problem(model, 32, "dense", seed=0, fraction=0.25)
data = _fit_data("dense", cams, targets, conf, it)
init = params_from_pose(jnp.asarray(ip), jnp.asarray(ib), jnp.asarray(it))
gmm = load_gmm_prior()
configs = {}
for s in strides:
    p = dataclasses.replace(get_preset("dense"), camera_vertex_stride=s)
    for opt in ("adam", "lgd"):
        configs[(s, opt)] = (lambda p=p, o=opt: smplify(
            model, init, data, preset=p, data_kind="dense", optimizer=o, gmm=gmm))
    configs[(s, "camera only")] = (lambda p=p: smplify(
        model, init, data, preset=p, data_kind="dense", optimizer="adam", gmm=gmm, body_steps=0))
times = {k: [] for k in configs}
for k, run in configs.items():  # compile
    jax.block_until_ready(run().params)
for r in range(rounds):
    for k, run in configs.items():
        t0 = time.perf_counter()
        jax.block_until_ready(run().params)
        times[k].append(time.perf_counter() - t0)
print(f"# {what}; {rounds} rounds, batch 32, ms per frame: median [min, max]; {jax.devices()}")
for k, t in times.items():
    t = np.asarray(t) * 1e3 / 32
    print(f"stride {k[0]} {k[1]:12s} {np.median(t):7.2f} [{t.min():.2f}, {t.max():.2f}]")
for s in strides:
    a, l = np.median(times[(s, "adam")]), np.median(times[(s, "lgd")])
    print(f"stride {s}: Adam / LGD = {a / l:.2f}x")
