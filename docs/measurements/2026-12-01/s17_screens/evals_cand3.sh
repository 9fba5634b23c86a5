set -e
# session 17's second candidate (lgd_dense_keypoints from near starts): cand3 = the shipped
# lgd_sparse and lgd_dense + the candidate's lgd_dense_keypoints
cd /work/runs/s17
PY=/work/main/.venv/bin/python; R=/work/shared/real_images; P=/work/runs/cmu_poses.npz
cp /work/runs/lgd_dk3/lgd_dense_keypoints.npz /work/runs/lgd_dk3/lgd_dense_keypoints.json cand3/
PHOTOS="--image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png --tiles 1.0 0.6"
$PY with_assets.py cand3 eval-real $PHOTOS --optimizer lgd --out pics_cand3 --json eval_real_lgd_cand3.json > eval_real_lgd_cand3.txt 2>&1
$PY with_assets.py cand3 eval --poses $P --subjects 09 16 --n 512 --seed 1 --difficulty medium --batch 16 \
  --rows learned_dense_keypoints --optimizer lgd --json eval_medium_lgd_cand3.json > eval_medium_lgd_cand3.txt 2>&1
$PY lgd_near_starts.py dense_keypoints /work/runs/lgd_dk3/lgd_dense_keypoints > lgd_near_starts_cand3.txt
