"""Tests of jaxrefine.render (callback boundary, JAX fallback), jaxrefine.shading and viz.

Scenes: the shipped open body model posed by ``body_model.forward`` when it is installed, else
the procedural figure of ``jaxrefine.bench.raster.figure_mesh`` (same size class).
"""

from __future__ import annotations

import functools
import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine import render, shading, viz
from jaxrefine.bench.raster import figure_mesh, icosphere
from jaxrefine.camera import Camera, project

_ID_AGREEMENT = 0.995  # fraction of foreground pixels with the same triangle, EGL vs JAX
_DEPTH_TOL = 1e-4  # m; EGL vs JAX depth where the triangle agrees (float32 at ~3 m)
_BARY_SUM_TOL = 1e-5  # float32 normalisation
_REPROJ_TOL = 0.01  # px; interpolated 3D point re-projected vs the pixel centre
_GRAD_RTOL = 1e-2  # median per-pixel |jvp - fd| / |jvp| in float32 (eps = 1e-4 m)
_EAGER_BARY_ATOL = 1e-4  # eager vs compiled barycentrics: unfused multiply-adds, sliver triangles
_PYRENDER_DEPTH_TOL = 1e-2  # m; pyrender reads its 24-bit depth buffer back

H, W = 128, 96  # non-square on purpose


# --------------------------------------------------------------------------- scenes
@functools.cache
def _body():
    """(model or None, list of posed (V, 3) float32 vertices, faces (F, 3) int32)."""
    try:
        import jaxrefine
        from jaxrefine.body_model import forward

        model = jaxrefine.load_body_model()
    except (FileNotFoundError, ImportError, AttributeError) as e:
        print(f"open body model unavailable ({e}); using the procedural figure")
        meshes = [figure_mesh(p) for p in range(4)]
        return None, [m[0] for m in meshes], meshes[0][1]
    rng = np.random.default_rng(0)
    poses = []
    for i in range(4):
        pose = rng.normal(0, 0.25, (24, 3)) * (i > 0)
        pose[0] = 0
        out = forward(model, jnp.asarray(pose, jnp.float32), jnp.asarray(rng.normal(0, 1, 10)))
        poses.append(np.asarray(out.vertices, np.float32))
    return model, poses, np.asarray(model.faces, np.int32)


def _camera(i: int, height=H, width=W) -> Camera:
    """Cameras in front of / beside the body (SMPL axes: y up, facing +z)."""
    yaw = [0.0, 0.6, -1.2, 2.8][i % 4]
    dist = [3.0, 2.6, 3.4, 2.2][i % 4]
    c, s = np.cos(yaw), np.sin(yaw)
    body_to_cam = np.diag([1.0, -1.0, -1.0]) @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    f = 0.75 * height * dist / 1.8
    return Camera.create(
        f, f * 1.02, width / 2 + 3 * i, height / 2 - 2 * i, body_to_cam, [0.05 * i, 0.15, dist]
    )


def _scenes():
    _, poses, faces = _body()
    verts = jnp.asarray(np.stack(poses))
    cams = jax.tree.map(lambda *x: jnp.stack(x), *[_camera(i) for i in range(len(poses))])
    return verts, jnp.asarray(faces), cams


@functools.cache
def _egl():
    try:
        return render.default_rasterizer()
    except render.EGLUnavailableError as e:
        return e


def _need_egl():
    r = _egl()
    if isinstance(r, Exception):
        print(f"SKIP reason: no EGL context: {r}")
        pytest.skip(f"no EGL context can be made: {r}")
    return r


class _CountingRasterizer:
    """Wraps an EGLRasterizer and records the batch shape of every host call."""

    def __init__(self, raster):
        self.raster = raster
        self.renderer = raster.renderer
        self.calls = []

    def rasterize(self, vertices, *args, **kwargs):
        self.calls.append(vertices.shape)
        return self.raster.rasterize(vertices, *args, **kwargs)


