"""``jaxrefine refine``: a user's images and initial estimates in, refined bodies and files out.

The command line: flags parsed into a call of :func:`jaxrefine.refine_files.refine_files`, its
summary printed (``--dry-run``: the plan)."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from jaxrefine import distributed, jax_platform
from jaxrefine.inputs.estimates import TRACKS_FROM
from jaxrefine.refine import RefineOptions, check_network, warn_network_model
from jaxrefine.refine_files import photo_defaults, refine_files
from jaxrefine.refine_outputs import Outputs


def parser() -> argparse.ArgumentParser:
    """The command's flags, in groups (so ``--help`` reads by topic)."""
    ap = argparse.ArgumentParser(prog="jaxrefine refine", description=__doc__.split("\n\n")[0])
    _input_flags(ap.add_argument_group("inputs"))
    _people_flags(ap.add_argument_group("people in photos without --estimates"))
    _model_flags(ap.add_argument_group("camera, body model and network"))
    _fit_flags(ap.add_argument_group("fitting"))
    _output_flags(ap.add_argument_group("outputs"))
    running = ap.add_argument_group("running")
    running.add_argument("--device", choices=sorted(jax_platform.PLATFORMS), default=None,
                         help="JAX platform (default: JAX's)")  # fmt: skip
    running.add_argument("--backend", default="auto", choices=["auto", "egl", "jax"],
                         help="rasterizer: the EGL kernel, pure JAX, or auto (EGL where an EGL "
                              "context can be made, else JAX); refined.npz's render_backend "
                              "names the one that ran")  # fmt: skip
    running.add_argument("--batch", type=int, default=16, help="frames per compiled batch")
    distributed.add_process_flags(running)
    return ap


def _input_flags(g) -> None:
    from jaxrefine.inputs.images import IMAGE_ORDERS

    a = g.add_argument
    a("images", help="a folder of images, one image, or a video file")
    a("--estimates", default=None,
      help="initial estimates (.npz / .npy / .pkl / .pk / .pt / EasyMocap's .json / a mesh's "
           ".obj or .ply, or a folder of them, one per image and named after it, or TRAM's "
           "results/<video>/: SPIN, PARE, VIBE, PyMAF, HMR 2.0 / 4D-Humans (also its demo's "
           "meshes, with --model), WHAM, ROMP, CLIFF, HybrIK, TRAM, FrankMocap, EasyMocap (its "
           "images/<camera>/ folder picks the camera), MMHuman3D's inference_result.npz (with "
           "its images/ folder), any SMPL parameters; see docs/FORMATS.md); without them "
           "people are initialized from --keypoints when given, else detected by BlazePose "
           "(extra 'detect')")  # fmt: skip
    a("--keypoints", default=None,
      help="OpenPose BODY_25 folder/JSON, COCO-17 JSON, or MediaPipe Pose folder/JSON "
           "(33 landmarks, normalized; fitted as BODY_25); without --estimates its people "
           "are initialized from these keypoints and refined (no detector)")  # fmt: skip
    a("--keypoint-images", default=None,
      help="a COCO file whose 'images' (id, file_name) name the image ids of a COCO results "
           "--keypoints file (else an id matches an image whose name ends in it)")  # fmt: skip
    a("--video", action="store_true",
      help="the images (a folder or list) are one video's frames in order (a video file "
           "always is): link their people into tracks (the people found in them, or an "
           "estimates file's people when it has no track ids)")  # fmt: skip
    a("--frames", default=None, metavar="START:STOP[:STEP]",
      help="only these frames of the images (counted from 0, as Python slices: 0:100, 250:, "
           "::5); a video is decoded only up to the last; an estimates file's other frames "
           "are left out")  # fmt: skip
    a("--image-order", choices=IMAGE_ORDERS, default=None,
      help="a folder's images sorted by name or by the numbers in their names (frame_2 "
           "before frame_10); default: by name, and when the two differ, frame indices, "
           "--video, --frames and --temporal-weight are refused until this is given")  # fmt: skip
    a("--ignore-exif", action="store_true",
      help="take image files as stored, not turned upright by their EXIF orientation (for "
           "estimates or keypoints made on the stored pixels; OpenCV, photo viewers and the "
           "default turn them)")  # fmt: skip


