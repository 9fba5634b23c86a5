set -e
# session 18, rule 3: the shipped lgd_dense and the candidate (/work/runs/lgd_d3, lgd_dense
# fine-tuned from near starts), both measured today with the same code; CLI runs go through
# s17_screens/with_assets.py with DIR = shipped/ or cand/ (the three LGD checkpoints each)
S17=/work/main/docs/measurements/2026-12-01/s17_screens
cd /work/runs/s18; mkdir -p shipped_lgd cand_lgd
cp /work/main/jaxrefine/assets/lgd_*.npz /work/main/jaxrefine/assets/lgd_*.json shipped_lgd/
cp shipped_lgd/* cand_lgd/; cp /work/runs/lgd_d3/lgd_dense.npz /work/runs/lgd_d3/lgd_dense.json cand_lgd/
PY=/work/main/.venv/bin/python; R=/work/shared/real_images; P=/work/runs/cmu_poses.npz
V=/work/runs/cmu_poses_val_09_16.npz  # subjects 09 and 16 of $P
for who in shipped cand; do
  for seed in 1 2 3; do
    $PY $S17/with_assets.py ${who}_lgd oracle --poses $V --n 32 --seed $seed --optimizer lgd \
      --json oracle_lgd_dense_${who}_s18_seed$seed.json > oracle_lgd_dense_${who}_s18_seed$seed.txt 2>&1
  done
done
$PY $S17/lgd_near_starts.py dense /work/runs/lgd_d3/lgd_dense > lgd_near_starts_d3.txt
$PY $S17/lgd_near_starts.py dense > lgd_near_starts_shipped_s18.txt
PHOTOS="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6"
$PY $S17/with_assets.py cand_lgd eval-real $PHOTOS --optimizer lgd --out pics_cand_lgd \
  --json eval_real_lgd_d3_s18.json > eval_real_lgd_d3_s18.txt 2>&1
for who in shipped cand; do
  $PY $S17/with_assets.py ${who}_lgd eval --poses $P --subjects 09 16 --n 512 --seed 1 \
    --difficulty medium --batch 16 --rows learned_dense --optimizer lgd \
    --json eval_medium_lgd_dense_${who}_s18.json > eval_medium_lgd_dense_${who}_s18.txt 2>&1
done
