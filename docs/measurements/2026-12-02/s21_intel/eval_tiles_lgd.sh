set -e
# session 21: LGD rows at the photos' default tiles of session 20 (1.0 0.6 0.4 0.3), mask gate
# 0.03 (default), shipped network and LGD checkpoints; the Adam rows of the same people are
# session 20's eval_real_tiles_s20.* (Zen 4); run here on the Intel Xeon.
mkdir -p /work/runs/s21/eval && cd /work/runs/s21/eval
R=/work/shared/real_images; J=/work/main/.venv/bin/jaxrefine
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png \
  --optimizer lgd --out pics_tiles_lgd --json eval_real_tiles_lgd_s21.json > eval_real_tiles_lgd_s21.txt 2>&1
