# Session 20: the exact commands behind docs/measurements/2026-12-01/s20_tiles/ (from /work/main).
# Fresh install: make install; the photos in ../shared/real_images; session 18's upper-body crops:
.venv/bin/python docs/measurements/2026-12-01/s18_upper_body/make_upper_crops.py ../shared/real_images /work/runs/upper
mkdir -p /work/runs/astro
.venv/bin/python -c "from skimage import data; import imageio.v3 as iio; iio.imwrite('/work/runs/astro/astronaut.png', data.astronaut())"
cp .venv/lib/python3.11/site-packages/matplotlib/mpl-data/sample_data/grace_hopper.jpg \
   .venv/lib/python3.11/site-packages/skimage/data/camera.png /work/runs/astro/
# 1. people per tile setting (change 1: run at the commit's code without MASK_DUPLICATE_OVERLAP,
#    i.e. _same_person's box test only; change 3: the committed code) -> tile_screen_change{1,3}.txt
R=../shared/real_images
.venv/bin/python docs/measurements/2026-12-01/s20_tiles/tile_screen.py /work/runs/s20/screen3 \
  $R/coco_000000000785.jpg $R/3969570423_58eb848b75_c.jpg $R/51960182045_d5d6407a3c_c.jpg \
  $R/opencv_basketball1.png $R/opencv_basketball2.png /work/runs/upper/coco785_chest.jpg \
  /work/runs/upper/coco785_hips.jpg /work/runs/astro/astronaut.png \
  /work/runs/astro/grace_hopper.jpg /work/runs/astro/camera.png
# 2. eval-real, baseline (session 19's code) and the new default
bash docs/measurements/2026-12-01/s20_tiles/eval_base.sh
bash docs/measurements/2026-12-01/s20_tiles/eval_tiles.sh
.venv/bin/python docs/measurements/2026-12-01/s20_tiles/per_person.py \
  /work/runs/s20/eval/eval_real_base_s20.json /work/runs/s20/eval/eval_real_tiles_s20.json
