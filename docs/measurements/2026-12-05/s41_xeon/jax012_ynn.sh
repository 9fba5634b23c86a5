#!/bin/sh
# jax 0.12.0.1 (Python 3.12, /tmp/v312 as in jax012_network.sh): XLA's defaults against YNNPACK
# fusions off (XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=, what jaxrefine sets on jaxlib
# 0.10), alternating, twice: SMPLify (SMPL-size, batch 32) and the `small` network at batch 8.
set -e
for round in 1 2; do
  for ynn in default off; do
    echo "== round $round: jax 0.12.0.1, YNNPACK fusions $ynn"
    if [ $ynn = off ]; then export XLA_FLAGS="--xla_cpu_experimental_ynn_fusion_type="; else unset XLA_FLAGS; fi
    /tmp/v312/bin/python -m jaxrefine.cli bench smplify --model smpl-size --batches 32 --no-torch --no-same-work --optimizers adam --reps 3 | grep "batch 32:"
    /tmp/v312/bin/python -m jaxrefine.cli bench network --configs small --batches 8 --reps 3 --no-torch | grep "batch 8:"
  done
done
