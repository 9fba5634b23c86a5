"""PyTorch tensors read without torch (:mod:`jaxrefine.inputs.torch_pickle`): inside plain
pickles (TRAM's ``np.save`` of a dict) and in ``torch.save`` files, against torch's own
writing; estimates from ``.pt`` files; damaged and foreign files refused by name."""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np
import pytest

from jaxrefine.inputs import InputError, read_estimates, torch_pickle
from jaxrefine.inputs.estimates import _read_npy, _unpickle
from jaxrefine.inputs.joblib_pickle import ARRAY_CLASSES

torch = pytest.importorskip("torch", reason="torch (extra 'ref') writes the tensors")
pytestmark = pytest.mark.ref

SIZE = (300, 400)  # (h, w) of the images the estimates below are for


def _tensor_cases() -> dict:
    x = torch.randn(5, 24, 3, 3, generator=torch.Generator().manual_seed(0))
    return {"contiguous": x, "transposed": x.transpose(1, 3), "sliced": x[1:4, ::2, 1],
            "int64": torch.arange(7), "float64 0-d": torch.tensor(3.5, dtype=torch.float64),
            "empty": torch.zeros(0, 3), "float16": torch.randn(4).half(),
            "bool": torch.tensor([True, False]), "uint8": torch.arange(5, dtype=torch.uint8),
            "int32": torch.arange(6, dtype=torch.int32).reshape(2, 3).t(),
            "requires_grad": torch.randn(3, requires_grad=True),
            "shared storage": x[2].reshape(-1)[5:9]}  # fmt: skip


def _assert_same(got: dict, cases: dict) -> None:
    for name, t in cases.items():
        want = t.detach().numpy()
        assert got[name].dtype == want.dtype and got[name].shape == want.shape, name
        np.testing.assert_array_equal(got[name], want, err_msg=name)


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_tensors_in_a_pickle_are_read_as_torch_wrote_them():
    """Every dtype numpy has, views with offsets and strides, 0-d and empty tensors, a
    parameter, inside ``np.save`` of a dict (TRAM's way): the same values, dtype and shape
    as torch's."""
    cases = {**_tensor_cases(), "param": torch.nn.Parameter(torch.randn(2, 3))}
    buf = io.BytesIO()
    np.save(buf, cases, allow_pickle=True)
    _assert_same(_read_npy(io.BytesIO(buf.getvalue())), cases)


def test_torch_save_files_are_read_as_torch_wrote_them():
    """The same tensors in a ``torch.save`` file, with an ``nn.Parameter``, a nested
    ``OrderedDict``, a numpy array and plain numbers beside them: what ``torch.load`` gives."""
    cases = _tensor_cases()
    extra = {"param": torch.nn.Parameter(torch.randn(2, 3)),
             "nested": collections.OrderedDict(w=torch.arange(4.0).reshape(2, 2).t()),
             "array": np.arange(6.0).reshape(2, 3), "number": 1.5, "name": "x"}  # fmt: skip
    raw = _saved({**cases, **extra})
    got = torch_pickle.load_zip(raw, ARRAY_CLASSES)
    want = torch.load(io.BytesIO(raw), weights_only=False)
    _assert_same(got, cases)
    np.testing.assert_array_equal(got["param"], want["param"].detach().numpy())
    assert isinstance(got["nested"], collections.OrderedDict)
    np.testing.assert_array_equal(got["nested"]["w"], want["nested"]["w"].numpy())
    np.testing.assert_array_equal(got["array"], want["array"])
    assert (got["number"], got["name"]) == (1.5, "x")
    assert not np.shares_memory(got["shared storage"], got["contiguous"])  # copies, not views


def _smpl_params(n: int = 3) -> dict:
    """SMPL parameters of ``n`` upright people 5 m in front of the camera (numpy)."""
    rng = np.random.default_rng(0)
    go = np.tile([np.pi, 0.0, 0.0], (n, 1)) + rng.normal(0, 0.05, (n, 3))
    transl = np.column_stack([rng.uniform(-0.3, 0.3, (n, 2)), np.full(n, 5.0)])
    return {"global_orient": go, "body_pose": rng.normal(0, 0.2, (n, 69)),
            "betas": rng.normal(0, 0.5, (n, 10)), "transl": transl,
            "focal_length": np.float64(500.0)}  # fmt: skip