def _take(tree, i):
    """Frame ``i`` of a batched pytree."""
    return jax.tree.map(lambda x: x[i], tree)


def _fg_agreement(a: render.Fragments, b: render.Fragments):
    fg = np.asarray(a.mask | b.mask)
    same = np.asarray(a.tri_id == b.tri_id) & fg
    return same.sum() / max(fg.sum(), 1), same


# --------------------------------------------------------------------------- JAX fallback
def test_jax_single_triangle_and_background():
    verts = jnp.array([[-0.5, -0.4, 2.0], [0.6, -0.3, 2.5], [0.0, 0.5, 3.0]])
    faces = jnp.array([[0, 1, 2]])
    cam = Camera.create(100.0, 100.0, 40.0, 30.0)
    raster = jax.jit(
        render.rasterize_jax, static_argnums=(3, 4, 5), static_argnames=("num_medium", "num_large")
    )
    fr, truncated = raster(verts, faces, cam, 60, 80, 64)
    assert int(truncated) == 0
    assert fr.tri_id.dtype == jnp.int32 and fr.bary.dtype == jnp.float32
    fg = np.asarray(fr.mask)
    assert 500 < fg.sum() < 60 * 80
    assert np.all(np.asarray(fr.bary)[~fg] == 0) and np.all(np.asarray(fr.depth)[~fg] == 0)
    # A too-small block truncates the triangle and says so.
    fr4, truncated4 = raster(verts, faces, cam, 60, 80, 4, num_medium=0, num_large=0)
    assert int(truncated4) == 1 and np.asarray(fr4.mask).sum() <= 16


def test_jax_bary_sum_and_reprojection():
    verts, faces, cams = _scenes()
    cam = jax.tree.map(lambda x: x[1], cams)
    fr = render.rasterize(verts[1], faces, cam, H, W, backend="jax")
    _check_fragments(fr, verts[1], faces, cam)


@jax.jit
def _surface_points(verts, faces, fr, cam):
    pts = shading.interpolate(verts, faces, fr)
    return pts, project(cam, pts.reshape(-1, 3)).reshape(*pts.shape[:2], 2)


def _check_fragments(fr, verts, faces, cam):
    fg = np.asarray(fr.mask)
    assert fg.mean() > 0.05
    bary = np.asarray(fr.bary)[fg]
    assert np.abs(bary.sum(-1) - 1).max() < _BARY_SUM_TOL and bary.min() >= 0
    pts, uv = _surface_points(verts, faces, fr, cam)  # world points (H, W, 3), pixels (H, W, 2)
    pts, uv = np.asarray(pts), np.asarray(uv)
    ii, jj = np.nonzero(fg)
    err = np.hypot(uv[ii, jj, 0] - (jj + 0.5), uv[ii, jj, 1] - (ii + 0.5))
    assert err.max() < _REPROJ_TOL, err.max()
    z = (pts @ np.asarray(cam.R).T + np.asarray(cam.t))[..., 2]  # numpy broadcasting
    np.testing.assert_allclose(np.asarray(fr.depth)[fg], z[fg], atol=1e-5)


def test_jax_vmap_nested_vmap_and_jit():
    verts, faces, cams = _scenes()
    fn = functools.partial(render.rasterize, faces=faces, height=H, width=W, backend="jax")
    batched = jax.jit(jax.vmap(lambda v, c: fn(v, camera=c)))(verts, cams)
    assert batched.tri_id.shape == (4, H, W)
    nested = jax.jit(jax.vmap(jax.vmap(lambda v, c: fn(v, camera=c))))(
        verts.reshape(2, 2, *verts.shape[1:]),
        jax.tree.map(lambda x: x.reshape(2, 2, *x.shape[1:]), cams),
    )
    np.testing.assert_array_equal(nested.tri_id.reshape(4, H, W), batched.tri_id)
    for i in (0, 3):  # batch size changes nothing in the JAX backend
        one = fn(verts[i], camera=_take(cams, i))
        np.testing.assert_array_equal(one.tri_id, batched.tri_id[i])
        np.testing.assert_allclose(one.depth, batched.depth[i], atol=1e-6)