def _people_flags(g) -> None:
    from jaxrefine.detect.blazepose import MAX_PEOPLE, MIN_DETECTION_SCORE
    from jaxrefine.inputs.keypoint_files import MIN_PERSON_SCORE

    a = g.add_argument
    a("--box", nargs=4, type=float, action="append", default=None,
      metavar=("X0", "Y0", "X1", "Y1"),
      help="a person box in pixels (repeatable; skips the detector)")  # fmt: skip
    a("--tiles", nargs="+", type=float, default=None,
      help="detector tiles as fractions of the longer side, coarsest first (default 1 0.6 0.4 "
           "0.3: the whole photo, then tiles that only add people; 1 = the whole photo "
           "only)")  # fmt: skip
    a("--no-landmarks", action="store_true", help="no landmark term")
    a("--min-person-score", type=float, default=None,
      help="refine the people scoring at least this: with --keypoints their keypoints' mean "
           f"confidence (default {MIN_PERSON_SCORE:g}; a COCO result's confidences include its "
           "score), else BlazePose's detector score "
           f"(default {MIN_DETECTION_SCORE:g})")  # fmt: skip
    a("--max-people", type=int, default=None,
      help=f"without --keypoints: at most this many people per image, the best detector "
           f"scores (default {MAX_PEOPLE}; more found: a warning)")  # fmt: skip


def _model_flags(g) -> None:
    a = g.add_argument
    a("--intrinsics", nargs="+", default=None,
      help="fx fy cx cy, a file (JSON, a 3x3 K as text or .npy), or a jaxrefine result (its "
           "refined.npz's camera): the camera of every image (default: the estimates file's, "
           "else focal sqrt(w^2 + h^2) at the image centre)")  # fmt: skip
    a("--model", default=None, help="body model file (default: the open model)")
    a("--gender", default=None, help="gender of a model folder (neutral/male/female)")
    a("--checkpoint", default=None, help="network checkpoint (default: the shipped one)")


def _fit_flags(g) -> None:
    from jaxrefine.optimizers.registry import optimizer_arg, optimizer_help
    from jaxrefine.photo import LANDMARK_WEIGHT
    from jaxrefine.priors import GMM_FILE_HELP, prior_file_arg

    a = g.add_argument
    a("--optimizer", default="adam", type=optimizer_arg, help=optimizer_help())
    a("--confidence", action=argparse.BooleanOptionalAction, default=None,
      help="weight vertices by the network's confidence head (default: on for photos when "
           "the network has one, off with --estimates)")  # fmt: skip
    a("--keypoint-weight", type=float, default=None,
      help="weight of the keypoint term beside the dense term (default: 1 for --keypoints "
           f"with --estimates, {LANDMARK_WEIGHT:g} on photos without --estimates)")  # fmt: skip
    a("--rerun-every", type=int, default=0,
      help="re-run the network every k body iterations (0: once, the paper's single "
           "pass; 10 with --confidence was the most accurate on synthetic frames, `jaxrefine "
           "eval`, at ~7x the time; on real photos it loses most keypoints: README)")  # fmt: skip
    a("--share-betas", action="store_true",
      help="one body shape per track (chunks keep whole tracks; one longer than --chunk gets "
           "a shape per chunk, named in a warning)")  # fmt: skip
    a("--silhouette-weight", type=float, default=0.0,
      help="photos: add the silhouette term on BlazePose's person masks (0 = off)")  # fmt: skip
    a("--mask-gate", type=float, default=None,
      help="photos: drop dense targets lying farther outside the person's BlazePose mask "
           "than this fraction of the mask's size (0 = off; default: 0.03 for photos, "
           "off with --estimates, which bring no masks)")  # fmt: skip
    a("--gmm", default=None, metavar="PATH", type=prior_file_arg,
      help=GMM_FILE_HELP + "; the fit's prior and, for photos, the initial fits'")  # fmt: skip
    a("--temporal-weight", type=float, default=0.0,
      help="video: refit each track's frames together with this weight on joint "
           "accelerations (0 = off; 1e5 was best in `jaxrefine eval-video`); tracks longer "
           "than --chunk are cut")  # fmt: skip


