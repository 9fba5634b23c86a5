"""The silhouette term (jaxrefine.silhouette): its target, its two halves, the objective and
refine wiring, and a fit that it alone moves towards the mask."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.silhouette import (
    outside_distance,
    silhouette_residuals,
    silhouette_target,
)

H, W, CX, CY, R = 200, 160, 80.0, 100.0, 40.0
# the grid samples the distance transform at cell centres (a 120-px box / 64 cells: ~1.9 px per
# cell) and interpolates bilinearly: within one cell of the exact distance
_CELL_TOL = 120.0 / 64


def _disc():
    yy, xx = np.mgrid[0:H, 0:W] + 0.5
    return (xx - CX) ** 2 + (yy - CY) ** 2 <= R**2


def _ring(radius, n=400):
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return jnp.asarray(
        np.stack([CX + radius * np.cos(a), CY + radius * np.sin(a)], -1), jnp.float32
    )


def _filled(radius, n=30):
    pts = [np.asarray(_ring(radius * f, 200)) for f in np.linspace(0.05, 1.0, n)]
    return jnp.asarray(np.concatenate(pts), jnp.float32)


# the grid is stored in float32: distances of up to a few hundred px round at ~1e-5
_GRID_TOL = 1e-4


def _canvas_grid(m: np.ndarray) -> np.ndarray:
    """The grid as first written: the distance transform of the whole image padded (by the
    grid's side) with person pixels, read at the cells' pixels (the reference)."""
    from scipy import ndimage

    from jaxrefine.silhouette import BOX_ENLARGE, GRID

    ys, xs = np.nonzero(m)
    cx, cy = (xs.min() + xs.max() + 1) / 2.0, (ys.min() + ys.max() + 1) / 2.0
    side = BOX_ENLARGE * max(xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
    pad = int(np.ceil(side)) + 1
    canvas = np.pad(m, pad, constant_values=True)
    dist = ndimage.distance_transform_edt(~canvas)
    centres = (np.arange(GRID) + 0.5) * side / GRID
    gx, gy = np.meshgrid(cx - side / 2.0 + centres, cy - side / 2.0 + centres)
    return dist[np.floor(gy).astype(int) + pad, np.floor(gx).astype(int) + pad]


def test_the_grid_is_the_padded_images_distance_transform():
    """The grid is computed on a window around the mask (a phone photo's padded canvas was
    tens of megapixels: 12 s and gigabytes for one person) and equals the whole padded
    image's transform, for masks anywhere, cut by any border, in pieces."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = rng.integers(20, 200, 2)
        m = np.zeros((h, w), bool)
        for _ in range(rng.integers(1, 4)):
            y, x = rng.integers(-20, h), rng.integers(-20, w)
            m[max(y, 0) : max(y + rng.integers(3, 80), 0),
              max(x, 0) : max(x + rng.integers(3, 80), 0)] = True  # fmt: skip
        if m.any():
            got = np.asarray(silhouette_target(m).grid)
            np.testing.assert_allclose(got, _canvas_grid(m), atol=_GRID_TOL, rtol=0)


def test_target_distances_and_boundary_points():
    t = silhouette_target(_disc())
    inside = outside_distance(t, jnp.asarray([[CX, CY], [CX + 30, CY]], jnp.float32))
    np.testing.assert_allclose(inside, 0.0, atol=1e-6)
    for d in (5.0, 12.0, 25.0):
        got = outside_distance(t, jnp.asarray([[CX + R + d, CY], [CX, CY - R - d]], jnp.float32))
        np.testing.assert_allclose(got, d, atol=_CELL_TOL)
    pts = np.asarray(t.points)
    radius = np.hypot(pts[:, 0] - CX, pts[:, 1] - CY)
    assert np.all(np.abs(radius - R) < 1.5)  # on the mask's edge
    angles = np.sort(np.arctan2(pts[:, 1] - CY, pts[:, 0] - CX))
    assert np.max(np.diff(angles)) < 0.2  # all around it
    assert float(np.sum(t.point_weights)) == len(pts)


def test_small_mask_pads_points_with_zero_weight():
    m = np.zeros((20, 20), bool)
    m[8:11, 8:11] = True  # 8 boundary pixels
    t = silhouette_target(m, points=16)
    assert t.points.shape == (16, 2)
    np.testing.assert_array_equal(np.asarray(t.point_weights), [1.0] * 8 + [0.0] * 8)


@pytest.mark.parametrize(
    "mask, message",
    [(np.zeros((10, 10)), "no person pixel"), (np.ones((2, 10, 10)), "is \\(H, W\\)")],
)
def test_bad_masks_are_refused(mask, message):
    with pytest.raises(ValueError, match=message):
        silhouette_target(mask)


def _loss(t, proj):
    r = silhouette_residuals(t, proj, jnp.ones(proj.shape[0]), 100.0, 1.0)
    return jnp.sum(r**2)


def test_each_half_pulls_the_outline_onto_the_mask():
    t = silhouette_target(_disc())
    matched = float(_loss(t, _filled(R)))
    shrunk, grown = _filled(0.7 * R), _filled(1.3 * R)
    assert float(_loss(t, shrunk)) > 20 * matched  # mask not covered: the cover half
    assert float(_loss(t, grown)) > 20 * matched  # body outside the mask: the outside half
    centre = jnp.asarray([[CX, CY]])
    for pts, sign in ((shrunk, 1.0), (grown, -1.0)):
        g = jax.grad(lambda p: _loss(t, p))(pts)
        outward = jnp.sum(-g * (pts - centre), -1)  # descent direction . radial direction
        moved = outward[jnp.abs(outward) > 0]
        assert moved.size > 0
        assert float(jnp.mean(jnp.sign(moved))) == pytest.approx(sign, abs=0.1)


def test_no_visible_vertex_gives_a_finite_saturated_term():
    t = silhouette_target(_disc())
    proj = _ring(R)
    r = silhouette_residuals(t, proj, jnp.zeros(proj.shape[0]), 100.0, 1.0)
    assert np.all(np.isfinite(np.asarray(r)))


@pytest.fixture(scope="module")
def shifted_body():
    """The open model seen by a 256x256 camera: GT mask, and a start shifted by 8 cm."""
    from jaxrefine.body_model import forward
    from jaxrefine.camera import Camera, project
    from jaxrefine.render import rasterize
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    cam = Camera(fx=jnp.float32(500.0), fy=jnp.float32(500.0), cx=jnp.float32(128.0),
                 cy=jnp.float32(128.0), R=jnp.eye(3), t=jnp.zeros(3))  # fmt: skip
    pose = jnp.zeros((24, 3)).at[0].set(jnp.asarray([np.pi, 0.0, 0.0]))
    betas = jnp.zeros(model.num_betas)
    gt_t = jnp.asarray([0.0, 0.2, 6.0])  # the whole body inside the image
    gt = forward(model, pose, betas, gt_t).vertices
    mask = np.asarray(rasterize(gt, model.faces, cam, 256, 256, "jax").tri_id) >= 0
    start_t = gt_t + jnp.asarray([0.08, 0.0, 0.0])
    start = forward(model, pose, betas, start_t).vertices
    return model, cam, pose, betas, gt, mask, start_t, project(cam, start)


def _dense_data(cam, proj0, weights, silhouette=None):
    from jaxrefine.objective import FitData

    return FitData(camera=cam, init_transl=jnp.zeros(3), pixel_scale=jnp.float32(1.0),
                   dense_targets=proj0, dense_weights=weights,
                   silhouette=silhouette)  # fmt: skip


def test_objective_adds_the_term_in_the_body_stage_only(shifted_body):
    from jaxrefine.objective import get_preset, make_objectives, params_from_pose

    model, cam, pose, betas, _, mask, start_t, proj0 = shifted_body
    params = params_from_pose(pose, betas, start_t)
    cam_obj, body_obj = make_objectives(model, get_preset("dense"), "dense", None)
    w = jnp.ones(model.num_vertices)
    plain = _dense_data(cam, proj0, w)
    with_sil = _dense_data(cam, proj0, w, silhouette_target(mask))
    assert "silhouette" not in body_obj.terms(params, plain)
    terms = body_obj.terms(params, with_sil)
    assert float(terms["silhouette"]) > 0  # the start sticks out of the mask
    np.testing.assert_allclose(body_obj.loss(params, with_sil), sum(terms.values()), rtol=1e-5)
    assert "silhouette" not in cam_obj.terms(params, with_sil)


def test_silhouette_alone_moves_a_shifted_body_towards_the_mask(shifted_body):
    """Dense targets that hold the start where it is (a zero field, weakly) against the GT
    mask: with the term the fit ends nearer the ground truth than without it."""
    import dataclasses

    from jaxrefine.body_model import forward
    from jaxrefine.camera import project
    from jaxrefine.objective import Weights, get_preset, params_from_pose
    from jaxrefine.smplify import smplify

    model, cam, pose, betas, gt, mask, start_t, proj0 = shifted_body
    gt_px = project(cam, gt)
    batch = lambda tree: jax.tree.map(lambda a: jnp.asarray(a)[None], tree)  # noqa: E731
    w = jnp.ones(model.num_vertices) * 1e-3  # a very weak pull to stay
    # the term's pull on the translation (the pose and shape would make it a shape-from-
    # silhouette problem, ambiguous without the dense targets)
    preset = dataclasses.replace(get_preset("dense"), weights=Weights(dense=2.0, silhouette=4.0),
                                 body_stage_params=("transl",))  # fmt: skip
    errors = {}
    for name, sil in (("without", None), ("with", silhouette_target(mask))):
        data = batch(_dense_data(cam, proj0, w, sil))
        res = smplify(model, batch(params_from_pose(pose, betas, start_t)), data, preset=preset,
                      data_kind="dense", gmm=None, camera_steps=0, body_steps=100)  # fmt: skip
        p = jax.tree.map(lambda a: a[0], res.params)
        pose1 = jnp.concatenate([p["global_orient"][None], p["body_pose"]], 0)
        verts = forward(model, pose1, p["betas"], p["transl"]).vertices
        # in the image (a silhouette says little about depth: the fit ends ~5 cm behind)
        errors[name] = float(jnp.mean(jnp.linalg.norm(project(cam, verts) - gt_px, axis=-1)))
    assert errors["without"] > 5.0  # the 8 cm shift is ~7 px at this depth
    assert errors["with"] < 0.3 * errors["without"], errors


def test_refine_needs_masks_for_the_term():
    from jaxrefine.camera import Camera
    from jaxrefine.refine import RefineOptions, refine
    from jaxrefine.smpl_io import load_body_model

    params = {"global_orient": np.zeros((1, 3)), "body_pose": np.zeros((1, 23, 3)),
              "betas": np.zeros((1, 10)), "transl": np.zeros((1, 3))}  # fmt: skip
    # a camera that fits the 8x8 image (else a CameraWarning would come first)
    cams = Camera(fx=jnp.full(1, 10.0), fy=jnp.full(1, 10.0), cx=jnp.full(1, 4.0),
                  cy=jnp.full(1, 4.0), R=jnp.eye(3)[None], t=jnp.zeros((1, 3)))  # fmt: skip
    with pytest.raises(ValueError, match="one person mask per image"):
        refine(load_body_model(), [np.zeros((8, 8, 3))], params, cams, None,
               options=RefineOptions(silhouette_weight=1.0))  # fmt: skip


def test_gate_weights_drop_targets_beyond_the_gate_and_keep_those_beyond_the_image():
    from jaxrefine.silhouette import gate_weights, mask_side

    t = silhouette_target(_disc())
    assert float(mask_side(t)) == pytest.approx(2 * R, abs=1.0)  # the disc's box
    gate = 0.1  # 8 px for this 80-px mask
    pts = jnp.asarray([[CX, CY], [CX + R + 3, CY], [CX + R + 20, CY], [CX, CY - R - 30]],
                      jnp.float32)  # fmt: skip
    w = jnp.asarray([1.0, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(gate_weights(t, pts, w, gate)), [1.0, 0.5, 0, 0])
    # a mask cut by the image's left edge: a target beyond that edge is not gated
    m = np.zeros((H, W), bool)
    m[60:140, :30] = True
    t = silhouette_target(m)
    pts = jnp.asarray([[-15.0, 100.0], [60.0, 100.0]], jnp.float32)
    np.testing.assert_array_equal(np.asarray(gate_weights(t, pts, jnp.ones(2), gate)), [1, 0])
