"""The shipped network's validation EPE on a run folder's cached validation pairs (session 18:
the in-image box changed a few validation pairs, so the shipped network's 0.5507 of the old set
is re-measured on the new one).

    .venv/bin/python docs/measurements/2026-12-01/s18_upper_body/val_shipped.py RUN_DIR
"""

import sys

import numpy as np

from jaxrefine import xla_flags

xla_flags.apply(host_devices=False)

from jaxrefine.network import load_pretrained  # noqa: E402
from jaxrefine.train.displacement import evaluate  # noqa: E402

if __name__ == "__main__":
    data = dict(np.load(f"{sys.argv[1]}/validation.npz"))
    for name, path in (("shipped", None), ("run", sys.argv[1])):
        cfg, params, _ = load_pretrained(path)
        m = evaluate(cfg, params, data)
        print(name, {k: round(float(v), 4) for k, v in m.items()},
              "ratio", round(m["epe"] / m["zero_epe"], 4) if "zero_epe" in m else "")
