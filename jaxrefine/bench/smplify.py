"""``jaxrefine bench smplify``: SMPLify, 100 + 100 Adam iterations (``spin`` preset), sparse
(25 BODY_25 keypoints) and dense (visible vertices), jaxrefine vs the PyTorch SPIN-loss
reference on smplx (:mod:`jaxrefine.bench.spin_torch`), same inputs, same run.

``--optimizers adam lgd``: besides Adam's rows, rows whose body stage is learned gradient
descent (the shipped checkpoint of the data kind, its trained number of steps on the data
term; the camera stage stays Adam), timed against the same PyTorch Adam reference.

``--model open|smpl-size|PATH``: the shipped open model (no pose correctives), a random model
of SMPL's sizes (6,890 vertices, 207 correctives; dense visibility a random quarter of the
vertices, its faces being random), or a model file. What each side computes (said in the
table's header): jaxrefine's sparse fit poses the 24 joints and the ~15 landmark vertices the
keypoints need, its dense fit the visible vertices (blend shapes for all); the reference, as
SPIN and smplx do, poses the whole mesh. The "dense, whole mesh" row is jaxrefine doing the
same work as the reference (``compact=False``).

Equal treatment: the same number of timed repetitions on both sides (medians), PyTorch with as
many threads as the cores JAX uses. Times include everything a fit does (both stages, the final
check) and exclude compilation, reported apart: "cold" in a fresh, empty persistent
compilation cache (a real compile), "warm" the same program again from that cache after the
in-memory caches are cleared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.bench.common import count
from jaxrefine.body_model import forward, from_arrays
from jaxrefine.camera import Camera, project
from jaxrefine.files import output_file_arg
from jaxrefine.keypoints import SMPL_LANDMARKS
from jaxrefine.objective import FitData, load_gmm_prior, params_from_pose
from jaxrefine.report import machine_info, machine_line, print_table, write_json
from jaxrefine.smpl_io import OPEN_MODEL_PATH, load_body_model, read_model_file, read_npz
from jaxrefine.smplify import smplify
from jaxrefine.testing import make_smpl_size_arrays


def make_problem(
    model, B: int, kind: str, seed: int = 0, visibility: str = "random", fraction: float = 0.5
):
    """A batch of synthetic fitting problems (targets from a ground truth, a perturbed start).

    Dense problems weight the vertices a 256x256 rendering sees (``visibility="render"``,
    ~25% of the open model's vertices) or a random ``fraction`` of them (``"random"``).

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
    else:  # a random fraction of the vertices (no rasterizer needed)
        targets = np.asarray(jax.vmap(project)(cams, gt.vertices))
        conf = (rng.uniform(size=(B, targets.shape[1])) < fraction).astype(np.float32)
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
    ap.add_argument("--model", default="open", help="open | smpl-size | PATH of a model file")
    ap.add_argument("--batches", type=count, nargs="+", default=[1, 32, 256])
    ap.add_argument("--kinds", nargs="+", default=["keypoints", "dense"],
                    choices=["keypoints", "dense"])  # fmt: skip
    ap.add_argument("--steps", type=int, default=100, help="iterations per stage")
    ap.add_argument("--reps", type=count, default=3, help="timed repetitions, each side")
    ap.add_argument("--max-torch-batch", type=count, default=256,
                    help="the PyTorch reference runs batches up to this size")  # fmt: skip
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-same-work", action="store_true", help="skip the whole-mesh dense row")
    ap.add_argument(
        "--optimizers", nargs="+", default=["adam"], choices=["adam", "lgd"],
        help="body-stage optimizers; lgd rows run the shipped checkpoint's trained steps",
    )  # fmt: skip
    ap.add_argument("--json", default=None, type=output_file_arg)
    return ap.parse_args(argv)


def model_arrays(name: str) -> tuple[dict, str]:
    """Model arrays (10 betas) and a description, for ``--model open|smpl-size|PATH``."""
    if name == "open":
        arrays, what = read_npz(OPEN_MODEL_PATH), "open model (no pose correctives)"
    elif name == "smpl-size":
        arrays, what = make_smpl_size_arrays(seed=0), "random SMPL-size model (207 correctives)"
    else:
        arrays, what = read_model_file(name), f"model file {name}"
    arrays = dict(arrays)
    arrays["shapedirs"] = np.asarray(arrays["shapedirs"])[:, :, :10]
    return arrays, what


def _model_with_landmarks(name: str, arrays: dict):
    """The body model of ``--model smpl-size|PATH`` with the surface landmarks BODY_25 needs:
    smplx's SMPL vertex ids for the SMPL-topology random model, the loader's for a file."""
    if name != "smpl-size":
        return load_body_model(name, gender=None, num_betas=10)
    model = from_arrays(arrays, model_id=name, gender="neutral", num_betas=10)
    return model.replace(landmarks=SMPL_LANDMARKS)


def jax_cores() -> int:
    """The CPU cores JAX's CPU backend may use (this process's affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _torch_reference(arrays: dict, threads: int):
    """The PyTorch SPIN reference on ``arrays`` and the shipped prior, or None when torch /
    smplx are not installed (said on stdout)."""
    try:
        import torch

        from jaxrefine.bench.spin_torch import SpinSMPLifyTorch
    except ImportError:
        print("torch/smplx not installed (pip install '.[ref]'): reference skipped")
        return None
    torch.set_num_threads(threads)
    from jaxrefine import priors

    g = priors.load_gmm()
    gmm_raw = (np.asarray(g.means), np.asarray(g.covars), np.asarray(g.weights))
    return SpinSMPLifyTorch(arrays, gmm_raw)


def _reset_persistent_cache() -> None:
    """Make JAX re-open its persistent cache at the configured directory (JAX has no public
    call for this; without it a directory change after the first compile is ignored)."""
    from jax._src import compilation_cache

    compilation_cache.reset_cache()


def _cold_and_warm(run) -> tuple[float, float]:
    """Seconds of the first call in a fresh, empty persistent compilation cache (cold), and of
    the same call again after clearing JAX's in-memory caches (warm: read from that cache).
    Both include one run; the caller subtracts the run's median."""
    old = jax.config.jax_compilation_cache_dir
    with tempfile.TemporaryDirectory(prefix="jaxrefine-bench-cache-") as tmp:
        jax.config.update("jax_compilation_cache_dir", tmp)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        _reset_persistent_cache()  # else a cache opened earlier (the CLI's) stays in use
        try:
            jax.clear_caches()
            t0 = time.perf_counter()
            run()
            cold = time.perf_counter() - t0
            jax.clear_caches()
            t0 = time.perf_counter()
            run()
            warm = time.perf_counter() - t0
        finally:
            jax.config.update("jax_compilation_cache_dir", old)
            _reset_persistent_cache()
    return cold, warm


def _time_jaxrefine(run, reps: int) -> dict:
    """Median / range of ``reps`` timed calls after the cold and warm compiling ones."""
    cold, warm = _cold_and_warm(run)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t0)
    j = float(np.median(ts))
    return {"jax_s": j, "jax_min_s": min(ts), "jax_max_s": max(ts), "reps": reps,
            "compile_cold_s": max(cold - j, 0.0), "compile_warm_s": max(warm - j, 0.0)}  # fmt: skip


