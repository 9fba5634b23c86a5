"""Run `jaxrefine ...` with LGD checkpoints read from another folder (candidate evaluation,
session 17): python with_assets.py DIR eval ... ; DIR holds lgd_<kind>.{npz,json}."""
import sys
from pathlib import Path

import jaxrefine.optimizers.learned as learned

learned.ASSETS = Path(sys.argv[1]).resolve()
from jaxrefine.cli import main  # noqa: E402

sys.exit(main(sys.argv[2:]))