def _output_flags(g) -> None:
    a = g.add_argument
    a("--out", required=True, help="output folder")
    a("--obj", action="store_true", help="write a mesh per frame (.obj)")
    a("--ply", action="store_true", help="write a mesh per frame (.ply)")
    a("--no-overlays", action="store_true", help="write no before / after pictures")
    a("--no-tracks", action="store_true", help="no glTF / BVH per track")
    a("--fps", type=float, default=None, help="fps of the exported animations")
    a("--chunk", type=int, default=64,
      help="estimates per saved chunk (resume granularity; with --share-betas or "
           "--temporal-weight whole tracks per chunk where they fit)")  # fmt: skip
    a("--resume", action="store_true", help="continue an interrupted run in --out")
    a("--overwrite", action="store_true",
      help="replace an earlier run's files in --out (refined.npz, report.json, overlays, "
           "tracks, meshes, parts; nothing else); without it or --resume they are "
           "refused")  # fmt: skip
    a("--dry-run", action="store_true",
      help="read and check every input (and find the people of photos), print what the run "
           "would do and write, then stop: nothing is fitted or written")  # fmt: skip


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.device:
        jax_platform.select(args.device)
    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    if args.device:
        jax_platform.check(args.device, "--device")
    result = _run(args)
    if args.dry_run:
        print_plan(result)
        return 0
    if args.process_id > 0:
        return 1 if result["failed"] else 0
    return print_summary(result, args.out)


def _run(args) -> dict:
    """:func:`~jaxrefine.refine_files.refine_files` called with the parsed flags."""
    from jaxrefine.network import load_pretrained
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model(args.model, gender=args.gender)
    cfg, params, meta = load_pretrained(args.checkpoint)
    intr = args.intrinsics
    if intr is not None:
        intr = intr[0] if len(intr) == 1 else [float(v) for v in intr]
    options = RefineOptions(
        optimizer=args.optimizer, keypoint_weight=args.keypoint_weight,
        rerun_every=args.rerun_every, share_betas=args.share_betas, batch_size=args.batch,
        backend=args.backend, temporal_weight=args.temporal_weight,
        silhouette_weight=args.silhouette_weight, gmm_path=args.gmm,
    )  # fmt: skip
    options = photo_defaults(options, args.mask_gate, args.confidence, args.estimates, cfg,
                              args.keypoints)  # fmt: skip
    source = args.checkpoint or "the shipped network"
    check_network((cfg, params), options, source)
    trained_on = warn_network_model(meta, model.model_id, source)
    outputs = Outputs(overlays=not args.no_overlays, tracks=not args.no_tracks, obj=args.obj,
                      ply=args.ply, fps=args.fps)  # fmt: skip
    return refine_files(
        args.images, args.estimates, args.out, model=model, network=(cfg, params),
        keypoints_path=args.keypoints, intrinsics=intr, options=options, outputs=outputs,
        chunk=args.chunk, resume=args.resume, boxes=args.box,
        tiles=None if args.tiles is None else tuple(args.tiles),
        use_landmarks=not args.no_landmarks, video=args.video,
        min_person_score=args.min_person_score, keypoint_images=args.keypoint_images,
        max_people=args.max_people, dry_run=args.dry_run, exif=not args.ignore_exif,
        overwrite=args.overwrite, frames=args.frames, network_body_model=trained_on,
        image_order=args.image_order,
    )  # fmt: skip


