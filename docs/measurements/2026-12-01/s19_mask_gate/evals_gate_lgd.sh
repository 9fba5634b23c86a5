set -e
# session 19: LGD rows with the mask gate (now eval-real's default, 0.03); baseline:
# s18_upper_body/eval_real_box_lgd_s18.* (the same command with the gate off)
cd /work/runs/s19
J=/work/main/.venv/bin/jaxrefine; R=/work/shared/real_images
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png \
  --tiles 1.0 0.6 --optimizer lgd --out pics_gate_lgd --json eval_real_gate_lgd_s19.json \
  > eval_real_gate_lgd_s19.txt 2>&1
