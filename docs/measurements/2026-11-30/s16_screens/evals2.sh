set -e
cd /work/runs/s16
J=/work/main/.venv/bin/jaxrefine; R=/work/shared/real_images; P=/work/runs/cmu_poses.npz
$J eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense learned_dense_keypoints --optimizer lgd --json eval_medium_lgd_s16.json > eval_medium_lgd_s16.txt 2>&1
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6 \
  --optimizer lgd --out pics_lgd10 --json eval_real_lgd_s16.json > eval_real_lgd_s16.txt 2>&1
