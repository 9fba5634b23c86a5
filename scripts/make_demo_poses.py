"""Build ``jaxrefine/assets/demo_poses.npz``: a small pose set for ``make demo`` on machines
without the CMU folder (CMU's terms allow redistribution of derived data; credit kept inside).

    python scripts/make_demo_poses.py --poses POSES.npz [--n 240]

POSES.npz comes from ``jaxrefine mocap ../shared/mocap --out POSES.npz``. Only the validation
subjects (09, 16; never used to train the shipped network or prior) are taken, evenly spaced.
"""

from __future__ import annotations

import argparse
import sys

from jaxrefine.data.poses import VALIDATION_SUBJECTS, write_demo_poses
from jaxrefine.errors import refuse_below
from jaxrefine.files import output_file_arg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--poses", required=True)
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--out", type=output_file_arg, default="jaxrefine/assets/demo_poses.npz")
    args = ap.parse_args(argv)
    refuse_below(ap, ("--n", args.n, 1))
    command = " ".join(["python", "scripts/make_demo_poses.py", *sys.argv[1:]])
    path = write_demo_poses(
        args.poses, args.out, n=args.n, subjects=VALIDATION_SUBJECTS, command=command
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
