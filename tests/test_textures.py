"""Procedural textures (UV atlas, outfits, variety) and background sources."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from jaxrefine import load_body_model
from jaxrefine.data import backgrounds as bg
from jaxrefine.data.textures import (
    HAIR,
    LOWER,
    SHOES,
    SKIN,
    UPPER,
    outfit,
    procedural_texture,
    rasterize_uv,
    texel_atlas,
    value_noise,
)

_SIZE = 128  # texels; small keeps the test fast
_BARY_TOL = 1e-5  # float32 barycentric reconstruction of texel centres


@functools.cache
def _model():
    return load_body_model()


def test_rasterize_uv_two_triangles_cover_the_square():
    vt = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    ft = np.array([[0, 1, 2], [0, 2, 3]])
    face, bary = rasterize_uv(vt, ft, 8)
    assert (face >= 0).all()
    # barycentrics reconstruct each texel centre's uv (row 0 = v = 1)
    uv = np.einsum("hwk,hwkc->hwc", bary, vt[ft][face])
    rows, cols = np.mgrid[0:8, 0:8]
    np.testing.assert_allclose(uv[..., 0], (cols + 0.5) / 8, atol=_BARY_TOL)
    np.testing.assert_allclose(uv[..., 1], 1 - (rows + 0.5) / 8, atol=_BARY_TOL)
    # a triangle in one corner covers only texels whose centre is inside it
    face, _ = rasterize_uv(vt[:3] * 0.5, np.array([[0, 1, 2]]), 8)
    assert face[7, 0] == 0 and face[0, 7] == -1 and (face >= 0).sum() == 10


def test_atlas_of_the_body_model():
    model = _model()
    a = texel_atlas(model, _SIZE)
    assert a is texel_atlas(model, _SIZE)  # cached
    assert 0.4 < a.covered.mean() < 0.95
    assert a.face[a.covered].max() < model.faces.shape[0]
    np.testing.assert_allclose(a.bary[a.covered].sum(-1), 1.0, atol=_BARY_TOL)
    assert set(np.unique(a.part)) == set(range(24))  # every body part has texels
    # rest-pose positions lie on the body (within its bounding box)
    v = np.asarray(model.v_template)
    assert (a.position >= v.min(0) - 1e-4).all() and (a.position <= v.max(0) + 1e-4).all()


def test_texture_range_determinism_and_variety():
    model = _model()
    t0 = procedural_texture(model, 0, _SIZE)
    assert t0.shape == (_SIZE, _SIZE, 3) and t0.dtype == np.float32
    assert t0.min() >= 0.0 and t0.max() <= 1.0
    np.testing.assert_array_equal(t0, procedural_texture(model, 0, _SIZE))
    textures = [procedural_texture(model, s, _SIZE) for s in range(1, 9)]
    assert np.abs(textures[0] - t0).mean() > 0.05  # two seeds differ clearly
    # variety: mean colours of the covered texels spread over the colour space
    covered = texel_atlas(model, _SIZE).covered
    means = np.array([t[covered].mean(0) for t in [t0, *textures]])
    assert means.std(0).min() > 0.03
    # and textures are not flat: strong variation within one texture
    assert np.mean([t[covered].std(0).mean() for t in textures]) > 0.08


def test_outfit_regions():
    model = _model()
    atlas = texel_atlas(model, _SIZE)
    part = atlas.part
    for seed in range(6):
        labels, colours = outfit(atlas, np.random.default_rng(seed), model)
        hands = np.isin(part, (22, 23)) & atlas.covered
        assert (labels[hands] == SKIN).mean() > 0.95  # bare hands
        soles = np.isin(part, (10, 11)) & atlas.covered
        assert (labels[soles] == SHOES).mean() > 0.95  # shoes on the feet
        chest = np.isin(part, (6, 9)) & atlas.covered
        # the chest is dressed in one garment: a top, a one-piece dress (LOWER) or bare
        top = np.bincount(labels[chest], minlength=6)
        assert top.argmax() in (UPPER, LOWER, SKIN) and top.max() > 0.9 * chest.sum()
        face = (part == 15) & (atlas.position[..., 2] > atlas.joints[15, 2] + 0.08)
        assert (labels[face & atlas.covered] != HAIR).mean() > 0.8  # the face is not hair


def test_value_noise_is_smooth_and_in_range():
    rng = np.random.default_rng(0)
    p = rng.uniform(-1, 1, (1000, 3)).astype(np.float32)
    n = value_noise(p, 5.0, np.random.default_rng(1))
    assert n.min() >= 0 and n.max() <= 1 and n.std() > 0.05
    d = value_noise(p + 1e-3, 5.0, np.random.default_rng(1)) - n
    assert np.abs(d).max() < 0.05  # 1 mm moves the noise a little (Lipschitz ~ 3 freq)


def test_model_without_uv_layout_is_rejected():
    model = _model().replace(vt=None, ft=None)
    with pytest.raises(ValueError, match="no UV layout"):
        procedural_texture(model, 0, 16)


# --------------------------------------------------------------------------- backgrounds
def test_backgrounds_shape_range_determinism():
    pool = bg.default_pool()
    print("background sources:", pool.sources, len(pool.images), "images")
    a = [bg.sample_background(48, 64, np.random.default_rng(3), pool) for _ in range(2)]
    np.testing.assert_array_equal(a[0][0], a[1][0])
    rng = np.random.default_rng(0)
    names = set()
    for _ in range(12):
        img, name = bg.sample_background(48, 64, rng, pool)
        assert img.shape == (48, 64, 3) and img.dtype == np.float32
        assert img.min() >= 0 and img.max() <= 1
        names.add(name.split(":")[0])
    assert "procedural" in names or not pool.images


def test_procedural_fallback_when_no_images():
    empty = bg.BackgroundPool(images=(), names=(), procedural_prob=1.0)
    rng = np.random.default_rng(0)
    imgs = [bg.sample_background(32, 32, rng, empty) for _ in range(5)]
    assert all(n == "procedural" for _, n in imgs)
    assert np.std([i.mean() for i, _ in imgs]) > 0.01  # varied
    with pytest.raises(ValueError, match="unknown background sources"):
        bg.default_pool(("photos",))


def test_crop_and_tone_map():
    img = np.linspace(0, 1, 40 * 60 * 3, dtype=np.float32).reshape(40, 60, 3)
    out = bg.random_crop(img, 16, 16, np.random.default_rng(0))
    assert out.shape == (16, 16, 3) and img.min() <= out.min() and out.max() <= img.max()
    t = bg.tone_map(np.array([[[0.0, 1.0, 100.0]]], np.float32))
    assert t.min() >= 0 and t.max() <= 1 and t[0, 0, 0] < t[0, 0, 1] < t[0, 0, 2]


def test_hdri_reader_when_available():
    files = sorted(__import__("glob").glob(bg.HDRI_DIR + "/*.exr"))
    try:
        import OpenEXR  # noqa: F401
    except ImportError:
        pytest.skip("OpenEXR package not installed")
    if not files:
        pytest.skip(f"no HDRIs in {bg.HDRI_DIR} (Debian package blender-data)")
    hdr = bg.read_exr(files[0])
    assert hdr.ndim == 3 and hdr.shape[2] == 3 and np.isfinite(hdr).all() and hdr.max() > 0
