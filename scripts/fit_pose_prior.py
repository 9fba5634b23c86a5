"""Fit jaxrefine's 8-component GMM body-pose prior (SMPLify's format) on CMU motion capture.

Reproducible: fixed seed, inputs listed in the JSON record. The method (split by subject, EM,
covariance ridge) is :mod:`jaxrefine.data.pose_prior`; this script converts the mocap when
needed and writes the two files.

Inputs: every trial under the CMU mocap folder (default ``../shared/mocap`` next to the repo,
or ``$JAXREFINE_MOCAP_DIR``, or ``--mocap``), converted with ``jaxrefine mocap`` settings
(30 fps, near-duplicates dropped) and retargeted to the shipped open body model (or
``--model``). Subjects 09 and 16 are held out of the fit by default (``--holdout``).

Writes ``jaxrefine/assets/gmm_08.npz`` (means (8, 69), covars (8, 69, 69), weights (8,),
float32) and ``jaxrefine/assets/gmm_08.json`` (inputs, split, settings, log-likelihoods).

Usage:
  python scripts/fit_pose_prior.py [--mocap DIR] [--poses POSES.npz] [--model PATH]
                                   [--em numpy|sklearn]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from jaxrefine.data import mocap
from jaxrefine.data.pose_prior import EM, fit_pose_prior, read_converted_poses
from jaxrefine.data.poses import VALIDATION_SUBJECTS
from jaxrefine.errors import refuse_below
from jaxrefine.files import atomic_savez, atomic_write, output_file_arg

REPO = Path(__file__).resolve().parents[1]
SOURCE = "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu), ../shared/mocap subset"


def default_mocap_dir() -> Path:
    env = os.environ.get("JAXREFINE_MOCAP_DIR")
    return Path(env) if env else REPO.parent / "shared" / "mocap"


def _shown(path: Path) -> str:
    """A path relative to the repository when possible (records stay machine-independent)."""
    return os.path.relpath(Path(path).resolve(), REPO)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mocap", type=Path, default=None, help="CMU mocap folder")
    ap.add_argument("--poses", type=Path, default=REPO / "out" / "cmu_poses_30fps.npz",
                    help="converted poses (made from --mocap if missing)")  # fmt: skip
    ap.add_argument("--reconvert", action="store_true", help="convert even if --poses exists")
    ap.add_argument("--model", default=None, help="body model (default: shipped open model)")
    ap.add_argument("--out", type=lambda p: Path(output_file_arg(p)),
                    default=REPO / "jaxrefine" / "assets" / "gmm_08.npz")  # fmt: skip
    ap.add_argument("--holdout", default=",".join(VALIDATION_SUBJECTS), help="validation subjects")
    ap.add_argument("--components", type=int, default=8)
    ap.add_argument("--ridge-deg", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--em", choices=sorted(EM), default="numpy",
                    help="EM implementation (numpy built the shipped prior)")  # fmt: skip
    return ap


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The flags, with a count or ridge below its least refused as a usage error (before any
    conversion or fit; ``--fps`` is checked by the conversion, before any file is read)."""
    ap = parser()
    args = ap.parse_args(argv)
    refuse_below(ap, ("--components", args.components, 1), ("--ridge-deg", args.ridge_deg, 0))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mocap_dir = args.mocap or default_mocap_dir()
    t0 = time.perf_counter()
    conversion = None
    if args.reconvert or not args.poses.is_file():
        print(f"converting {mocap_dir} -> {args.poses}")
        conversion = mocap.convert_folder(mocap_dir, args.poses, fps=args.fps, model=args.model)
        print(f"  {conversion['frames']} poses, {conversion['trials']} trials, "
              f"{conversion['seconds']:.1f} s")  # fmt: skip
    holdout = tuple(s.strip() for s in args.holdout.split(",") if s.strip())
    arrays, record = fit_pose_prior(read_converted_poses(args.poses), holdout, args.components,
                                    args.ridge_deg, args.seed, args.em)  # fmt: skip
    record["inputs"] = {
        "mocap_dir": _shown(mocap_dir),
        "source": f"{SOURCE} ({len(record['inputs']['frames_per_trial'])} trials)",
        "poses_file": _shown(args.poses),
        "command": "python scripts/fit_pose_prior.py " + " ".join(argv or sys.argv[1:]),
        **record["inputs"],
    }
    record["conversion_seconds"] = None if conversion is None else round(conversion["seconds"], 1)
    record["total_seconds"] = round(time.perf_counter() - t0, 1)
    atomic_savez(args.out, arrays, compressed=False)
    json_path = args.out.with_suffix(".json")
    atomic_write(json_path, lambda fh: fh.write(json.dumps(record, indent=1).encode()))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB) and {json_path}")
    print(f"train {record['train']}\nvalidation {record['validation']}\nfit {record['fit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
