"""``jaxrefine bench smplify``: SMPLify, 100 + 100 Adam iterations (``spin`` preset), sparse
(25 BODY_25 keypoints) and dense (visible vertices), jaxrefine vs the PyTorch SPIN-loss
reference on smplx (:mod:`jaxrefine.bench.spin_torch`), same inputs, same run.

jaxrefine's time excludes compilation (reported separately, with the persistent compilation
cache off for that measurement so it is a real compile); both sides include everything a fit
does (both stages, the final evaluation). PyTorch runs with 2 threads (all cores here).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.body_model import forward
from jaxrefine.camera import Camera, project
from jaxrefine.objective import FitData, load_gmm_prior, params_from_pose
from jaxrefine.report import machine_info, machine_line, print_table, write_json
from jaxrefine.smpl_io import OPEN_MODEL_PATH, load_body_model, read_npz
from jaxrefine.smplify import smplify


def make_problem(model, B: int, kind: str, seed: int = 0, visibility: str = "random"):
    """A batch of synthetic fitting problems (targets from a ground truth, a perturbed start).

    Dense problems weight the vertices a 256x256 rendering sees (``visibility="render"``,
    ~25% of the open model's vertices) or a random half of them (``"random"``).

    Returns (init (pose, betas, transl), focal (B,), center (B, 2), targets, conf, cameras)."""
    rng = np.random.default_rng(seed)
    pose = rng.normal(0, 0.15, (B, 24, 3)).astype(np.float32)
    pose[:, 0] = [np.pi, 0, 0]
    betas = rng.normal(0, 0.5, (B, model.num_betas)).astype(np.float32)
    transl = np.tile(np.array([0, 0, 4.0], np.float32), (B, 1))
    focal = np.full(B, 600.0, np.float32)
    center = np.full((B, 2), 128.0, np.float32)
    cams = Camera(
        fx=jnp.asarray(focal), fy=jnp.asarray(focal), cx=jnp.asarray(center[:, 0]),
        cy=jnp.asarray(center[:, 1]), R=jnp.tile(jnp.eye(3), (B, 1, 1)), t=jnp.zeros((B, 3)),
    )  # fmt: skip
    gt = jax.jit(jax.vmap(lambda p, b, t: forward(model, p, b, t)))(pose, betas, transl)
    if kind == "keypoints":
        kp3 = jax.vmap(lambda j, v: gt.__class__(v, j, gt.keypoint_sets).keypoints("body25"))(
            gt.joints, gt.vertices
        )
        targets = np.asarray(jax.vmap(project)(cams, kp3))
        conf = np.ones((B, 25), np.float32)
    elif visibility == "render":  # the vertices a 256x256 rendering of the body sees
        from jaxrefine.correspondence import pixels_to_vertices
        from jaxrefine.render import rasterize_batch

        targets = np.asarray(jax.vmap(project)(cams, gt.vertices))
        fr = rasterize_batch(gt.vertices, model.faces, cams, 256, 256, cull_backfaces=True)
        vis = jax.vmap(
            lambda t, b: (
                pixels_to_vertices(
                    jnp.zeros(t.shape + (2,)), model.faces, t, b, model.num_vertices
                ).visible
            )
        )(fr.tri_id, fr.bary)
        conf = np.asarray(vis, np.float32)
    else:  # a random half of the vertices (no rasterizer needed)
        targets = np.asarray(jax.vmap(project)(cams, gt.vertices))
        conf = (rng.uniform(size=(B, targets.shape[1])) < 0.5).astype(np.float32)
    ipose = pose + rng.normal(0, 0.1, pose.shape).astype(np.float32)
    itransl = transl + np.array([0.05, -0.05, 0.3], np.float32)
    ibetas = np.zeros_like(betas)
    return (ipose, ibetas, itransl), focal, center, targets, conf, cams


def _fit_data(kind, cams, targets, conf, itransl):
    B = len(itransl)
    extra = (
        {"keypoints": jnp.asarray(targets), "keypoint_conf": jnp.asarray(conf)}
        if kind == "keypoints"
        else {"dense_targets": jnp.asarray(targets), "dense_weights": jnp.asarray(conf)}
    )
    return FitData(camera=cams, init_transl=jnp.asarray(itransl), pixel_scale=jnp.ones(B), **extra)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="jaxrefine bench smplify", description=__doc__)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256])
    ap.add_argument("--kinds", nargs="+", default=["keypoints", "dense"])
    ap.add_argument("--steps", type=int, default=100, help="iterations per stage")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions (jaxrefine)")
    ap.add_argument("--torch-reps", type=int, default=1)
    ap.add_argument("--max-torch-batch", type=int, default=256)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json", default=None)
    return ap.parse_args(argv)


def _torch_reference():
    """The PyTorch SPIN reference on the open model (10 betas) and the shipped prior, or None
    when torch / smplx are not installed (said on stdout)."""
    try:
        import torch

        from jaxrefine.bench.spin_torch import SpinSMPLifyTorch
    except ImportError:
        print("torch/smplx not installed (pip install '.[ref]'): reference skipped")
        return None
    torch.set_num_threads(2)
    from jaxrefine import priors

    g = priors.load_gmm()
    gmm_raw = (np.asarray(g.means), np.asarray(g.covars), np.asarray(g.weights))
    arrays = read_npz(OPEN_MODEL_PATH)
    arrays["shapedirs"] = arrays["shapedirs"][:, :, :10]
    return SpinSMPLifyTorch(arrays, gmm_raw)


def _time_jaxrefine(run, reps: int) -> dict:
    """Median / range of ``reps`` timed calls after a first (compiling) one, in seconds."""
    t0 = time.perf_counter()
    run()
    first = time.perf_counter() - t0
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t0)
    j = float(np.median(ts))
    return {"jax_s": j, "jax_min_s": min(ts), "jax_max_s": max(ts),
            "compile_s": max(first - j, 0.0)}  # fmt: skip


def _time_reference(ref, problem, kind: str, steps: int, reps: int) -> float:
    """Median seconds of ``reps`` reference fits of the same problem."""
    (ip, ib, it), focal, center, targets, conf, _ = problem
    tt = []
    for _ in range(reps):
        t0 = time.perf_counter()
        ref.fit(ip, ib, it, focal, center, targets, conf, kind=kind,
                camera_steps=steps, body_steps=steps)  # fmt: skip
        tt.append(time.perf_counter() - t0)
    return float(np.median(tt))


def _table_row(rec: dict) -> list:
    j, tref, B = rec["jax_s"], rec.get("torch_s"), rec["batch"]
    lo, hi = rec["jax_min_s"] * 1e3, rec["jax_max_s"] * 1e3
    return [
        rec["kind"], B, f"{j * 1e3:.1f} ({lo:.1f}-{hi:.1f})",
        f"{j * 1e3 / B:.2f}", f"{tref * 1e3:.0f}" if tref else "-",
        f"{tref / j:.1f}x" if tref else "-", f"{rec['compile_s']:.1f}",
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    ref = None if args.no_torch else _torch_reference()
    model = load_body_model()
    gmm_r = load_gmm_prior()
    info = machine_info()
    print(machine_line(info))
    rows, results = [], []
    for kind in args.kinds:
        for B in args.batches:
            problem = make_problem(model, B, kind, visibility="render")
            (ip, ib, it), _, _, targets, conf, cams = problem
            data = _fit_data(kind, cams, targets, conf, it)
            init = params_from_pose(ip, ib, it)

            def run(init=init, data=data, kind=kind):
                r = smplify(model, init, data, preset="spin", data_kind=kind, gmm=gmm_r,
                            camera_steps=args.steps, body_steps=args.steps)  # fmt: skip
                return jax.block_until_ready(r.params)

            rec = {"kind": kind, "batch": B, **_time_jaxrefine(run, args.reps)}
            if ref is not None and B <= args.max_torch_batch:
                rec["torch_s"] = _time_reference(ref, problem, kind, args.steps, args.torch_reps)
                rec["speedup"] = rec["torch_s"] / rec["jax_s"]
            results.append(rec)
            rows.append(_table_row(rec))
            tref = rec.get("torch_s")
            print(f"  {kind} batch {B}: jaxrefine {rec['jax_s'] * 1e3:.1f} ms"
                  + (f", torch {tref * 1e3:.0f} ms" if tref else ""), flush=True)  # fmt: skip
    print(f"SMPLify {args.steps} + {args.steps} Adam iterations, spin preset, open body model")
    print_table(
        ["data", "batch", "jaxrefine ms (range)", "ms/frame", "PyTorch ref ms", "speed-up",
         "compile s"], rows,
    )  # fmt: skip
    write_json(args.json, {"machine": info, "steps": args.steps, "results": results})
    return 0