# --------------------------------------------------------------------------- EGL boundary
@pytest.mark.egl
def test_egl_vs_jax_on_body_poses_and_cameras():
    _need_egl()
    verts, faces, cams = _scenes()
    egl = render.rasterize_batch(verts, faces, cams, H, W, backend="egl")
    jx = render.rasterize_batch(verts, faces, cams, H, W, backend="jax")
    for i in range(verts.shape[0]):
        a = _take(egl, i)
        b = _take(jx, i)
        frac, same = _fg_agreement(a, b)
        assert frac >= _ID_AGREEMENT, (i, frac)
        dz = np.abs(np.asarray(a.depth) - np.asarray(b.depth))[same]
        assert dz.max() < _DEPTH_TOL, (i, dz.max())
        _check_fragments(a, verts[i], faces, _take(cams, i))
    # Back-face culling changes nothing visible on the closed body.
    culled = render.rasterize_batch(verts, faces, cams, H, W, backend="egl", cull_backfaces=True)
    frac, _ = _fg_agreement(culled, egl)
    assert frac >= _ID_AGREEMENT


@pytest.mark.egl
def test_egl_one_host_call_for_jit_vmap_and_nested_vmap():
    counter = _CountingRasterizer(_need_egl())
    verts, faces, cams = _scenes()
    fn = functools.partial(render.rasterize, height=H, width=W, backend="egl", rasterizer=counter)
    flat = jax.jit(jax.vmap(lambda v, c: fn(v, faces, c)))(verts, cams)
    assert counter.calls == [(4, verts.shape[1], 3)]
    nested = jax.jit(jax.vmap(jax.vmap(lambda v, c: fn(v, faces, c))))(
        verts.reshape(2, 2, -1, 3), jax.tree.map(lambda x: x.reshape(2, 2, *x.shape[1:]), cams)
    )
    assert len(counter.calls) == 2 and counter.calls[-1][0] == 4
    np.testing.assert_array_equal(nested.tri_id.reshape(4, H, W), flat.tri_id)
    # One mesh, several cameras: the unbatched vertices are broadcast on the host.
    multi = jax.jit(jax.vmap(lambda c: fn(verts[0], faces, c)))(cams)
    assert len(counter.calls) == 3 and multi.tri_id.shape == (4, H, W)
    # Plain call (no jit, no vmap).
    one = fn(verts[2], faces, jax.tree.map(lambda x: x[2], cams))
    assert counter.calls[-1][0] == 1
    np.testing.assert_array_equal(one.tri_id, flat.tri_id[2])


@pytest.mark.egl
def test_egl_batch_size_changes_nothing():
    raster = _need_egl()
    verts, faces, cams = _scenes()
    big = jnp.concatenate([verts] * 4)  # 16 frames
    big_cams = jax.tree.map(lambda x: jnp.concatenate([x] * 4), cams)
    many = render.rasterize_batch(big, faces, big_cams, H, W, backend="egl")
    for i in (0, 5, 15):
        one = render.rasterize(big[i], faces, _take(big_cams, i), H, W, "egl", rasterizer=raster)
        for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(_take(many, i))):
            np.testing.assert_array_equal(a, b)


def _depth_sum(v, faces, cam, backend):
    return render.rasterize(v, faces, cam, H, W, backend).depth.sum()


