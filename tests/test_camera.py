"""Camera: projection convention and the weak-perspective crop converter."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxrefine.camera import (
    BEHIND_CAMERA,
    IN_VIEW,
    MIN_BODY_PIXELS,
    MIN_FOCAL_FRACTION,
    OUTSIDE_IMAGE,
    PRINCIPAL_POINT_OFF_CENTRE,
    TOO_SMALL,
    Camera,
    box_centre_outside,
    crop_to_full_pixels,
    focal_from_image_size,
    focal_too_short,
    out_of_view,
    principal_point_off_centre,
    project,
    weak_perspective_to_full,
)


def test_projection_convention():
    cam = Camera.create(100.0, 200.0, 10.0, 20.0)
    p = project(cam, np.array([[1.0, 2.0, 4.0]], np.float32))
    np.testing.assert_allclose(p, [[100 * 0.25 + 10, 200 * 0.5 + 20]])
    np.testing.assert_allclose(cam.K, [[100, 0, 10], [0, 200, 20], [0, 0, 1]])
    assert focal_from_image_size(300, 400) == 500.0


def test_weak_perspective_converter_matches_the_crop_projection():
    """A body seen by the converted full-image camera lands where the regressor's crop camera
    put it (exact for the weak-perspective limit; a far body is close to it)."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 0.3, (50, 3))  # a body-sized point cloud around the origin
    X[:, 2] *= 0.01  # thin in depth: the weak-perspective assumption
    s, tx, ty = 0.9, 0.05, -0.1
    box_center, box_size, image = np.array([700.0, 300.0]), 400.0, (720, 1280)
    # crop projection, then crop -> full image pixels
    crop = 224
    crop_uv = crop / 2 * (s * (X[:, :2] + [tx, ty]) + 1)
    full_expected = crop_to_full_pixels(crop_uv, box_center, box_size, crop)
    cam = weak_perspective_to_full(s, tx, ty, box_center, box_size, image)
    assert np.isclose(float(cam.fx), focal_from_image_size(*image))
    X_world = X.astype(np.float32)
    full = np.asarray(project(cam.replace(t=cam.t * 0), X_world + np.asarray(cam.t)))
    np.testing.assert_allclose(full, full_expected, atol=0.5)  # pixels, thin body
    np.testing.assert_allclose(np.asarray(project(cam, X_world)), full_expected, atol=0.5)


def test_cameras_from_intrinsics():
    """(N, 4) fx, fy, cx, cy -> N full-image cameras with R = I, t = 0."""
    k = np.array([[500.0, 510.0, 320.0, 240.0], [800.0, 800.0, 100.5, 60.25]], np.float32)
    cams = Camera.from_intrinsics(k)
    np.testing.assert_array_equal(np.asarray(cams.K)[:, [0, 1, 0, 1], [0, 1, 2, 2]], k)
    assert cams.R.shape == (2, 3, 3) and np.array_equal(np.asarray(cams.R[1]), np.eye(3))
    assert cams.t.shape == (2, 3) and not np.asarray(cams.t).any()
    assert Camera.from_intrinsics(k[0]).fx.shape == (1,)  # one set: a batch of one
    K = np.asarray(cams.K)  # (N, 3, 3) K matrices read alike, under jit too
    for cams_k in (Camera.from_intrinsics(K), jax.jit(Camera.from_intrinsics)(K)):
        for a, b in zip(jax.tree.leaves(cams_k), jax.tree.leaves(cams)):
            np.testing.assert_array_equal(a, b)
    assert Camera.from_intrinsics(K[0]).fx.shape == (1,)
    # K matrices were once reshaped to rows of four numbers (four K: nine cameras, silently)
    with pytest.raises(ValueError, match=r"K's last row must be 0 0 1, got \[320.0, 240.0, 1.0\]"):
        Camera.from_intrinsics(np.swapaxes(K, 1, 2))
    for bad in (np.zeros((3, 3, 3, 3)), np.zeros((2, 5)), np.zeros(9)):
        with pytest.raises(ValueError, match=r"expected \(N, 4\) fx, fy, cx, cy or \(N, 3, 3\)"):
            Camera.from_intrinsics(bad)


