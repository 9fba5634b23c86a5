"""Displacements (Eq. 1), the pixel field (Eq. 2) and the pixel-to-vertex transfer (Eq. 5-6)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxrefine
from jaxrefine.camera import Camera, project
from jaxrefine.correspondence import (
    dense_targets,
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
