#!/bin/bash
# A/B of one `jaxrefine refine` of a photo (default: the 6-person photo of ../shared/real_images):
# BASE (a commit before the change) against the working tree, alternating, each run a fresh
# process with the persistent compilation cache warm (one untimed run of each side first).
# Wall seconds of the whole command (start to exit), as a user waits for it.
#   bash docs/measurements/2026-12-07/s50_zen4/photo_ab.sh BASE [REPS]
# MODEL=FILE refines with that body model (--model) on both sides, e.g. an SMPL-size one.
set -euo pipefail
BASE=$1
REPS=${2:-3}
PY=$(pwd)/.venv/bin/python
PHOTO=$(realpath "${PHOTO:-../shared/real_images/3969570423_58eb848b75_c.jpg}")
MODEL_FLAGS=()
[ -n "${MODEL:-}" ] && MODEL_FLAGS=(--model "$(realpath "$MODEL")")
OLD=/tmp/photo_ab_base
rm -rf "$OLD" && git worktree add -f --detach "$OLD" "$BASE" > /dev/null
trap 'git worktree remove --force "$OLD"' EXIT
run() {  # $1: the side's folder; prints the wall seconds
  rm -rf /tmp/photo_ab_out
  local s e
  s=$(date +%s.%N)
  (cd "$1" && "$PY" -m jaxrefine.cli refine "$PHOTO" "${MODEL_FLAGS[@]}" --out /tmp/photo_ab_out > /dev/null 2>&1)
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}
for side in "$OLD" .; do  # which code each side runs, and its warm-up
  (cd "$side" && "$PY" -c "import jaxrefine; print(jaxrefine.__file__)")
  run "$side" > /dev/null
done
echo "photo: $PHOTO; model: ${MODEL:-the open model}; base: $(git rev-parse --short "$BASE"); head: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + working tree')"
for rep in $(seq "$REPS"); do
  echo "rep $rep  base $(run "$OLD") s  head $(run .) s"
done
