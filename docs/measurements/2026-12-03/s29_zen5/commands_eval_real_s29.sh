# Session 29 (2026-12-03), AMD EPYC (Zen 5), 2 cores; /work/main/.venv; the shipped network,
# Adam, the photos' defaults (landmark weight 3, mask gate 0.03, confidence weights): the same
# six photos as session 27's commands_landmark_weight.sh, now with the OKS column and the
# input_keypoints row. astronaut.png = scikit-image's data.astronaut() (the demo's photo).
R=/work/shared/real_images; J=/work/main/.venv/bin/jaxrefine
P="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png astronaut.png"
{ time $J eval-real $P --json eval_real_s29.json ; } > eval_real_s29.txt 2>&1
# The COCO photo with its ground-truth keypoints as a detector's result (eval_real_keypoints_coco.md):
{ time $J eval-real --image $R/coco_000000000785.jpg --keypoints res785.json --json eval_real_keypoints_coco.json ; } > eval_real_keypoints_coco.txt 2>&1
