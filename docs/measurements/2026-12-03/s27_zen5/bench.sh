#!/bin/bash
# Session 27, Zen 5 EPYC (family 26 model 2): network and body benchmarks, quiet machine
cd /work/main
set -x
{ time .venv/bin/python -m jaxrefine.cli bench network --configs small,paper --batches 1,8,32 --reps 5 --json /work/runs/s27/bench_network.json ; } > /work/runs/s27/bench_network.txt 2>&1
{ time .venv/bin/python -m jaxrefine.cli bench body --model open smpl-size --batches 1 32 --json /work/runs/s27/bench_body.json ; } > /work/runs/s27/bench_body.txt 2>&1
