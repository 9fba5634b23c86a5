#!/usr/bin/env bash
# Session 21: YNNPACK-off default (jaxrefine's XLA flags) vs jaxlib's defaults on the Intel
# machine, one process per run, alternating order (decision_rules_s21.md, question 2).
set -u
OUT=${OUT:-/work/runs/s21/bench}
PY=${PY:-.venv/bin/python}
for pair in 1 2; do
  if [ "$pair" = 1 ]; then order="default off"; else order="off default"; fi
  for mode in $order; do
    if [ "$mode" = off ]; then env_="JAXREFINE_XLA_TUNING=off"; else env_="JAXREFINE_XLA_TUNING="; fi
    env $env_ $PY -m jaxrefine.cli bench smplify --model open --batches 32 --no-torch \
      --optimizers adam lgd --reps 3 --no-same-work --json "$OUT/ynn_smplify_${mode}_${pair}.json" \
      > "$OUT/ynn_smplify_${mode}_${pair}.txt" 2>&1
    env $env_ $PY -m jaxrefine.cli bench network --configs small --batches 8 --no-torch --reps 5 \
      --json "$OUT/ynn_network_${mode}_${pair}.json" > "$OUT/ynn_network_${mode}_${pair}.txt" 2>&1
  done
done
