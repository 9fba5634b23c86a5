# Session 15 (2026-11-30, Zen 4 EPYC family 25 model 17, 2 cores): exact commands of the *_s15*
# files. J=.venv/bin/jaxrefine, P=cmu_poses.npz
# (= jaxrefine mocap ../shared/mocap --out cmu_poses.npz), R=../shared/real_images.

# --- #11: fine-tuning with other people on the training images (appearance.paste_person)
# stage 1 (one uninterrupted run, 30 min; log: crowd1_log_s15.csv), from the network shipped in session 14:
python scripts/train.py --platform cpu --config small --confidence --init-from shipped --steps 2000 \
  --lr 1.5e-4 --warmup 50 --seed 8 --batch 8 --out runs/ft_crowd --poses $P --val-every 250 \
  --val-frames 64 --ckpt-every 250 --workers 1 --clothing 0.5 --occluders 0.3 --distractors 0.4
# stage 2 (from stage 1's run folder; log: crowd2_log_s15.csv):
python scripts/train.py --platform cpu --config small --confidence --init-from runs/ft_crowd --steps 2000 \
  --lr 1e-4 --warmup 50 --seed 9 --batch 8 --out runs/ft_crowd2 --poses $P --val-every 250 \
  --val-frames 64 --ckpt-every 250 --workers 1 --clothing 0.5 --occluders 0.3 --distractors 0.6

# real photos (the shipped network of session 14: eval_real_app2_s14, same machine type):
$J eval-real --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6 \
  --checkpoint runs/ft_crowd{,2} --out pics --json eval_real_crowd{,2}_s15.json
# synthetic frames of the validation subjects (the README's Table-1 frames), one pass:
$J eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense learned_dense_keypoints --checkpoint runs/ft_crowd{,2} --json eval_medium_crowd{,2}_s15.json

# the shipped JSON (lineage): export, then merge with the previous shipped JSON
python scripts/export_network.py --run runs/ft_crowdN --out export/displacement_small.npz --command x
python s15_screens/crowd_merge_meta.py export/displacement_small.json OLD_SHIPPED.json runs/ft_crowdN/log.csv jaxrefine/assets/displacement_small.json
