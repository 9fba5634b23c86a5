# Session 22: the exact commands behind docs/measurements/2026-12-02/s22_zen3/ (from /work/main,
# a fresh `make install` on an AMD EPYC family 25 model 1 (Zen 3, AVX2), 2 cores; nothing else
# running during each benchmark).
# 1. bench body -> bench_body_s22.* (the .txt is the table as printed, less smplx's warnings)
.venv/bin/jaxrefine bench body --model smpl-size open --batches 1 32 --json /work/runs/s22/body1.json
# 2. the batch-1 profile on this machine -> body_b1_profile_s22.txt (its per-op lines, summed
#    from the trace this wrote; by op kind too)
.venv/bin/python docs/measurements/2026-11-30/body_b1_profile.py /work/runs/s22/prof_b1
# 3. body-chain variants and the sharded network step (speedup_screens_s22.txt)
.venv/bin/python docs/measurements/2026-12-02/s22_zen3/body_chain_variants.py 1
.venv/bin/python docs/measurements/2026-12-02/s22_zen3/network_shard_ab.py 8 12
# 4. bench network -> bench_network.*
.venv/bin/jaxrefine bench network --configs small,paper --batches 1,8,32 --reps 5 \
  --json /work/runs/s22/bench_network.json > /work/runs/s22/bench_network.txt 2>&1
# 5. YNNPACK A/B of the training step (decision_rules_s22.md) -> ynn_network_*
bash docs/measurements/2026-12-02/s22_zen3/ynn_network_ab.sh
# 6. the clean-clone suite and the demo -> suite_s22.txt, demo_s22*.txt
git clone -q /work/main /work/ci_clone_s22 && (cd /work/ci_clone_s22 && make test)
(cd /work/ci_clone_s22 && make demo OUT=/tmp/demo22 REAL_IMAGES=)
# 7. eval-real at the default tiles, Adam (as session 21's eval_tiles_adam.sh, in /work/runs/s22/eval)
#    -> eval_real_tiles_adam_s22.*, and the per-person comparison with session 20's Zen 4 run
R=/work/shared/real_images; J=/work/main/.venv/bin/jaxrefine
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png \
  --out pics_tiles_adam --json eval_real_tiles_adam_s22.json > eval_real_tiles_adam_s22.txt 2>&1
.venv/bin/python docs/measurements/2026-12-01/s20_tiles/per_person.py \
  docs/measurements/2026-12-01/s20_tiles/eval_real_tiles_s20.json \
  /work/runs/s22/eval/eval_real_tiles_adam_s22.json > cross_machine_zen4_zen3.txt
