#!/bin/bash
# learned rows (shipped network, one pass) with the camera stage on every s-th visible vertex
P=/work/runs/cmu_poses_val_09_16.npz
for s in 1 4 8; do
  /work/main/.venv/bin/python eval_stride.py $s --poses $P --n 128 --seed 2 --difficulty medium \
    --rows learned_dense learned_dense_keypoints --json eval128_stride$s.json > eval128_stride$s.txt 2>&1
done
