# Session 27 (2026-12-03), AMD EPYC family 26 model 2 (Zen 5, AVX-512), 2 cores; one install
# (/work/main/.venv), code at the commit of decision_rules_s27.md plus nothing else; shipped
# network, Adam, default tiles, mask gate 0.03, confidence weights (the photos' defaults).
# astronaut.png = scikit-image's data.astronaut() (the demo's photo). Rule: decision_rules_s27.md
R=/work/shared/real_images; J=/work/main/.venv/bin/jaxrefine
P="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png astronaut.png"
for w in 1 3 10; do
  { time $J eval-real $P --keypoint-weight $w --json eval_real_kw${w}_s27.json ; } > eval_real_kw${w}_s27.txt 2>&1
done
