#!/usr/bin/env bash
# Run HERE (the CPU machine), from the repository root, before a device run of gpu_check.sh:
# fetches what the lent NVIDIA H200 machine lacks, into the git-ignored folders .whl/ and .gl/
# that the device run carries (it cannot download anything itself).
# - .whl/: the EGL rasterizer's Python wheels (moderngl, glcontext) for the device's Python
#   3.12. Everything else the GPU benchmarks import (jax with CUDA, flax, optax, optimistix,
#   equinox, numpy, scipy, matplotlib) is in the device's image (/work/.library/device/KINDS.md).
# - .gl/: Debian's EGL/GL loader packages (libglvnd), as the device tool's README advises.
set -euo pipefail
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
  moderngl==5.13.0 glcontext==3.1.0
if [ ! -d .gl ] || [ -z "$(ls .gl/*.deb 2>/dev/null)" ]; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update -qq
  # shellcheck disable=SC2086
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
ls -la .whl .gl
du -sh .whl .gl
