"""Training pairs of the displacement network: determinism, shapes, the ground-truth field in the
crop (consistent with the crop camera and the box metadata), the subject bank cache, and the
network's render input."""

from __future__ import annotations

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.body_model import forward
from jaxrefine.camera import Camera, project
from jaxrefine.data import pairs
from jaxrefine.data.perturb import Difficulty
from jaxrefine.data.sampling import SceneConfig
from jaxrefine.data.scenes import GeneratorConfig, resolve_backend
from jaxrefine.network.crop import crop_camera, image_to_crop_points
from jaxrefine.render import rasterize
from jaxrefine.shading import RenderChannels, network_input
from jaxrefine.smpl_io import load_body_model

_S = 64  # crop and full image side: small keeps the test fast
_N = 3
_CFG = pairs.PairConfig(
    crop_size=_S,
    generator=GeneratorConfig(scene=SceneConfig(image_size=(_S, _S)), texture_size=64),
    num_subjects=2,
    reference_frames=2,
    p_rotate=0.7,  # exercise the rotated crops
)
_ZERO_TOL = 1e-3  # px; gt_pose without perturbation: pose round trip through rotation vectors
_SURFACE_TOL = 0.05  # px; the field interpolates vertex displacements linearly over a triangle,
# the projection of the interpolated surface point is not linear (perspective), ~1e-3 px here
_PIXEL_TOL = 0.02  # px; a rasterized pixel centre re-projected through its barycentrics
_CAMERA_TOL = 1e-3  # crop camera rebuilt from the metadata (float32 of values ~ 100 px)


@functools.cache
def _model():
    return load_body_model()


