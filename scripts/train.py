"""Train the displacement network: ``python scripts/train.py --help`` (flags in
:mod:`jaxrefine.train.run`)."""

import sys

from jaxrefine.cli import run_script

if __name__ == "__main__":  # errors as one line and an exit code, as `jaxrefine train` gives them
    sys.exit(run_script("train"))
