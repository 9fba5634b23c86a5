set -e
# session 19: the mask gate (g = 0.03), shipped network, Adam; same photos and flags as
# s18_upper_body/evals_box.sh and evals_upper.sh
mkdir -p /work/runs/s19 && cd /work/runs/s19
J=/work/main/.venv/bin/jaxrefine; R=/work/shared/real_images; U=/work/runs/upper
G="--mask-gate 0.03"
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png \
  --tiles 1.0 0.6 $G --out pics_gate --json eval_real_gate_s19.json > eval_real_gate_s19.txt 2>&1
$J eval-real --image $U/coco785_hips.jpg --pseudo /work/runs/astro/astronaut.png $G \
  --out pics_upper_gate --json eval_upper_hips_astro_gate.json > eval_upper_hips_astro_gate.txt 2>&1
$J eval-real --image $U/coco785_chest.jpg $G --out pics_upper_gate \
  --json eval_upper_chest_gate.json > eval_upper_chest_gate.txt 2>&1