def _time_reference(ref, problem, kind: str, steps: int, reps: int) -> float:
    """Median seconds of ``reps`` reference fits of the same problem (after one warm-up)."""
    (ip, ib, it), focal, center, targets, conf, _ = problem
    kw = dict(kind=kind, camera_steps=steps, body_steps=steps)
    ref.fit(ip, ib, it, focal, center, targets, conf, **kw)
    tt = []
    for _ in range(reps):
        t0 = time.perf_counter()
        ref.fit(ip, ib, it, focal, center, targets, conf, **kw)
        tt.append(time.perf_counter() - t0)
    return float(np.median(tt))


def _table_row(rec: dict) -> list:
    j, tref, B = rec["jax_s"], rec.get("torch_s"), rec["batch"]
    lo, hi = rec["jax_min_s"] * 1e3, rec["jax_max_s"] * 1e3
    return [
        rec["row"], B, f"{j * 1e3:.1f} ({lo:.1f}-{hi:.1f})",
        f"{j * 1e3 / B:.2f}", f"{tref * 1e3:.0f}" if tref else "-",
        f"{tref / j:.1f}x" if tref else "-",
        f"{rec['compile_cold_s']:.1f} / {rec['compile_warm_s']:.1f}",
    ]  # fmt: skip


ROWS = {  # row name -> (data kind, compact, body-stage optimizer): what jaxrefine computes
    "keypoints": ("keypoints", True, "adam"),
    "dense": ("dense", True, "adam"),
    "dense, whole mesh": ("dense", False, "adam"),
    "keypoints, LGD body stage": ("keypoints", True, "lgd"),
    "dense, LGD body stage": ("dense", True, "lgd"),
}


