# Session 12 (2026-11-30, the Zen 4 EPYC of sessions 9-11): the exact commands behind the *_s12*
# files and s12_screens/. POSES = /work/runs/cmu_poses_val_09_16.npz (subjects 09 and 16 of
# `jaxrefine mocap ../shared/mocap --out /work/runs/cmu_poses.npz`).
P=/work/runs/cmu_poses_val_09_16.npz
S=docs/measurements/2026-11-30/s12_screens

# LGD training runs (each exported to OUT/lgd_KIND.{npz,json}); nice 19, in this order
python scripts/train_lgd.py --platform cpu --kind dense --init-from shipped --steps 2000 --batch 16 --lr 3e-4 --warmup 50 --seed 1 --ckpt-every 100 --val-every 250 --log-every 10 --out /work/runs/lgd_dense_ft --poses /work/runs/cmu_poses.npz
python scripts/train_lgd.py --platform cpu --kind dense --init-from /work/runs/lgd_dense_ft/lgd_dense --camera-stage --steps 3000 --batch 16 --lr 3e-4 --warmup 50 --seed 2 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_dense_cam --poses /work/runs/cmu_poses.npz
python scripts/train_lgd.py --platform cpu --kind sparse --init-from shipped --camera-stage --steps 3000 --batch 32 --lr 3e-4 --warmup 50 --seed 2 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_sparse_cam --poses /work/runs/cmu_poses.npz
python scripts/train_lgd.py --platform cpu --kind dense --init-from /work/runs/lgd_dense_cam/lgd_dense --camera-stage --steps 6000 --batch 16 --lr 3e-4 --warmup 50 --seed 3 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_dense_cam2 --poses /work/runs/cmu_poses.npz
# the shipped JSONs (the npz files are the runs' exports, copied)
python $S/lgd_merge_meta.py jaxrefine/assets/lgd_sparse.json OLD/lgd_sparse.json /work/runs/lgd_sparse_cam
python $S/lgd_merge_meta.py jaxrefine/assets/lgd_dense.json OLD/lgd_dense.json /work/runs/lgd_dense_ft /work/runs/lgd_dense_cam /work/runs/lgd_dense_cam2
#   (OLD = the JSONs shipped at 88259b6; the outputs were written to /tmp and copied)

# camera stride (before CAMERA_VERTEX_STRIDE was set; the loop ran on one CPU device, see its note)
(cd $S && ./camera_stride.sh > camera_stride.txt)
(cd $S && python camera_stride_ab.py 15 1 4 8 > camera_stride_ab.txt)
(cd $S && ./eval_stride.sh)                    # eval128_stride{1,4,8}.*
(cd $S && python camera_stride_smplsize.py 10 1 4 > camera_stride_smplsize.txt)   # training paused

# LGD candidates on the oracle (errors; the script reloads the checkpoint every call)
(cd $S && python oracle_lgd_file.py /work/runs/lgd_dense_ft/lgd_dense oracle_lgd_ft2000.json)
(cd $S && python oracle_lgd_file.py /work/runs/lgd_dense_cam/lgd_dense oracle_lgd_cam3000.json)
(cd $S && python oracle_lgd_file.py /work/runs/lgd_sparse_cam/lgd_sparse oracle_lgd_sparse_cam3000.json)
(cd $S && python oracle_lgd_file.py /work/runs/lgd_dense_cam2/lgd_dense oracle_lgd_dense_cam9000.json 5)
for seed in 2 3; do for c in cam cam2; do
  (cd $S && python oracle_lgd_file.py /work/runs/lgd_dense_$c/lgd_dense oracle_lgd_dense_${c}_seed$seed.json 1 $seed)
done; (cd $S && jaxrefine oracle --poses $P --n 32 --seed $seed --optimizer adam --json oracle_adam_seed$seed.json); done

# (run in docs/measurements/2026-11-30) the README's oracle table: a and b (training paused; LGD checkpoints: sparse new, dense old), c (shipped)
for r in a b; do for o in lgd adam; do
  jaxrefine oracle --poses $P --n 32 --seed 1 --optimizer $o --reps 15 --json oracle_${o}_32_s12$r.json
done; done
jaxrefine oracle --poses $P --n 32 --seed 1 --optimizer lgd --reps 15 --json oracle_lgd_32_s12c.json
jaxrefine oracle --poses $P --n 32 --seed 1 --optimizer adam --reps 15 --json oracle_adam_32_s12c.json

# LGD with the network's targets (128 frames, seed 2)
(cd $S && jaxrefine eval --poses $P --n 128 --seed 2 --difficulty medium --rows learned_dense --optimizer lgd --json eval128_lgd_olddense.json)   # before the dense checkpoint changed
(cd $S && python eval_lgd_file.py /work/runs/lgd_dense_cam/lgd_dense --poses $P --n 128 --seed 2 --difficulty medium --rows learned_dense --optimizer lgd_file --json eval128_lgd_cam3000.json)
(cd $S && jaxrefine eval --poses $P --n 128 --seed 2 --difficulty medium --rows learned_dense --optimizer lgd --json eval128_lgd_newdense.json)   # the shipped one
