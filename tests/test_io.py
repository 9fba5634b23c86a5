"""Result files: documented npz round trip, model mismatch refused, OBJ / PLY writers."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxrefine
from jaxrefine.camera import Camera
from jaxrefine.io import ResultFileError, load_result, save_obj, save_ply, save_result


def test_result_roundtrip_and_model_check(tmp_path):
    model = jaxrefine.load_body_model()
    n = 3
    rng = np.random.default_rng(0)
    params = {
        "global_orient": rng.normal(size=(n, 3)), "body_pose": rng.normal(size=(n, 23, 3)),
        "betas": rng.normal(size=(n, 10)), "transl": rng.normal(size=(n, 3)),
    }  # fmt: skip
    cams = jax.tree.map(lambda x: np.stack([x] * n), Camera.create(500.0, 500.0, 128, 128))
    joints = rng.normal(size=(n, 24, 3))
    p = save_result(tmp_path / "r.npz", model, params, joints, cams, {"pve": [1, 2, 3]})
    r = load_result(p, model)
    np.testing.assert_allclose(r["body_pose"], params["body_pose"].reshape(n, 69), rtol=1e-6)
    np.testing.assert_allclose(r["camera_K"][0], [[500, 0, 128], [0, 500, 128], [0, 0, 1]])
    np.testing.assert_allclose(r["metric_pve"], [1, 2, 3])
    other = model.replace(model_id="someone-elses-smpl")
    with pytest.raises(ValueError, match="was fitted with model"):
        load_result(p, other)
    # as initial estimates for `refine`: the same refusal (an InputError, exit 2 in the CLI)
    from jaxrefine.inputs import InputError, read_estimates

    est = read_estimates(p, model=model)
    assert est.fmt == "jaxrefine" and len(est) == n
    with pytest.raises(InputError, match=r"r\.npz was fitted with model .*, not with "
                       r"'someone-elses-smpl'.*--model"):  # fmt: skip
        read_estimates(p, model=other)
    np.savez(tmp_path / "x.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a jaxrefine result"):
        load_result(tmp_path / "x.npz")


def test_obj_and_ply(tmp_path):
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    f = np.array([[0, 1, 2]])
    text = save_obj(tmp_path / "m.obj", v, f).read_text().splitlines()
    assert text[:3] == ["v 0.000000 0.000000 0.000000", "v 1.000000 0.000000 0.000000",
                        "v 0.000000 1.000000 0.000000"] and text[3] == "f 1 2 3"  # fmt: skip
    data = save_ply(tmp_path / "m.ply", v, f, colors=np.ones((3, 3))).read_bytes()
    head, body = data.split(b"end_header\n")
    assert b"element vertex 3" in head and b"element face 1" in head
    assert len(body) == 3 * (12 + 3) + 1 * (1 + 12)


def _result_file(tmp_path):
    n = 2
    rng = np.random.default_rng(1)
    model = jaxrefine.load_body_model()
    params = {
        "global_orient": rng.normal(size=(n, 3)), "body_pose": rng.normal(size=(n, 69)),
        "betas": rng.normal(size=(n, model.num_betas)), "transl": rng.normal(size=(n, 3)),
    }  # fmt: skip
    cams = jax.tree.map(lambda x: np.stack([x] * n), Camera.create(500.0, 500.0, 128, 128))
    return save_result(tmp_path / "r.npz", model, params, rng.normal(size=(n, 24, 3)), cams)


def test_broken_result_files_raise_result_file_error(tmp_path):
    p = _result_file(tmp_path)
    good = dict(np.load(p))
    data = p.read_bytes()
    cases = {
        "truncated": (data[: len(data) // 2], "not a readable result .npz"),
        "empty": (b"", "not a readable result .npz"),
        "text": (b"hello", "not a readable result .npz"),
    }
    for name, (raw, message) in cases.items():
        q = tmp_path / f"{name}.npz"
        q.write_bytes(raw)
        with pytest.raises(ResultFileError, match=f"{q}: {message}"):
            load_result(q)
    arrays = {
        "short joints": (dict(good, joints=good["joints"][:, :23]), r"joints must be a float"),
        "betas width": (dict(good, betas=good["betas"][:, :3]), r"betas must be \(N, "),
        "nan camera": (dict(good, camera_K=good["camera_K"] * np.nan), "camera_K holds NaN"),
        "no gender": ({k: v for k, v in good.items() if k != "gender"}, "gender must be"),
        "text pose": (dict(good, body_pose=np.array(["x"] * 2)), "body_pose must be a float"),
    }
    for name, (content, message) in arrays.items():
        q = tmp_path / f"{name.replace(' ', '_')}.npz"
        np.savez(q, **content)
        with pytest.raises(ResultFileError, match=f"{q}: {message}"):
            load_result(q)
    with pytest.raises(FileNotFoundError):
        load_result(tmp_path / "missing.npz")


@pytest.fixture
def file_size_limit():
    """``limit(nbytes)``: while active, the process may write at most ``nbytes`` to one file
    (RLIMIT_FSIZE: a full disk's stand-in), and a write past it raises OSError (SIGXFSZ
    ignored) instead of killing the process."""
    import contextlib
    import resource
    import signal

    @contextlib.contextmanager
    def limit(nbytes: int):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, handler)

    return limit


def test_a_write_failing_part_way_leaves_the_earlier_file_whole(tmp_path, file_size_limit):
    """Meshes, overlays and attributed pictures are written atomically: a write that fails
    part-way (the disk full) leaves the earlier file of that name as it was and no temporary
    file. Before, each was left cut at the limit
    (docs/measurements/2026-12-08/s55_zen4/half_written_probe_before.txt)."""
    from jaxrefine.photo import save_attributed_png
    from jaxrefine.viz import save_png

    model = jaxrefine.load_body_model()
    v, f = np.asarray(model.v_template), np.asarray(model.faces)
    rng = np.random.default_rng(0)
    picture = rng.random((256, 256, 3))  # noise: a PNG of ~200 kB
    writers = {
        "m.obj": lambda p, x: save_obj(p, v + x, f),
        "m.ply": lambda p, x: save_ply(p, v + x, f),
        "o.png": lambda p, x: save_png(p, np.clip(picture + x, 0, 1)),
        "a.png": lambda p, x: save_attributed_png(p, np.clip(picture + x, 0, 1), f"credit {x}"),
    }
    for name, write in writers.items():
        path = tmp_path / name
        write(path, 0.0)
        before = {p.name: p.read_bytes() for p in tmp_path.glob(path.stem + ".*")}
        assert min(len(b) for n, b in before.items() if n == name) > 64 * 1024
        with file_size_limit(64 * 1024), pytest.raises(OSError):
            write(path, 0.5)
        assert {p.name: p.read_bytes() for p in tmp_path.glob(path.stem + ".*")} == before
        assert not list(tmp_path.glob(".*")), name  # no temporary file left
        write(path, 0.5)  # without the limit: replaced
        assert path.read_bytes() != before[name]
