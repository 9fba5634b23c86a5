#!/bin/sh
# SMPLify (Adam, keypoints and dense, SMPL-size model with pose correctives, batch 32) under
# jax 0.10.2 (Python 3.11, .venv) and jax 0.12.0.1 (Python 3.12, /tmp/v312 as in
# jax012_network.sh), alternating, twice; jaxrefine only (--no-torch): the reference side is
# the same PyTorch code whatever jax version is installed.
set -e
for round in 1 2; do
  for py in .venv/bin/python /tmp/v312/bin/python; do
    echo "== round $round: $py"
    $py -m jaxrefine.cli bench smplify --model smpl-size --batches 32 --no-torch --no-same-work --optimizers adam --reps 3
  done
done
