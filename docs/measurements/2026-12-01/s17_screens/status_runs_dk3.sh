# refine's per-person status with session 17's lgd_dense_keypoints (working tree assets), landmarks on
J=/work/main/.venv/bin/jaxrefine; R=/work/shared/real_images
for f in coco_000000000785.jpg 3969570423_58eb848b75_c.jpg 51960182045_d5d6407a3c_c.jpg opencv_basketball1.png opencv_basketball2.png; do
  T="--tiles 1.0 0.6"; [ $f = coco_000000000785.jpg ] && T="--tiles 1.0"
  $J refine $R/$f $T --optimizer lgd --out st3_dk_${f%.*} > st3_dk_${f%.*}.txt 2>&1
done