@pytest.mark.egl
def test_outputs_have_no_gradient_and_validation():
    _need_egl()
    verts, faces, cams = _scenes()
    cam = jax.tree.map(lambda x: x[0], cams)
    for backend in ("egl", "jax"):
        depth_sum = functools.partial(_depth_sum, faces=faces, cam=cam, backend=backend)
        assert np.all(np.asarray(jax.grad(depth_sum)(verts[0])) == 0)
    with pytest.raises(ValueError, match="vmap"):
        render.rasterize(verts, faces, cam, H, W, "egl")
    with pytest.raises(TypeError, match="int"):
        render.rasterize(verts[0], faces, cam, float(H), W, "egl")
    with pytest.raises(ValueError, match="backend"):
        render.rasterize(verts[0], faces, cam, H, W, "vulkan")
    with pytest.raises(ValueError, match="out of range"):
        render.rasterize(verts[0], faces + verts.shape[1], cam, H, W, "egl")
    with pytest.raises(ValueError, match="scalar"):
        render.rasterize(verts[0], faces, cams, H, W, "egl")


def test_egl_unavailable_raises_with_packages_and_auto_falls_back(caplog, monkeypatch):
    monkeypatch.setattr(render, "_LOGGED_CHOICES", set())  # as in a fresh process
    verts = jnp.array([[-0.5, -0.4, 2.0], [0.6, -0.3, 2.5], [0.0, 0.5, 3.0]])
    faces = jnp.array([[0, 1, 2]])
    cam = Camera.create(50.0, 50.0, 16.0, 16.0)
    with pytest.raises(render.EGLUnavailableError, match="libegl1 libgl1"):
        render.rasterize(verts, faces, cam, 32, 32, "egl", device_index=97)
    with caplog.at_level(logging.INFO, logger="jaxrefine.render"):
        fr = render.rasterize(verts, faces, cam, 32, 32, "auto", device_index=97)
    assert "JAX backend" in caplog.text
    assert np.asarray(fr.mask).sum() > 0
    assert fr.backend == "jax"  # the backend auto chose is recorded


class _FailingRasterizer:
    """An EGL rasterizer stand-in whose every call raises (a lost context, a driver error)."""

    renderer = "always fails"

    def rasterize(self, *args, **kwargs):
        raise RuntimeError("simulated EGL failure")


def test_failing_egl_call_is_flagged_not_silent(caplog):
    verts = jnp.array([[-0.5, -0.4, 2.0], [0.6, -0.3, 2.5], [0.0, 0.5, 3.0]])
    faces = jnp.array([[0, 1, 2]])
    cam = Camera.create(50.0, 50.0, 16.0, 16.0)
    bad = _FailingRasterizer()
    with caplog.at_level(logging.ERROR, logger="jaxrefine.render"):
        fr = render.rasterize(verts, faces, cam, 32, 32, "egl", rasterizer=bad)
    assert int(fr.flags) == render.FLAG_EGL_FAILED and fr.backend == "egl"
    assert not np.asarray(fr.mask).any()  # background, but it says so
    assert "simulated EGL failure" in caplog.text
    # batched under jit + vmap: every frame of the failed call is flagged
    batch = jax.jit(jax.vmap(
        lambda v: render.rasterize(v, faces, cam, 32, 32, "egl", rasterizer=bad)
    ))(jnp.stack([verts, verts + 0.1]))  # fmt: skip
    np.testing.assert_array_equal(batch.flags, [render.FLAG_EGL_FAILED] * 2)
    with pytest.raises(render.RenderFailedError, match="initial estimates: 2 of 2 frames.*EGL"):
        render.raise_on_render_failure(batch, "initial estimates")
    good = render.rasterize(verts, faces, cam, 32, 32, "jax", block_size=8)  # no truncation
    render.raise_on_render_failure(good, "a good one")  # no flags: no exception