def print_summary(result: dict, out: str) -> int:
    """A finished run's summary (stdout; failures on stderr); the exit code: 1 when any frame
    failed."""
    print(f"refine: {len(result['frames'])} estimates -> {out} "
          f"({', '.join(f'{k}: {v}' for k, v in result['status_counts'].items())}; "
          f"{result['frames_per_second']:.2f} frames/s)")  # fmt: skip
    print_turned(result["settings"]["exif_turned"])
    if result["settings"]["tracks_from"] in (TRACKS_FROM["linked"], TRACKS_FROM["each"]):
        print(f"refine: tracks: {result['settings']['tracks_from']}")
    if result["failed"]:
        print("refine: some frames failed (rendering or non-finite fit): see report.json",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def print_plan(result: dict) -> None:
    """``--dry-run``'s summary on stdout (:func:`jaxrefine.refine_outputs.plan`)."""
    p, st = result["plan"], result["settings"]
    kind = "video frame(s)" if p["video"] else "image(s)"
    chosen = f" (--frames {st['frames']})" if st.get("frames") else ""
    print(f"refine (dry run): {p['images']} {kind} of {st['images']}{chosen} (people in "
          f"{p['images_with_people']} of them)")  # fmt: skip
    print(f"  {p['estimates']} estimates from {st['estimates']} (format "
          f"{p['estimates_format']}), {p['tracks']} track(s), {p['chunks']} chunk(s)")  # fmt: skip
    print(f"  tracks: {st['tracks_from']}")
    print_turned(st["exif_turned"], "  ")
    if p["estimates_with_keypoints"] is not None:
        print(f"  keypoints ({st['options']['keypoint_set']}) for "
              f"{p['estimates_with_keypoints']} of {p['estimates']} estimates")  # fmt: skip
    if p["resumable_parts"]:
        print(f"  {p['resumable_parts']} finished chunk(s) in the output folder (--resume)")
    if p["earlier_run"]:
        then = {"resume": "--resume continues it", "overwrite": "--overwrite replaces them",
                None: "the run needs --resume or --overwrite"}[p["earlier_run_then"]]  # fmt: skip
        print(f"  the output folder holds an earlier run's {', '.join(p['earlier_run'])}: "
              f"{then}")  # fmt: skip
    opts = st["options"]  # as report.json records them: strings
    prior = opts["gmm_path"] if opts["gmm_path"] != "None" else "the shipped GMM"
    net = st["network"]
    if st["network_body_model"] not in (None, st["model_id"]):
        net += f" (trained on {st['network_body_model']})"
    print(f"  optimizer {opts['optimizer']}, network {net}, render backend "
          f"{st['render_backend']}, body model {st['model_id']}, pose prior "
          f"{prior if opts['use_gmm'] == 'True' else 'off'}")  # fmt: skip
    print(f"  fit options: {changed_options(opts)}")
    print("  would write:\n" + "\n".join(f"    {f}" for f in p["would_write"]))


# Options the plan's optimizer line already names.
_NAMED_IN_PLAN = ("optimizer", "use_gmm", "gmm_path", "backend")


def changed_options(options: dict[str, str]) -> str:
    """The run's options (as ``report.json`` records them: strings) that differ from
    :class:`~jaxrefine.refine.RefineOptions`' defaults, ``name value`` each, or "the
    defaults"."""
    default = {k: str(v) for k, v in dataclasses.asdict(RefineOptions()).items()}
    changed = [f"{k} {v}" for k, v in options.items()
               if k not in _NAMED_IN_PLAN and default.get(k) != v]  # fmt: skip
    return ", ".join(changed) or "the defaults"


def print_turned(names: list[str], indent: str = "refine: ") -> None:
    """One line naming the images turned upright by their EXIF orientation, if any."""
    if names:
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        print(f"{indent}{len(names)} image(s) turned upright by their EXIF orientation "
              f"({', '.join(names[:3])}{more}; --ignore-exif takes them as stored)")  # fmt: skip
