# Session 18 (2026-12-01), Zen 4 EPYC (family 25 model 17), 2 cores; results in /work/runs/s18,
# copied here (s18_upper_body/). Run from /work/main unless said otherwise.
# A fresh machine: make install, then the poses (41 s)
.venv/bin/jaxrefine mocap ../shared/mocap --out /work/runs/cmu_poses.npz
# 1. the astronaut as a file, eval-real on it (session 17's code: the box around the whole body)
.venv/bin/python -c "from skimage import data; import imageio.v3 as iio; iio.imwrite('/work/runs/astro/astronaut.png', data.astronaut())"
.venv/bin/jaxrefine eval-real --pseudo /work/runs/astro/astronaut.png --out /work/runs/astro/pics --json /work/runs/astro/eval.json
# 2. what the network sees there (session 17's box, then the in-image box)
.venv/bin/python docs/measurements/2026-12-01/s18_upper_body/network_view.py /work/runs/astro/astronaut.png /work/runs/astro/view
#    (after the box change) -> network_view_after.png; eval-real again -> astronaut_box.json;
#    a variant also dropping the targets of vertices outside the image (not kept): IoU 0.671 / 0.669
# 3. rule 1's measurements (the in-image box, shipped network): five photos Adam, 512 synthetic
#    frames, five photos LGD
bash docs/measurements/2026-12-01/s18_upper_body/evals_box.sh
# 4. upper-body photos with real ground truth (COCO 785 cut below the hips / the wrists)
.venv/bin/python docs/measurements/2026-12-01/s18_upper_body/make_upper_crops.py ../shared/real_images /work/runs/upper
# 5. the network fine-tuned with close framings (rule 2; one uninterrupted run)
.venv/bin/python scripts/train.py --platform cpu --config small --confidence --init-from shipped --steps 1500 --lr 1.5e-4 --warmup 50 --seed 10 --batch 8 --out /work/runs/ft_close --poses /work/runs/cmu_poses.npz --val-every 250 --val-frames 64 --ckpt-every 100 --workers 1 --clothing 0.5 --occluders 0.3 --distractors 0.4 --close-framing 0.3
# 6. today's baselines with session 17's code (git worktree /work/runs/wt_s17 at e22b000):
#    five photos (Adam), the upper-body photos with both codes, five photos (LGD)
git worktree add /work/runs/wt_s17 e22b000
bash docs/measurements/2026-12-01/s18_upper_body/evals_base.sh
bash docs/measurements/2026-12-01/s18_upper_body/evals_base_lgd.sh
# 7. the candidate of 5 on rule 2's measurements
bash docs/measurements/2026-12-01/s18_upper_body/evals_cand.sh
# 8. rule 3: lgd_dense fine-tuned from near starts (stopped at about step 260 by mistake and
#    continued with the same command plus --resume from its step-200 checkpoint, see
#    decision_rules_s18.md); then its evaluation, bash s18_upper_body/evals_lgd_d3.sh (its
#    last two lines, the 512-frame runs, stopped once the oracle condition had failed)
.venv/bin/python scripts/train_lgd.py --platform cpu --kind dense --init-from jaxrefine/assets/lgd_dense.npz --camera-stage --point-loss root_vertices --root-weight 1 --start-scale 0.1 1.0 --steps 3000 --batch 16 --lr 2e-4 --warmup 50 --seed 20 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_d3 --poses /work/runs/cmu_poses.npz
#    the oracle's pose file for it (subjects 09 and 16 of cmu_poses.npz, every array filtered)
#    was made with numpy: np.isin(subject, ['09', '16']) on pose/trial/subject/frame
# 9. the shipped network on the close-framing run's validation pairs
.venv/bin/python docs/measurements/2026-12-01/s18_upper_body/val_shipped.py /work/runs/ft_close
# 10. the demo (its caption: s18_upper_body/demo_s18_real_photo.txt)
make demo OUT=/tmp/demo18 REAL_IMAGES=
