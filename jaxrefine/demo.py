"""``make demo`` / ``jaxrefine demo``: the main job on the embedded defaults, as pictures.

1. ``body_model.png``: the shipped open body model (SMPL layout) in a few shapes and poses.
2. ``contact_sheet.png``: synthetic frames (CMU mocap poses, procedural clothing, natural
   backgrounds) with their ground truth and a regressor-like initial estimate.
3. ``refinement.png`` / ``refinement.json`` / ``refined_learned_dense.npz`` (+ an OBJ): the
   paper's pipeline on those frames (two synthetic subjects, personal textures estimated from
   their frames): the initial estimate, the shipped network's dense targets + dense SMPLify
   (the main job), and as comparison columns SMPLify on the 25 ground-truth OpenPose keypoints
   and on dense ground-truth vertex targets (docs/METHOD.md).

Poses: the shipped demo set (CMU subjects 09 and 16, which the network never trained on), or
``--poses`` / ``--mocap``. Nothing is read from outside the package unless named.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.errors import refuse_below
from jaxrefine.files import atomic_write, output_folder_arg

FIT_COLOURS = {"init": (1.0, 0.6, 0.25), "learned_dense": (0.95, 0.4, 0.8),
               "sparse_gt": (0.4, 0.6, 1.0), "dense_gt": (0.45, 0.9, 0.5)}  # fmt: skip
TITLES = {"init": "initial estimate", "learned_dense": "learned dense (network)",
          "sparse_gt": "SMPLify, 25 GT keypoints",
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


def _gt_rows(model, batch, init_params, init_vertices, options) -> dict:
    """SMPLify on the ground-truth targets (the comparison columns): sparse and dense."""
    from jaxrefine.evaluate import ground_truth_data
    from jaxrefine.objective import get_preset, load_gmm_prior
    from jaxrefine.refine import with_start
    from jaxrefine.smplify import smplify

    data, info = ground_truth_data(model, batch, options)
    preset, gmm, out = get_preset("dense"), load_gmm_prior(), {}
    for row, kind in (("sparse_gt", "keypoints"), ("dense_gt", "dense")):
        _say(f"refining {len(batch)} frames with {TITLES[row]} (compiles first)")
        d = with_start(data[row], init_params["transl"], init_vertices, preset)
        res = smplify(model, init_params, d, preset=preset, data_kind=kind,
                      optimizer=options.optimizer, gmm=gmm,
                      render_flags=info["render_flags"] if kind == "dense" else None)  # fmt: skip
        out[row] = jax.tree.map(np.asarray, res.params)
    return out


def _learned_row(model, batch, subjects, init_params, options):
    """The main job: the shipped network's dense targets, then dense SMPLify."""
    from jaxrefine.network import load_pretrained
    from jaxrefine.refine import refine

    try:
        cfg, params, meta = load_pretrained()
    except FileNotFoundError as exc:
        _say(f"NOTE: learned refinement skipped: {exc}")
        return None
    _say(f"refining {len(batch)} frames with the shipped network ({cfg.name}, trained "
         f"{meta.get('steps', '?')} steps) + dense SMPLify (compiles first)")  # fmt: skip
    t0 = time.perf_counter()
    res = refine(model, list(batch.image), init_params, batch.cameras, (cfg, params),
                 subjects=subjects, options=options)  # fmt: skip
    _say(f"  done in {time.perf_counter() - t0:.1f} s (compilation included); status "
         f"{np.bincount(np.asarray(res.status)).tolist()}")  # fmt: skip
    return jax.tree.map(np.asarray, res.params)


