set -e
# session 18: the in-image crop box, shipped network; the commands of eval_real_crowd_s15,
# eval_medium_crowd_s15 and eval_real_lgd_s16 (Adam and LGD)
cd /work/runs/s18
J=/work/main/.venv/bin/jaxrefine; R=/work/shared/real_images; P=/work/runs/cmu_poses.npz
PHOTOS="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6"
$J eval-real $PHOTOS --out pics_box --json eval_real_box_s18.json > eval_real_box_s18.txt 2>&1
$J eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense learned_dense_keypoints --json eval_medium_box_s18.json > eval_medium_box_s18.txt 2>&1
$J eval-real $PHOTOS --optimizer lgd --out pics_box_lgd --json eval_real_box_lgd_s18.json > eval_real_box_lgd_s18.txt 2>&1
