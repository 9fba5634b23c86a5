#!/bin/sh
# The open body model (jax012_ynn*.sh ran the SMPL-size one): jax 0.12.0.1 (Python 3.12,
# /tmp/v312 as in jax012_network.sh) with jaxrefine's flags (YNNPACK off, since fd14a60) and
# with XLA's defaults (JAXREFINE_XLA_TUNING=off: the device count only), alternating, 3 rounds.
set -e
for round in 1 2 3; do
  for ynn in off default; do
    echo "== round $round: jax 0.12.0.1, YNNPACK fusions $ynn"
    if [ $ynn = default ]; then export JAXREFINE_XLA_TUNING=off; else unset JAXREFINE_XLA_TUNING; fi
    /tmp/v312/bin/python -m jaxrefine.cli bench smplify --model open --batches 32 --no-torch --no-same-work --optimizers adam --reps 5 | grep "| 32 "
  done
done
