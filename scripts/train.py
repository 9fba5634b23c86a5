"""Train the displacement network: ``python scripts/train.py --help`` (flags in
:mod:`jaxrefine.train.run`)."""

import sys

from jaxrefine.train.run import main

if __name__ == "__main__":
    sys.exit(main())
