"""Cached evaluation shards: round trip, resume, and clear errors on corrupted input."""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import pytest

from jaxrefine import load_body_model
from jaxrefine.data import shards
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, batch_seed, generate

_CFG = GeneratorConfig(scene=SceneConfig(image_size=(32, 32)), texture_size=32)
_QUANT = 0.5 / 255 + 1e-7  # images are stored as 8-bit sRGB: round-off at most half a step


@functools.cache
def _model():
    return load_body_model()


def _poses():
    rng = np.random.default_rng(0)
    return rng.normal(0, 0.15, (8, 24, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    shards.write_shards(
        out, _model(), _poses(), 5, seed=4, config=_CFG, shard_size=3, batch_size=2,
        progress=False,
    )  # fmt: skip
    return out


def test_round_trip(shard_dir):
    index = shards.read_index(shard_dir)
    assert index["complete"] and index["num_samples"] == 5
    assert [s["num_samples"] for s in index["shards"]] == [3, 2]
    assert shards.num_shards(shard_dir) == 2
    assert index["fields"]["image"] == {"dtype": "uint8", "shape": [32, 32, 3]}
    # shard 0 = batches (0, 1) of the stream: 2 + 1 frames; reproduce them directly
    b0 = generate(_model(), _poses(), 2, batch_seed(4, 0), _CFG)
    b1 = generate(_model(), _poses(), 1, batch_seed(4, 1), _CFG)
    got = shards.read_shard(shard_dir, 0)
    assert len(got) == 3 and got.difficulty == _CFG.difficulty
    for f in dataclasses.fields(got):
        if f.name in ("difficulty", "keypoint_set"):
            continue
        want = np.concatenate([getattr(b0, f.name), getattr(b1, f.name)])
        have = getattr(got, f.name)
        assert have.dtype == want.dtype, f.name
        if f.name == "image":
            np.testing.assert_allclose(have, want, atol=_QUANT)
        else:
            np.testing.assert_array_equal(have, want, err_msg=f.name)
    assert sum(len(b) for b in shards.iter_shards(shard_dir)) == 5
    # no temporary files left behind
    assert not [p for p in shard_dir.iterdir() if p.name.endswith(".tmp")]


def test_existing_complete_set_is_not_overwritten(shard_dir):
    with pytest.raises(FileExistsError):
        shards.write_shards(shard_dir, _model(), _poses(), 5, seed=4, config=_CFG, shard_size=3,
                            batch_size=2, progress=False)  # fmt: skip


def test_resume_after_interruption(tmp_path, shard_dir):
    # simulate a crash after the first shard: copy it and an incomplete index
    index = shards.read_index(shard_dir)
    (tmp_path / "shard-00000.npz").write_bytes((shard_dir / "shard-00000.npz").read_bytes())
    partial = dict(index, complete=False, shards=index["shards"][:1])
    (tmp_path / "index.json").write_text(json.dumps(partial))
    with pytest.raises(shards.ShardFormatError, match="incomplete"):
        list(shards.iter_shards(tmp_path))
    shards.write_shards(tmp_path, _model(), _poses(), 5, seed=4, config=_CFG, shard_size=3,
                        batch_size=2, progress=False)  # fmt: skip
    resumed = shards.read_index(tmp_path)
    assert resumed["complete"] and resumed["shards"] == index["shards"]


def _copy(src, dst):
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_corrupted_shard_raises_clear_errors(tmp_path, shard_dir):
    d = _copy(shard_dir, tmp_path)
    path = d / "shard-00001.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte
    path.write_bytes(bytes(data))
    with pytest.raises(shards.ShardFormatError, match="SHA-256 mismatch"):
        shards.read_shard(d, 1)
    with pytest.raises(shards.ShardFormatError, match="shard-00001.npz"):
        shards.read_shard(d, 1, verify=False)  # the zip / array data itself is broken
    path.write_bytes(bytes(data[: len(data) // 3]))  # truncated
    with pytest.raises(shards.ShardFormatError, match="unreadable npz"):
        shards.read_shard(d, 1, verify=False)
    path.unlink()
    with pytest.raises(shards.ShardFormatError, match="missing"):
        shards.read_shard(d, 1)
    shards.read_shard(d, 0)  # the intact shard still reads
    with pytest.raises(IndexError):
        shards.read_shard(d, 2)


def test_wrong_arrays_and_index_errors(tmp_path, shard_dir):
    d = _copy(shard_dir, tmp_path)
    good = dict(np.load(d / "shard-00000.npz"))
    # a field with the wrong dtype (checksum skipped: the file was legitimately rewritten)
    bad = dict(good, pose=good["pose"].astype(np.float64))
    np.savez(d / "shard-00000.npz", **bad)
    with pytest.raises(shards.ShardFormatError, match="pose has dtype float64"):
        shards.read_shard(d, 0, verify=False)
    np.savez(d / "shard-00000.npz", **dict(good, visible=good["visible"][:2]))
    with pytest.raises(shards.ShardFormatError, match="visible has shape"):
        shards.read_shard(d, 0, verify=False)
    del good["mask"]
    np.savez(d / "shard-00000.npz", **good)
    with pytest.raises(shards.ShardFormatError, match="do not match"):
        shards.read_shard(d, 0, verify=False)
    # index problems
    (d / "index.json").write_text("{not json")
    with pytest.raises(shards.ShardFormatError, match="not valid JSON"):
        shards.read_index(d)
    (d / "index.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(shards.ShardFormatError, match="format"):
        shards.read_index(d)
    idx = shards.read_index(shard_dir)
    (d / "index.json").write_text(json.dumps(dict(idx, version=99)))
    with pytest.raises(shards.ShardFormatError, match="version 99"):
        shards.read_index(d)
    (d / "index.json").write_text(json.dumps(dict(idx, num_samples=7)))
    with pytest.raises(shards.ShardFormatError, match="hold 5 samples"):
        shards.read_index(d)
    (d / "index.json").unlink()
    with pytest.raises(shards.ShardFormatError, match="no shard index"):
        shards.read_index(d)


_WRONG_TYPES = {
    "num_samples as text": ("num_samples", "5", "num_samples has the wrong type"),
    "complete as text": ("complete", "yes", "complete has the wrong type"),
    "version as bool": ("version", True, "version True, expected 1"),
    "shards not a list": ("shards", {"file": "x"}, "shards has the wrong type"),
    "image_size floats": ("image_size", [32.0, 32], "image_size has the wrong type"),
    "object dtype": ("fields", {"image": {"dtype": "object", "shape": [1]}}, "fields has the"),
}


@pytest.mark.parametrize("case", sorted(_WRONG_TYPES))
def test_wrong_typed_index_fields_raise_shard_format_error(tmp_path, shard_dir, case):
    key, value, message = _WRONG_TYPES[case]
    d = _copy(shard_dir, tmp_path)
    index = shards.read_index(shard_dir)
    (d / "index.json").write_text(json.dumps(dict(index, **{key: value})))
    with pytest.raises(shards.ShardFormatError, match=f"{d / 'index.json'}: {message}"):
        shards.read_shard(d, 0)


@pytest.mark.parametrize(
    "entry",
    [
        {"file": "../outside.npz", "num_samples": 3, "sha256": "0" * 64},
        {"file": "shard-00000.npz", "num_samples": "3", "sha256": "0" * 64},
        {"file": "shard-00000.npz", "num_samples": 3, "sha256": 12},
        {"file": "shard-00000.npz", "num_samples": 3},
        "shard-00000.npz",
    ],
)
def test_bad_shard_entries_raise_shard_format_error(tmp_path, shard_dir, entry):
    d = _copy(shard_dir, tmp_path)
    index = shards.read_index(shard_dir)
    index["shards"][0] = entry
    (d / "index.json").write_text(json.dumps(index))
    with pytest.raises(shards.ShardFormatError, match="shard entry 0 must hold file"):
        shards.read_shard(d, 0)


def test_non_finite_shard_arrays_refused(tmp_path, shard_dir):
    d = _copy(shard_dir, tmp_path)
    good = dict(np.load(d / "shard-00000.npz"))
    good["joints"][0, 0, 0] = np.nan
    np.savez(d / "shard-00000.npz", **good)
    with pytest.raises(shards.ShardFormatError, match="joints holds NaN or inf"):
        shards.read_shard(d, 0, verify=False)
