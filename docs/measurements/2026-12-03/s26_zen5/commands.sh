# Session 26 (2026-12-03), AMD EPYC family 26 model 2 (Zen 5, AVX-512), 2 cores; one install (make install),
# code: HEAD 67f5b85 (session 25: eval-real --confidence / --rerun-every) plus session 26's
# reordering of refine()'s input checks (no effect on a fit); shipped network, Adam, default
# tiles (1 0.6 0.4 0.3), mask gate 0.03. astronaut.png = scikit-image's data.astronaut() (the
# demo's photo), written with imageio. Session 25's rule: ../../2026-12-02/s25_zen3/decision_rules_s25.md
R=/work/shared/real_images; J=.venv/bin/jaxrefine
P="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png astronaut.png"
# (a) the then defaults (no confidence weights, one network pass)      -> eval_real_base_s26.*   (3.3 min)
$J eval-real $P --out pics_base --json eval_real_base_s26.json > eval_real_base_s26.txt
# (b) --confidence (session 26's photo default since)                  -> eval_real_conf_s26.*   (2.4 min)
$J eval-real $P --confidence --out pics_conf --json eval_real_conf_s26.json > eval_real_conf_s26.txt
# (c) --rerun-every 10 --confidence                                     -> eval_real_rerun10conf_s26.* (4.7 min)
$J eval-real $P --rerun-every 10 --confidence --out pics_rerun10conf --json eval_real_rerun10conf_s26.json > eval_real_rerun10conf_s26.txt
# (d) --rerun-every 10 --no-confidence (which half of (c) loses)       -> eval_real_rerun10_s26.*
$J eval-real $P --rerun-every 10 --no-confidence --out pics_rerun10 --json eval_real_rerun10_s26.json > eval_real_rerun10_s26.txt
# the rule
python compare_confidence.py eval_real_base_s26.json eval_real_conf_s26.json > compare_conf.txt
python compare_confidence.py eval_real_base_s26.json eval_real_rerun10conf_s26.json > compare_rerun10conf.txt
python compare_confidence.py eval_real_base_s26.json eval_real_rerun10_s26.json > compare_rerun10.txt
