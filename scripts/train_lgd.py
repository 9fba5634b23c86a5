"""Train learned gradient descent: ``python scripts/train_lgd.py --help`` (flags and method in
:mod:`jaxrefine.train.lgd`)."""

import sys

from jaxrefine.train.lgd import main

if __name__ == "__main__":
    sys.exit(main())
