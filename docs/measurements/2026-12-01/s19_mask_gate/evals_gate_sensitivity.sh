set -e
# session 19, after the decision (not used to choose): the five photos with gates 0.02 and 0.05
cd /work/runs/s19
J=/work/main/.venv/bin/jaxrefine; R=/work/shared/real_images
for G in 0.02 0.05; do
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png \
  --tiles 1.0 0.6 --mask-gate $G --json eval_real_gate${G}_s19.json > eval_real_gate${G}_s19.txt 2>&1
done
