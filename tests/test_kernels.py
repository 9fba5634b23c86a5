"""Tests of the framework-free EGL rasterizer kernel (kernels/rasterizer.py), numpy only.

Reference values are computed here in float64 from the definitions (pinhole projection, the
pixel centre's perspective-correct barycentrics), independent of the kernel's formulas.
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxrefine.bench.raster import figure_mesh, icosphere

kernels = pytest.importorskip("kernels.rasterizer", reason="the kernels package is not importable")

_BARY_SUM_TOL = 1e-6  # float32 division by the sum
_REPROJ_TOL = 0.01  # px; re-projection of the interpolated point (float32 + 1/256 px snapping)
_DEPTH_TOL = 1e-5  # m; float32 depth of a surface at ~3 m against float64
_BARY_TOL = 1e-5  # float32 barycentrics against float64 for interior pixels


@pytest.fixture(scope="module")
def raster():
    try:
        r = kernels.EGLRasterizer()
    except kernels.EGLUnavailableError as e:
        print(f"SKIP reason: no EGL context: {e}")
        pytest.skip(f"no EGL context can be made: {e}")
    yield r
    r.close()


def _look_at_front(distance, height_offset=0.0):
    """SMPL axes (y up, facing +z) to an OpenCV camera in front of the body."""
    R = np.diag([1.0, -1.0, -1.0])
    t = np.array([0.0, height_offset, distance])
    return R, t


def _cams(b, f, cx, cy, R, t):
    return (
        np.tile(np.array([[f, f, cx, cy]], np.float32), (b, 1)),
        np.tile(np.asarray(R, np.float32)[None], (b, 1, 1)),
        np.tile(np.asarray(t, np.float32)[None], (b, 1)),
    )


def _reference(vertices, faces, k, R, t, tri_id):
    """float64 barycentrics, depth and re-projection of the pixel centres of tri_id (H, W)."""
    h, w = tri_id.shape
    ii, jj = np.nonzero(tri_id >= 0)
    p = (vertices.astype(np.float64) @ R.T.astype(np.float64) + t)[faces[tri_id[ii, jj]]]
    s = np.stack([k[0] * p[..., 0] / p[..., 2] + k[2], k[1] * p[..., 1] / p[..., 2] + k[3]], -1)
    d = s - np.stack([jj + 0.5, ii + 0.5], -1)[:, None, :]
    cr = [d[:, 1, 0] * d[:, 2, 1] - d[:, 1, 1] * d[:, 2, 0]]
    cr += [d[:, 2, 0] * d[:, 0, 1] - d[:, 2, 1] * d[:, 0, 0]]
    cr += [d[:, 0, 0] * d[:, 1, 1] - d[:, 0, 1] * d[:, 1, 0]]
    lam = np.stack(cr, -1)
    lam /= lam.sum(-1, keepdims=True)
    b = lam / p[..., 2]
    b /= b.sum(-1, keepdims=True)
    return ii, jj, b, (b * p[..., 2]).sum(-1), p


@pytest.mark.egl
def test_single_triangle_matches_float64(raster):
    verts = np.array([[[-0.5, -0.4, 2.0], [0.6, -0.3, 2.5], [0.0, 0.5, 3.0]]], np.float32)
    faces = np.array([[0, 1, 2]], np.int32)
    k, R, t = _cams(1, 100.0, 40.0, 30.0, np.eye(3), np.zeros(3))
    tri_id, bary, depth = raster.rasterize(verts, faces, k, R, t, 60, 80)
    assert tri_id.shape == (1, 60, 80) and tri_id.dtype == np.int32
    assert bary.shape == (1, 60, 80, 3) and bary.dtype == np.float32
    assert depth.shape == (1, 60, 80) and depth.dtype == np.float32
    fg = tri_id[0] >= 0
    assert 500 < fg.sum() < 60 * 80
    assert set(np.unique(tri_id[0])) == {-1, 0}
    assert np.all(bary[0][~fg] == 0) and np.all(depth[0][~fg] == 0)
    ii, jj, b, z, _ = _reference(verts[0], faces, k[0], R[0], t[0], tri_id[0])
    interior = b.min(-1) > 1e-3
    np.testing.assert_allclose(bary[0, ii, jj][interior], b[interior], atol=_BARY_TOL)
    np.testing.assert_allclose(depth[0, ii, jj], z, atol=_DEPTH_TOL)
    # Every pixel centre strictly inside the projected triangle is covered.
    assert np.all(fg[ii, jj])


@pytest.mark.egl
def test_figure_bary_sum_depth_and_reprojection(raster):
    verts, faces = figure_mesh(3)
    R, t = _look_at_front(3.0, 0.1)
    k, Rb, tb = _cams(1, 280.0, 96.0, 128.0, R, t)
    tri_id, bary, depth = raster.rasterize(verts[None], faces, k, Rb, tb, 256, 192)
    fg = tri_id[0] >= 0
    assert fg.mean() > 0.05
    bsum = bary[0][fg].sum(-1)
    assert np.abs(bsum - 1).max() < _BARY_SUM_TOL
    assert bary[0][fg].min() >= 0
    ii, jj, b, z, p = _reference(verts, faces, k[0], R, t, tri_id[0])
    # Interpolated camera-space point re-projects onto the pixel centre.
    q = np.einsum("nk,nkc->nc", bary[0, ii, jj].astype(np.float64), p)
    u = k[0, 0] * q[:, 0] / q[:, 2] + k[0, 2]
    v = k[0, 1] * q[:, 1] / q[:, 2] + k[0, 3]
    err = np.hypot(u - (jj + 0.5), v - (ii + 0.5))
    assert err.max() < _REPROJ_TOL, err.max()
    np.testing.assert_allclose(depth[0, ii, jj], q[:, 2], atol=_DEPTH_TOL)


@pytest.mark.egl
def test_depth_test_keeps_nearest_surface(raster):
    # Two overlapping squares at different depths, drawn far one last.
    sq = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], np.float32)
    verts = np.concatenate([sq + [0, 0, 2.0], sq * 0.5 + [0, 0, 4.0]])[None]
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]], np.int32)
    k, R, t = _cams(1, 50.0, 32.0, 32.0, np.eye(3), np.zeros(3))
    tri_id, _, depth = raster.rasterize(verts, faces, k, R, t, 64, 64)
    assert np.all(tri_id[0, 20:44, 20:44] < 2)
    np.testing.assert_allclose(depth[0, 20:44, 20:44], 2.0, atol=_DEPTH_TOL)
    # Reversed face order gives the same picture.
    tri2, _, depth2 = raster.rasterize(verts, faces[::-1].copy(), k, R, t, 64, 64)
    np.testing.assert_array_equal(np.where(tri2 >= 0, 3 - tri2, -1), tri_id)
    np.testing.assert_allclose(depth2, depth, atol=_DEPTH_TOL)


@pytest.mark.egl
def test_cull_backfaces(raster):
    v, f = icosphere(3)
    verts = (v * 0.5).astype(np.float32)[None]
    k, R, t = _cams(1, 120.0, 32.0, 32.0, np.eye(3), [0.0, 0.0, 2.0])
    full = raster.rasterize(verts, f, k, R, t, 64, 64)
    cull = raster.rasterize(verts, f, k, R, t, 64, 64, cull_backfaces=True)
    fg = full[0] >= 0
    np.testing.assert_array_equal(cull[0] >= 0, fg)
    assert np.mean(cull[0][fg] == full[0][fg]) > 0.999
    # With the faces flipped inward, culling leaves only the far (inside-facing) half.
    flipped = raster.rasterize(verts, f[:, ::-1].copy(), k, R, t, 64, 64, cull_backfaces=True)
    both = fg & (flipped[0] >= 0)
    diff = flipped[2][both] - full[2][both]
    assert diff.min() > -_DEPTH_TOL and np.median(diff) > 0.5


@pytest.mark.egl
def test_batch_and_per_frame_cameras(raster):
    poses = [figure_mesh(p) for p in range(3)]
    faces = poses[0][1]
    verts = np.stack([p[0] for p in poses] * 2)  # 6 frames
    b = verts.shape[0]
    rng = np.random.default_rng(0)
    k = np.stack([[rng.uniform(150, 250)] * 2 + [48 + rng.uniform(-5, 5), 64] for _ in range(b)])
    R = np.tile(np.diag([1.0, -1.0, -1.0])[None], (b, 1, 1))
    t = np.stack([[rng.uniform(-0.2, 0.2), 0.1, rng.uniform(2.5, 3.5)] for _ in range(b)])
    k, R, t = k.astype(np.float32), R.astype(np.float32), t.astype(np.float32)
    batch = raster.rasterize(verts, faces, k, R, t, 128, 96)
    assert all((batch[0][i] >= 0).sum() > 500 for i in range(b))
    for i in range(b):
        one = raster.rasterize(verts[i : i + 1], faces, k[i : i + 1], R[i : i + 1],
                               t[i : i + 1], 128, 96)  # fmt: skip
        # One layer per frame: bit-identical whatever the batch and the frame's place in it.
        for a, c in zip(one, batch):
            np.testing.assert_array_equal(a[0], c[i])


@pytest.mark.egl
def test_batch_split_in_passes(raster, monkeypatch):
    v, f = icosphere(2)
    verts = np.stack([(v * 0.3 + [0, 0.02 * i, 0]).astype(np.float32) for i in range(7)])
    k, R, t = _cams(7, 40.0, 16.0, 12.0, np.eye(3), [0.0, 0.0, 1.0])
    whole = raster.rasterize(verts, f, k, R, t, 24, 32)
    monkeypatch.setattr(raster, "max_frames_per_pass", lambda h, w: 3)  # passes of 3, 3, 1
    split = raster.rasterize(verts, f, k, R, t, 24, 32)
    for a, c in zip(whole, split):
        np.testing.assert_array_equal(a, c)
    assert np.all((whole[0] >= 0).sum((1, 2)) > 0)
    assert 1 <= raster.max_frames_per_pass(4096, 4096) <= raster.max_frames_per_pass(64, 64)


@pytest.mark.egl
def test_input_validation(raster):
    v, f = icosphere(1)
    k, R, t = _cams(1, 50.0, 8.0, 8.0, np.eye(3), [0, 0, 2.0])
    with pytest.raises(ValueError, match="vertices"):
        raster.rasterize(v, f, k, R, t, 16, 16)
    with pytest.raises(ValueError, match="cameras"):
        raster.rasterize(v[None], f, k[0], R, t, 16, 16)
    with pytest.raises(ValueError, match="out of range"):
        raster.rasterize(v[None], f + 1000, k, R, t, 16, 16)
    with pytest.raises(ValueError, match="size"):
        raster.rasterize(v[None], f, k, R, t, 0, 16)
    empty = raster.rasterize(np.zeros((0, len(v), 3), np.float32), f, k[:0], R[:0], t[:0], 16, 16)
    assert empty[0].shape == (0, 16, 16)


def test_missing_device_names_debian_packages():
    with pytest.raises(kernels.EGLUnavailableError, match="libegl1 libgl1"):
        kernels.EGLRasterizer(device_index=97)


def test_bad_options():
    with pytest.raises(ValueError, match="znear"):
        kernels.EGLRasterizer(znear=0.0)


@pytest.mark.egl
def test_close_is_idempotent():
    try:
        r = kernels.EGLRasterizer()
    except kernels.EGLUnavailableError as e:
        pytest.skip(f"no EGL context can be made: {e}")
    with r:
        assert "EGLRasterizer" in repr(r)
    r.close()
    assert "closed" in repr(r)
    with pytest.raises(RuntimeError, match="closed"):
        r.rasterize(np.zeros((1, 3, 3), np.float32), np.array([[0, 1, 2]]), *_cams(1, 1.0, 0, 0,
                    np.eye(3), np.zeros(3)), 4, 4)  # fmt: skip


def test_shader_sources_are_files():
    for name in ("raster.vert", "raster.geom", "raster.frag"):
        assert "#version 430" in kernels.load_shader(name)
