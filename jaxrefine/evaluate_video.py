"""``jaxrefine eval-video``: what temporal smoothness does to learned refinement of videos.

Synthetic video tracks (:func:`jaxrefine.data.sampling.sample_sequences`): each track is
``length`` consecutive mocap frames of one trial with one shape, texture, camera and placement;
its frames get *independent* initial-estimate errors (:mod:`jaxrefine.data.perturb`, as a
per-frame regressor's jitter), different backgrounds and lights. Every track is refined by
:func:`jaxrefine.refine.refine` once per smoothness weight (0 = every frame on its own), with
the track as the subject (one personal texture; the frames in time order).

Rows: ``init`` and ``w=<weight>`` per weight. Columns: the six per-frame metrics (mm, means over
all frames) and ``accel`` (mm / frame^2, :func:`jaxrefine.metrics.accel_error`, the mean over
tracks), the acceleration error that per-frame fits leave as jitter.

The pose files store frames at 30 fps with near-duplicate frames dropped (see
:mod:`jaxrefine.data.mocap`), so a track's time steps are 1/30 s or, where the body stood still,
longer; the ground truth's accelerations are computed on the same frames, so ``accel`` compares
like with like.

Every refinement uses ``options``' pose prior (:func:`jaxrefine.refine.pose_prior`): the shipped
GMM, or SMPLify's ``gmm_08.pkl`` (or an ``.npz``) given as ``--gmm PATH``; the JSON's
``pose_prior`` names it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.body_model import BodyModel
from jaxrefine.data.sampling import SceneConfig, sample_sequences
from jaxrefine.data.scenes import GeneratorConfig, SceneBatch, generate, make_textures
from jaxrefine.errors import refuse_below
from jaxrefine.files import output_file_arg
from jaxrefine.metrics import METRIC_NAMES, accel_error, compute_all_batch
from jaxrefine.objective import params_from_pose
from jaxrefine.priors import GMM_FILE_HELP, prior_file_arg
from jaxrefine.refine import RefineOptions, pose_batch, pose_prior, refine
from jaxrefine.uv_layout import MODEL_HELP, require_layout


def video_frames(model: BodyModel, poses, num_tracks: int, length: int, seed: int,
                 config: GeneratorConfig) -> tuple[SceneBatch, np.ndarray]:  # fmt: skip
    """``num_tracks`` tracks of ``length`` frames, track after track; returns the
    :class:`~jaxrefine.data.scenes.SceneBatch` and the (N,) track id of every frame.

    Args:
      poses: a :class:`~jaxrefine.data.poses.PoseSet` (rows of a trial in time order).
    """
    rng = np.random.default_rng(seed)
    scenes = sample_sequences(model, poses.pose, poses.trial, num_tracks, length,
                              int(rng.integers(2**31)), config.scene)  # fmt: skip
    texture_seeds = rng.integers(0, 2**31, num_tracks)
    tracks = []
    for t in range(num_tracks):
        rows = slice(t * length, (t + 1) * length)
        track = dataclasses.replace(
            scenes,
            **{
                k: getattr(scenes, k)[rows]
                for k in ("pose", "betas", "transl", "focal", "pose_index")
            },
        )
        tex = make_textures(model, texture_seeds[t : t + 1], config.texture_size)
        tracks.append(generate(model, poses.pose, length, int(rng.integers(2**31)), config,
                               textures=tex, scenes=track))  # fmt: skip
    batch = jax.tree.map(lambda *a: np.concatenate(a), *tracks)
    return batch, np.repeat(np.arange(num_tracks), length)


def _joints_and_vertices(model, params):
    pose = jnp.concatenate([jnp.asarray(params["global_orient"])[:, None],
                            jnp.asarray(params["body_pose"])], 1)  # fmt: skip
    out = pose_batch(model, pose, jnp.asarray(params["betas"]), jnp.asarray(params["transl"]))
    return out.joints, out.vertices


def video_metrics(model: BodyModel, params: dict, batch: SceneBatch, length: int) -> dict:
    """The six metrics (means over frames) and ``accel`` (mean over tracks) of ``params``."""
    pj, pv = _joints_and_vertices(model, params)
    gt = params_from_pose(batch.pose, batch.betas, batch.transl)
    gj, gv = _joints_and_vertices(model, gt)
    per_frame = compute_all_batch(pj, gj, pv, gv)
    out = {k: float(np.mean(per_frame[k])) for k in METRIC_NAMES}
    tracks = len(pj) // length
    accel = [accel_error(pj[t * length : (t + 1) * length], gj[t * length : (t + 1) * length])
             for t in range(tracks)]  # fmt: skip
    out["accel"] = float(np.mean(accel))
    return out


def evaluate_video(
    model: BodyModel,
    poses,
    network,
    *,
    num_tracks: int,
    length: int,
    seed: int,
    weights=(0.0, 1e3),
    difficulty: str = "medium",
    image_size: tuple[int, int] = (256, 256),
    options: RefineOptions | None = None,
    say=lambda *a: None,
) -> dict:
    """Every row (see the module docstring); returns the JSON-ready result."""
    t0 = time.perf_counter()
    options = RefineOptions() if options is None else options
    config = GeneratorConfig(scene=SceneConfig(image_size=image_size), difficulty=difficulty,
                             backend=options.backend)  # fmt: skip
    say(f"[eval-video] {num_tracks} tracks of {length} frames")
    batch, tracks = video_frames(model, poses, num_tracks, length, seed, config)
    init = params_from_pose(batch.init_pose, batch.init_betas, batch.init_transl)
    rows = {"init": video_metrics(model, init, batch, length)}
    for w in weights:
        say(f"[eval-video] smoothness weight {w:g}")
        opts = dataclasses.replace(options, temporal_weight=float(w))
        res = refine(model, list(batch.image), init, batch.cameras, network, subjects=tracks,
                     options=opts)  # fmt: skip
        rows[f"w={w:g}"] = video_metrics(model, res.params, batch, length)
    return {"rows": rows, "tracks": num_tracks, "length": length, "seed": seed,
            "difficulty": difficulty, "image_size": list(image_size), "network": network[0].name,
            "model_id": model.model_id, "wall_s": time.perf_counter() - t0}  # fmt: skip


def format_result(result: dict) -> str:
    """A markdown table of the rows."""
    cols = [*METRIC_NAMES, "accel"]
    lines = ["| row | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in result["rows"].items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="jaxrefine eval-video", description=__doc__.split("\n")[0])
    ap.add_argument("--poses", required=True, help="pose file made by `jaxrefine mocap`")
    ap.add_argument(
        "--subjects",
        nargs="*",
        default=None,
        help="keep only these subjects (e.g. the validation subjects 09 16)",
    )
    ap.add_argument("--tracks", type=int, default=4, help="video tracks")
    ap.add_argument("--length", type=int, default=16, help="frames per track (>= 3)")
    ap.add_argument(
        "--weights",
        type=float,
        nargs="+",
        default=[0.0, 1e3],
        help="smoothness weights to compare (0 = per-frame fits)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", default="medium", choices=("easy", "medium", "hard"))
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--checkpoint", default=None, help="network checkpoint (default: shipped)")
    ap.add_argument("--body-steps", type=int, default=None)
    ap.add_argument("--model", default=None, help=MODEL_HELP)
    ap.add_argument("--gmm", default=None, metavar="PATH", type=prior_file_arg, help=GMM_FILE_HELP)
    ap.add_argument("--json", default=None, type=output_file_arg, help="write the result here")
    return ap  # fmt: skip


def _check_args(ap: argparse.ArgumentParser, args) -> None:
    """Usage errors (exit 2) naming the flag, before any file is read."""
    refuse_below(ap, ("--tracks", args.tracks, 1),
                 ("--length", args.length, 3, " (one acceleration)"))  # fmt: skip
    if min(args.weights) < 0:
        ap.error(f"--weights are smoothness weights, at least 0 (got {min(args.weights):g})")


def main(argv: list[str]) -> int:
    from jaxrefine.data.poses import load_poses
    from jaxrefine.network import load_pretrained, trained_body_model
    from jaxrefine.report import machine_info, write_json
    from jaxrefine.smpl_io import load_body_model

    ap = parser()
    args = ap.parse_args(argv)
    _check_args(ap, args)
    options = RefineOptions(body_steps=args.body_steps, gmm_path=args.gmm)
    pose_prior(options)  # a bad --gmm fails before any pose is read
    model = load_body_model(args.model, gender=None)
    require_layout(model)  # the synthetic frames texture the body
    poses = load_poses(args.poses, subjects=args.subjects)
    cfg, params, meta = load_pretrained(args.checkpoint)
    result = evaluate_video(
        model, poses, (cfg, params), num_tracks=args.tracks, length=args.length,
        seed=args.seed, weights=tuple(args.weights), difficulty=args.difficulty,
        image_size=(args.image_size, args.image_size), options=options,
        say=lambda m: print(m, file=sys.stderr),
    )  # fmt: skip
    print(format_result(result))
    result["pose_prior"] = options.gmm_path or "shipped"
    result["network_body_model"] = trained_body_model(meta)  # measured here on args.model
    write_json(args.json, {**result, "machine": machine_info()})
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
