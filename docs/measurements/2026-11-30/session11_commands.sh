# Session 11 (2026-11-30, same Zen 4 EPYC as session 10): the exact commands of the *_s11* files.
# POSES = /work/runs/cmu_poses_val_09_16.npz (subjects 09 and 16 of `jaxrefine mocap ../shared/mocap`);
# the network is the shipped one (jaxrefine/assets/displacement_small.npz, 7,100 steps).
P=/work/runs/cmu_poses_val_09_16.npz

# choosing the re-run setting on 128 frames, seed 2 (opt128_s11_*; the loop is opt128_s11.sh)
for opt in "15" "15 --confidence" "10 --confidence" "10"; do
  jaxrefine eval --poses $P --n 128 --seed 2 --difficulty medium --rows learned_dense keypoints_detected \
     --rerun-every $opt --json opt128_s11_rerunevery$(echo "$opt" | tr -d ' -').json
done

# the chosen setting on the 512 frames of the README's medium table (eval_medium_s11_rerun10conf.*)
jaxrefine eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense keypoints_detected --rerun-every 10 --confidence --json eval_medium_s11_rerun10conf.json

# the oracle after the final check moved into the fit program (oracle_*_32_s11.*; oracle_*_32_s11a.* is the
# intermediate version with two evaluations in the program, same command)
for o in lgd adam; do
  jaxrefine oracle --poses $P --n 32 --seed 1 --optimizer $o --reps 5 --json oracle_${o}_32_s11.json
done

# the learned_dense_keypoints row with the chosen setting (eval_medium_s11_kp_rerun10conf.*)
jaxrefine eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense_keypoints --rerun-every 10 --confidence --json eval_medium_s11_kp_rerun10conf.json

# the oracle again after the final-terms change (oracle_*_32_s11c.*), same command
for o in lgd adam; do
  jaxrefine oracle --poses $P --n 32 --seed 1 --optimizer $o --reps 5 --json oracle_${o}_32_s11c.json
done

# hard, the shipped network with the chosen setting (eval_hard_s11_rerun10conf.*)
jaxrefine eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty hard --batch 16 \
  --rows learned_dense learned_dense_keypoints --rerun-every 10 --confidence --json eval_hard_s11_rerun10conf.json

# the model users bring, after every code change of the session (bench_smplify_smpl-size_s11.*)
( time jaxrefine bench smplify --model smpl-size --batches 32 --optimizers adam lgd --reps 3 --json bench_smplify_smpl-size_s11.json ) > bench_smplify_smpl-size_s11.txt 2>&1
