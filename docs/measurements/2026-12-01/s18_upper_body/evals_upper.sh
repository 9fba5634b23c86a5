set -e
# session 18: the upper-body photos (make_upper_crops.py's two COCO crops with real ground truth,
# the astronaut with pseudo ground truth), eval-real with Adam.
#   bash evals_upper.sh TAG [CODE_DIR] [-- extra eval-real args, e.g. --checkpoint DIR]
# TAG names the files; CODE_DIR: a checkout whose jaxrefine is imported (default: /work/main)
TAG=$1; CODE=${2:-/work/main}; shift 2 || shift 1; [ "${1:-}" = "--" ] && shift
U=/work/runs/upper; cd /work/runs/s18
run() { PYTHONPATH=$CODE /work/main/.venv/bin/python -m jaxrefine.cli eval-real "$@"; }
run --image $U/coco785_hips.jpg --pseudo /work/runs/astro/astronaut.png --out pics_upper_$TAG \
  --json eval_upper_hips_astro_$TAG.json "$@" > eval_upper_hips_astro_$TAG.txt 2>&1
run --image $U/coco785_chest.jpg --out pics_upper_$TAG --json eval_upper_chest_$TAG.json "$@" \
  > eval_upper_chest_$TAG.txt 2>&1
