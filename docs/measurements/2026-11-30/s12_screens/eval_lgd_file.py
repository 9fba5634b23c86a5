"""`jaxrefine eval` with an LGD checkpoint that is not the shipped one, as optimizer "lgd_file"
(the candidate for its own kind of data, the shipped checkpoint for the other).

usage: python eval_lgd_file.py CHECKPOINT_STEM [eval arguments ...] --optimizer lgd_file
"""
import sys

from jaxrefine import xla_flags

xla_flags.apply(host_devices=True)  # as the CLI (2 host devices)
from jaxrefine import evaluate  # noqa: E402
from jaxrefine.optimizers.learned import load_lgd, pretrained_for_data  # noqa: E402
from jaxrefine.optimizers.registry import register_optimizer  # noqa: E402

stem = sys.argv[1]
own = load_lgd(stem).features
register_optimizer(
    "lgd_file",
    lambda lr, kind: load_lgd(stem) if own == {"dense": "dense"}.get(kind, "keypoints")
    else pretrained_for_data(kind),
    by_data_kind=True,
)
sys.exit(evaluate.main(sys.argv[2:]))
