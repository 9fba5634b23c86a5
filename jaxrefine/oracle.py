"""The paper's oracle experiment (its Table 2 analog): how good can SMPLify get with perfect
targets, sparse versus dense?

For N synthetic frames (CMU mocap poses, varied shapes and cameras, initial estimates from
:mod:`jaxrefine.data.perturb`) it refines each initial estimate with

- ``sparse_gt``: the 25 ground-truth OpenPose BODY_25 keypoints (projected; those outside the
  image get confidence 0), and
- ``dense_gt``: ground-truth dense targets built the paper's way: per-vertex displacement
  between ground truth and initial estimate (Eq. 1), the per-pixel field over the rendering
  of the initial mesh (Eq. 2), and the pixel-to-vertex transfer for visible vertices (Eq. 5-6),

with the same SMPLify preset, optimizer and pose prior (the shipped GMM, ``--gmm`` SMPLify's
``gmm_08.pkl``, or none: ``--no-gmm``), and reports MPJPE, PA-MPJPE, N-MPJPE (24 SMPL
joints) and PVE, PA-PVE, N-PVE (all vertices) in mm, plus the fitting time per frame (after
compilation; compilation is reported separately).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.body_model import BodyModel, forward
from jaxrefine.camera import project
from jaxrefine.correspondence import ground_truth_dense_targets
from jaxrefine.data.perturb import perturb
from jaxrefine.data.poses import load_poses
from jaxrefine.data.sampling import SceneConfig, cameras_for, sample_scenes
from jaxrefine.errors import refuse_below
from jaxrefine.files import output_file_arg
from jaxrefine.fit import STATUS_NAMES
from jaxrefine.metrics import compute_all
from jaxrefine.objective import (
    FitData,
    choose_gmm_prior,
    get_preset,
    params_from_pose,
    pose_from_params,
)
from jaxrefine.optimizers.registry import optimizer_arg, optimizer_help
from jaxrefine.priors import GMM_FILE_HELP, prior_file_arg
from jaxrefine.refine import with_start as refine_with_start
from jaxrefine.render import rasterize_batch
from jaxrefine.report import machine_info, print_table, write_json
from jaxrefine.smplify import smplify
from jaxrefine.uv_layout import MODEL_HELP, require_layout

METRICS = ("mpjpe", "pa_mpjpe", "n_mpjpe", "pve", "pa_pve", "n_pve")
ROWS = ("init", "sparse_gt", "dense_gt")


def _pose_batch(model: BodyModel, pose, betas, transl):
    return jax.jit(jax.vmap(lambda p, b, t: forward(model, p, b, t)))(pose, betas, transl)


def _timed(run, reps: int = 1):
    """Run a fit 1 + ``reps`` times: the first call compiles, the others are timed.

    Returns (result of the last run, median seconds of the timed runs, compilation seconds =
    first - that median)."""
    t0 = time.perf_counter()
    jax.block_until_ready(run().params)
    first = time.perf_counter() - t0
    times = []
    for _ in range(max(int(reps), 1)):
        t0 = time.perf_counter()
        res = run()
        jax.block_until_ready(res.params)
        times.append(time.perf_counter() - t0)
    secs = float(np.median(times))
    return res, secs, max(first - secs, 0.0)


def _stage_steps(stage) -> int:
    """Steps a stage ran (0 when it was skipped)."""
    return 0 if stage is None else int(stage.loss_curve.shape[-1]) - 1


def _metrics_rows(pred_j, pred_v, gt_j, gt_v) -> dict:
    m = jax.jit(jax.vmap(compute_all))(pred_j, gt_j, pred_v, gt_v)
    return {k: np.asarray(m[k]) for k in METRICS}


def oracle_frames(model, poses, n, seed, difficulty, image_size):
    """Sample ``n`` frames (camera frame) and their initial estimates.

    Returns (cameras, ground truth BodyOutput batch, initial BodyOutput batch,
    (init pose (n,24,3), init betas (n,NB), init transl (n,3))).
    """
    scenes = sample_scenes(model, poses, n, seed, SceneConfig(image_size=image_size))
    gt = _pose_batch(model, scenes.pose, scenes.betas, scenes.transl)
    start = perturb(
        scenes.pose, scenes.betas, scenes.transl, np.asarray(gt.joints[:, 0]), difficulty, seed + 1
    )
    return cameras_for(scenes), gt, _pose_batch(model, *start), start


def ground_truth_targets(
    model: BodyModel,
    gt,
    init,
    cams,
    image_size: tuple[int, int],
    backend: str = "auto",
) -> tuple[FitData, FitData, dict]:
    """Fit inputs of the two oracle rows for a batch.

    Args:
      gt / init: :class:`~jaxrefine.body_model.BodyOutput` batches (B, V, 3) / (B, 24, 3) of the
        ground truth and the initial estimate (camera frame).
      cams: batched cameras. image_size: (H, W).

    Returns:
      (sparse FitData, dense FitData, info) — ``init_transl`` and ``pixel_scale`` are left for
      :func:`with_start` to fill in.
    """
    H, W = image_size
    t0 = time.perf_counter()
    frags = rasterize_batch(init.vertices, model.faces, cams, H, W, backend, cull_backfaces=True)
    jax.block_until_ready(frags.tri_id)
    raster_s = time.perf_counter() - t0

    def dense_one(vg, vi, cam, tri, bary):  # Eq. 1, 2, 5-6
        return ground_truth_dense_targets(vg, cam, vi, cam, model.faces, tri, bary)

    d_targets, d_weights = jax.jit(jax.vmap(dense_one))(
        gt.vertices, init.vertices, cams, frags.tri_id, frags.bary
    )
    # sparse ground truth: projected BODY_25, confidence 0 outside the image
    kp3d = jax.vmap(lambda j, v: gt.__class__(v, j, gt.keypoint_sets).keypoints("body25"))(
        gt.joints, gt.vertices
    )
    kp2d = jax.vmap(project)(cams, kp3d)
    inside = (kp2d[..., 0] >= 0) & (kp2d[..., 0] < W) & (kp2d[..., 1] >= 0) & (kp2d[..., 1] < H)
    n = kp2d.shape[0]
    blank = dict(camera=cams, init_transl=jnp.zeros((n, 3)), pixel_scale=jnp.ones(n))
    sparse = FitData(keypoints=kp2d, keypoint_conf=inside.astype(jnp.float32), **blank)
    dense = FitData(dense_targets=d_targets, dense_weights=d_weights, **blank)
    info = {
        "raster_ms_per_frame": raster_s * 1e3 / n,
        "mean_visible_vertices": float(np.mean(np.sum(np.asarray(d_weights) > 0, 1))),
        "render_backend": frags.backend,
        "render_flags": np.asarray(frags.flags),  # (B,) per frame, 0 = complete
    }
    return sparse, dense, info


def with_start(data: FitData, init_params: dict, init_vertices, preset) -> FitData:
    """Fill a batch's depth anchor and person-size scale from the initial estimate (the
    refinement pipeline's :func:`jaxrefine.refine.with_start`, taking the params dict)."""
    return refine_with_start(data, init_params["transl"], init_vertices, preset)