def test_truncated_jax_fallback_is_flagged():
    # one triangle spanning most of a 32 px image, blocks of 1 px (8 px for the largest)
    verts = jnp.array([[-0.9, -0.9, 2.0], [0.9, -0.9, 2.0], [0.0, 0.9, 2.0]])
    faces = jnp.array([[0, 1, 2]])
    cam = Camera.create(30.0, 30.0, 16.0, 16.0)
    fr = render.rasterize(verts, faces, cam, 32, 32, "jax", block_size=1)
    assert int(fr.flags) == render.FLAG_TRUNCATED
    assert render.describe_flags(fr.flags) == "JAX fallback truncated"
    full = render.rasterize(verts, faces, cam, 32, 32, "jax", block_size=8)
    assert int(full.flags) == 0 and full.mask.sum() > fr.mask.sum()
    assert render.describe_flags(3) == "EGL call failed, JAX fallback truncated"
    cams = jax.tree.map(lambda x: jnp.stack([x, x]), cam)
    batch = render.rasterize_batch(jnp.stack([verts, verts]), faces, cams, 32, 32, "jax")
    assert batch.backend == "jax" and batch.flags.shape == (2,)


@pytest.mark.egl
def test_auto_logs_egl_once(caplog, monkeypatch):
    """The backend chosen is logged at INFO the first time in a process, at DEBUG after (a
    run traces its renderings many times: one line, not one per trace)."""
    _need_egl()
    monkeypatch.setattr(render, "_LOGGED_CHOICES", set())  # as in a fresh process
    verts, faces, cams = _scenes()
    with caplog.at_level(logging.DEBUG, logger="jaxrefine.render"):
        for _ in range(2):
            render.rasterize(verts[0], faces, jax.tree.map(lambda x: x[0], cams), H, W)
    levels = [r.levelno for r in caplog.records if "EGL backend" in r.getMessage()]
    assert levels == [logging.INFO, logging.DEBUG]


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("backend", ["jax", pytest.param("egl", marks=pytest.mark.egl)])
def test_interpolation_gradients_match_finite_differences(backend):
    """d/dv of interpolated colours and depth (jvp) against central differences.

    Compared on the pixels whose triangle does not change under the perturbation (the
    rendering is discontinuous where it does). In float64 the derivative formula is checked
    tightly; in float32 (what runs in practice) per pixel with a looser bound.
    """
    if backend == "egl":
        _need_egl()
    verts, faces, cams = _scenes()
    v0, cam = verts[1], _take(cams, 1)
    rng = np.random.default_rng(1)
    colors = rng.uniform(0, 1, (v0.shape[0], 3))
    direction = rng.normal(0, 1, v0.shape)
    eps_raster = 1e-4  # m; largest perturbation used below

    def frags(v):
        return render.rasterize(v, faces, cam, H, W, backend)

    d32 = jnp.asarray(direction, jnp.float32)
    f0, fp, fm = frags(v0), frags(v0 + eps_raster * d32), frags(v0 - eps_raster * d32)
    keep = np.asarray((f0.tri_id == fp.tri_id) & (f0.tri_id == fm.tri_id) & f0.mask)
    assert keep.sum() > 0.9 * np.asarray(f0.mask).sum()

    def image(v, c, col):
        fr = render.attach_gradients(f0, v, faces, c)
        return jnp.concatenate([shading.interpolate(col, faces, fr), fr.depth[..., None]], -1)

    with jax.enable_x64(True):
        c64 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), cam)
        v64, d64, col64 = (jnp.asarray(np.asarray(a), jnp.float64) for a in (v0, direction, colors))
        f = jax.jit(functools.partial(image, c=c64, col=col64))
        _, jvp = jax.jvp(f, (v64,), (d64,))
        eps = 1e-6
        fd = (f(v64 + eps * d64) - f(v64 - eps * d64)) / (2 * eps)
        jvp, fd = np.asarray(jvp)[keep], np.asarray(fd)[keep]
        assert jvp.dtype == np.float64
        np.testing.assert_allclose(jvp, fd, rtol=1e-3, atol=1e-6 * np.abs(jvp).max())

    f = jax.jit(functools.partial(image, c=cam, col=jnp.asarray(colors, jnp.float32)))
    _, jvp = jax.jvp(f, (v0,), (d32,))
    fd = (f(v0 + eps_raster * d32) - f(v0 - eps_raster * d32)) / (2 * eps_raster)
    jvp, fd = np.asarray(jvp)[keep], np.asarray(fd)[keep]
    err = np.abs(jvp - fd)
    assert np.median(err / (np.abs(jvp) + 1e-3)) < _GRAD_RTOL
    assert np.mean(err <= 0.05 * np.abs(jvp) + 0.05) > 0.99
    # Gradient w.r.t. the colours is the barycentric weighting (sums to 1 per pixel).
    g = jax.grad(lambda c: jnp.sum(shading.interpolate(c, faces, f0)))(jnp.asarray(colors))
    np.testing.assert_allclose(float(jnp.sum(g)), 3 * float(np.asarray(f0.mask).sum()), rtol=1e-5)