def test_estimates_from_a_torch_save_file(tmp_path):
    """A ``.pt`` of SMPL parameters as tensors (a research script's ``torch.save``) reads as
    the same parameters in an ``.npz`` do."""
    params = _smpl_params()
    torch.save({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in params.items()},
               tmp_path / "est.pt")  # fmt: skip
    np.savez(tmp_path / "est.npz", **{k: np.asarray(v, np.float32) for k, v in params.items()})
    got = read_estimates(tmp_path / "est.pt", image_size=lambda i: SIZE)
    want = read_estimates(tmp_path / "est.npz", image_size=lambda i: SIZE)
    for key in ("global_orient", "body_pose", "betas", "transl", "intrinsics"):
        np.testing.assert_array_equal(getattr(got, key), getattr(want, key), err_msg=key)
    (tmp_path / "est.pt").rename(tmp_path / "est.pth")
    assert len(read_estimates(tmp_path / "est.pth", image_size=lambda i: SIZE)) == 3


def test_torch_save_files_are_read_without_torch(tmp_path, without_torch):
    """The reader imports no torch: a Python where ``import torch`` fails reads the file."""
    torch.save({k: torch.from_numpy(np.asarray(v)) for k, v in _smpl_params().items()},
               tmp_path / "est.pt")  # fmt: skip
    out = without_torch("from jaxrefine.inputs import read_estimates\n"
                        f"est = read_estimates({str(tmp_path / 'est.pt')!r}, "
                        f"image_size=lambda k: {SIZE})\n"
                        "print(len(est), 'torch' in sys.modules)")  # fmt: skip
    assert out.split() == ["3", "False"]


def _gvhmr_results(n: int = 4) -> dict:
    """GVHMR's ``hmr4d_results.pt`` as its demo saves it: SMPL-X parameters (a 21-joint
    body pose) in the camera frame and in the world, and the full image's intrinsics."""
    keys = {"body_pose": 63, "betas": 10, "global_orient": 3, "transl": 3}
    smplx = {k: torch.zeros(n, d) for k, d in keys.items()}
    return {"smpl_params_global": dict(smplx), "smpl_params_incam": dict(smplx),
            "K_fullimg": torch.eye(3).repeat(n, 1, 1)}  # fmt: skip