def pose_prior(use_gmm: bool = True, gmm_path: str | None = None) -> tuple:
    """``(GMMPrior or None, its name for the result)``: ``gmm_path``'s prior (SMPLify's
    ``gmm_08.pkl`` or an ``.npz``), the shipped one when None, or none without ``use_gmm``."""
    gmm = choose_gmm_prior(use_gmm, gmm_path)
    return gmm, "off" if gmm is None else "shipped" if gmm_path is None else str(gmm_path)


def run_oracle(
    model: BodyModel,
    poses: np.ndarray,
    n: int,
    seed: int,
    *,
    difficulty: str = "medium",
    optimizer: str = "adam",
    preset: str = "dense",
    image_size: tuple[int, int] = (256, 256),
    backend: str = "auto",
    chunk_size: int | None = None,
    use_gmm: bool = True,
    gmm_path: str | None = None,
    progress: bool = True,
    reps: int = 1,
) -> dict:
    """Run the experiment; returns the JSON-ready result (see the module docstring). Each
    row's fit runs once to compile, then ``reps`` timed times (ms per frame: their median).
    The pose prior: :func:`pose_prior` of ``use_gmm`` and ``gmm_path``."""
    t_all = time.perf_counter()
    gmm, prior_name = pose_prior(use_gmm, gmm_path)  # a bad file fails before any work
    say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if progress else (lambda *a: None)
    cams, gt, init, (ipose, ibetas, itransl) = oracle_frames(
        model, poses, n, seed, difficulty, image_size
    )
    say(f"[oracle] {n} frames, {difficulty} initial estimates; rasterizing the initial meshes")
    sparse, dense, info = ground_truth_targets(model, gt, init, cams, image_size, backend)
    p = get_preset(preset)
    init_params = params_from_pose(ipose, ibetas, itransl)
    datas = {
        "sparse_gt": ("keypoints", with_start(sparse, init_params, init.vertices, p)),
        "dense_gt": ("dense", with_start(dense, init_params, init.vertices, p)),
    }
    per_sample = {"init": _metrics_rows(init.joints, init.vertices, gt.joints, gt.vertices)}
    timings = {"raster_ms_per_frame": info["raster_ms_per_frame"]}
    fit_ms = {"init": 0.0}
    for row, (kind, data) in datas.items():
        flags = info["render_flags"] if kind == "dense" else None
        run = functools.partial(smplify, model, init_params, data, preset=p, data_kind=kind,
                                optimizer=optimizer, gmm=gmm, chunk_size=chunk_size,
                                render_flags=flags)  # fmt: skip
        say(f"[oracle] {row}: compiling and fitting ({optimizer})")
        per_sample[row], fit_s, row_timings = _fit_row(model, run, reps, gt, row)
        fit_ms[row] = fit_s * 1e3 / n
        timings.update(row_timings)
        steps = row_timings[f"{row}_steps"]
        say(f"[oracle] {row}: {steps[0]} + {steps[1]} steps, {fit_s:.2f} s for {n} frames")
    rows = {r: {**{k: float(np.mean(v)) for k, v in ms.items()}, "ms_per_frame": fit_ms[r]}
            for r, ms in per_sample.items()}  # fmt: skip
    return {
        "rows": rows,
        "n": n,
        "seed": seed,
        "timing_reps": int(reps),
        "difficulty": difficulty,
        "optimizer": optimizer,
        "preset": preset,
        "pose_prior": prior_name,
        "image_size": list(image_size),
        "model_id": model.model_id,
        "mean_visible_vertices": info["mean_visible_vertices"],
        "render_backend": info["render_backend"],
        "render_failed_frames": int(np.count_nonzero(info["render_flags"])),
        "timings": timings,
        "per_sample": {r: {k: v.tolist() for k, v in m.items()} for r, m in per_sample.items()},
        "wall_s": time.perf_counter() - t_all,
    }


