#!/bin/bash
# session-10 measurements (training finished; nothing else running)
set -x
cd /work/main
M=/work/runs/s10/m; mkdir -p $M
J=.venv/bin/jaxrefine
$J bench body --model open smpl-size --batches 1 32 --json $M/bench_body_block10.json > $M/bench_body_block10.txt 2>&1
$J bench body --model open smpl-size --batches 1 32 --block 1 --json $M/bench_body_block1.json > $M/bench_body_block1.txt 2>&1
$J oracle --poses /work/runs/cmu_poses_val_09_16.npz --n 32 --seed 1 --optimizer adam --json $M/oracle_adam_32.json > $M/oracle_adam_32.txt 2>&1
$J oracle --poses /work/runs/cmu_poses_val_09_16.npz --n 32 --seed 1 --optimizer lgd --json $M/oracle_lgd_32.json > $M/oracle_lgd_32.txt 2>&1
.venv/bin/python /work/runs/s10/phases.py > $M/phases.txt 2>&1
( time $J bench smplify --model open --batches 32 --optimizers adam lgd --reps 3 --json $M/bench_smplify_open.json ) > $M/bench_smplify_open.txt 2>&1
( time $J bench smplify --model smpl-size --batches 32 --optimizers adam lgd --reps 3 --json $M/bench_smplify_smpl-size.json ) > $M/bench_smplify_smpl-size.txt 2>&1
echo done > $M/DONE
#!/bin/bash
# learned-refinement evaluations with the fine-tuned network (after measure.sh)
cd /work/main
while [ ! -f /work/runs/s10/m/DONE ]; do sleep 10; done
E=/work/runs/s10/e; mkdir -p $E
J=.venv/bin/jaxrefine
CK=/work/runs/ft2_export/displacement_small.npz
P=/work/runs/cmu_poses_val_09_16.npz
for k in 0 15 25; do
  ( time $J eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 --rows learned_dense learned_dense_keypoints --rerun-every $k --checkpoint $CK --json $E/eval_medium_rerun$k.json ) > $E/eval_medium_rerun$k.txt 2>&1
done
echo done > $E/DONE
rm -f $E/DONE
S=/work/shared/real_images
( /usr/bin/time -v $J eval-real --image $S/coco_000000000785.jpg --pseudo $S/3969570423_58eb848b75_c.jpg $S/51960182045_d5d6407a3c_c.jpg $S/opencv_basketball1.png $S/opencv_basketball2.png --tiles 1.0 0.6 --checkpoint $CK --out $E/pics --json $E/eval_real.json ) > $E/eval_real.txt 2>&1
echo done > $E/DONE