def test_attach_gradients_reproduces_rasterized_values():
    verts, faces, cams = _scenes()
    cam = jax.tree.map(lambda x: x[2], cams)
    fr = render.rasterize(verts[2], faces, cam, H, W, "jax")
    # Compiled, as the library calls it: the rasterizer is compiled too, and both then round
    # the camera transform's multiply-adds alike. Eager (op-by-op) evaluation rounds each
    # product separately; on sliver triangles that moves barycentrics by up to ~3e-5.
    again = jax.jit(render.attach_gradients)(fr, verts[2], faces, cam)
    np.testing.assert_allclose(again.bary, fr.bary, atol=1e-6)
    np.testing.assert_allclose(again.depth, fr.depth, atol=1e-6)
    eager = render.attach_gradients(fr, verts[2], faces, cam)
    np.testing.assert_allclose(eager.bary, fr.bary, atol=_EAGER_BARY_ATOL)


# --------------------------------------------------------------------------- shading
def test_texture_lookup_is_bilinear():
    tex = jnp.asarray(np.arange(4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3))
    # Texel centres: u = (col + 0.5) / W_t, v = 1 - (row + 0.5) / H_t.
    uv = jnp.array([[(2 + 0.5) / 6, 1 - (1 + 0.5) / 4], [(2 + 0.75) / 6, 1 - (1 + 0.5) / 4]])
    out = np.asarray(shading.sample_texture(tex, uv))
    np.testing.assert_allclose(out[0], tex[1, 2], atol=1e-4)
    np.testing.assert_allclose(out[1], 0.75 * tex[1, 2] + 0.25 * tex[1, 3], atol=1e-4)
    # Clamped at the border.
    np.testing.assert_allclose(shading.sample_texture(tex, jnp.array([0.0, 1.0])), tex[0, 0])


def test_vertex_normals_and_unique_colors():
    v, f = icosphere(2)
    n = np.asarray(shading.vertex_normals(jnp.asarray(v, jnp.float32), jnp.asarray(f)))
    assert np.min(np.sum(n * v, -1)) > 0.99  # outward, unit
    c = np.asarray(shading.unique_vertex_colors(jnp.asarray(v * 2 + 1, jnp.float32)))
    np.testing.assert_allclose(c.min(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(c.max(0), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="vmap"):
        shading.vertex_normals(jnp.zeros((2, 5, 3)), jnp.asarray(f))


def test_render_channels_of_body():
    model, poses, faces = _body()
    verts = jnp.asarray(poses[1])
    cam = _camera(0)
    v_template = model.v_template if model is not None else jnp.asarray(figure_mesh(0)[0])
    fr = render.rasterize(verts, jnp.asarray(faces), cam, H, W, "jax", cull_backfaces=True)
    texture = jnp.asarray(np.random.default_rng(0).uniform(0, 1, (32, 32, 3)), jnp.float32)
    kw = {}
    if model is not None and model.vt is not None:
        kw = dict(texture=texture, vt=model.vt, ft=model.ft)

    @jax.jit
    def channels(v):
        return shading.render_channels(
            v, jnp.asarray(faces), cam, fr, v_template, lighting=True, **kw
        )

    ch = channels(verts)
    m = np.asarray(ch.mask) > 0
    assert ch.rgb.shape == (H, W, 3) and ch.stacked().shape == (H, W, 11)
    assert np.all(np.asarray(ch.rgb) >= 0) and np.all(np.asarray(ch.rgb) <= 1)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(ch.normals)[m], axis=-1), 1, atol=1e-4)
    # Visible surfaces face the camera: mostly negative camera-space z normals.
    assert np.mean(np.asarray(ch.normals)[m][:, 2] < 0) > 0.95
    assert np.asarray(ch.uvc)[m].min() >= 0 and np.asarray(ch.uvc)[m].max() <= 1
    assert np.all(np.asarray(ch.uvc)[~m] == 0) and np.all(np.asarray(ch.depth)[~m] == 0)
    # Differentiable w.r.t. vertices (finite, non-zero).
    g = jax.jit(jax.grad(lambda v: jnp.sum(channels(v).stacked())))(verts)
    assert np.all(np.isfinite(np.asarray(g))) and np.abs(np.asarray(g)).max() > 0


