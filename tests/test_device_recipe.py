"""The prepared GPU run (docs/device/gpu_check.sh): its benchmark flags exist, its step limits
fit one device call, and its quick mode runs end to end here (the CPU dry run)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jaxrefine.cli import main as cli_main

SCRIPT = Path(__file__).parents[1] / "docs" / "device" / "gpu_check.sh"
DEVICE_CALL_S = 570  # the timeout_s the script's header gives the device tool's run
SETUP_S = 60  # unpacking the carried packages and the environment report, generously


def _steps(mode: str) -> list[tuple[int, list[str]]]:
    """(limit seconds, jaxrefine arguments) of the script's steps in ``mode``: "quick" (the
    GPU_CHECK_QUICK branch) or "full"."""
    text = SCRIPT.read_text().replace("\\\n", " ")
    quick, full = text.split('if [ -n "${GPU_CHECK_QUICK:-}" ]; then')[1].split("\nelse\n")
    body = quick if mode == "quick" else full.split("\nfi\n")[0]
    out = []
    for line in body.splitlines():
        m = re.match(r"\s*step (\w+) (\d+) (.*)", line)
        if m:
            args = [a.strip('"') for a in m.group(3).split()]
            out.append((int(m.group(2)), args))
    return out


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_every_flag_of_the_gpu_run_is_a_flag_of_its_benchmark(mode, capsys):
    steps = _steps(mode)
    assert [args[:2] for _, args in steps] == [
        ["bench", "raster"], ["bench", "network"], ["bench", "smplify"]
    ]  # fmt: skip
    for _, args in steps:
        with pytest.raises(SystemExit):
            cli_main([*args[:2], "--help"])
        helptext = capsys.readouterr().out
        flags = [a for a in args if a.startswith("--")]
        missing = [f for f in flags if f not in helptext]
        assert not missing, f"{' '.join(args[:2])}: {missing} not among its options"


def test_the_full_run_fits_one_device_call():
    limits = [limit for limit, _ in _steps("full")]
    assert sum(limits) + SETUP_S <= DEVICE_CALL_S, limits


def test_the_quick_gpu_run_works_here(tmp_path):
    from jaxrefine.render import egl_available

    if not egl_available():
        pytest.skip("EGL unavailable: the run's raster step measures the EGL kernel")
    env = {**os.environ, "GPU_CHECK_QUICK": "1", "SKIP_SETUP": "1", "PY": sys.executable,
           "OUT": str(tmp_path)}  # fmt: skip
    subprocess.run(["bash", str(SCRIPT)], env=env, check=True, cwd=SCRIPT.parents[2],
                   timeout=600)  # fmt: skip
    log = (tmp_path / "log.txt").read_text()
    for name in ("raster", "network", "smplify"):
        assert f"== {name} exit 0" in log, log[-3000:]
        assert (tmp_path / f"{name}.json").stat().st_size > 0
    assert "jax" in (tmp_path / "env.txt").read_text()