def _fit_row(model, run, reps: int, gt, row: str) -> tuple[dict, float, dict]:
    """One row's fit (``run``: the SMPLify call), compiled once and timed ``reps`` times:
    ``(per-frame metrics against the ground truth ``gt``, seconds, the row's timing entries:
    steps of each stage, compile seconds, status counts)``."""
    res, fit_s, compile_s = _timed(run, reps)
    out = _pose_batch(model, pose_from_params(res.params), res.params["betas"],
                      res.params["transl"])  # fmt: skip
    counts = np.bincount(np.asarray(res.status), minlength=len(STATUS_NAMES))
    timings = {
        # camera + body steps (a learned body stage: its own)
        f"{row}_steps": [_stage_steps(res.camera_stage), _stage_steps(res.body_stage)],
        f"{row}_compile_s": compile_s,
        f"{row}_status_counts": counts.tolist(),
    }
    return _metrics_rows(out.joints, out.vertices, gt.joints, gt.vertices), fit_s, timings


def format_table(result: dict) -> str:
    headers = ["row", *METRICS, "ms_per_frame"]
    rows = [
        [r]
        + [f"{result['rows'][r][k]:.1f}" for k in METRICS]
        + [f"{result['rows'][r]['ms_per_frame']:.2f}"]
        for r in ROWS
    ]
    return print_table(headers, rows)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="jaxrefine oracle", description=__doc__.split("\n\n")[0])
    ap.add_argument("--poses", required=True, help="POSES.npz from `jaxrefine mocap`")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", default="medium", choices=["easy", "medium", "hard"])
    ap.add_argument("--optimizer", default="adam", type=optimizer_arg, help=optimizer_help())
    ap.add_argument("--preset", default="dense", choices=["dense", "spin"])
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--backend", default="auto", choices=["auto", "egl", "jax"])
    ap.add_argument("--model", default=None, help=MODEL_HELP)
    ap.add_argument("--chunk-size", type=int, default=None)
    prior = ap.add_mutually_exclusive_group()
    prior.add_argument("--no-gmm", action="store_true", help="fit without the GMM pose prior")
    prior.add_argument(
        "--gmm", default=None, metavar="PATH", type=prior_file_arg, help=GMM_FILE_HELP
    )
    ap.add_argument("--json", default=None, type=output_file_arg, help="write the result here")
    ap.add_argument(
        "--reps", type=int, default=1, help="timed runs of each fit after compiling (median)"
    )
    ap.add_argument(
        "--calibrate",
        action="store_true",
        help="instead: dense fits on scaled / noisy ground-truth fields (EPE -> PVE table)",
    )
    return ap