def refinement(model, batch, subjects, out: Path, backend: str, optimizer: str) -> dict:
    """Initial estimate, learned dense refinement and the ground-truth columns on the demo
    frames: overlays, a table, the result file of the learned row and one OBJ."""
    from jaxrefine import viz
    from jaxrefine.data.contact_sheet import render_bodies
    from jaxrefine.io import save_obj, save_result
    from jaxrefine.metrics import compute_all
    from jaxrefine.objective import params_from_pose
    from jaxrefine.refine import RefineOptions, pose_batch

    options = RefineOptions(optimizer=optimizer, backend=backend, batch_size=len(batch))
    init_params = params_from_pose(batch.init_pose, batch.init_betas, batch.init_transl)
    gt = pose_batch(model, jnp.asarray(batch.pose), jnp.asarray(batch.betas),
                    jnp.asarray(batch.transl))  # fmt: skip
    init_v = pose_batch(model, jnp.asarray(batch.init_pose), jnp.asarray(batch.init_betas),
                        jnp.asarray(batch.init_transl)).vertices  # fmt: skip
    fits = {"init": jax.tree.map(np.asarray, init_params)}
    learned = _learned_row(model, batch, subjects, init_params, options)
    if learned is not None:
        fits["learned_dense"] = learned
    fits.update(_gt_rows(model, batch, init_params, init_v, options))
    metrics, renders, H, W = {}, {}, *batch.image_size
    for row, p in fits.items():
        pose = jnp.concatenate([jnp.asarray(p["global_orient"])[:, None], p["body_pose"]], 1)
        o = pose_batch(model, pose, jnp.asarray(p["betas"]), jnp.asarray(p["transl"]))
        m = jax.vmap(compute_all)(o.joints, gt.joints, o.vertices, gt.vertices)
        metrics[row] = {k: np.asarray(v) for k, v in m.items()}
        renders[row] = render_bodies(model, pose, p["betas"], p["transl"], batch.cameras,
                                     jnp.asarray(FIT_COLOURS[row]), height=H, width=W,
                                     backend=backend)  # fmt: skip
        if row == ("learned_dense" if learned is not None else "dense_gt"):
            save_result(out / f"refined_{row}.npz", model, p, o.joints, batch.cameras,
                        metrics[row])  # fmt: skip
            save_obj(out / f"refined_{row}_frame0.obj", o.vertices[0], model.faces)
            _say(f"wrote {out / f'refined_{row}.npz'} (documented in jaxrefine/io.py), an OBJ")
    _overlay_figure(batch, fits, renders, metrics, out / "refinement.png", viz)
    return {row: {k: float(np.mean(v)) for k, v in m.items()} for row, m in metrics.items()}


def _overlay_figure(batch, fits, renders, metrics, path: Path, viz) -> None:
    import matplotlib.pyplot as plt

    n = len(batch)
    fig, axes = plt.subplots(n, len(fits) + 1, figsize=(3 * (len(fits) + 1), 3 * n),
                             squeeze=False)  # fmt: skip
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
    atomic_write(path, lambda fh: fig.savefig(fh, dpi=80, format="png"))
    plt.close(fig)
    _say(f"wrote {path}")


ASTRONAUT_CREDIT = ("scikit-image's data.astronaut(): Eileen Collins, NASA "
                    "(public domain), from the scikit-image package")  # fmt: skip


REAL_IMAGES_ENV = "JAXREFINE_REAL_IMAGES_DIR"
COCO_PHOTO = "coco_000000000785.jpg"  # the shared real images' photo with COCO ground truth


def _coco_photo(real_dir) -> Path:
    """COCO image 785 in ``real_dir``; :class:`InputError` naming the folder without it."""
    from jaxrefine.inputs import InputError

    path = Path(real_dir) / COCO_PHOTO
    if not path.is_file():
        raise InputError(f"{real_dir}: no {COCO_PHOTO} in it (a folder of the shared real "
                         "images; leave it out for scikit-image's astronaut)")  # fmt: skip
    return path


def real_images_dir(flag: str | None) -> str | None:
    """The demo photo's folder: ``--real-images``, else ``$JAXREFINE_REAL_IMAGES_DIR``, else
    None (the astronaut); one given without COCO image 785 is an :class:`InputError` (it
    silently fell back to the astronaut)."""
    real_dir = flag or os.environ.get(REAL_IMAGES_ENV) or None
    if real_dir is not None:
        _coco_photo(real_dir)
    return real_dir


