"""SMPLify with Levenberg-Marquardt: optimistix's QR vs the normal equations (Cholesky).

Same problems for both (jaxrefine.bench.smplify.make_problem: a perturbed start, targets
projected from a ground truth), the compare notebook's budget (10 camera + 20 body steps, the
`dense` preset with the GMM prior), the open model (rendered visibility) and a random
SMPL-size model (207 pose correctives, a random quarter of the vertices visible). Per row:
median wall seconds of 3 calls after a compiling one (both sides alike, taking turns), the
compile seconds of that first call, the mean final loss, the largest relative difference of
the two sides' final losses, the mean vertex distance between their fits and each side's
mean vertex error against the ground truth (mm).

Run: .venv/bin/python docs/measurements/2026-12-05/s40_xeon/lm_linear_solver.py
"""

import time

import jax
import numpy as np

from jaxrefine.bench.smplify import _fit_data, _model_with_landmarks, make_problem, model_arrays
from jaxrefine.body_model import forward
from jaxrefine.objective import load_gmm_prior, params_from_pose, pose_from_params
from jaxrefine.optimizers.least_squares import levenberg_marquardt
from jaxrefine.report import machine_info, machine_line, print_table
from jaxrefine.smpl_io import load_body_model
from jaxrefine.smplify import smplify

REPS = 3
SOLVERS = ("qr", "cholesky")


def ground_truth(model, B, seed=0):
    rng = np.random.default_rng(seed)  # make_problem's first draws
    pose = rng.normal(0, 0.15, (B, 24, 3)).astype(np.float32)
    pose[:, 0] = [np.pi, 0, 0]
    betas = rng.normal(0, 0.5, (B, model.num_betas)).astype(np.float32)
    transl = np.tile(np.array([0, 0, 4.0], np.float32), (B, 1))
    return vertices(model, params_from_pose(pose, betas, transl))


def vertices(model, p):
    fwd = jax.jit(jax.vmap(lambda q, b, t: forward(model, q, b, t).vertices))
    return np.asarray(fwd(pose_from_params(p), p["betas"], p["transl"]))


def row(model, gmm, kind, B, visibility):
    (ip, ib, it), _, _, targets, conf, cams = make_problem(
        model, B, kind, visibility=visibility, fraction=0.25
    )
    data, init = _fit_data(kind, cams, targets, conf, it), params_from_pose(ip, ib, it)
    runs = {}
    for s in SOLVERS:
        opt = levenberg_marquardt(linear_solver=s)

        def run(opt=opt):
            r = smplify(model, init, data, preset="dense", data_kind=kind, gmm=gmm,
                        optimizer=opt, camera_steps=10, body_steps=20)  # fmt: skip
            return jax.block_until_ready(r)

        t0 = time.perf_counter()
        res = run()
        runs[s] = {"run": run, "first": time.perf_counter() - t0, "res": res, "ts": []}
    for _ in range(REPS):  # taking turns
        for s in SOLVERS:
            t0 = time.perf_counter()
            runs[s]["run"]()
            runs[s]["ts"].append(time.perf_counter() - t0)
    gt = ground_truth(model, B)
    out = {}
    for s in SOLVERS:
        r = runs[s]
        med = float(np.median(r["ts"]))
        v = vertices(model, r["res"].params)
        out[s] = dict(med=med, compile=r["first"] - med, loss=np.asarray(r["res"].final_loss),
                      v=v, pve=1000 * np.mean(np.linalg.norm(v - gt, axis=-1)))  # fmt: skip
    q, c = out["qr"], out["cholesky"]
    rel = np.max(np.abs(c["loss"] - q["loss"]) / np.maximum(np.abs(q["loss"]), 1e-12))
    apart = 1000 * np.mean(np.linalg.norm(c["v"] - q["v"], axis=-1))
    return [
        kind, B, f"{q['med'] * 1e3:.0f}", f"{c['med'] * 1e3:.0f}", f"{q['med'] / c['med']:.2f}x",
        f"{q['compile']:.1f} / {c['compile']:.1f}", f"{q['loss'].mean():.4g}",
        f"{c['loss'].mean():.4g}", f"{rel:.1e}", f"{apart:.3f}", f"{q['pve']:.1f} / {c['pve']:.1f}",
    ]  # fmt: skip


print(machine_line(machine_info()))
print(f"jax {jax.__version__}, devices {jax.devices()}")
gmm = load_gmm_prior()
rows = []
for name in ("open", "smpl-size"):
    arrays, what = model_arrays(name)
    if name == "open":
        model, vis = load_body_model(), "render"
    else:
        model, vis = _model_with_landmarks(name, arrays), "random"
    for kind in ("keypoints", "dense"):
        for B in (1, 32):
            rows.append([what] + row(model, gmm, kind, B, vis))
            print(rows[-1], flush=True)
print_table(
    ["model", "data", "batch", "QR ms", "Cholesky ms", "speed-up", "compile s QR / Chol",
     "loss QR", "loss Chol", "max rel. loss diff", "fits apart mm", "PVE mm QR / Chol"],
    rows,
)  # fmt: skip
