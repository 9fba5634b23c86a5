#!/bin/bash
# alternating processes: stride x optimizer, two rounds; the machine otherwise quiet
for round in 1 2; do
  for s in 1 2 4 8; do
    for o in adam lgd; do
      echo "== round $round stride $s $o"
      /work/main/.venv/bin/python camera_stride.py $s $o cs${s}_${o}_r${round}.json 2>&1 | grep -E "^\| (init|sparse_gt|dense_gt)"
    done
  done
done