def test_shade_ambient_and_directional():
    n = jnp.array([[[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]]])
    out = shading.shade(jnp.ones((1, 2, 3)), n, jnp.ones((1, 2), bool), (0, 0, 1), 0.3, 0.7)
    np.testing.assert_allclose(np.asarray(out)[0, 0], 1.0, atol=1e-6)  # lit head-on
    np.testing.assert_allclose(np.asarray(out)[0, 1], 0.3, atol=1e-6)  # ambient only


# --------------------------------------------------------------------------- pyrender
@pytest.mark.egl
def test_depth_against_pyrender():
    _need_egl()
    from jaxrefine.bench.raster import PyrenderDepth

    try:
        pyr = PyrenderDepth(H, W)
    except Exception as e:  # ImportError, or OSError for a missing libxrender1
        print(f"SKIP reason: pyrender not usable ({e})")
        pytest.skip(f"pyrender is not usable: {e}")
    verts, faces, cams = _scenes()
    try:
        for i in (0, 2):
            cam = _take(cams, i)
            ours = np.asarray(render.rasterize(verts[i], faces, cam, H, W, "egl").depth)
            theirs = pyr.depth(
                np.asarray(verts[i]), np.asarray(faces), cam.fx, cam.fy, cam.cx, cam.cy,
                np.asarray(cam.R), np.asarray(cam.t),
            )  # fmt: skip
            assert np.mean((theirs > 0) == (ours > 0)) > _ID_AGREEMENT
            both = (theirs > 0) & (ours > 0)
            assert np.abs(theirs[both] - ours[both]).max() < _PYRENDER_DEPTH_TOL
    finally:
        pyr.close()


# --------------------------------------------------------------------------- viz
def test_overlay_and_png_grid(tmp_path):
    from matplotlib import image as mpimg

    img = np.zeros((8, 10, 3), np.uint8)
    ren = np.ones((8, 10, 3), np.float32)
    mask = np.zeros((8, 10), bool)
    mask[2:4, 3:5] = True
    out = viz.overlay(img, ren, mask, alpha=0.25)
    np.testing.assert_allclose(out[mask], 0.25)
    assert np.all(out[~mask] == 0)
    grid = viz.image_grid([img, ren, viz.normals_to_rgb(np.zeros((8, 10, 3)))], ncols=2, pad=1)
    assert grid.shape == (17, 21, 3)
    path = viz.save_grid(tmp_path / "a" / "grid.png", [img, ren])
    back = mpimg.imread(path)
    assert back.shape[:2] == (8, 22)
    d = viz.depth_to_rgb(np.where(mask, 2.0, 0.0))
    assert d.shape == (8, 10, 3) and np.all(d[~mask] == 0)
