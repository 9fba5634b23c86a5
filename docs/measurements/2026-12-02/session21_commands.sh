# Session 21: the exact commands behind docs/measurements/2026-12-02/s21_intel/ (from /work/main,
# a fresh `make install` on an Intel Xeon, family 6 model 167, 2 cores; nothing else running).
# 1. the clean-clone suite whose per-file times give tests/run_suite.py's SLOW_FIRST
git clone -q /work/main /work/ci_clone_s21 && (cd /work/ci_clone_s21 && make test)
# 2. bench network (question 1 of decision_rules_s21.md) -> bench_network.*
.venv/bin/python -m jaxrefine.cli bench network --configs small,paper --batches 1,8,32 --reps 5 \
  --json /work/runs/s21/bench/bench_network.json > /work/runs/s21/bench/bench_network.txt 2>&1
# 3. YNNPACK A/B (question 2) -> ynn_smplify_*, ynn_network_*
docs/measurements/2026-12-02/s21_intel/ynn_ab.sh
# 4. eval-real with LGD at session 20's default tiles -> eval_real_tiles_lgd_s21.*
bash docs/measurements/2026-12-02/s21_intel/eval_tiles_lgd.sh
bash docs/measurements/2026-12-02/s21_intel/eval_tiles_adam.sh
P=docs/measurements/2026-12-01/s20_tiles/per_person.py; E=/work/runs/s21/eval
.venv/bin/python $P docs/measurements/2026-12-01/s20_tiles/eval_real_tiles_s20.json \
  $E/eval_real_tiles_adam_s21.json > $E/cross_machine_adam.txt   # Zen 4 -> Intel, Adam
.venv/bin/python $P $E/eval_real_tiles_adam_s21.json $E/eval_real_tiles_lgd_s21.json \
  > $E/adam_vs_lgd.txt   # "before" = Adam, "now" = LGD, both on the Intel
# 5. the demo in the clean clone, at 49ba611 and at d20e46c (session 19's code)
(cd /work/ci_clone_s21 && git checkout -q 49ba611 && make demo OUT=/tmp/demo21 REAL_IMAGES=)
(cd /work/ci_clone_s21 && git checkout -q d20e46c && make demo OUT=/tmp/demo21_base REAL_IMAGES=)
# 6. SMPL-size fairness benchmarks on the Intel (quiet)
.venv/bin/python -m jaxrefine.cli bench smplify --model smpl-size --batches 32 --optimizers adam lgd --reps 3 --json /work/runs/s21/bench/bench_smplify_smpl-size_s21.json > /work/runs/s21/bench/bench_smplify_smpl-size_s21.txt 2>&1
.venv/bin/python -m jaxrefine.cli bench body --model open smpl-size --batches 1 32 --json /work/runs/s21/bench/bench_body_s21.json > /work/runs/s21/bench/bench_body_s21.txt 2>&1
.venv/bin/python -m jaxrefine.cli bench body --model open smpl-size --batches 1 32 --json /work/runs/s21/bench/bench_body_s21_rerun.json > /work/runs/s21/bench/bench_body_s21_rerun.txt 2>&1
