# jaxrefine: `make demo` and `make test` work on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
EXTRAS ?= train,egl,ref,dev,jaxopt,notebooks,data,detect
comma  := ,
EXTRA_LIST = $(subst $(comma), ,$(EXTRAS))
OUT    ?= out
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax
export MPLBACKEND ?= Agg

.PHONY: all install system-deps demo test lint format bench clean

all: test

# Debian's EGL/GL libraries (Mesa llvmpipe on CPU machines) for the rasterizer kernel, and
# (optional, best effort) blender-data's CC0 HDRIs for synthetic backgrounds and libxrender1 for
# pyrender, the optional reference renderer.
system-deps:
	@if ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1' && ldconfig -p | grep -q 'libGL.so.1'; then \
	  echo "EGL/GL libraries present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing libegl1 libgl1"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1 >/dev/null; \
	else \
	  echo "warning: libEGL/libGL missing and not root: the EGL rasterizer falls back to pure JAX"; \
	  echo "         (install them with: sudo apt-get install libegl1 libgl1)"; \
	fi
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ! -d /usr/share/blender/datafiles/studiolights ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends blender-data libxrender1 >/dev/null) \
	    || echo "note: blender-data unavailable: synthetic backgrounds use photos and procedural images"; \
	fi

$(VENV)/.installed: pyproject.toml
	$(MAKE) system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned, so that smplx does not pull a CUDA build where a CPU wheel is available;
	# only for the ref extra (the PyTorch references: parity tests, benchmarks' reference columns)
	$(if $(filter ref,$(EXTRA_LIST)),$(PIP) install -q torch==2.13.0 || echo "warning: torch==2.13.0 unavailable; smplx parity tests will be skipped",@echo "note: EXTRAS without ref: PyTorch not installed; the parity tests will be skipped")
	$(PIP) install -q -e ".[$(EXTRAS)]" || $(PIP) install -q -e ".[train,egl,dev,jaxopt,notebooks,data]"
	# pyrender (optional reference renderer) pins PyOpenGL 3.1.0, which fails on EGL: override it
	$(PIP) install -q pyrender==0.1.45 && $(PIP) install -q PyOpenGL==3.1.10 \
	  || echo "note: pyrender unavailable: its comparison test and benchmark rows are skipped"
	# BlazePose model files for photos (the detect extra): from the mediapipe 0.10.21 wheel, sha256-checked
	$(PY) -m jaxrefine.cli fetch-models \
	  || echo "note: BlazePose models not fetched: photo detection unavailable (retry: jaxrefine fetch-models)"
	touch $@

install: $(VENV)/.installed

# the project's real photos (development checkouts only; a user's install uses the astronaut)
REAL_IMAGES ?= $(wildcard ../shared/real_images)

demo: install
	$(PY) -m jaxrefine.cli demo --out $(OUT) $(if $(REAL_IMAGES),--real-images $(REAL_IMAGES))

# one pytest process per test file, two at a time (tests/run_suite.py says why)
test: install
	$(PY) tests/run_suite.py -j 2 -q -p no:cacheprovider --timeout=1200

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m jaxrefine.cli bench body --json $(OUT)/bench_body.json

clean:
	rm -rf $(OUT) .cache .pytest_cache
