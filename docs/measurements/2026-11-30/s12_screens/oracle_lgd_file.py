"""The oracle with an LGD checkpoint that is not the shipped one (a candidate).

usage: python oracle_lgd_file.py CHECKPOINT_STEM JSON [REPS [SEED]]
Timings include reading the checkpoint on every call (the factory loads it): errors only.
Registers it as optimizer "lgd_file" (body stage after Adam's camera stage, as "lgd"); the
row of the other data kind gets the shipped checkpoint.
"""
import sys

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)  # as the CLI (2 host devices)
from jaxrefine import oracle  # noqa: E402
from jaxrefine.optimizers.learned import load_lgd, pretrained_for_data  # noqa: E402
from jaxrefine.optimizers.registry import register_optimizer  # noqa: E402

stem, out = sys.argv[1], sys.argv[2]
reps = sys.argv[3] if len(sys.argv) > 3 else "1"
SEED = sys.argv[4] if len(sys.argv) > 4 else "1"  # the frames (the README: 1)
register_optimizer(  # the candidate for its own kind of data, the shipped one for the other
    "lgd_file",
    lambda lr, kind: load_lgd(stem) if load_lgd(stem).features == {"dense": "dense"}.get(kind, "keypoints")
    else pretrained_for_data(kind),
    by_data_kind=True,
)
sys.exit(oracle.main(["--poses", "/work/runs/cmu_poses_val_09_16.npz", "--n", "32", "--seed", SEED,
                      "--optimizer", "lgd_file", "--reps", reps, "--json", out]))
