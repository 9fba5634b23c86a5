set -e
# session 18: today's baseline with session 17's code (worktree at e22b000: the box around the
# whole projection), same commands as evals_box.sh's first and evals_upper.sh
cd /work/runs/s18
R=/work/shared/real_images; W=/work/runs/wt_s17
PHOTOS="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6"
PYTHONPATH=$W /work/main/.venv/bin/python -m jaxrefine.cli eval-real $PHOTOS --out pics_base \
  --json eval_real_base_s18.json > eval_real_base_s18.txt 2>&1
bash /work/main/docs/measurements/2026-12-01/s18_upper_body/evals_upper.sh base $W
bash /work/main/docs/measurements/2026-12-01/s18_upper_body/evals_upper.sh box /work/main
