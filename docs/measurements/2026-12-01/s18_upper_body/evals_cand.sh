set -e
# session 18: the network fine-tuned with close framings (/work/runs/ft_close, its last
# checkpoint), on rule 2's measurements; the same commands as evals_box.sh / evals_upper.sh
cd /work/runs/s18
J=/work/main/.venv/bin/jaxrefine; R=/work/shared/real_images; P=/work/runs/cmu_poses.npz
C="--checkpoint /work/runs/ft_close"
bash /work/main/docs/measurements/2026-12-01/s18_upper_body/evals_upper.sh cand /work/main -- $C
PHOTOS="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6"
$J eval-real $PHOTOS $C --out pics_cand --json eval_real_cand_s18.json > eval_real_cand_s18.txt 2>&1
$J eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense learned_dense_keypoints $C --json eval_medium_cand_s18.json > eval_medium_cand_s18.txt 2>&1
