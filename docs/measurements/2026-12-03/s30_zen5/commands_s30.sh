#!/bin/bash
# Session 30: command-line records (Zen 5 EPYC, 2 cores, open body model, shipped network).
# Run from the repository root with the project's real photos in ../shared/real_images.
set -u
R=../shared/real_images
OUT=${OUT:-/tmp/s30}
# --dry-run on the crowded sports photo: the people are found (BlazePose), nothing is fitted
.venv/bin/jaxrefine refine $R/3969570423_58eb848b75_c.jpg --out $OUT/crowd --dry-run 2>&1 | grep -v "^INFO"
# --max-people 3 on it: the warning names how many were found; report.json records the limits
.venv/bin/jaxrefine refine $R/3969570423_58eb848b75_c.jpg --out $OUT/crowd --max-people 3 \
  --no-tracks 2>&1 | grep -v "^INFO" | tr '\r' '\n' | grep "warning\|estimates ->"
.venv/bin/python -c "import json, sys; r = json.load(open(sys.argv[1])); \
print('settings:', {k: r['settings'][k] for k in ('min_person_score', 'max_people')}); \
[print('frame', f['frame'], 'person', f['person'], 'person_score', f['person_score'], f['status']) \
 for f in r['frames']]" $OUT/crowd/report.json
# a folder of two photos, one of them blank: left out with a warning, the other refined
mkdir -p $OUT/two && cp $R/coco_000000000785.jpg $OUT/two/a.jpg
.venv/bin/python -c "import numpy as np, imageio.v3 as iio; iio.imwrite('$OUT/two/b.png', np.full((200, 300, 3), 128, np.uint8))"
.venv/bin/jaxrefine refine $OUT/two --out $OUT/two_out --no-tracks 2>&1 | grep -v "^INFO" | tr '\r' '\n' | grep "warning\|estimates ->"
