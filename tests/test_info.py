"""`jaxrefine info` and `jaxrefine --version`: what an install has, for install trouble."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import tomllib
from pathlib import Path

import jax

from jaxrefine.cli import main as cli_main
from jaxrefine.info import extras, install_info

ROOT = Path(__file__).resolve().parents[1]


def test_info_reports_versions_extras_and_assets(tmp_path, capsys):
    assert cli_main(["info", "--no-render", "--json", str(tmp_path / "info.json")]) == 0
    out = capsys.readouterr().out
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["jaxrefine"] == metadata.version("jaxrefine")
    assert info["packages"]["jax"] == jax.__version__ and info["rasterizer"] is None
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(info["extras"]) == set(declared["optional-dependencies"])  # pyproject's, all
    for name, entry in info["extras"].items():
        assert set(entry["missing"]) <= set(entry["packages"])
        line = next(x for x in out.splitlines() if x.startswith(f"extra {name}:"))
        assert (f"pip install 'jaxrefine[{name}]'" in line) == bool(entry["missing"])
    shipped = json.loads((ROOT / "jaxrefine/assets/displacement_small.json").read_text())
    assert info["assets"]["network"]["steps"] == shipped["meta"]["steps"]
    assert f"{shipped['meta']['steps']} training steps on jaxrefine-open-anny-v1's" in out
    assert info["assets"]["network"]["body_model"] == "jaxrefine-open-anny-v1"  # names none
    assert info["machine"]["devices"] == [str(d) for d in jax.devices()]


def test_an_extras_missing_packages_are_named_and_package_extras_followed():
    got = extras(['numpy>=1.26; extra == "a"', 'surely-not-installed-xyz>=1; extra == "a"',
                  "scipy>=1", 'jax[cuda12]; extra == "gpu"'])  # fmt: skip
    assert got["a"] == {"packages": ["numpy", "surely-not-installed-xyz"],
                        "missing": ["surely-not-installed-xyz"]}  # fmt: skip
    assert "scipy" not in str(got)  # a plain requirement is no extra
    assert got["gpu"]["packages"][0] == "jax" and "jax-cuda12-plugin" in got["gpu"]["packages"]
    plugin = any(d.metadata["Name"] == "jax-cuda12-plugin" for d in metadata.distributions())
    assert ("jax-cuda12-plugin" in got["gpu"]["missing"]) == (not plugin)


def test_the_rasterizer_line_is_the_one_auto_runs(capsys):
    from jaxrefine.data.scenes import resolve_backend

    info = install_info()
    assert info["rasterizer"]["backend"] == resolve_backend("auto")
    assert cli_main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"jaxrefine {metadata.version('jaxrefine')}"


def test_info_model_reports_a_users_file(tmp_path, capsys, smpl_size_arrays):
    """``info --model FILE``: an SMPL-size pickle (no UV layout, as SMPL's are) is described
    with what its missing layout rules out; a file with one, with its size; a missing file is
    an error (exit 2) naming it, before the report."""
    from tests.test_smpl_io import _write_official_style_pickle

    smpl = tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    _write_official_style_pickle(smpl, smpl_size_arrays)
    out = tmp_path / "info.json"
    assert cli_main(["info", "--no-render", "--model", str(smpl), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    m = json.loads(out.read_text())["model"]
    assert (m["vertices"], m["faces"], m["betas"]) == (6890, 13776, 10)
    assert m["pose_correctives"] is True and m["uv_coordinates"] == 0
    assert "nose" in m["landmarks"]  # smplx's landmark vertices for SMPL files
    assert f"model {smpl}: " in text and "6890 vertices, 13776 faces" in text
    assert "UV layout: none (oracle, eval, eval-video and training need one" in text
    assert "the shipped network learned jaxrefine-open-anny-v1's renderings: its fields" in text
    assert (
        cli_main(
            ["info", "--no-render", "--model", str(ROOT / "jaxrefine/assets/open_body_model.npz")]
        )
        == 0
    )
    assert "16 betas, pose correctives no" in (text := capsys.readouterr().out)
    assert "the shipped network learned" not in text  # the open model: the network's own
    from jaxrefine.smpl_io import load_body_model

    assert f"UV layout: {len(load_body_model().vt)} texture coordinates" in text
    assert cli_main(["info", "--no-render", "--model", str(tmp_path / "none.pkl")]) == 2
    captured = capsys.readouterr()
    assert "none.pkl" in captured.err and captured.out == ""  # nothing reported
