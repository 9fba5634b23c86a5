set -e
# session 20 baseline: a git worktree of d20e46c (session 19's HEAD) at /work/wt_s20base with
# this session's jaxrefine/evaluate_real_cli.py and jaxrefine/demo.py copied in before the tiles
# default changed (they add eval-real's per-person scores to the JSON; no computation changed),
# run with the same .venv; the photos' setting of every earlier table, --tiles 1.0 0.6; mask
# gate 0.03 (default), Adam, shipped network.
#   git worktree add -f /work/wt_s20base d20e46c
#   cp jaxrefine/evaluate_real_cli.py jaxrefine/demo.py /work/wt_s20base/jaxrefine/
mkdir -p /work/runs/s20/eval && cd /work/runs/s20/eval
R=/work/shared/real_images
PYTHONPATH=/work/wt_s20base /work/main/.venv/bin/python -c "import sys; from jaxrefine.cli import main; sys.exit(main(sys.argv[1:]))" eval-real \
  --image $R/coco_000000000785.jpg --pseudo $R/3969570423_58eb848b75_c.jpg \
  $R/51960182045_d5d6407a3c_c.jpg $R/opencv_basketball1.png $R/opencv_basketball2.png \
  --tiles 1.0 0.6 --out pics_base --json eval_real_base_s20.json > eval_real_base_s20.txt 2>&1