def _restored(raw: bytes, compress: int = zipfile.ZIP_STORED, drop: str = "",
              pkl=lambda b: b) -> bytes:  # fmt: skip
    """The archive written again member by member: compressed, without the member ending in
    ``drop``, or with ``data.pkl`` changed by ``pkl`` (the archive's checksums made anew)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(buf, "w", compress) as dst:
        for info in src.infolist():
            if drop and info.filename.endswith(drop):
                continue
            data = src.read(info)
            dst.writestr(info.filename, pkl(data) if info.filename.endswith("/data.pkl") else data)
    return buf.getvalue()


def test_foreign_and_damaged_torch_files_refused_by_name(tmp_path):
    """GVHMR's SMPL-X results, the legacy format, a compressed or missing storage, a storage
    shorter than its tensor, bfloat16, a class that is not data: each a message naming the
    file and what is wrong."""
    params = {k: torch.from_numpy(np.asarray(v)) for k, v in _smpl_params().items()}
    good = _saved(params)
    legacy = io.BytesIO()
    torch.save(params, legacy, _use_new_zipfile_serialization=False)
    key = next(n for n in zipfile.ZipFile(io.BytesIO(good)).namelist() if "/data/" in n)
    cases = {
        "hmr4d_results.pt": (_saved(_gvhmr_results()), "GVHMR's results .*SMPL-X bodies"),
        "legacy.pt": (legacy.getvalue(), "not a torch.save file of PyTorch >= 1.6"),
        "deflated.pt": (_restored(good, zipfile.ZIP_DEFLATED), "member .* that is compressed"),
        "missing.pt": (_restored(good, drop=key), f"without its member {key}"),
        "short.pt": (_restored(good, pkl=lambda b: b.replace(b"torch\nDoubleStorage",
                                                             b"torch\nComplexDoubleStorage")),
                     "of 72 bytes where its tensor declares 144"),
        "bf16.pt": (_saved({"betas": torch.zeros(2, dtype=torch.bfloat16)}),
                    "BFloat16Storage .an unsupported dtype"),
        "device.pt": (_saved({"betas": torch.zeros(2), "d": torch.device("cpu")}),
                      "refusing to load torch.device"),
        "text.pt": (b"not a zip", "not a torch.save file"),
        "module.pt": (_saved(torch.nn.Linear(2, 2)), "refusing to load torch.nn"),
    }  # fmt: skip
    for name, (raw, message) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(InputError, match=message) as exc:
            read_estimates(tmp_path / name, image_size=lambda i: SIZE)
        assert str(tmp_path / name) in str(exc.value), name


def test_a_storage_that_lies_about_its_size_is_refused():
    """A storage whose data ends early or whose view reaches past it is refused (a damaged
    file may not read memory or allocate what it declares)."""
    raw = pickle.dumps({"t": torch.arange(6, dtype=torch.float32)})
    cut = raw.replace(b"\x06\x00\x00\x00\x00\x00\x00\x00", b"\x07\x00\x00\x00\x00\x00\x00\x00")
    with pytest.raises(pickle.UnpicklingError, match="storage of 6 elements whose data "
                       "declares 7"):  # fmt: skip
        _unpickle(cut)
    view = pickle.dumps({"t": torch.arange(6.0)[4:]}).replace(b"K\x04K\x02\x85", b"K\x04K\x09\x85")
    with pytest.raises(pickle.UnpicklingError, match="beyond its storage"):
        _unpickle(view)
    raw = _restored(
        _saved({"t": torch.arange(6.0)[4:]}),
        pkl=lambda b: b.replace(b"K\x04K\x02\x85", b"K\x04K\x09\x85"),
    )
    with pytest.raises(pickle.UnpicklingError, match="beyond its storage"):
        torch_pickle.load_zip(raw, ARRAY_CLASSES)


def test_a_tensor_larger_than_its_storage_allows_is_refused():
    """An expanded tensor (stride 0) is read; one declaring more than
    :data:`~jaxrefine.inputs.torch_pickle.MAX_REPEAT` times its storage is refused before
    anything that size is allocated."""
    got = torch_pickle.load_zip(_saved({"t": torch.arange(3.0).expand(4, 3)}), ARRAY_CLASSES)
    np.testing.assert_array_equal(got["t"], np.tile(np.arange(3.0), (4, 1)))
    grow = lambda b: b.replace(b"K\x04K\x03\x86", b"J\x00\xca\x9a;K\x03\x86")  # noqa: E731
    raw = _restored(_saved({"t": torch.arange(3.0).expand(4, 3)}), pkl=grow)
    with pytest.raises(pickle.UnpicklingError, match=r"size \(1000000000, 3\) from a storage"):
        torch_pickle.load_zip(raw, ARRAY_CLASSES)


def test_a_network_checkpoint_is_named_as_such(tmp_path):
    """A network's ``state_dict`` saved as ``.pt`` (a regressor's weights given by mistake)
    is named as weights, not listed key by key; a dict of many other keys shows the first 20."""
    net = torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(30)])
    torch.save(net.state_dict(), tmp_path / "hmr2.pt")
    with pytest.raises(InputError, match=r"hmr2.pt: a network's weights \(a state_dict: 0.bias, "
                       r"\.\.\.\), not estimates"):  # fmt: skip
        read_estimates(tmp_path / "hmr2.pt", image_size=lambda i: SIZE)
    torch.save({f"k{i:02d}": torch.zeros(2) for i in range(30)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match=r"found keys: k00, .*, k19 and 10 more\)$"):
        read_estimates(tmp_path / "other.pt", image_size=lambda i: SIZE)
