"""Tables and JSON result files of :mod:`jaxrefine.report`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxrefine import report


def test_format_table_pads_columns_and_rules_the_header():
    text = report.format_table(["row", "mpjpe"], [["init", 12.5], ["dense_gt", "3.0"]])
    assert text.splitlines() == [
        "| row      | mpjpe |",
        "|----------|-------|",
        "| init     | 12.5  |",
        "| dense_gt | 3.0   |",
    ]


def test_format_table_without_rows_is_the_header():
    assert report.format_table(["a", "bb"], []).splitlines() == ["| a | bb |", "|---|----|"]


def test_format_table_refuses_ragged_rows():
    with pytest.raises(ValueError, match="row 1 has 1 cells, the header has 2"):
        report.format_table(["a", "b"], [[1, 2], [3]])


def test_print_table_prints_what_it_returns(capsys):
    text = report.print_table(["x"], [[1]])
    assert capsys.readouterr().out == text + "\n"


def test_write_json_is_atomic_and_takes_numpy(tmp_path, capsys):
    path = tmp_path / "sub" / "result.json"
    payload = {"n": np.int64(3), "mm": np.float32(1.5), "curve": np.arange(3), "where": tmp_path}
    assert report.write_json(path, payload) == path
    assert json.loads(path.read_text()) == {
        "n": 3, "mm": 1.5, "curve": [0, 1, 2], "where": str(tmp_path)
    }  # fmt: skip
    assert capsys.readouterr().out == f"wrote {path}\n"
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]  # no temporary left


def test_write_json_leaves_nothing_when_the_payload_cannot_be_written(tmp_path):
    path = tmp_path / "result.json"
    with pytest.raises(TypeError, match="cannot write a object"):
        report.write_json(path, {"bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_write_json_without_a_path_writes_nothing(capsys):
    assert report.write_json(None, {"a": 1}) is None
    assert capsys.readouterr().out == ""


def test_machine_line_names_the_machine():
    info = report.machine_info()
    assert info["cores"] >= 1 and info["devices"]
    assert report.machine_line(info).startswith("machine: ")


def test_cpu_details_name_the_generation_and_vector_width():
    x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
    x86 += "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw\n\n"
    x86 += "processor\t: 1\nmodel name\t: ignored second core\n"
    d = report.cpu_details(x86)
    assert (d["cpu"], d["cpu_family"], d["cpu_model"], d["vector_isa"]) == (
        "AMD EPYC", "25", "17", "avx512f"
    )  # fmt: skip
    assert report.cpu_details(x86.replace(" avx512f avx512bw", ""))["vector_isa"] == "avx2"
    arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\nCPU part\t: 0xd0c\n"
    assert report.cpu_details(arm)["vector_isa"] == "asimd"
    info = {**d, "cores": 2, "jax": "0.10.2", "jax_backend": "cpu"}
    assert report.machine_line(info) == (
        "machine: AMD EPYC (family 25 model 17, AVX512F, 2 cores), jax 0.10.2 on cpu"
    )


def test_atomic_writes_get_the_permissions_of_a_plain_open(tmp_path):
    from jaxrefine import files

    out = files.atomic_write(tmp_path / "a.bin", lambda fh: fh.write(b"x"))
    plain = tmp_path / "b.bin"
    plain.write_bytes(b"x")
    assert out.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert out.read_bytes() == b"x" and not list(tmp_path.glob(".*.tmp"))
