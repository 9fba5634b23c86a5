"""The oracle with the dense preset's camera stage on every s-th visible vertex.

usage: python camera_stride.py STRIDE OPTIMIZER JSON  (then the oracle's own output)
Patches objective.PRESETS["dense"].camera_vertex_stride for this process only.
"""
import dataclasses
import sys

from jaxrefine import objective, xla_flags

xla_flags.apply(host_devices=True)  # as the CLI (2 host devices)
from jaxrefine import oracle  # noqa: E402

stride, opt, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
objective.PRESETS["dense"] = dataclasses.replace(
    objective.PRESETS["dense"], camera_vertex_stride=stride
)
sys.exit(oracle.main(["--poses", "/work/runs/cmu_poses_val_09_16.npz", "--n", "32", "--seed", "1",
                      "--optimizer", opt, "--reps", "5", "--json", out]))
