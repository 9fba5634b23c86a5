"""Train learned gradient descent: ``python scripts/train_lgd.py --help`` (flags and method in
:mod:`jaxrefine.train.lgd`)."""

import sys

from jaxrefine.cli import run_script

if __name__ == "__main__":  # errors as one line and an exit code, as `jaxrefine train-lgd`
    sys.exit(run_script("train-lgd"))
