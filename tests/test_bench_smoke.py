"""Every ``jaxrefine bench`` command runs to its table with tiny sizes (figures not asserted:
they depend on the machine; this only keeps the commands from rotting)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from jaxrefine.bench import main as bench_main
from jaxrefine.bench.common import interleaved

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_SMPLX = HAS_TORCH and importlib.util.find_spec("smplx") is not None
NO_TORCH_REASON = "torch/smplx not installed (pip install '.[ref]'): run without the reference"


def _run(argv, tmp_path, capsys) -> tuple[str, dict]:
    out = tmp_path / "bench.json"
    assert bench_main([*argv, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "|" in text or "---" in text, text  # a table was printed
    return text, json.loads(out.read_text())


def test_bench_body(tmp_path, capsys):
    extra = [] if HAS_SMPLX else ["--no-torch"]
    text, rec = _run(
        ["body", "--model", "smpl-size", "--batches", "1", "--budget", "0", "--reps", "1",
         "--block", "2", *extra],
        tmp_path,
        capsys,
    )  # fmt: skip
    assert "whole mesh on every side" in text and "turns of 2 timed call(s)" in text
    assert rec["block"] == 2 and all(r["jax"]["reps"] == 2 for r in rec["results"])
    assert {r["pass"] for r in rec["results"]} == {"fwd", "fwd+bwd"}


def test_interleaved_takes_turns_of_block_calls():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    t = interleaved(fns, min_reps=2, max_reps=2, budget_s=0.0, block=3)
    assert calls == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
    assert {k: len(v) for k, v in t.items()} == {"a": 6, "b": 6}
    with pytest.raises(ValueError, match="block"):
        interleaved(fns, block=0)


@pytest.mark.parametrize("model", ["open", "smpl-size"])
def test_bench_smplify(tmp_path, capsys, model):
    extra = [] if HAS_SMPLX else ["--no-torch"]
    argv = ["smplify", "--model", model, "--batches", "1", "--steps", "2", "--reps", "1"]
    text, rec = _run([*argv, *extra], tmp_path, capsys)
    assert "dense, whole mesh" in text  # the same-work row
    assert {r["row"] for r in rec["results"]} == {"keypoints", "dense", "dense, whole mesh"}


def test_bench_smplify_lgd_rows(tmp_path, capsys):
    """``--optimizers lgd``: rows whose body stage is the shipped LGD checkpoint, and only them."""
    argv = ["smplify", "--batches", "1", "--steps", "2", "--reps", "1", "--optimizers", "lgd",
            "--no-torch"]  # fmt: skip
    text, rec = _run(argv, tmp_path, capsys)
    assert "LGD body stage" in text
    assert {r["row"] for r in rec["results"]} == {
        "keypoints, LGD body stage",
        "dense, LGD body stage",
    }
    assert {r["optimizer"] for r in rec["results"]} == {"lgd"}


def test_bench_raster(tmp_path, capsys):
    _run(["raster", "--sizes", "32", "--batches", "1", "--backends", "jax", "--budget", "0"],
         tmp_path, capsys)  # fmt: skip


def test_bench_data(tmp_path, capsys):
    argv = ["data", "--size", "32", "--batch-sizes", "1", "--backends", "jax", "--modes", "fresh",
            "--texture-size", "32", "--budget", "0", "--min-reps", "1"]  # fmt: skip
    _run(argv, tmp_path, capsys)


@pytest.mark.skipif(
    importlib.util.find_spec("jaxrefine.bench.network") is None, reason="no bench network"
)
def test_bench_network(tmp_path, capsys):
    extra = [] if HAS_TORCH else ["--no-torch"]
    argv = ["network", "--configs", "tiny", "--batches", "1", "--size", "32", "--reps", "1"]
    _run([*argv, *extra], tmp_path, capsys)


def test_bench_usage_goes_to_stderr(capsys):
    assert bench_main(["nonsense"]) == 2
    captured = capsys.readouterr()
    assert "usage: jaxrefine bench" in captured.err and captured.out == ""


@pytest.mark.parametrize("argv", [
    ["body", "--reps", "0"], ["body", "--batches", "1", "0"], ["smplify", "--reps", "0"],
    ["smplify", "--batches", "0"], ["network", "--reps", "0"], ["network", "--batches", "1,0"],
    ["raster", "--batches", "0"], ["data", "--batch-sizes", "0"], ["data", "--min-reps", "0"],
    ["body", "--block", "0"], ["raster", "--sizes", "0"], ["data", "--pool", "0"],
    ["data", "--size", "0"], ["data", "--texture-size", "0"], ["network", "--size", "0"],
    ["smplify", "--max-torch-batch", "0"],
])  # fmt: skip
def test_bench_counts_below_one_are_usage_errors(argv, capsys):
    """A batch of 0 or no repetition is argparse's usage error naming the flag (they failed
    deep inside a benchmark, e.g. "min() arg is an empty sequence", "need at least one array
    to stack" for ``--pool 0``, or printed NaN rows)."""
    with pytest.raises(SystemExit, match="2"):
        bench_main(argv)
    flag = [a for a in argv if a.startswith("--")][-1]
    assert f"error: argument {flag}: must be at least 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("argv, said", [
    (["body", "--budget", "-1"], "argument --budget: must be a number of seconds >= 0, got -1"),
    (["raster", "--budget", "nan"], "argument --budget: must be a number of seconds >= 0, got nan"),
    (["smplify", "--kinds", "bogus"], "argument --kinds: invalid choice: 'bogus'"),  # once an
    (["network", "--size", "abc"], "argument --size: 'native' or a side in pixels, got 'abc'"),
])  # fmt: skip  # empty table
def test_bench_flags_out_of_range_are_usage_errors(argv, said, capsys):
    with pytest.raises(SystemExit, match="2"):
        bench_main(argv)
    assert said in capsys.readouterr().err


def test_bench_smplify_kinds_choose_the_rows(tmp_path, capsys):
    argv = ["smplify", "--kinds", "dense", "--no-same-work", "--batches", "1", "--steps", "2",
            "--reps", "1", "--no-torch"]  # fmt: skip
    _, rec = _run(argv, tmp_path, capsys)
    assert [r["row"] for r in rec["results"]] == ["dense"]
