# Session 19 (2026-12-01), Zen 4 EPYC (family 25 model 17), 2 cores, the machine of session 18
# (its .venv and /work/runs persisted, so session 18's rows are this install's baselines).
# Results in /work/runs/s19, copied here (s19_mask_gate/). Run from /work/main.
R=../shared/real_images; D=docs/measurements/2026-12-01/s19_mask_gate
# 1. the share of first-round dense targets outside each person's BlazePose mask, for several
#    gates (no accuracy measured): fixes the gate at 0.03 (decision_rules_s19.md)
.venv/bin/python $D/gate_fraction.py $R/coco_000000000785.jpg > $D/gate_fraction.txt
.venv/bin/python $D/gate_fraction.py $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6 >> $D/gate_fraction.txt
# 2. rule 1's measurements: five photos and the three upper-body photos with --mask-gate 0.03
#    (baselines: s18_upper_body/eval_real_box_s18.*, eval_upper_*_box.*; the upper crops are
#    made by s18_upper_body/make_upper_crops.py, the astronaut as in session18_commands.sh)
bash $D/evals_gate.sh
# 3. LGD rows with the gate (eval-real's default by then); baseline eval_real_box_lgd_s18.*
bash $D/evals_gate_lgd.sh
# 3b. after the decision (not used for it): gates 0.02 and 0.05 on the five photos
bash $D/evals_gate_sensitivity.sh
# 4. the tracker on OpenCV's two consecutive basketball frames (what the slow test checks)
#    mkdir /tmp/bb; cp $R/opencv_basketball{1,2}.png /tmp/bb; then read_photo_inputs('/tmp/bb',
#    model, video=True): tracks [0, 0, 1] (the left man in both frames), separate: [0, 1, 2]
# 5. clean clones: at 28a58e0 (the gate and the tracker): make test, all 55 files passed in
#    2,395 s; at the session's last code commit (temporal runs too):
git clone -q /work/main /work/ci_clone_s19b && cd /work/ci_clone_s19b && make test
#    -> all 55 files passed in 2,380 s
# 6. the demo (in the first clone, pulled to 1adf214): caption -> s19_mask_gate/demo_s19_real_photo.txt
make demo OUT=/tmp/demo19 REAL_IMAGES=
