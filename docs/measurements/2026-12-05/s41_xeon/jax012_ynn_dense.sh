#!/bin/sh
# Round 2 of jax012_ynn.sh gave 1666 ms for the dense fit with YNNPACK off (round 1: 1110 ms):
# two more rounds of the SMPLify rows alone, default and off alternating, reps 5.
set -e
for round in 3 4; do
  for ynn in default off; do
    echo "== round $round: jax 0.12.0.1, YNNPACK fusions $ynn"
    if [ $ynn = off ]; then export XLA_FLAGS="--xla_cpu_experimental_ynn_fusion_type="; else unset XLA_FLAGS; fi
    /tmp/v312/bin/python -m jaxrefine.cli bench smplify --model smpl-size --batches 32 --no-torch --no-same-work --optimizers adam --reps 5 | grep "| 32 "
  done
done