def test_out_of_view_codes():
    """A 1.7 m tall body 4 m in front of a 1920x1080 camera is in view; the ways a regressor's
    translation read in another convention or unit puts it out of view are told apart."""
    rng = np.random.default_rng(0)
    body = rng.uniform([-0.25, -0.85, -0.15], [0.25, 0.85, 0.15], (200, 3)).astype(np.float32)
    h, w = 1080, 1920
    f = focal_from_image_size(h, w)
    cam = Camera.create(f, f, w / 2, h / 2)
    one = jax.jit(out_of_view)

    def code(transl, rotation=None, size=(h, w)):
        c = cam if rotation is None else cam.replace(R=np.asarray(rotation, np.float32))
        return int(one(c, body + np.float32(transl), np.float32(size)))

    assert code([0.1, 0.2, 4.0]) == IN_VIEW
    assert code([0.1, -0.2, -4.0]) == BEHIND_CAMERA  # OpenGL: y and z negated
    assert code([0.1, 0.2, 4.0], rotation=np.diag([1.0, -1.0, -1.0])) == BEHIND_CAMERA
    assert code([100.0, 200.0, 4000.0]) == TOO_SMALL  # millimetres: ~1 px tall
    assert code([10.0, 20.0, 400.0]) == TOO_SMALL  # centimetres: 9.4 px tall
    assert 1.7 * f / 230.0 >= MIN_BODY_PIXELS and code([0.0, 0.0, 230.0]) == IN_VIEW
    assert code([20.0, 0.0, 4.0]) == OUTSIDE_IMAGE  # the body lies beside the image
    assert code([0.0, 0.0, 4.0], size=(100, 100)) == OUTSIDE_IMAGE  # not these images' camera
    # a body partly in the image is in view
    assert code([(w / 2 + 20) * 4.0 / f, 0.0, 4.0]) == IN_VIEW


def test_a_principal_point_far_from_the_centre_is_told_apart():
    """The camera of a 1920x1080 video at its own size, and with fractions of the threshold's
    off-centre offsets; the camera of the frames at 2x, 1.5x, 0.5x the size is flagged."""
    h, w = 1080, 1920
    sizes = np.tile([h, w], (7, 1))
    lim = PRINCIPAL_POINT_OFF_CENTRE
    cx = np.array([w / 2, w / 2 + 0.99 * lim * w, w / 2, w / 2 - 1.01 * lim * w, w, 1.5 * w / 2,
                   w / 4])  # fmt: skip
    cy = np.array([h / 2, h / 2, h / 2 - 0.99 * lim * h, h / 2, h, 1.5 * h / 2, h / 4])
    assert principal_point_off_centre(cx, cy, sizes).tolist() == [False] * 3 + [True] * 4
    # each axis is checked against its own side: cy off only
    assert principal_point_off_centre([w / 2], [h / 2 + 1.01 * lim * h], [(h, w)]).tolist() == [
        True
    ]


def test_a_focal_too_short_for_pixels_is_told_apart():
    """A 1920x1080 frame: the paper's focal, 4D-Humans' and a wide phone lens's (half the
    side) pass; just under the bound, a 50 mm lens's millimetres and a focal normalised by
    the width are flagged, by either axis."""
    h, w = 1080, 1920
    fx = np.array([focal_from_image_size(h, w), 5000 / 256 * w, w / 2, 1.01 * MIN_FOCAL_FRACTION
                   * w, 0.99 * MIN_FOCAL_FRACTION * w, 50.0, 1.2, w / 2])  # fmt: skip
    fy = np.where(np.arange(8) == 7, 1.2, fx)
    assert focal_too_short(fx, fy, np.tile([h, w], (8, 1))).tolist() == [False] * 4 + [True] * 4


def test_a_box_centred_outside_its_image_is_told_apart():
    """A 1920x1080 frame: boxes centred inside or on its edges pass; a pixel past any edge
    is flagged. The box of a person in the right half, made on frames twice the size, is
    flagged; the same in the left upper quarter is not (the check's known limit)."""
    h, w = 1080, 1920
    centres = [(w / 2, h / 2), (0, 0), (w, h), (2 * 400, 2 * 300), (w + 1, h / 2), (-1, h / 2),
               (w / 2, h + 1), (w / 2, -0.5), (2 * 1500, 2 * 300)]  # fmt: skip
    flags = box_centre_outside(centres, np.tile([h, w], (len(centres), 1)))
    assert flags.tolist() == [False] * 4 + [True] * 5
    assert box_centre_outside([(1000, 500)], [(1080, 960)]).tolist() == [True]  # x by the width
