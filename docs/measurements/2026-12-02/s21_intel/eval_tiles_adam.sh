set -e
# session 21: Adam rows (the default optimizer) at the photos default tiles, on this machine,
# beside eval_tiles_lgd.sh (LGD) on the same install: mask gate 0.03 (default), shipped network.
mkdir -p /work/runs/s21/eval && cd /work/runs/s21/eval
R=/work/shared/real_images; J=/work/main/.venv/bin/jaxrefine
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png \
  --out pics_tiles_adam --json eval_real_tiles_adam_s21.json > eval_real_tiles_adam_s21.txt 2>&1
