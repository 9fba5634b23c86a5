"""``make demo`` / ``jaxrefine demo``: the main job on the embedded defaults, as pictures.

1. ``body_model.png``: the shipped open body model (SMPL layout) in a few shapes and poses.
2. ``contact_sheet.png``: synthetic frames (CMU mocap poses, procedural clothing, natural
   backgrounds) with their ground truth and a regressor-like initial estimate.
3. ``refinement.png`` / ``refinement.json`` / ``loss_curves.png``: the paper's refinement with
   ground-truth targets on those frames: the initial estimate, SMPLify on the 25 ground-truth
   OpenPose keypoints, and SMPLify on dense ground-truth vertex targets (the paper's Table 2;
   docs/METHOD.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

FIT_COLOURS = {"init": (1.0, 0.6, 0.25), "sparse_gt": (0.4, 0.6, 1.0), "dense_gt": (0.45, 0.9, 0.5)}
TITLES = {"init": "initial estimate", "sparse_gt": "SMPLify, 25 GT keypoints",
          "dense_gt": "SMPLify, dense GT targets"}  # fmt: skip


def _say(*a):
    print(*a, flush=True)


def body_gallery(model, path: Path, backend: str) -> None:
    from jaxrefine import viz
    from jaxrefine.camera import Camera
    from jaxrefine.data.contact_sheet import render_bodies

    n = 4
    pose = np.zeros((n, 24, 3), np.float32)
    pose[:, 0] = [np.pi, 0, 0]
    pose[1, 16], pose[1, 17] = [0, 0, -1.2], [0, 0, 1.2]  # arms down
    pose[2, 1], pose[2, 4], pose[2, 2], pose[2, 5] = (
        [-0.6, 0, 0],
        [1.2, 0, 0],
        [0.5, 0, 0],
        [0.3, 0, 0],
    )
    pose[2, 18], pose[2, 19] = [0, -1.0, 0], [0, 1.0, 0]  # walking, elbows bent
    pose[3, 0] = [np.pi, 0.6, 0]
    pose[3, 16], pose[3, 17] = [0, 0, 0.8], [0, 0, -0.8]  # arms up, turned
    betas = np.zeros((n, model.num_betas), np.float32)
    betas[1, 0], betas[2, 1], betas[3, 0] = 2.0, -2.0, -2.0
    H = W = 256
    transl = np.tile(np.array([0.0, 0.1, 3.2], np.float32), (n, 1))
    cams = jax.tree.map(lambda x: jnp.stack([x] * n), Camera.create(300.0, 300.0, W / 2, H / 2))
    img, mask = render_bodies(model, pose, betas, transl, cams, jnp.asarray((0.8, 0.75, 0.7)),
                              height=H, width=W, backend=backend)  # fmt: skip
    tiles = [np.where(np.asarray(m)[..., None], np.asarray(i), 1.0) for i, m in zip(img, mask)]
    viz.save_grid(path, tiles, ncols=n)
    _say(f"wrote {path}")


def refinement(model, batch, out: Path, backend: str, optimizer: str) -> dict:
    import matplotlib.pyplot as plt

    from jaxrefine import viz
    from jaxrefine.body_model import forward
    from jaxrefine.data.contact_sheet import render_bodies
    from jaxrefine.metrics import compute_all
    from jaxrefine.objective import get_preset, load_gmm_prior, params_from_pose, pose_from_params
    from jaxrefine.oracle import ground_truth_targets, with_start
    from jaxrefine.smplify import smplify

    posef = jax.jit(jax.vmap(lambda p, b, t: forward(model, p, b, t)))
    gt = posef(batch.pose, batch.betas, batch.transl)
    init = posef(batch.init_pose, batch.init_betas, batch.init_transl)
    cams = batch.cameras
    H, W = batch.image_size
    sparse, dense, _ = ground_truth_targets(model, gt, init, cams, (H, W), backend)
    preset = get_preset("dense")
    init_params = params_from_pose(batch.init_pose, batch.init_betas, batch.init_transl)
    gmm = load_gmm_prior()
    fits = {"init": (batch.init_pose, batch.init_betas, batch.init_transl)}
    curves = {}
    for row, kind, data in (("sparse_gt", "keypoints", sparse), ("dense_gt", "dense", dense)):
        _say(f"refining {len(batch.pose)} frames with {TITLES[row]} ({optimizer}; compiles first)")
        t0 = time.perf_counter()
        res = smplify(model, init_params, with_start(data, init_params, init.vertices, preset),
                      preset=preset, data_kind=kind, optimizer=optimizer, gmm=gmm)  # fmt: skip
        jax.block_until_ready(res.params)
        _say(f"  done in {time.perf_counter() - t0:.1f} s (compilation included)")
        p = res.params
        fits[row] = (pose_from_params(p), p["betas"], p["transl"])
        curves[row] = np.concatenate(
            [np.asarray(res.camera_stage.loss_curve), np.asarray(res.body_stage.loss_curve)], 1
        )
    metrics = {}
    renders = {}
    for row, (po, be, tr) in fits.items():
        o = posef(po, be, tr)
        m = jax.vmap(compute_all)(o.joints, gt.joints, o.vertices, gt.vertices)
        metrics[row] = {k: np.asarray(v) for k, v in m.items()}
        renders[row] = render_bodies(model, po, be, tr, cams, jnp.asarray(FIT_COLOURS[row]),
                                     height=H, width=W, backend=backend)  # fmt: skip
    from jaxrefine.io import save_obj, save_result

    po, be, tr = fits["dense_gt"]
    o = posef(po, be, tr)
    dense_params = params_from_pose(po, be, tr)
    save_result(out / "refined_dense.npz", model, dense_params, o.joints, cams, metrics["dense_gt"])
    save_obj(out / "refined_dense_frame0.obj", o.vertices[0], model.faces)
    _say(f"wrote {out / 'refined_dense.npz'} (documented in jaxrefine/io.py) and an OBJ")
    n = len(batch.pose)
    fig, axes = plt.subplots(n, 4, figsize=(12, 3 * n), squeeze=False)
    for i in range(n):
        image = np.asarray(batch.image[i])
        axes[i, 0].imshow(np.clip(image, 0, 1))
        axes[i, 0].set_title("image" if i == 0 else "")
        for c, row in enumerate(fits, start=1):
            rgb, mask = renders[row][0][i], renders[row][1][i]
            axes[i, c].imshow(np.clip(viz.overlay(image, np.asarray(rgb), np.asarray(mask)), 0, 1))
            pve = metrics[row]["pve"][i]
            title = f"{TITLES[row]}\nPVE {pve:.0f} mm" if i == 0 else f"PVE {pve:.0f} mm"
            axes[i, c].set_title(title, fontsize=9)
        for a in axes[i]:
            a.axis("off")
    fig.tight_layout()
    fig.savefig(out / "refinement.png", dpi=80)
    plt.close(fig)
    _say(f"wrote {out / 'refinement.png'}")
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    for a, row in zip(ax, curves):
        for c in curves[row]:
            a.plot(c, lw=0.8)
        a.axvline(curves[row].shape[1] // 2, color="k", ls=":", lw=0.8)
        a.set_yscale("log")
        a.set_title(f"{TITLES[row]}: loss per frame")
        a.set_xlabel("iteration (camera stage | body stage)")
    fig.tight_layout()
    fig.savefig(out / "loss_curves.png", dpi=80)
    plt.close(fig)
    _say(f"wrote {out / 'loss_curves.png'}")
    return {row: {k: float(np.mean(v)) for k, v in m.items()} for row, m in metrics.items()}


ASTRONAUT_CREDIT = ("scikit-image's data.astronaut(): Eileen Collins, NASA "
                    "(public domain), from the scikit-image package")  # fmt: skip


def real_photo(out: Path, model, backend: str, *, real_dir=None, checkpoint=None) -> str | None:
    """One real photo before / after refinement (``real_photo.png`` with its attribution in
    the PNG metadata and ``real_photo.txt``), or None after saying why it was skipped.

    The photo: COCO image 785 from ``real_dir`` (``$JAXREFINE_REAL_IMAGES_DIR`` or
    ``../shared/real_images`` from the working directory) when present, else scikit-image's
    public-domain astronaut (upper body). Needs the ``detect`` extra, its model files and a
    network checkpoint (default: the shipped one)."""
    import importlib.util
    import os

    from jaxrefine.detect import ModelsUnavailableError, ensure_models
    from jaxrefine.evaluate_real_cli import attribution
    from jaxrefine.network import load_pretrained
    from jaxrefine.photo import people_picture, refine_photo, save_attributed_png
    from jaxrefine.refine import RefineOptions

    if importlib.util.find_spec("ai_edge_litert") is None:
        _say("real photo: skipped (the 'detect' extra is not installed: "
             "pip install 'jaxrefine[detect]')")  # fmt: skip
        return None
    try:
        ensure_models()
        cfg, params, _ = load_pretrained(checkpoint)
    except (ModelsUnavailableError, FileNotFoundError) as e:
        _say(f"real photo: skipped ({e})")
        return None
    real_dir = Path(
        real_dir or os.environ.get("JAXREFINE_REAL_IMAGES_DIR", "../shared/real_images")
    )
    path = real_dir / "coco_000000000785.jpg"
    if path.is_file():
        image, credit = str(path), attribution(path)
    else:
        from skimage import data

        image, credit = data.astronaut(), ASTRONAUT_CREDIT
    _say(f"real photo: {image if isinstance(image, str) else 'astronaut'} (detect, initialize, "
         "refine; compiles first)")  # fmt: skip
    res = refine_photo(model, image, (cfg, params), options=RefineOptions(backend=backend))
    pic = people_picture(model, res["image"], [res["initial"], res["refined"]], res["cameras"],
                         backend=backend)  # fmt: skip
    written = save_attributed_png(
        out / "real_photo.png", pic, credit,
        "photo | initial (landmarks) | refined (network + landmarks)",
    )  # fmt: skip
    _say(f"wrote {written} ({', '.join(res['status_name'])})")
    return written


def main(argv: list[str] | None = None) -> int:
    from jaxrefine.optimizers.registry import optimizer_names

    ap = argparse.ArgumentParser(prog="jaxrefine demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="out")
    ap.add_argument("--n", type=int, default=6, help="synthetic frames to refine")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", default="medium", choices=["easy", "medium", "hard"])
    ap.add_argument("--optimizer", default="adam", choices=optimizer_names())
    ap.add_argument("--backend", default="auto", choices=["auto", "egl", "jax"])
    ap.add_argument("--poses", default=None, help="POSES.npz from `jaxrefine mocap` (optional)")
    ap.add_argument(
        "--mocap",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "mocap"),
        help="without --poses: a CMU folder to retarget a few trials from",
    )
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from jaxrefine.data.contact_sheet import contact_sheet
    from jaxrefine.data.poses import load_poses, poses_from_mocap
    from jaxrefine.data.scenes import GeneratorConfig, generate, resolve_backend
    from jaxrefine.report import print_table, write_json
    from jaxrefine.smpl_io import load_body_model

    t0 = time.perf_counter()
    model = load_body_model()
    backend = resolve_backend(args.backend)
    _say(f"model: {model.describe()}")
    _say(f"rasterizer backend: {backend}; JAX devices: {jax.devices()}")
    body_gallery(model, out / "body_model.png", backend)
    poses = (load_poses(args.poses) if args.poses else poses_from_mocap(model, args.mocap)).pose
    _say(f"poses: {len(poses)} frames")
    batch = generate(model, poses, args.n, args.seed,
                     GeneratorConfig(difficulty=args.difficulty, backend=backend))  # fmt: skip
    contact_sheet(batch, out / "contact_sheet.png", model=model, backend=backend)
    _say(f"wrote {out / 'contact_sheet.png'}")
    rows = refinement(model, batch, out, backend, args.optimizer)
    keys = ("mpjpe", "pa_mpjpe", "n_mpjpe", "pve", "pa_pve", "n_pve")
    print_table(
        ["mean over frames (mm)", *keys], [[r] + [f"{rows[r][k]:.1f}" for k in keys] for r in rows]
    )
    summary = {"n": args.n, "seed": args.seed, "difficulty": args.difficulty, "rows": rows}
    write_json(out / "refinement.json", summary)
    real_photo(out, model, backend)
    _say(f"demo finished in {time.perf_counter() - t0:.0f} s; look at {out}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