def main(argv: list[str]) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    refuse_below(ap, ("--n", args.n, 1), ("--reps", args.reps, 1),
                 ("--chunk-size", args.chunk_size, 1))  # fmt: skip
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model(args.model, gender=None if args.model else "neutral")
    require_layout(model)  # the synthetic frames texture the body
    poses = load_poses(args.poses).pose
    if args.calibrate:
        result = calibrate_field(
            model, poses, args.n, args.seed, difficulty=args.difficulty,
            optimizer=args.optimizer, preset=args.preset,
            image_size=(args.image_size, args.image_size), backend=args.backend,
            use_gmm=not args.no_gmm, gmm_path=args.gmm,
        )  # fmt: skip
        format_calibration(result)
        write_json(args.json, {**result, "machine": machine_info()})
        return 0
    result = run_oracle(
        model,
        poses,
        args.n,
        args.seed,
        difficulty=args.difficulty,
        optimizer=args.optimizer,
        preset=args.preset,
        image_size=(args.image_size, args.image_size),
        backend=args.backend,
        chunk_size=args.chunk_size,
        use_gmm=not args.no_gmm,
        gmm_path=args.gmm,
        reps=args.reps,
    )
    print(
        f"oracle: {args.n} frames, seed {args.seed}, {args.difficulty}, "
        f"{args.optimizer}, preset {args.preset}, pose prior {result['pose_prior']}"
    )
    format_table(result)
    write_json(args.json, {**result, "machine": machine_info()})
    return 0


def compare_optimizers(
    model: BodyModel,
    poses: np.ndarray,
    n: int,
    seed: int,
    optimizers: dict[str, tuple[str, int, int]],
    *,
    difficulty: str = "medium",
    data_kind: str = "dense",
    preset: str = "dense",
    image_size: tuple[int, int] = (256, 256),
    backend: str = "auto",
    use_gmm: bool = True,
    gmm_path: str | None = None,
) -> dict:
    """Refine the same frames with several optimizers on the same ground-truth targets
    (the pose prior: :func:`pose_prior` of ``use_gmm`` and ``gmm_path``).

    Args:
      optimizers: ``{label: (optimizer name, camera steps, body steps)}``, e.g.
        ``{"Adam 100+100": ("adam", 100, 100), "LM 10+20": ("lm", 10, 20)}``.
      data_kind: "dense" (ground-truth dense targets) or "keypoints" (25 GT keypoints).

    Returns:
      ``{"init": metrics, label: {"metrics": {...}, "ms_per_frame": ..., "compile_s": ...,
      "loss_curve": (n, S) body-stage curves}}`` (means over frames, mm).
    """
    gmm = pose_prior(use_gmm, gmm_path)[0]
    cams, gt, init, (ip, ib, it) = oracle_frames(model, poses, n, seed, difficulty, image_size)
    sparse, dense, _ = ground_truth_targets(model, gt, init, cams, image_size, backend)
    p = get_preset(preset)
    init_params = params_from_pose(ip, ib, it)
    data = with_start(dense if data_kind == "dense" else sparse, init_params, init.vertices, p)
    mean = lambda m: {k: float(np.mean(v)) for k, v in m.items()}  # noqa: E731
    out = {"init": mean(_metrics_rows(init.joints, init.vertices, gt.joints, gt.vertices))}
    for label, (opt, cs, bs) in optimizers.items():

        def run(opt=opt, cs=cs, bs=bs):
            return smplify(model, init_params, data, preset=p, data_kind=data_kind,
                           optimizer=opt, gmm=gmm, camera_steps=cs, body_steps=bs)  # fmt: skip

        res, secs, compile_s = _timed(run)
        o = _pose_batch(model, pose_from_params(res.params), res.params["betas"],
                        res.params["transl"])  # fmt: skip
        out[label] = {
            "metrics": mean(_metrics_rows(o.joints, o.vertices, gt.joints, gt.vertices)),
            "ms_per_frame": secs * 1e3 / n,
            "compile_s": compile_s,
            "loss_curve": np.asarray(res.body_stage.loss_curve),
        }
    return out


