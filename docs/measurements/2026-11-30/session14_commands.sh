# Session 14 (2026-11-30, Zen 4 EPYC family 25 model 17, 2 cores): exact commands of the *_s14*
# files and of s14_screens/. J=.venv/bin/jaxrefine, P=cmu_poses.npz
# (= jaxrefine mocap ../shared/mocap --out cmu_poses.npz), R=../shared/real_images.

# --- #8 screens (quiet machine, before any training; outputs in s14_screens/network_step_s14.txt)
python s14_screens/gnvjp.py                       # GroupNorm alone: autodiff vs custom VJPs
for i in 1 2; do for v in base dot; do python s14_screens/stepab.py $v 8; done; done
for i in 1 2; do for v in sum base; do python s14_screens/stepab.py $v 8; done; done
for i in 1 2; do for v in nogn base; do python s14_screens/stepab.py $v 8; done; done
for v in slicepool noresize bcastup base; do python s14_screens/stepab.py $v 8; done
taskset -c 0 python s14_screens/stepab.py base 8; python s14_screens/stepab.py base 8
python s14_screens/convab2.py; python s14_screens/convab3.py; python s14_screens/im2col.py
python s14_screens/torchprof.py

# --- #11: fine-tuning with the real-appearance augmentations (jaxrefine/data/appearance.py)
# stage 1 (one uninterrupted run, 24 min):
python scripts/train.py --platform cpu --config small --confidence --init-from shipped --steps 1500 \
  --lr 2e-4 --warmup 50 --seed 6 --batch 8 --out runs/ft_app --poses $P --val-every 250 \
  --val-frames 64 --ckpt-every 250 --workers 1 --clothing 0.5 --occluders 0.3
# stage 2 (from stage 1's run folder):
python scripts/train.py --platform cpu --config small --confidence --init-from runs/ft_app --steps 2000 \
  --lr 1e-4 --warmup 50 --seed 7 --batch 8 --out runs/ft_app2 --poses $P --val-every 250 \
  --val-frames 64 --ckpt-every 250 --workers 1 --clothing 0.5 --occluders 0.3

# real photos: the same command per network (--checkpoint RUN_DIR; none = the shipped one)
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6 \
  [--checkpoint runs/ft_app] --out pics --json eval_real_{shipped,app,app2}_s14.json
# synthetic frames of the validation subjects (the README's Table-1 frames), one pass:
$J eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense learned_dense_keypoints [--checkpoint runs/ft_app] --json eval_medium_{shipped,app,app2}_s14.json
