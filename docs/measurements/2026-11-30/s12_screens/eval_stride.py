"""`jaxrefine eval` with the dense preset's camera stage on every s-th visible vertex.

usage: python eval_stride.py STRIDE [eval arguments ...]
"""
import dataclasses
import sys

from jaxrefine import objective, xla_flags

xla_flags.apply(host_devices=True)  # as the CLI
from jaxrefine import evaluate  # noqa: E402

objective.PRESETS["dense"] = dataclasses.replace(
    objective.PRESETS["dense"], camera_vertex_stride=int(sys.argv[1])
)
sys.exit(evaluate.main(sys.argv[2:]))
