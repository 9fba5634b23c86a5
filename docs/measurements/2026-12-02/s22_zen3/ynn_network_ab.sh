#!/usr/bin/env bash
# Session 22: the network's training step with jaxrefine's XLA flags (YNNPACK off) vs jaxlib's
# defaults on the Zen 3, one process per run, alternating order (decision_rules_s22.md).
set -u
OUT=${OUT:-/work/runs/s22}
PY=${PY:-.venv/bin/python}
for pair in 1 2; do
  if [ "$pair" = 1 ]; then order="default off"; else order="off default"; fi
  for mode in $order; do
    if [ "$mode" = off ]; then env_="JAXREFINE_XLA_TUNING=off"; else env_="JAXREFINE_XLA_TUNING="; fi
    env $env_ $PY -m jaxrefine.cli bench network --configs small --batches 8 --no-torch --reps 5 \
      --json "$OUT/ynn_network_${mode}_${pair}.json" > "$OUT/ynn_network_${mode}_${pair}.txt" 2>&1
  done
done