def calibrate_field(
    model: BodyModel,
    poses: np.ndarray,
    n: int,
    seed: int,
    *,
    alphas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0),
    noise_px: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0),
    difficulty: str = "medium",
    optimizer: str = "adam",
    preset: str = "dense",
    image_size: tuple[int, int] = (256, 256),
    backend: str = "auto",
    progress: bool = True,
    use_gmm: bool = True,
    gmm_path: str | None = None,
) -> dict:
    """What is a field worth? Dense SMPLify on degraded ground-truth fields: EPE -> PVE
    (the pose prior: :func:`pose_prior` of ``use_gmm`` and ``gmm_path``).

    The oracle's ``dense_gt`` row, with the ground-truth field (:func:`ground_truth_field`, full
    image) replaced by ``alpha * field`` (``alpha = 0`` keeps the initial estimate, 1 is the
    oracle) for each ``alpha`` (no noise), and by ``field + N(0, s^2)`` per pixel and axis for
    each noise level ``s`` > 0 (``alpha = 1``). Per-pixel noise is independent: the
    pixel-to-vertex transfer averages it over each vertex's pixels, so it is kinder than a
    network's spatially correlated errors at the same EPE.

    Returns:
      ``{"rows": [{"alpha", "noise_px", "epe_px", "mpjpe", ..., "n_pve"}, ...],
      "zero_field_epe_px": ..., "init": {metrics}, "n", "seed", "difficulty", ...}`` (EPE in
      full-image pixels over the initial rendering's foreground; metrics in mm, mean over frames).
    """
    from jaxrefine.correspondence import dense_targets, endpoint_error, ground_truth_field

    say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if progress else (lambda *a: None)
    H, W = image_size
    gmm, prior_name = pose_prior(use_gmm, gmm_path)
    cams, gt, init, (ip, ib, it) = oracle_frames(model, poses, n, seed, difficulty, image_size)
    frags = rasterize_batch(init.vertices, model.faces, cams, H, W, backend, cull_backfaces=True)
    faces = model.faces
    gt_field = jax.jit(
        jax.vmap(lambda vg, vi, c, t, b: ground_truth_field(vg, c, vi, c, faces, t, b))
    )
    field, fg = gt_field(gt.vertices, init.vertices, cams, frags.tri_id, frags.bary)
    to_targets = jax.jit(jax.vmap(lambda v, c, f, t, b: dense_targets(v, c, f, faces, t, b)))
    p = get_preset(preset)
    init_params = params_from_pose(ip, ib, it)
    mean = lambda m: {k: float(np.mean(v)) for k, v in m.items()}  # noqa: E731
    out = {
        "pose_prior": prior_name,
        "init": mean(_metrics_rows(init.joints, init.vertices, gt.joints, gt.vertices)),
        "zero_field_epe_px": float(endpoint_error(jnp.zeros_like(field), field, fg)),
        "rows": [], "n": n, "seed": seed, "difficulty": difficulty, "optimizer": optimizer,
        "preset": preset, "image_size": list(image_size), "model_id": model.model_id,
        "noise": "independent Gaussian per pixel and axis, std noise_px",
    }  # fmt: skip
    settings = [(float(a), 0.0) for a in alphas] + [(1.0, float(s)) for s in noise_px if s > 0]
    key = jax.random.key(seed)
    for a, s in settings:
        noise = s * jax.random.normal(jax.random.fold_in(key, int(s * 1000)), field.shape)
        f = jnp.where(fg[..., None], a * field + noise, 0.0)
        targets, weights = to_targets(init.vertices, cams, f, frags.tri_id, frags.bary)
        n_ = targets.shape[0]
        data = FitData(dense_targets=targets, dense_weights=weights, camera=cams,
                       init_transl=jnp.zeros((n_, 3)), pixel_scale=jnp.ones(n_))  # fmt: skip
        data = with_start(data, init_params, init.vertices, p)
        res = smplify(model, init_params, data, preset=p, data_kind="dense",
                      optimizer=optimizer, gmm=gmm)  # fmt: skip
        o = _pose_batch(model, pose_from_params(res.params), res.params["betas"],
                        res.params["transl"])  # fmt: skip
        row = {"alpha": a, "noise_px": s, "epe_px": float(endpoint_error(f, field, fg))}
        row.update(mean(_metrics_rows(o.joints, o.vertices, gt.joints, gt.vertices)))
        out["rows"].append(row)
        say(f"[calibrate] alpha {a:.2f} noise {s:.1f} px: EPE {row['epe_px']:.2f} px, "
            f"PVE {row['pve']:.1f} mm")  # fmt: skip
    return out


def format_calibration(result: dict) -> str:
    """The calibration table (EPE px -> metrics mm) as printed text."""
    headers = ["alpha", "noise_px", "epe_px", *METRICS]
    rows = [["init", "-", f"{result['zero_field_epe_px']:.2f}"]
            + [f"{result['init'][k]:.1f}" for k in METRICS]]  # fmt: skip
    for r in result["rows"]:
        rows.append([f"{r['alpha']:.2f}", f"{r['noise_px']:.1f}", f"{r['epe_px']:.2f}"]
                    + [f"{r[k]:.1f}" for k in METRICS])  # fmt: skip
    return print_table(headers, rows)
