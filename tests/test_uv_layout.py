"""A model's UV layout from an OBJ file (`jaxrefine convert --uv`): read in the model's face
order whatever the file's order, corners and winding; stored in the converted model, which
synthetic scenes can then texture; every malformed file refused with its name and line."""

from __future__ import annotations

import numpy as np
import pytest

from jaxrefine.cli import main as cli_main
from jaxrefine.data.textures import procedural_texture
from jaxrefine.smpl_io import convert, load_body_model
from jaxrefine.uv_layout import UVLayoutError, read_uv_obj
from tests.test_smpl_io import _write_official_style_pickle


def _write_obj(path, vt, ft, faces, *, shuffle=True, normals=False):
    """An OBJ of ``faces`` with UVs ``vt[ft]``; ``shuffle``: its faces shuffled, each started
    at a random corner and a third of them wound the other way (what another exporter may
    write), else as the model has them."""
    rng = np.random.default_rng(0)
    lines = [f"vt {u:.9g} {v:.9g}" for u, v in vt]  # 9 digits: float32 exactly
    for i in rng.permutation(len(faces)) if shuffle else range(len(faces)):
        order = np.roll([0, 1, 2], rng.integers(3)) if shuffle else [0, 1, 2]
        order = order[::-1] if shuffle and rng.random() < 1 / 3 else order
        corner = "{}/{}/1" if normals else "{}/{}"
        lines.append("f " + " ".join(corner.format(faces[i][k] + 1, ft[i][k] + 1) for k in order))
    path.write_text("\n".join(["# uv layout", "vn 0 0 1", *lines]) + "\n")
    return path


def _without_uv(tmp_path, open_model_file):
    """The open model's file without its UV layout, and the layout (vt, ft, faces)."""
    shipped = load_body_model()
    src = open_model_file(tmp_path / "no_uv.npz", uv=False)
    return src, *(np.asarray(a) for a in (shipped.vt, shipped.ft, shipped.faces))


def test_convert_with_uv_restores_the_open_models_layout(tmp_path, capsys, open_model_file):
    src, vt, ft, faces = _without_uv(tmp_path, open_model_file)
    bare = load_body_model(src, gender=None)
    with pytest.raises(ValueError, match="no UV layout.*convert MODEL OUT.npz --uv"):
        procedural_texture(bare, 0, 16)
    obj = _write_obj(tmp_path / "uv.obj", vt, ft, faces, normals=True)
    assert cli_main(["convert", str(src), str(tmp_path / "out.npz"), "--uv", str(obj)]) == 0
    assert f"UV layout: {len(vt)} texture coordinates from {obj}" in capsys.readouterr().out
    model, shipped = load_body_model(tmp_path / "out.npz", gender=None), load_body_model()
    np.testing.assert_array_equal(model.vt, shipped.vt)
    np.testing.assert_array_equal(model.ft, shipped.ft)
    np.testing.assert_array_equal(
        procedural_texture(model, 3, 32), procedural_texture(shipped, 3, 32)
    )


def test_an_smpl_pickle_gets_a_layout(tmp_path, smpl_size_arrays):
    """An official-style SMPL pickle (no UVs, as SMPL ships) with a UV OBJ of its 13,776
    faces in its order (its random faces include degenerate ones, which only the model's own
    order can pair with their UVs): the converted model textures."""
    src = tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    _write_official_style_pickle(src, smpl_size_arrays)
    faces = smpl_size_arrays["f"]
    rng = np.random.default_rng(1)
    vt = rng.uniform(0, 1, (7576, 2)).astype(np.float32)
    ft = rng.integers(0, len(vt), faces.shape)
    convert(
        src,
        tmp_path / "smpl.npz",
        uv=_write_obj(tmp_path / "smpl_uv.obj", vt, ft, faces, shuffle=False),
    )
    model = load_body_model(tmp_path / "smpl.npz")
    np.testing.assert_array_equal(model.vt, vt)
    np.testing.assert_array_equal(model.ft, ft)
    assert procedural_texture(model, 0, 16).shape == (16, 16, 3)


def _refused(path, faces, text, match):
    path.write_text(text)
    with pytest.raises(UVLayoutError, match=match):
        read_uv_obj(path, faces)


def test_malformed_layouts_are_refused_with_file_and_line(tmp_path, capsys, open_model_file):
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    vt = "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
    p = tmp_path / "bad.obj"
    _refused(
        p, faces, vt + "f 1/1 2/2 3/3\nf 1/1 3/3 4/4 2/2\n", "bad.obj: line 6: .* not a triangle"
    )
    _refused(p, faces, vt + "f 1/1 2/2 3/3\nf 1 3 4\n", "line 6: 'f 1 3 4' is not a triangle")
    _refused(p, faces, vt + "f 1/1 2/2 3/3\nf -4/1 3/3 4/4\n", "line 6: indices must be absolute")
    _refused(
        p, faces, vt + "f 1/1 2/2 3/3\nf 1/1 2/2 4/4\n", r"line 6: .*\[1, 2, 4\] is not a face"
    )
    _refused(p, faces, vt + "f 1/1 2/2 3/3\nf 3/3 2/2 1/1\n", "line 6: .* repeats an earlier face")
    # ... unless the model has it twice (a two-sided triangle) and the file lists its faces as
    # the model does: then the file's texture indices are taken as they are
    p.write_text(vt + "f 1/1 2/2 3/3\nf 3/4 2/2 1/1\n")
    np.testing.assert_array_equal(read_uv_obj(p, [[0, 1, 2], [2, 1, 0]])[1], [[0, 1, 2], [3, 1, 0]])
    _refused(p, faces, vt + "f 1/1 2/2 3/3\n", "1 faces; the model has 2")
    _refused(p, faces, vt + "f 1/1 2/2 3/3\nf 1/1 3/3 4/9\n", "texture coordinate 9; .* 4 'vt'")
    _refused(p, faces, vt + "vt 0 x\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n", "line 5: '0 x' is not float")
    _refused(p, faces, vt + "vt nan 0\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n", "NaN or inf")
    _refused(p, faces, "f 1/1 2/2 3/3\nf 1/1 3/3 4/4\n", "needs 'vt u v' lines")
    p.write_bytes(b"\xff\xfe vt")
    with pytest.raises(UVLayoutError, match="not a readable OBJ"):
        read_uv_obj(p, faces)
    with pytest.raises(FileNotFoundError, match="UV layout file not found: .*none.obj"):
        read_uv_obj(tmp_path / "none.obj", faces)
    # the command: one line naming the file, exit 2, nothing written
    src = open_model_file(tmp_path / "no_uv.npz", uv=False)
    out = tmp_path / "out.npz"
    assert cli_main(["convert", str(src), str(out), "--uv", str(p)]) == 2
    assert f"{p}: not a readable OBJ" in capsys.readouterr().err
    assert not out.exists()
