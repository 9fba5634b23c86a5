"""The XLA flags the command line, training and tests set before JAX starts."""

from __future__ import annotations

import os
import subprocess
import sys

from jaxrefine import xla_flags
from jaxrefine.xla_flags import DEVICE_COUNT_FLAG, YNN_FLAG, tuned_flags

MEASURED = (0, 10, 2)


def test_adds_the_device_count_and_switches_ynnpack_off_on_measured_jaxlib():
    out = tuned_flags("", host_devices=2, jaxlib=MEASURED)
    assert out.split() == [f"{DEVICE_COUNT_FLAG}=2", f"{YNN_FLAG}="]
    assert tuned_flags("", host_devices=None, jaxlib=MEASURED) == f"{YNN_FLAG}="
    assert tuned_flags("", host_devices=None, jaxlib=(0, 12, 0)) == f"{YNN_FLAG}="  # 0.12.0.1


def test_the_users_flags_win_and_are_kept():
    mine = f"--xla_dump_to=/tmp/x {DEVICE_COUNT_FLAG}=8 {YNN_FLAG}=LIBRARY_FUSION_TYPE_REDUCE"
    assert tuned_flags(mine, host_devices=2, jaxlib=MEASURED) == mine


def test_nothing_experimental_on_unmeasured_jaxlib_or_when_switched_off():
    for version in ((0, 9, 0), (0, 11, 0), (0, 13, 0), None):
        assert tuned_flags("", host_devices=2, jaxlib=version) == f"{DEVICE_COUNT_FLAG}=2"
    assert tuned_flags("", host_devices=None, jaxlib=MEASURED, tuning=False) == ""


def test_apply_sets_the_environment(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    monkeypatch.setenv(xla_flags.TUNING_ENV, "off")
    assert xla_flags.apply(host_devices=True) == (
        f"--xla_dump_to=/tmp/x {DEVICE_COUNT_FLAG}={os.cpu_count()}"
    )
    assert os.environ["XLA_FLAGS"] == xla_flags.apply(host_devices=True)  # idempotent


def test_the_installed_jaxlib_accepts_what_is_added():
    """XLA aborts the process on a flag it does not know: run a computation under them."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    env.pop(xla_flags.TUNING_ENV, None)
    code = (
        "from jaxrefine import xla_flags; f = xla_flags.apply(host_devices=True); "
        "import jax, jax.numpy as jnp; "
        "print(f); print(len(jax.devices()), float(jnp.sum(jnp.arange(4.0) ** 2)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    flags, result = proc.stdout.strip().splitlines()
    assert result == f"{os.cpu_count()} 14.0"
    version = xla_flags.jaxlib_version()
    assert (YNN_FLAG in flags) == (version[:2] in xla_flags.YNN_OFF_JAXLIB)
