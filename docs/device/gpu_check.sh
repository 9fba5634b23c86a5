#!/usr/bin/env bash
# The GPU measurements the README and issue 8 wait for, as ONE device run (untested so far: no
# GPU has been lent to this project; a CPU dry run checks its plumbing, see README.md here).
#   1. here: bash docs/device/prepare.sh
#   2. device tool: run(command="bash docs/device/gpu_check.sh", carry=[".whl", ".gl"],
#      timeout_s=570); the step limits below add up to 510 s plus setup.
#   3. the files come back (at most 8): env.txt, log.txt, raster.json, network.json,
#      smplify.json; copy them to docs/measurements/<date>/<session>_h200/ and fill the GPU rows
#      (README, docs/BENCHMARKS.md; targets: rasterizer >= 2,000 frames/s; `paper` forward
#      <= 10 ms/frame at batch 32; dense refinement of 32 frames < 10 ms).
# GPU rows run without the PyTorch twins (--no-torch): those run on the CPU only, so a
# side-by-side row would compare a GPU with a CPU; the targets above are absolute.
# GPU_CHECK_QUICK=1 shrinks every step (the CPU dry run); SKIP_SETUP=1 skips the unpacking
# (a machine that has the libraries); PY: the Python to use (default python3).
set -u
OUT=${OUT:-/tmp/gpu_check}
PY=${PY:-python3}
mkdir -p "$OUT"
if [ -z "${SKIP_SETUP:-}" ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
  nv=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f "$nv" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$nv
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export JAX_COMPILATION_CACHE_DIR=/tmp/gpu_check_jax_cache
log=$OUT/log.txt
{
  date -u
  nvidia-smi || echo "nvidia-smi: not found"
  "$PY" -c "import jax, jaxlib, flax, optax; print('jax', jax.__version__, 'jaxlib',
jaxlib.__version__, 'flax', flax.__version__, 'optax', optax.__version__); print(jax.devices())"
  "$PY" -c "from jaxrefine.render import default_rasterizer; print(default_rasterizer())"
} > "$OUT/env.txt" 2>&1

step() {  # step NAME SECONDS ARGS...: one jaxrefine command, its output appended to log.txt
  local name=$1 limit=$2
  shift 2
  echo "== $name ($(date -u +%T)): jaxrefine $*" >> "$log"
  timeout "$limit" "$PY" -m jaxrefine.cli "$@" >> "$log" 2>&1
  echo "== $name exit $? ($(date -u +%T))" >> "$log"
}

if [ -n "${GPU_CHECK_QUICK:-}" ]; then
  step raster 120 bench raster --sizes 64 --batches 1 --backends egl jax --budget 0.5 \
    --json "$OUT/raster.json"
  step network 240 bench network --configs tiny --batches 1 --reps 1 --no-torch \
    --json "$OUT/network.json"
  step smplify 240 bench smplify --batches 1 --kinds dense --steps 2 --reps 1 --no-torch \
    --optimizers adam lgd --json "$OUT/smplify.json"
else
  step raster 90 bench raster --sizes 256 512 --batches 1 32 --backends egl egl-cull jax \
    --budget 3 --json "$OUT/raster.json"
  step network 240 bench network --configs small,paper --batches 1,8,32 --reps 5 --no-torch \
    --json "$OUT/network.json"
  step smplify 180 bench smplify --model smpl-size --batches 1 32 --kinds dense \
    --optimizers adam lgd --reps 3 --no-torch --json "$OUT/smplify.json"
fi
