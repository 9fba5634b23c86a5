# the new lgd_dense (working tree's assets) on the oracle's dense_gt, seeds 1-3, 32 frames
J=/work/main/.venv/bin/jaxrefine; P=/work/runs/cmu_poses_val_09_16.npz  # as sessions 12-13 (validation subjects only)
for seed in 1 2 3; do
  $J oracle --poses $P --n 32 --seed $seed --optimizer lgd --json oracle_lgd_dense_s17_seed$seed.json > oracle_lgd_dense_s17_seed$seed.txt 2>&1
done
