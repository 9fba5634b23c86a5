"""Shared test fixtures. Tests run on CPU in float32 (the precision users run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Strict numerics in tests: an implicit rank promotion ((3, 3) + (24, 3, 3)) is an error, here
# and in the commands tests start as subprocesses (they inherit the variable). Warnings are
# errors too (pyproject's filterwarnings), unless a test or that list ignores one by name.
os.environ["JAX_NUMPY_RANK_PROMOTION"] = "raise"
# The XLA flags the commands run with (jaxrefine/xla_flags.py), here and in subprocesses.
from jaxrefine import xla_flags  # noqa: E402

xla_flags.apply(host_devices=False)

REPO = Path(__file__).resolve().parents[1]
MOCAP_DIR = Path(os.environ.get("JAXREFINE_MOCAP_DIR", REPO.parent / "shared" / "mocap"))

from jaxrefine.testing import make_smpl_size_arrays  # noqa: E402


@pytest.fixture(scope="session")
def smpl_size_arrays():
    return make_smpl_size_arrays()


# the other pose prior's means: the shipped ones turned by this much on every axis (radians),
# far enough that the two priors' energies of any pose differ clearly
OTHER_PRIOR_SHIFT = 0.3


@pytest.fixture(scope="session")
def other_prior_file(tmp_path_factory) -> Path:
    """A GMM pose prior other than the shipped one, as SMPLify's ``gmm_08.pkl`` holds it (a
    pickled dict of float64 means, covars, weights): the shipped prior with its means turned
    by :data:`OTHER_PRIOR_SHIFT`."""
    import pickle

    import numpy as np

    from jaxrefine.priors import load_gmm

    shipped = load_gmm()
    arrays = {k: np.asarray(getattr(shipped, k), np.float64)
              for k in ("means", "covars", "weights")}  # fmt: skip
    arrays["means"] = arrays["means"] + OTHER_PRIOR_SHIFT
    arrays["weights"] = arrays["weights"] / arrays["weights"].sum()  # float32 -> float64 sum
    path = tmp_path_factory.mktemp("prior") / "gmm_08.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    return path


@pytest.fixture(scope="session")
def mocap_dir():
    if not MOCAP_DIR.is_dir():
        pytest.skip(f"CMU mocap folder not found at {MOCAP_DIR} (set JAXREFINE_MOCAP_DIR)")
    return MOCAP_DIR


@pytest.fixture
def dense_only_optimizer(monkeypatch):
    """A learned optimizer registered by data kind with a version for dense targets only (the
    shipped dense LGD), as ``"lgd-dense-only"`` while the test runs: what a command does
    with an optimizer that cannot fit the run's data (LGD ships a checkpoint for every data
    kind SMPLify has, so it no longer shows this)."""
    from jaxrefine.optimizers import registry
    from jaxrefine.optimizers.learned import pretrained_for_data

    def factory(learning_rate, data_kind):
        del learning_rate
        if data_kind != "dense":
            raise ValueError(f"no checkpoint for data kind {data_kind!r} (only 'dense')")
        return pretrained_for_data("dense")

    monkeypatch.setitem(registry.OPTIMIZERS, "lgd-dense-only", factory)
    monkeypatch.setattr(registry, "BY_DATA_KIND", {*registry.BY_DATA_KIND, "lgd-dense-only"})
    return "lgd-dense-only"


# Python code that makes ``import torch`` fail (put first in a subprocess's program)
_NO_TORCH = """import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'torch':
            raise ImportError('no torch here')
sys.meta_path.insert(0, NoTorch())
"""


@pytest.fixture
def without_torch():
    """Runs Python ``code`` in a subprocess where ``import torch`` fails (a user's install
    without the 'ref' extra) and returns its stdout; a failure shows the subprocess's stderr."""

    def run(code: str) -> str:
        out = subprocess.run([sys.executable, "-c", _NO_TORCH + code], capture_output=True,
                             text=True)  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    return run


@pytest.fixture
def plan_run():
    """``refine_files``' dry run (no fit, nothing written) of ``images`` with ``estimates``
    and the open body model, the ``tiny`` network's random weights: what a run would do."""

    def plan(images, estimates, out) -> dict:
        import jax

        from jaxrefine import network
        from jaxrefine.refine import RefineOptions
        from jaxrefine.refine_files import refine_files
        from jaxrefine.smpl_io import load_body_model

        cfg = network.get_config("tiny")
        net = (cfg, network.init_params(cfg, jax.random.key(0)))
        return refine_files(images, estimates, out, model=load_body_model(), network=net,
                            options=RefineOptions(), progress=False, dry_run=True)  # fmt: skip

    return plan


@pytest.fixture
def open_model_file():
    """Write the open model's file as a user's own: ``uv=False`` without its UV layout (as
    SMPL's files are), ``model_id`` under another id (to see that a ``--model`` reached a run)."""

    def write(path, *, uv: bool = True, model_id: str | None = None) -> Path:
        import numpy as np

        from jaxrefine.smpl_io import OPEN_MODEL_PATH, read_model_file

        arrays = read_model_file(OPEN_MODEL_PATH)
        if not uv:
            del arrays["vt"], arrays["ft"]
        if model_id is not None:
            arrays["model_id"] = np.array(model_id)
        np.savez(path, **arrays)
        return Path(path)

    return write
