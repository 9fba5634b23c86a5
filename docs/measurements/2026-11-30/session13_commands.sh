# Session 13 (2026-11-30, the Zen 4 EPYC of sessions 9-12): the exact commands behind the
# *_s13* files and s13_screens/. Run from the repository root with .venv active.
P=/work/runs/cmu_poses_val_09_16.npz
S=docs/measurements/2026-11-30/s12_screens
T=docs/measurements/2026-11-30/s13_screens

# Diagnosis: per-state errors of session 12's shipped dense LGD (lgd_per_state_shipped.txt)
(cd $T && python lgd_per_state.py dense)                          # SEED=777 SIZE=64
(cd $T && SEED=12345 SIZE=32 python lgd_per_state.py dense)       # the runs' validation batch

# LGD training runs (nice 19; each exported to OUT/lgd_dense.{npz,json})
#   stopped after 1,680 steps when the vertex loss was chosen instead (its log: lgd_dense_rootjoints_stopped_log.csv;
#   flag spelled --joint-error root at commit 014e9c8, --point-loss root_joints now):
python scripts/train_lgd.py --platform cpu --kind dense --init-from shipped --camera-stage --joint-error root --root-weight 1 --steps 6000 --batch 16 --lr 3e-4 --warmup 50 --seed 4 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_dense_root --poses /work/runs/cmu_poses.npz
python scripts/train_lgd.py --platform cpu --kind dense --init-from shipped --camera-stage --point-loss root_vertices --root-weight 1 --steps 6000 --batch 16 --lr 3e-4 --warmup 50 --seed 4 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_dense_rv --poses /work/runs/cmu_poses.npz
python scripts/train_lgd.py --platform cpu --kind dense --init-from /work/runs/lgd_dense_rv/lgd_dense --camera-stage --point-loss root_vertices --root-weight 1 --steps 6000 --batch 16 --lr 3e-4 --warmup 50 --seed 5 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_dense_rv2 --poses /work/runs/cmu_poses.npz

# the candidates on the oracle (errors; one timed run each), seeds 1-3 (Adam's: s12_screens/oracle_adam_seed*, oracle_*_32_s12*)
for seed in 1 2 3; do
  (cd $T && python ../s12_screens/oracle_lgd_file.py /work/runs/lgd_dense_rv/lgd_dense oracle_lgd_dense_rv_seed$seed.json 1 $seed > oracle_lgd_dense_rv_seed$seed.txt 2>&1)
done
for seed in 1 2 3; do
  (cd $T && python ../s12_screens/oracle_lgd_file.py /work/runs/lgd_dense_rv2/lgd_dense oracle_lgd_dense_rv2_seed$seed.json 1 $seed > oracle_lgd_dense_rv2_seed$seed.txt 2>&1)
done

# the shipped dense LGD: rv2's export, and its JSON (lineage of session 12's JSON + both runs)
cp /work/runs/lgd_dense_rv2/lgd_dense.npz jaxrefine/assets/lgd_dense.npz
python $T/lgd_merge_meta.py /tmp/lgd_dense_new.json /tmp/lgd_dense_s12.json /work/runs/lgd_dense_rv /work/runs/lgd_dense_rv2
#   (/tmp/lgd_dense_s12.json = jaxrefine/assets/lgd_dense.json at 8dd9e77; the output copied to jaxrefine/assets/lgd_dense.json)

# final measurements with the shipped dense LGD, in this order on a quiet machine
J=jaxrefine; D=docs/measurements/2026-11-30; R=../shared/real_images
for run in a b; do
  $J oracle --poses $P --n 32 --seed 1 --optimizer lgd --reps 15 --json $D/oracle_lgd_32_s13$run.json > $D/oracle_lgd_32_s13$run.txt 2>&1
  $J oracle --poses $P --n 32 --seed 1 --optimizer adam --reps 15 --json $D/oracle_adam_32_s13$run.json > $D/oracle_adam_32_s13$run.txt 2>&1
done
$J eval --poses $P --n 128 --seed 2 --difficulty medium --rows learned_dense --optimizer lgd --json $D/eval128_lgd_s13.json > $D/eval128_lgd_s13.txt 2>&1
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6 --optimizer lgd --out pics_lgd --json $D/eval_real_lgd_s13.json > $D/eval_real_lgd_s13.txt 2>&1

# why eval-real's sparse_landmarks row with LGD equals `initial` (lgd_landmarks_check.txt)
(cd $T && python lgd_landmarks_check.py ../../../../../shared/real_images/coco_000000000785.jpg > lgd_landmarks_check.txt)
