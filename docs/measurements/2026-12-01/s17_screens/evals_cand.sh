set -e
cd /work/runs/s17
PY=/work/main/.venv/bin/python; R=/work/shared/real_images; P=/work/runs/cmu_poses.npz
PHOTOS="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6"
$PY with_assets.py cand eval-real $PHOTOS --optimizer lgd --out pics_cand --json eval_real_lgd_cand.json > eval_real_lgd_cand.txt 2>&1
$PY with_assets.py cand eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense learned_dense_keypoints --optimizer lgd --json eval_medium_lgd_cand.json > eval_medium_lgd_cand.txt 2>&1
$PY conf1_diag.py eval-real $PHOTOS --optimizer lgd --out pics_conf1 --json eval_real_lgd_conf1.json > eval_real_lgd_conf1.txt 2>&1
