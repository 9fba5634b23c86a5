"""Export a training run as the shipped network (``jaxrefine/assets/displacement_small.npz``).

python scripts/export_network.py --run RUN_DIR [--out jaxrefine/assets/displacement_small.npz]
"""

from __future__ import annotations

import argparse
import sys

from jaxrefine.files import output_file_arg
from jaxrefine.train.export import export_run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="the --out folder of scripts/train.py")
    ap.add_argument(
        "--out", type=output_file_arg, default="jaxrefine/assets/displacement_small.npz"
    )
    ap.add_argument("--command", default=None, help="the training command to record")
    args = ap.parse_args(argv)
    command = args.command or "see run.json in the run folder"
    print(f"wrote {export_run(args.run, args.out, command=command)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
