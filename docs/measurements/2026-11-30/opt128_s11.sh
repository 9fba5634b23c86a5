#!/bin/bash
# #9 option screen on the 128 selection frames (seed 2), shipped network (7,100 steps)
cd /work/main
P=/work/runs/cmu_poses_val_09_16.npz
for opt in "15" "15 --confidence" "10 --confidence" "10"; do
  tag=$(echo "$opt" | tr -d ' -')
  .venv/bin/jaxrefine eval --poses $P --n 128 --seed 2 --difficulty medium --rows learned_dense keypoints_detected \
     --rerun-every $opt --json /work/runs/s11/opt128_k$tag.json > /work/runs/s11/opt128_k$tag.txt 2>&1
done
