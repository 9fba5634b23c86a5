set -e
# session 20: the photos' new default tiles (1.0 0.6 0.4 0.3, coarse-first merging, mask
# duplicates), mask gate 0.03 (default), Adam, shipped network; no --tiles flag = the default
mkdir -p /work/runs/s20/eval && cd /work/runs/s20/eval
R=/work/shared/real_images; J=/work/main/.venv/bin/jaxrefine
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png \
  --out pics_tiles --json eval_real_tiles_s20.json > eval_real_tiles_s20.txt 2>&1
