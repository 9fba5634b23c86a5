"""``scripts/train.py`` / ``jaxrefine train``: flags -> the displacement network's training run.

    python scripts/train.py --platform cpu --config small --steps 20000 --out runs/small \
        --poses /path/cmu_poses.npz [--resume] [--workers 1] [--precision bfloat16]
        [--init-from shipped|RUN_DIR|NET.npz]   # fine-tune existing weights
        [--model smpl_uv.npz]   # pairs of your body model (with a UV layout: jaxrefine.uv_layout)

Everything lands in ``--out``: the converted poses (when made from ``--mocap``), the cached
subject banks and validation set, ``config.json`` (network and data settings), ``checkpoints/``
(orbax), ``log.csv``, ``tb/``, ``curves.png`` and ``run.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from jaxrefine.files import output_folder_arg
from jaxrefine.jax_platform import PLATFORMS

DEFAULT_BATCH = {"paper": 8, "small": 8, "tiny": 4}
DEFAULT_MOCAP = Path("..") / "shared" / "mocap"  # from a checkout's root: its sibling


def use_platform(platform: str) -> None:
    """Point JAX at ``platform`` (``cpu`` / ``gpu``: :data:`PLATFORMS`) with the project's XLA
    flags, set before JAX starts a backend (:mod:`jaxrefine.xla_flags`,
    :func:`jaxrefine.jax_platform.select`; :func:`~jaxrefine.jax_platform.check` it once
    ``jax.distributed`` is initialized)."""
    from jaxrefine import jax_platform, xla_flags

    xla_flags.apply(host_devices=False)
    jax_platform.select(platform)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="train", description=__doc__.split("\n")[0])
    a = p.add_argument
    a("--platform", choices=sorted(PLATFORMS), default="cpu", help="JAX backend (gpu = CUDA)")
    a("--config", choices=("paper", "small", "tiny"), default="small", help="network config")
    a("--steps", type=int, default=20000, help="optimizer steps of the whole run")
    a("--batch", type=int, default=None, help="global batch (default: 8; tiny: 4)")
    a("--out", type=lambda p: Path(output_folder_arg(p)), default=Path("runs/train"),
      help="run folder")  # fmt: skip
    a("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    a("--init-from", type=Path, default=None,
      help="fine-tune: start from these weights (exported .npz or run folder; 'shipped' = the "
           "packaged checkpoint) with a fresh optimizer and schedule")  # fmt: skip
    a("--poses", type=Path, default=None, help="pose file made by `jaxrefine mocap`")
    a("--model", default=None,
      help="body model the training pairs are made with: a file with a UV layout, e.g. SMPL "
           "converted by `jaxrefine convert MODEL OUT.npz --uv smpl_uv.obj` (default: the "
           "open model); --mocap is retargeted to it")  # fmt: skip
    a("--mocap", type=Path, default=None,
      help=f"CMU mocap folder converted into OUT/poses.npz when --poses is absent "
           f"(default {DEFAULT_MOCAP} where it exists)")  # fmt: skip
    a("--lr", type=float, default=1e-3, help="peak Adam learning rate")
    a("--warmup", type=int, default=200, help="linear warmup steps")
    a("--schedule", choices=("cosine", "constant"), default="cosine")
    a("--clip", type=float, default=1.0, help="global gradient-norm clip (0 = off)")
    a("--seed", type=int, default=0)
    a("--workers", type=int, default=1, help="grain worker processes making batches (0 = none)")
    a("--ckpt-every", type=int, default=500)
    a("--val-every", type=int, default=500)
    a("--log-every", type=int, default=10)
    a("--val-frames", type=int, default=64, help="validation pairs (0 = no validation)")
    a("--subjects", type=int, default=None, help="synthetic subjects in the training bank")
    a("--precision", choices=("float32", "bfloat16"), default="float32",
      help="compute dtype (parameters stay float32)")  # fmt: skip
    a(
        "--clothing",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of loose clothing on a training image (jaxrefine.data.appearance)",
    )
    a(
        "--occluders",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of an occluder over the person on a training image",
    )
    a(
        "--distractors",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of another person beside, in front of or behind the person",
    )
    a(
        "--close-framing",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of a close framing that cuts the body at the image's lower border "
        "(an upper-body photo; jaxrefine.data.pairs.close_framing)",
    )
    a("--confidence", action="store_true", help="train the per-pixel confidence head too")
    a("--confidence-weight", type=float, default=0.1)
    a("--coordinator", default=None, help="HOST:PORT of process 0 (multi-process runs)")
    a("--num-processes", type=int, default=1)
    a("--process-id", type=int, default=0)
    return p


def pair_config(name: str, crop_size: int, subjects: int | None, clothing: float = 0.0,
                occluders: float = 0.0, distractors: float = 0.0, close: float = 0.0):  # fmt: skip
    """The pair generator's settings for a network config (``tiny``: a 64 px scene, 2
    subjects with 1 reference frame, 64-texel textures; fast enough for tests), with the
    probabilities of the real-appearance augmentations (:mod:`jaxrefine.data.appearance`) and
    of the close framing (:func:`jaxrefine.data.pairs.close_framing`)."""
    from jaxrefine.data.pairs import PairConfig
    from jaxrefine.data.sampling import SceneConfig
    from jaxrefine.data.scenes import GeneratorConfig

    if name == "tiny":
        gen = GeneratorConfig(scene=SceneConfig(image_size=(64, 64)), texture_size=64)
        cfg = PairConfig(crop_size=crop_size, generator=gen, num_subjects=2, reference_frames=1)
    else:
        cfg = PairConfig(crop_size=crop_size)
    flags = ((clothing, "--clothing"), (occluders, "--occluders"),
             (distractors, "--distractors"), (close, "--close-framing"))  # fmt: skip
    for p, flag in flags:
        if not 0.0 <= p <= 1.0:
            raise SystemExit(f"train: {flag} is a probability in [0, 1], got {p}")
    cfg = dataclasses.replace(cfg, p_clothing=clothing, p_occluder=occluders,
                              p_distractor=distractors, p_close=close)  # fmt: skip
    return dataclasses.replace(cfg, num_subjects=subjects) if subjects else cfg


def resolve_poses(args, model=None) -> Path:
    """``--poses``, or ``--mocap`` (default: the shared CMU folder) converted once into
    ``OUT/poses.npz``, retargeted to ``model`` (None: the open model)."""
    if args.poses is not None:
        return args.poses
    out = args.out / "poses.npz"
    if out.exists():
        return out
    mocap = args.mocap or (DEFAULT_MOCAP if DEFAULT_MOCAP.is_dir() else None)
    if mocap is None or not Path(mocap).is_dir():
        raise SystemExit(
            f"train: no poses: pass --poses POSES.npz (made by `jaxrefine mocap`) or --mocap DIR "
            f"(CMU BVH/AMC folder; {DEFAULT_MOCAP} does not exist)"
        )
    from jaxrefine.data.mocap import convert_folder

    out.parent.mkdir(parents=True, exist_ok=True)
    convert_folder(mocap, out, model=model)
    return out


def body_model(args):
    """``--model`` (None: the open model), checked to have the UV layout the pairs' textures
    need, before the run folder is made."""
    from jaxrefine import load_body_model
    from jaxrefine.uv_layout import require_layout

    model = load_body_model(args.model, gender=None)
    require_layout(model)
    return model


def split_poses(args, model):
    """``(training, validation)`` :class:`~jaxrefine.data.poses.PoseSet` of :func:`resolve_poses`
    (validation: :data:`~jaxrefine.data.poses.VALIDATION_SUBJECTS`); a missing or bad
    ``--poses`` fails here, before the run folder is made."""
    from jaxrefine.data.poses import VALIDATION_SUBJECTS, load_poses

    path = resolve_poses(args, model)
    return (load_poses(path, exclude_subjects=VALIDATION_SUBJECTS),
            load_poses(path, subjects=VALIDATION_SUBJECTS))  # fmt: skip


def prepare(args, cfg, model, train_poses, val_poses):
    """Banks and the validation set (cached in ``--out``) for ``train_poses`` and ``val_poses``
    (:func:`split_poses`) -> DisplacementData."""
    from jaxrefine.data import pairs
    from jaxrefine.train import displacement

    pc = pair_config(args.config, cfg.crop_size, args.subjects, args.clothing, args.occluders,
                     args.distractors, args.close_framing)  # fmt: skip
    bank = pairs.load_or_build_bank(args.out / "bank_train.npz", model, train_poses.pose, pc,
                                    args.seed)  # fmt: skip
    val_pc = dataclasses.replace(pc, num_subjects=max(2, pc.num_subjects // 4))
    val_bank = pairs.load_or_build_bank(args.out / "bank_val.npz", model, val_poses.pose, val_pc,
                                        displacement.VAL_BANK_SEED)  # fmt: skip
    validation = None
    if args.val_frames > 0:
        validation = displacement.load_or_make_validation(
            args.out / "validation.npz", model, val_poses.pose, val_bank, pc, args.val_frames
        )
    return displacement.DisplacementData(model, train_poses, val_poses, bank, val_bank, pc,
                                         validation)  # fmt: skip


def train_config(args):
    """The flags' :class:`~jaxrefine.train.loop.TrainConfig` (which checks its numbers), after
    ``--val-frames`` and ``--subjects`` are checked: a bad one fails before any data are made."""
    from jaxrefine.train.loop import TrainConfig

    if args.val_frames < 0:
        raise ValueError(f"--val-frames must be at least 0 (got {args.val_frames})")
    if args.subjects is not None and args.subjects < 1:
        raise ValueError(f"--subjects must be at least 1 (got {args.subjects})")
    return TrainConfig(
        steps=args.steps, lr=args.lr,
        batch=DEFAULT_BATCH[args.config] if args.batch is None else args.batch,
        warmup=args.warmup, schedule=args.schedule, clip=args.clip, seed=args.seed,
        workers=args.workers, ckpt_every=args.ckpt_every, val_every=args.val_every,
        log_every=args.log_every,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    use_platform(args.platform)
    import jax

    from jaxrefine import jax_platform, network
    from jaxrefine.train import displacement, distributed, logs
    from jaxrefine.train.loop import check_out, train

    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    jax_platform.check(args.platform, "--platform")
    config = train_config(args)  # checked before the data are made
    check_out(args.out, args.resume)
    cfg = network.get_config(args.config, compute_dtype=args.precision,
                             confidence=args.confidence)  # fmt: skip
    start = None
    if args.init_from is not None:  # checked before the data are made
        shipped = str(args.init_from) == "shipped"
        start = displacement.load_start(cfg, None if shipped else args.init_from)
    model = body_model(args)
    poses = split_poses(args, model)
    args.out.mkdir(parents=True, exist_ok=True)
    data = prepare(args, cfg, model, *poses)
    task = displacement.make_task(cfg, data, args.confidence_weight)
    if start is not None:
        task = displacement.warm_start(task, start)
    first_chunk = not (args.resume and (args.out / "config.json").exists())
    if jax.process_index() == 0 and first_chunk:  # a resumed chunk's flags go to run.json
        logs.write_json(args.out / "config.json", {**task.describe, "train": vars(args)})
    command = " ".join([Path(sys.argv[0]).name, *argv])
    summary = train(task, config, args.out, resume=args.resume,
                    run_info={"command": command, "argv": argv})  # fmt: skip
    final = summary["final"]
    keys = ("loss", "epe", "zero_epe", "val_epe", "val_zero_epe")
    print("train: done;", ", ".join(f"{k} {final[k]:.4g}" for k in keys if k in final))
    return 0
