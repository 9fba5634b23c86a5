# Session 16 (2026-11-30, Zen 4 EPYC family 25 model 17, 2 cores): exact commands of the *_s16*
# files and of s16_screens/. J=.venv/bin/jaxrefine, P=cmu_poses.npz
# (= jaxrefine mocap ../shared/mocap --out cmu_poses.npz), R=../shared/real_images.

# --- #11: learned gradient descent for dense targets plus keypoints (lgd_dense_keypoints)
# one uninterrupted run, nice 19, 41 min (log: s16_screens/lgd_dk_log.csv; also s16_screens/lgd_dk.cmd),
# from the lgd_dense shipped since session 13, extended by jaxrefine.train.lgd.extend_start:
python scripts/train_lgd.py --platform cpu --kind dense_keypoints --init-from jaxrefine/assets/lgd_dense.npz \
  --camera-stage --point-loss root_vertices --root-weight 1 --steps 6000 --batch 16 --lr 3e-4 --warmup 50 \
  --seed 6 --ckpt-every 100 --val-every 500 --log-every 10 --out runs/lgd_dk --poses $P
# the shipped files: the run's export with its note and validation history
python s16_screens/lgd_dk_meta.py runs/lgd_dk jaxrefine/assets

# evaluations with it in the package (s16_screens/evals.sh), quiet machine, one after the other.
# These first ones ran before the fix of refine's body-stage step count (commit after ff2def2):
# LGD got 100 learned steps; their LGD files were renamed *_lgd_100steps_s16.*. The LGD ones
# were re-run after the fix (s16_screens/evals2.sh, same commands) into *_lgd_s16.*:
# the 512 `medium` frames of the validation subjects, one pass of the shipped network (same
# frames and network as eval_medium_crowd_s15), LGD and Adam:
$J eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense learned_dense_keypoints --optimizer lgd|adam --json eval_medium_{lgd,adam}_s16.json
# the five photos with LGD (Adam's: eval_real_crowd_s15, the same network and code path):
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6 \
  --optimizer lgd --out pics_lgd --json eval_real_lgd_s16.json
# fit time, Adam vs LGD, ground-truth dense targets plus noisy keypoints, 32 frames (run twice;
# the file holds the second run):
python s16_screens/lgd_dk_speed.py $P 5 > s16_screens/lgd_dk_speed.txt
python s16_screens/lgd_dk_speed.py $P 5 smpl-size > s16_screens/lgd_dk_speed_smplsize.txt

# the eval's fit programs (before the fix; persistent compilation cache warm from the run above):
JAX_LOG_COMPILES=1 $J eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense --optimizer lgd   # fit-compile lines kept: s16_screens/eval_lgd512_rerun_compiles.txt
# refine's fit time, Adam and LGD in turn, after the fix, and before it (the code of ff2def2 in
# a git worktree first on the path; a first, unkept run before the fix gave 16.05 / 19.05 ms):
python s16_screens/refine_fit_time.py $P 128 > s16_screens/refine_fit_time.txt
git worktree add /tmp/wt_ff2 ff2def2
PYTHONPATH=/tmp/wt_ff2 python s16_screens/refine_fit_time.py $P 128 > s16_screens/refine_fit_time_before_fix.txt