def _poses(n=16, seed=0):
    """Small random poses: the generator takes any SMPL-layout poses (no mocap needed)."""
    return np.random.default_rng(seed).normal(0, 0.15, (n, 24, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def bank():
    return pairs.build_bank(_model(), _poses(), _CFG, seed=0)


@pytest.fixture(scope="module")
def batch(bank):
    return pairs.make_pairs(_model(), _poses(), bank, _N, 5, _CFG)


def test_shapes_and_dtypes(batch, bank):
    S, n = _S, _N
    expect = {
        "image": (n, S, S, 3), "renders": (n, S, S, 11), "field": (n, S, S, 2),
        "mask": (n, S, S), "box_center": (n, 2), "box_size": (n,), "angle": (n,),
        "intrinsics": (n, 4), "crop_intrinsics": (n, 4), "crop_rotation": (n, 3, 3),
        "pose": (n, 24, 3), "betas": (n, 10), "transl": (n, 3), "init_pose": (n, 24, 3),
        "init_betas": (n, 10), "init_transl": (n, 3),
    }  # fmt: skip
    for k, shape in expect.items():
        assert batch[k].shape == shape, k
        assert batch[k].dtype == np.float32, k
    for k in ("difficulty", "subject", "texture_kind"):
        assert batch[k].shape == (n,) and batch[k].dtype == np.int32
    assert set(batch["subject"].tolist()) <= set(range(len(bank)))
    assert 0.0 <= batch["image"].min() and batch["image"].max() <= 1.0
    assert batch["mask"].sum(axis=(1, 2)).min() > 50  # the body is in every crop
    # the subject's shape is the bank's
    np.testing.assert_array_equal(batch["betas"], bank.betas[batch["subject"]])


def test_deterministic_by_seed(batch, bank):
    again = pairs.make_pairs(_model(), _poses(), bank, _N, 5, _CFG)
    for k in batch:
        np.testing.assert_array_equal(batch[k], again[k], err_msg=k)
    other = pairs.make_pairs(_model(), _poses(), bank, _N, 6, _CFG)
    assert not np.array_equal(batch["field"], other["field"])
    assert not np.array_equal(batch["image"], other["image"])


def test_background_is_empty(batch):
    bg = batch["mask"] == 0
    assert bg.any()
    assert np.all(batch["field"][bg] == 0.0)
    assert np.all(batch["renders"][bg][:, 3:] == 0.0)  # depth, normals, uvc, mask
    np.testing.assert_array_equal(batch["renders"][..., 10], batch["mask"])


def test_field_is_zero_when_the_initial_estimate_is_the_ground_truth(bank):
    cfg = dataclasses.replace(
        _CFG, mix=(0.0, 0.0, 0.0, 1.0), gt_pose_level=Difficulty(0.0, 0.0, 0.0, 0.0, 0.0)
    )
    out = pairs.make_pairs(_model(), _poses(), bank, _N, 5, cfg)
    assert np.all(out["difficulty"] == pairs.DIFFICULTIES.index("gt_pose"))
    assert out["mask"].sum() > 0
    assert np.abs(out["field"]).max() < _ZERO_TOL
    np.testing.assert_allclose(out["init_betas"], out["betas"])
    np.testing.assert_allclose(out["init_transl"], out["transl"], atol=1e-6)


def _crop_cam(batch, i) -> Camera:
    fx, fy, cx, cy = batch["crop_intrinsics"][i]
    return Camera.create(fx, fy, cx, cy, R=batch["crop_rotation"][i])


def test_crop_camera_matches_the_box_metadata(batch):
    """The crop camera = the full camera cropped to (box_center, box_size), then rotated by
    ``angle`` about the crop centre: a point's crop pixel follows from its full-image pixel."""
    for i in range(_N):
        fx, fy, cx, cy = batch["intrinsics"][i]
        full = Camera.create(fx, fy, cx, cy)
        v = forward(_model(), batch["pose"][i], batch["betas"][i], batch["transl"][i]).vertices
        p = image_to_crop_points(project(full, v), batch["box_center"][i], batch["box_size"][i], _S)
        a = batch["angle"][i]
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        expected = (np.asarray(p) - _S / 2) @ rot.T + _S / 2
        got = project(_crop_cam(batch, i), v)
        np.testing.assert_allclose(got, expected, atol=_CAMERA_TOL * 10)
        unrotated = crop_camera(full, batch["box_center"][i], batch["box_size"][i], _S)
        np.testing.assert_allclose(float(unrotated.fx), batch["crop_intrinsics"][i, 0], rtol=1e-6)
    assert np.any(batch["angle"] != 0)  # p_rotate = 0.7 over 3 samples (seeded)


def test_field_is_the_displacement_of_the_seen_surface_point(batch):
    """At foreground pixels, the field equals crop-camera projection of the ground-truth surface
    point minus that of the initial one (same triangle, same barycentrics)."""
    model = _model()
    faces = np.asarray(model.faces)
    for i in range(_N):
        cam = _crop_cam(batch, i)
        vi = forward(model, batch["init_pose"][i], batch["init_betas"][i],
                     batch["init_transl"][i]).vertices  # fmt: skip
        vg = forward(model, batch["pose"][i], batch["betas"][i], batch["transl"][i]).vertices
        frags = rasterize(vi, model.faces, cam, _S, _S, resolve_backend("auto"),
                          cull_backfaces=True)  # fmt: skip
        tri, bary = np.asarray(frags.tri_id), np.asarray(frags.bary)
        np.testing.assert_array_equal(tri >= 0, batch["mask"][i] > 0)
        rows, cols = np.nonzero(tri >= 0)
        pick = np.random.default_rng(i).choice(len(rows), 20, replace=False)
        r, c = rows[pick], cols[pick]
        corners = faces[tri[r, c]]  # (20, 3)
        b = bary[r, c][..., None]
        pi = np.asarray(project(cam, jnp.asarray(np.sum(b * np.asarray(vi)[corners], 1))))
        pg = np.asarray(project(cam, jnp.asarray(np.sum(b * np.asarray(vg)[corners], 1))))
        centres = np.stack([c + 0.5, r + 0.5], -1)
        np.testing.assert_allclose(pi, centres, atol=_PIXEL_TOL)
        np.testing.assert_allclose(batch["field"][i][r, c], pg - pi, atol=_SURFACE_TOL)


def test_bank_contents(bank):
    P, T = 2, 64
    assert len(bank) == P and bank.true_texture.shape == (P, T, T, 3)
    assert bank.true_texture.dtype == np.uint8 and bank.estimated_texture.dtype == np.uint8
    cov = bank.coverage.mean(axis=(1, 2))
    assert np.all(cov > 0.1), cov  # two views see a good part of the body
    # where seen, the estimate resembles the subject's own texture more than the other's
    t = bank.true_texture.astype(float)
    e = bank.estimated_texture.astype(float)
    m = bank.coverage[..., None]
    own = np.abs(e - t)[np.broadcast_to(m, e.shape)].mean()
    swapped = np.abs(e - t[::-1])[np.broadcast_to(m, e.shape)].mean()
    assert own < swapped, (own, swapped)


def test_bank_cache_round_trip_and_errors(bank, tmp_path):
    path = tmp_path / "bank.npz"
    pairs.save_bank(path, bank)
    back = pairs.load_or_build_bank(path, _model(), _poses(), _CFG, seed=0)  # no rebuild
    for f in dataclasses.fields(bank):
        np.testing.assert_array_equal(getattr(back, f.name), getattr(bank, f.name), f.name)
    with pytest.raises(pairs.BankFileError, match="other settings.*seed"):
        pairs.load_or_build_bank(path, _model(), _poses(), _CFG, seed=1)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # truncated
    with pytest.raises(pairs.BankFileError, match=f"{path}: damaged subject bank"):
        pairs.load_bank(path)
    path.write_text("garbage")
    with pytest.raises(pairs.BankFileError, match="damaged subject bank"):
        pairs.load_bank(path)
    np.savez(path, betas=np.zeros((2, 10)))
    with pytest.raises(pairs.BankFileError, match="missing keys"):
        pairs.load_bank(path)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        pairs.load_bank(tmp_path / "nope.npz")


def test_network_input_depth_is_relative():
    depth = jnp.array([[2.0, 3.0, 0.0], [4.0, 9.0, 0.0]])
    mask = jnp.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    ch = RenderChannels(
        rgb=jnp.full((2, 3, 3), 0.5), depth=depth, normals=jnp.zeros((2, 3, 3)),
        uvc=jnp.zeros((2, 3, 3)), mask=mask,
    )  # fmt: skip
    x = network_input(ch)
    assert x.shape == (2, 3, 11) and x.dtype == jnp.float32
    # median of (2, 3, 4, 9) = 3.5; clipped to +-1 m; 0 on background
    np.testing.assert_allclose(x[..., 3], [[-1.0, -0.5, 0.0], [0.5, 1.0, 0.0]])
    np.testing.assert_array_equal(x[..., 10], mask)
    np.testing.assert_array_equal(x[..., :3], ch.rgb)
    empty = network_input(ch.replace(mask=jnp.zeros_like(mask)))
    assert np.all(np.isfinite(empty)) and np.all(empty[..., 3] == 0.0)


def test_inside_image_marks_the_padding():
    full = Camera.create(100.0, 100.0, 32.0, 32.0)
    same = crop_camera(full, jnp.array([32.0, 32.0]), 64.0, 16)  # the whole image, 4x smaller
    assert bool(pairs.inside_image(same, full, 16, 64, 64).all())
    right = crop_camera(full, jnp.array([64.0, 32.0]), 64.0, 16)  # centred on the right edge
    inside = np.asarray(pairs.inside_image(right, full, 16, 64, 64))
    assert inside[:, :8].all() and not inside[:, 8:].any()
    # rotating the crop by 90 degrees about its centre turns the inside half to the top
    turned = pairs.rotate_in_plane(right, jnp.pi / 2, jnp.array([8.0, 8.0]))
    inside = np.asarray(pairs.inside_image(turned, full, 16, 64, 64))
    assert inside[:8].all() and not inside[8:].any()


def test_close_framing_cuts_the_body_at_the_lower_border(bank):
    close = dataclasses.replace(_CFG, p_close=1.0, close_top=(0.1, 0.1))
    got = pairs.make_pairs(_model(), _poses(), bank, _N, 5, close)
    far = pairs.make_pairs(_model(), _poses(), bank, _N, 5, _CFG)
    # the same scenes, textures and augmentations (its random stream is its own): only the
    # camera moved
    for k in ("pose", "betas", "transl", "init_pose", "subject", "texture_kind", "angle"):
        np.testing.assert_array_equal(got[k], far[k])
    zoom = got["intrinsics"][:, 0] / far["intrinsics"][:, 0]
    assert ((zoom >= _CFG.close_zoom[0]) & (zoom <= _CFG.close_zoom[1])).all()
    for i in range(_N):
        fx, fy, cx, cy = got["intrinsics"][i]
        cam = Camera.create(fx, fy, cx, cy)
        uv = np.asarray(project(cam, _vertices(got, i)))
        np.testing.assert_allclose(uv[:, 1].min(), 0.1 * _S, atol=_CAMERA_TOL)  # top at 10 %
        assert uv[:, 1].max() > _S  # and the image's lower border cuts the body


def _vertices(out, i):
    return forward(_model(), jnp.asarray(out["pose"][i]), jnp.asarray(out["betas"][i]),
                   jnp.asarray(out["transl"][i])).vertices  # fmt: skip
