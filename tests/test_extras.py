"""The optional extras: refining works without the `train` extra's packages, and training (or a
training run folder) without them fails naming the extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from jaxrefine.extras import TRAIN_PACKAGES, MissingExtraError, require

# A fresh interpreter in which the train extra's packages cannot be imported (None in
# sys.modules makes `import` raise ImportError), as on an install without the extra.
BLOCK = "import sys\nfor m in {mods!r}:\n    sys.modules[m] = None\n"
BLOCKED = (*TRAIN_PACKAGES, "orbax")


def _run_blocked(body: str, tmp_path) -> subprocess.CompletedProcess:
    script = tmp_path / "blocked.py"
    script.write_text(BLOCK.format(mods=BLOCKED) + textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def test_require_names_the_extra():
    assert require("json", "train", "x").dumps([1]) == "[1]"
    expected = r"reading needs the optional extra 'x' \(no_such_pkg_1 is not installed: "
    with pytest.raises(MissingExtraError, match=expected + r".*pip install 'jaxrefine\[x\]'"):
        require("no_such_pkg_1", "x", "reading")


@pytest.mark.slow
def test_refining_needs_no_train_extra_and_training_names_it(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    proc = _run_blocked(
        f"""
        import jaxrefine.refine_files, jaxrefine.photo, jaxrefine.evaluate, jaxrefine.demo
        import jaxrefine.bench.network
        from jaxrefine.network import load_pretrained
        from jaxrefine.cli import run_command
        print("shipped network:", load_pretrained()[0].name)
        try:
            run_command("refine", ["--help"])
        except SystemExit as exc:  # argparse's --help
            print("refine --help:", exc.code)
        print("train:", run_command("train", ["--steps", "1"]))
        print("train-lgd:", run_command("train-lgd", ["--steps", "1"]))
        try:
            load_pretrained({str(run)!r})
        except ImportError as exc:
            print("run folder:", exc)
        """,
        tmp_path,
    )
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, err
    assert "shipped network: small" in out and "refine --help: 0" in out
    assert "train: 2" in out and "train-lgd: 2" in out
    hint = "needs the optional extra 'train' (grain is not installed"
    assert err.count(f"jaxrefine train: error: training {hint}") == 1
    assert err.count(f"jaxrefine train-lgd: error: training {hint}") == 1
    assert f"run folder: {run}: reading a training run folder needs the optional extra" in out
    assert "pip install 'jaxrefine[train]'" in out