def row_names(kinds: list[str], optimizers: list[str], same_work: bool) -> list[str]:
    """The table's rows for ``--kinds``, ``--optimizers`` and the same-work switch."""
    return [
        r for r, (kind, compact, opt) in ROWS.items()
        if kind in kinds and opt in optimizers and (compact or same_work)
    ]  # fmt: skip


def _header(args, what: str, threads: int, with_ref: bool) -> str:
    ref = f"PyTorch reference: whole mesh (smplx), {threads} threads" if with_ref else ""
    return (
        f"SMPLify {args.steps} + {args.steps} Adam iterations, spin preset, {what}; medians of "
        f"{args.reps} timed runs each side. jaxrefine ({threads} cores, "
        f"{len(jax.devices())} devices): keypoints = 24 joints + the landmark vertices, dense = "
        f"visible vertices, 'whole mesh' = all vertices (same work as the reference); 'LGD body "
        f"stage' = Adam camera stage + the shipped LGD checkpoint's trained steps. {ref}"
    )


def _measure_row(model, gmm, ref, args, row: str, B: int, visibility: str, ref_times: dict) -> dict:
    """One row at batch ``B``. The reference (Adam on the whole mesh) is timed once per data
    kind and batch and kept in ``ref_times``: the LGD rows fit the same problem (same seed)."""
    kind, compact, opt = ROWS[row]
    body_steps = args.steps if opt == "adam" else None  # LGD: its trained number of steps
    problem = make_problem(model, B, kind, visibility=visibility, fraction=0.25)
    (ip, ib, it), _, _, targets, conf, cams = problem
    data = _fit_data(kind, cams, targets, conf, it)
    init = params_from_pose(ip, ib, it)

    def run():
        r = smplify(model, init, data, preset="spin", data_kind=kind, gmm=gmm, compact=compact,
                    optimizer=opt, camera_steps=args.steps, body_steps=body_steps)  # fmt: skip
        return jax.block_until_ready(r.params)

    rec = {"row": row, "kind": kind, "compact": compact, "optimizer": opt, "batch": B,
           **_time_jaxrefine(run, args.reps)}  # fmt: skip
    if ref is not None and B <= args.max_torch_batch and row != "dense, whole mesh":
        if (kind, B) not in ref_times:
            ref_times[kind, B] = _time_reference(ref, problem, kind, args.steps, args.reps)
        rec["torch_s"] = ref_times[kind, B]
        rec["speedup"] = rec["torch_s"] / rec["jax_s"]
    return rec


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    arrays, what = model_arrays(args.model)
    threads = jax_cores()
    ref = None if args.no_torch else _torch_reference(arrays, threads)
    if args.model == "open":
        model, visibility = load_body_model(), "render"
    else:  # an arbitrary model's faces need not make a sensible rendering
        model, visibility = _model_with_landmarks(args.model, arrays), "random"
    gmm_r = load_gmm_prior()
    info = machine_info()
    print(machine_line(info))
    rows, results, ref_times = [], [], {}
    for row in row_names(args.kinds, args.optimizers, not args.no_same_work):
        for B in args.batches:
            rec = _measure_row(model, gmm_r, ref, args, row, B, visibility, ref_times)
            results.append(rec)
            rows.append(_table_row(rec))
            tref = rec.get("torch_s")
            print(f"  {row} batch {B}: jaxrefine {rec['jax_s'] * 1e3:.1f} ms"
                  + (f", torch {tref * 1e3:.0f} ms" if tref else ""), flush=True)  # fmt: skip
    print(_header(args, what, threads, ref is not None))
    print_table(
        ["jaxrefine computes", "batch", "jaxrefine ms (range)", "ms/frame", "PyTorch ref ms",
         "speed-up", "compile s cold / warm"], rows,
    )  # fmt: skip
    write_json(args.json, {"machine": info, "steps": args.steps, "model": args.model,
                           "torch_threads": threads, "reps": args.reps,
                           "results": results})  # fmt: skip
    return 0
