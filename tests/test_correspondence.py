"""Displacements (Eq. 1), the pixel field (Eq. 2) and the pixel-to-vertex transfer (Eq. 5-6)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrefine
from jaxrefine.camera import Camera, project
from jaxrefine.correspondence import (
    dense_targets,
    endpoint_error,
    ground_truth_dense_targets,
    ground_truth_field,
    pixel_field,
    pixels_to_vertices,
    vertex_displacements,
)
from jaxrefine.render import rasterize


def _tiny():
    # two triangles sharing an edge; 2x2 image; hand-made rasterization
    faces = jnp.array([[0, 1, 2], [1, 3, 2]], jnp.int32)
    tri_id = jnp.array([[0, 0], [1, -1]], jnp.int32)
    bary = jnp.array([[[1.0, 0, 0], [0.5, 0.5, 0]], [[0.2, 0.3, 0.5], [0, 0, 0]]], jnp.float32)
    vals = jnp.array([[1.0, 0], [0, 1.0], [2.0, 2.0], [10.0, -10.0]], jnp.float32)
    return faces, tri_id, bary, vals


def test_pixel_field_by_hand():
    faces, tri_id, bary, vals = _tiny()
    field, fg = pixel_field(vals, faces, tri_id, bary)
    np.testing.assert_allclose(field[0, 0], [1.0, 0.0])
    np.testing.assert_allclose(field[0, 1], [0.5, 0.5])
    # pixel (1,0): triangle 1 = vertices (1, 3, 2) with weights (0.2, 0.3, 0.5)
    np.testing.assert_allclose(
        field[1, 0], 0.2 * vals[1] + 0.3 * vals[3] + 0.5 * vals[2], rtol=1e-6
    )
    np.testing.assert_array_equal(field[1, 1], [0.0, 0.0])
    np.testing.assert_array_equal(fg, [[True, True], [True, False]])


def test_pixel_to_vertex_by_hand():
    faces, tri_id, bary, _ = _tiny()
    field = jnp.array([[[1.0, 1.0], [3.0, -1.0]], [[5.0, 5.0], [99.0, 99.0]]], jnp.float32)
    vt = pixels_to_vertices(field, faces, tri_id, bary, 5)
    # vertex 0: pixel (0,0) weight 1 and pixel (0,1) weight 0.5 -> (1*1 + 0.5*3)/1.5
    np.testing.assert_allclose(vt.displacement[0], [(1 + 1.5) / 1.5, (1 - 0.5) / 1.5], rtol=1e-6)
    # vertex 3: only pixel (1,0) with weight 0.3
    np.testing.assert_allclose(vt.displacement[3], [5.0, 5.0])
    np.testing.assert_allclose(vt.weight, [1.5, 0.7, 0.5, 0.3, 0.0], rtol=1e-6)
    assert vt.visible.tolist() == [True, True, True, True, False]  # vertex 4: no pixel
    np.testing.assert_array_equal(vt.displacement[4], [0.0, 0.0])


def test_ground_truth_targets_on_the_body():
    """Field of GT displacements, transferred back: targets land near the GT projections."""
    model = jaxrefine.load_body_model()
    cam = Camera.create(300.0, 300.0, 64.0, 64.0)
    pose = np.zeros((24, 3), np.float32)
    pose[0] = [np.pi, 0, 0]
    betas = np.zeros(10, np.float32)
    t0 = np.array([0.0, 0.3, 4.0], np.float32)
    init = jaxrefine.forward(model, pose, betas, t0).vertices
    pose2 = pose.copy()
    pose2[16] = [0, 0, 0.2]  # move the left arm a little
    gt = jaxrefine.forward(model, pose2, betas, t0 + np.array([0.02, 0, 0], np.float32)).vertices
    frags = rasterize(init, model.faces, cam, 128, 128, backend="jax", cull_backfaces=True)
    disp = vertex_displacements(gt, cam, init, cam)
    np.testing.assert_allclose(disp, project(cam, gt) - project(cam, init))  # Eq. 1
    field, _ = pixel_field(disp, model.faces, frags.tri_id, frags.bary)
    targets, w = dense_targets(init, cam, field, model.faces, frags.tri_id, frags.bary)
    vis = np.asarray(w) > 0
    assert 500 < vis.sum() < model.num_vertices / 2  # the front half, at 128 px
    err = np.linalg.norm(np.asarray(targets - project(cam, gt))[vis], axis=-1)
    # targets are barycentric averages of displacements of neighbouring vertices: the error
    # is of the order of the displacement's variation across one triangle (< 0.5 px here)
    assert np.median(err) < 0.1 and err.max() < 1.0, (np.median(err), err.max())
    # jit + vmap work
    batched = jax.jit(jax.vmap(lambda f, t, b: pixels_to_vertices(f, model.faces, t, b, 13348)))
    out = batched(field[None], frags.tri_id[None], frags.bary[None])
    np.testing.assert_allclose(out.visible[0], vis)


# ----------------------------------------------------------------------- shared ground truth
_FIELD_TOL = 1e-5  # px; float32 projections of O(1) coordinates


def test_ground_truth_field_interpolates_vertex_displacements():
    """Constructed case: unit focal, points at z = 1, so proj(x, y, 1) = (x, y) and the vertex
    displacement is the xy offset (scaled by the GT camera's focal)."""
    faces, tri_id, bary, _ = _tiny()
    rng = np.random.default_rng(0)
    v_init = np.concatenate([rng.normal(size=(4, 2)), np.ones((4, 1))], 1).astype(np.float32)
    offset = rng.normal(size=(4, 2)).astype(np.float32)
    v_gt = v_init + np.concatenate([offset, np.zeros((4, 1), np.float32)], 1)
    cam_i = Camera.create(1.0, 1.0, 0.0, 0.0)
    cam_g = Camera.create(2.0, 2.0, 0.0, 0.0)
    field, fg = ground_truth_field(v_gt, cam_g, v_init, cam_i, faces, tri_id, bary)
    disp = 2.0 * v_gt[:, :2] - v_init[:, :2]  # Eq. 1 by hand
    expected, _ = pixel_field(jnp.asarray(disp), faces, tri_id, bary)
    np.testing.assert_allclose(field, expected, atol=_FIELD_TOL)
    np.testing.assert_allclose(
        field[1, 0], 0.2 * disp[1] + 0.3 * disp[3] + 0.5 * disp[2], atol=1e-5
    )
    np.testing.assert_array_equal(fg, [[True, True], [True, False]])
    np.testing.assert_array_equal(field[1, 1], [0.0, 0.0])


def test_ground_truth_dense_targets_is_the_composition():
    model = jaxrefine.load_body_model()
    cam = Camera.create(200.0, 200.0, 32.0, 32.0)
    pose = np.zeros((24, 3), np.float32)
    pose[0] = [np.pi, 0, 0]
    betas = np.zeros(10, np.float32)
    init = jaxrefine.forward(model, pose, betas, np.array([0, 0.3, 5.0], np.float32)).vertices
    gt = jaxrefine.forward(model, pose, betas, np.array([0.03, 0.3, 5.0], np.float32)).vertices
    frags = rasterize(init, model.faces, cam, 64, 64, backend="jax", cull_backfaces=True)
    t, w = ground_truth_dense_targets(gt, cam, init, cam, model.faces, frags.tri_id, frags.bary)
    field, _ = pixel_field(vertex_displacements(gt, cam, init, cam), model.faces, frags.tri_id,
                           frags.bary)  # fmt: skip
    t2, w2 = dense_targets(init, cam, field, model.faces, frags.tri_id, frags.bary)
    np.testing.assert_array_equal(t, t2)
    np.testing.assert_array_equal(w, w2)
    # a pure shift of 0.03 m seen at depth z with f = 200 moves by 200 * 0.03 / z px (the
    # field interpolates per-vertex values linearly: 1e-3 relative across one triangle)
    fg = np.asarray(frags.tri_id) >= 0
    expected = 200.0 * 0.03 / np.asarray(frags.depth)[fg]
    np.testing.assert_allclose(np.asarray(field)[fg][:, 0], expected, rtol=1e-3)
    np.testing.assert_allclose(np.asarray(field)[fg][:, 1], 0.0, atol=1e-4)


def test_endpoint_error():
    gt = np.zeros((2, 2, 3, 2), np.float32)
    pred = np.zeros_like(gt)
    pred[0, 0, 0] = [3.0, 4.0]  # error 5 on a foreground pixel
    pred[1, 1, 2] = [100.0, 0.0]  # background: ignored
    mask = np.zeros((2, 2, 3), np.float32)
    mask[0, 0, 0] = mask[0, 1, 1] = 1.0
    assert float(endpoint_error(pred, gt, mask)) == 2.5
    assert float(endpoint_error(pred, gt, np.zeros_like(mask))) == 0.0
    assert float(endpoint_error(jnp.zeros_like(gt), gt, mask)) == 0.0  # the zero-field baseline
    with pytest.raises(ValueError, match="mask"):
        endpoint_error(pred, gt, mask[0])