def real_photo(out: Path, model, backend: str, *, real_dir=None, checkpoint=None) -> str | None:
    """One real photo before / after refinement (``real_photo.png`` with its attribution in
    the PNG metadata and ``real_photo.txt``, which also scores both fits against BlazePose's
    own landmarks and mask, as ``eval-real`` does: pseudo ground truth), or None after saying
    why it was skipped.

    The photo: COCO image 785 from ``real_dir`` (:func:`real_images_dir`) when given, else
    scikit-image's public-domain astronaut (upper body). Needs the ``detect`` extra, its model
    files and a network checkpoint (default: the shipped one).

    Raises:
      InputError: ``real_dir`` holds no COCO image 785 (named).
    """
    import importlib.util

    from jaxrefine.detect import ModelsUnavailableError, ensure_models
    from jaxrefine.evaluate_real_cli import attribution, pseudo_ground_truth, score_rows
    from jaxrefine.keypoints import mediapipe33_keypoints
    from jaxrefine.network import load_pretrained
    from jaxrefine.photo import people_picture, photo_options, refine_photo, save_attributed_png

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
    if real_dir is not None:
        path = _coco_photo(real_dir)
        image, credit = str(path), attribution(path)
    else:
        from skimage import data

        image, credit = data.astronaut(), ASTRONAUT_CREDIT
    _say(f"real photo: {image if isinstance(image, str) else 'astronaut'} (detect, initialize, "
         "refine; compiles first)")  # fmt: skip
    opts = photo_options(cfg, backend=backend)
    res = refine_photo(model, image, (cfg, params), options=opts)
    pic = people_picture(model, res["image"], [res["initial"], res["refined"]], res["cameras"],
                         backend=backend, side=True,
                         keypoints=mediapipe33_keypoints(res["landmarks"]))  # fmt: skip
    gts = [pseudo_ground_truth(lm, m) for lm, m in zip(res["landmarks"], res["masks"])]
    rows = {"initial": res["initial"], "refined": res["refined"]}
    scores, _ = score_rows(model, rows, res["cameras"], gts, backend)
    scored = "; ".join(f"{row} PCK@0.05 {v['pck@0.05']:.3f}, IoU {v['silhouette_iou']:.3f}"
                       for row, v in scores.items())  # fmt: skip
    written = save_attributed_png(
        out / "real_photo.png", pic, credit,
        "photo with BlazePose's landmarks (BODY_25, dots) | initial (landmarks) | refined "
        "(network + landmarks) | both from the side (initial grey, refined blue)\n"
        f"against BlazePose's own landmarks and mask (pseudo ground truth): {scored}",
    )  # fmt: skip
    _say(f"wrote {written} ({', '.join(res['status_name'])}); {scored} (vs BlazePose)")
    return written


def parser() -> argparse.ArgumentParser:
    """``jaxrefine demo``'s flags."""
    from jaxrefine.optimizers.registry import optimizer_names

    ap = argparse.ArgumentParser(prog="jaxrefine demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="out", type=output_folder_arg, help="results folder")
    ap.add_argument("--n", type=int, default=6, help="synthetic frames to refine")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", default="medium", choices=["easy", "medium", "hard"])
    ap.add_argument("--optimizer", default="adam", choices=optimizer_names())
    ap.add_argument("--backend", default="auto", choices=["auto", "egl", "jax"])
    ap.add_argument("--poses", default=None, help="POSES.npz from `jaxrefine mocap` (default: "
                    "the shipped demo poses, CMU subjects 09 and 16)")  # fmt: skip
    ap.add_argument("--real-images", default=None,
                    help=f"a folder holding {COCO_PHOTO} for the real-photo picture (default: "
                    f"${REAL_IMAGES_ENV}, else scikit-image's astronaut)")  # fmt: skip
    ap.add_argument("--mocap", default=None, help="instead: a CMU folder to retarget trials from")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    refuse_below(ap, ("--n", args.n, 1))
    real_dir = real_images_dir(args.real_images)  # checked before any work
    out = Path(args.out)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("jaxrefine").setLevel(logging.INFO)  # not JAX's own INFO lines
    from jaxrefine.data.contact_sheet import contact_sheet
    from jaxrefine.data.poses import given_poses
    from jaxrefine.data.scenes import GeneratorConfig, resolve_backend
    from jaxrefine.evaluate import eval_frames
    from jaxrefine.report import print_table, write_json
    from jaxrefine.smpl_io import load_body_model

    t0 = time.perf_counter()
    model = load_body_model()
    backend = resolve_backend(args.backend)
    _say(f"model: {model.describe()}")
    _say(f"rasterizer backend: {backend}; JAX devices: {jax.devices()}")
    poses, where = given_poses(model, args.poses, args.mocap)  # before anything is written
    out.mkdir(parents=True, exist_ok=True)
    body_gallery(model, out / "body_model.png", backend)
    _say(f"poses: {len(poses)} from {where}")
    config = GeneratorConfig(difficulty=args.difficulty, backend=backend)
    batch, subjects = eval_frames(model, poses, args.n, args.seed, config, group=args.n // 2 or 1)
    contact_sheet(batch, out / "contact_sheet.png", model=model, backend=backend)
    _say(f"wrote {out / 'contact_sheet.png'}")
    rows = refinement(model, batch, subjects, out, backend, args.optimizer)
    keys = ("mpjpe", "pa_mpjpe", "n_mpjpe", "pve", "pa_pve", "n_pve")
    print_table(
        ["mean over frames (mm)", *keys], [[r] + [f"{rows[r][k]:.1f}" for k in keys] for r in rows]
    )
    summary = {"n": args.n, "seed": args.seed, "difficulty": args.difficulty, "rows": rows}
    write_json(out / "refinement.json", summary)
    real_photo(out, model, backend, real_dir=real_dir)
    _say(f"demo finished in {time.perf_counter() - t0:.0f} s; look at {out}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
