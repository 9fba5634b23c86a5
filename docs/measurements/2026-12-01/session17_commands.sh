# Session 17 (2026-12-01), Zen 4 EPYC (family 25 model 17), 2 cores; run from /work/runs/s17
# unless said otherwise. J=/work/main/.venv/bin/jaxrefine R=/work/shared/real_images
R=/work/shared/real_images; J=/work/main/.venv/bin/jaxrefine; P=/work/runs/cmu_poses.npz
PHOTOS="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6"

# 1. diagnostic, first form (bypassed the CLI's XLA flags, so its initial fits differ): kept as
#    eval_real_lgd_conf1_noflags.*; second form through the CLI:
python conf1_diag.py eval-real $PHOTOS --optimizer lgd --out pics_conf1 --json eval_real_lgd_conf1.json > eval_real_lgd_conf1.txt
# 2. today's baseline, shipped checkpoints (reproduces session 16's eval_real_lgd_s16 exactly)
$J eval-real $PHOTOS --optimizer lgd --out pics_lgd_base --json eval_real_lgd_base.json > eval_real_lgd_base.txt
# 3. how far the degraded targets are from the oracle's (16 validation frames)
python docs/measurements/2026-12-01/s17_screens/degrade_check.py > docs/measurements/2026-12-01/degrade_check.txt   # (from /work/main)
# 4. the candidate: lgd_dense_keypoints fine-tuned on degraded dense targets (from /work/main)
.venv/bin/python scripts/train_lgd.py --platform cpu --kind dense_keypoints --init-from jaxrefine/assets/lgd_dense_keypoints.npz --camera-stage --point-loss root_vertices --root-weight 1 --dense-shrink 0.3 1.0 --dense-part-noise 3 --steps 3000 --batch 16 --lr 2e-4 --warmup 50 --seed 17 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_dk2 --poses /work/runs/cmu_poses.npz
# 5. the same for the dense-only checkpoint (started beside 4, both at nice 19)
.venv/bin/python scripts/train_lgd.py --platform cpu --kind dense --init-from jaxrefine/assets/lgd_dense.npz --camera-stage --point-loss root_vertices --root-weight 1 --dense-shrink 0.3 1.0 --dense-part-noise 3 --steps 3000 --batch 16 --lr 2e-4 --warmup 50 --seed 18 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_d2 --poses /work/runs/cmu_poses.npz
# 6. the candidates (exports of 4 and 5 copied with the shipped lgd_sparse into /work/runs/s17/cand):
#    eval-real, eval (512 medium frames), and the confidence diagnostic through the CLI
bash s17_screens/evals_cand.sh
# 7. the oracle with the dense candidate in the working tree's assets (then reverted), seeds 1-3
bash s17_screens/oracle_new_dense.sh
# 8. refine's per-person status with the shipped LGD checkpoints, photo by photo
bash s17_screens/status_runs.sh
# 9. determinism of the photo initializer within one process
python s17_screens/init_repeat.py
# 10. does LGD overshoot from near starts? (shipped checkpoints; then the candidate of 11)
python s17_screens/lgd_near_starts.py dense; python s17_screens/lgd_near_starts.py dense_keypoints
# 11. lgd_dense_keypoints fine-tuned from near starts (from /work/main)
.venv/bin/python scripts/train_lgd.py --platform cpu --kind dense_keypoints --init-from jaxrefine/assets/lgd_dense_keypoints.npz --camera-stage --point-loss root_vertices --root-weight 1 --start-scale 0.1 1.0 --steps 3000 --batch 16 --lr 2e-4 --warmup 50 --seed 19 --ckpt-every 100 --val-every 500 --log-every 10 --out /work/runs/lgd_dk3 --poses /work/runs/cmu_poses.npz
# 12. the candidate of 11: eval-real, eval (512 medium frames), the near-starts diagnostic
bash s17_screens/evals_cand3.sh
# 13. shipped (every rule held): its JSON = the run's export + lineage (from /work/main)
python docs/measurements/2026-12-01/s17_screens/lgd_dk3_meta.py /work/runs/lgd_dk3 jaxrefine/assets
# 14. refine's per-person status with the shipped checkpoint, photo by photo; summary
bash s17_screens/status_runs_dk3.sh   # -> s17_screens/status_summary.txt
# 15. clean clone at 30916e6: make test (54 files passed, 3,238 s beside run 11); then the
#     later commits' test files and the demo in the same clone pulled to HEAD
