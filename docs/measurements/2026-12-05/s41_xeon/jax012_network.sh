#!/bin/sh
# jaxrefine's `small` network under jax 0.10.2 (Python 3.11, the project's .venv, with the
# PyTorch twin) and jax 0.12.0.1 (Python 3.12, a venv made with
# `python3.12 -m venv /tmp/v312 && /tmp/v312/bin/pip install -e ".[train,egl,dev,jaxopt,notebooks,data,detect]"`,
# no torch there), one process after the other, twice, on a quiet 2-core machine.
set -e
for round in 1 2; do
  echo "== round $round: jax 0.10.2 (Python 3.11) with the PyTorch twin"
  .venv/bin/python -m jaxrefine.cli bench network --configs small --batches 1,8 --reps 5
  echo "== round $round: jax 0.12.0.1 (Python 3.12)"
  /tmp/v312/bin/python -m jaxrefine.cli bench network --configs small --batches 1,8 --reps 5 --no-torch
done
