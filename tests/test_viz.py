"""Tests of the colour codes of jaxrefine.viz (flow field and per-vertex values); the overlay,
grid and channel pictures are tested with the renderer in test_render.py."""

from __future__ import annotations

import numpy as np
import pytest

from jaxrefine import viz

COLOUR_TOL = 1e-6  # float32 HSV -> RGB round-off


def _one(dx, dy, max_norm=1.0):
    return viz.flow_to_rgb(np.array([[[dx, dy]]], np.float32), max_norm=max_norm)[0, 0]


def test_flow_directions_have_the_documented_hues():
    np.testing.assert_allclose(_one(1, 0), [1, 0, 0], atol=COLOUR_TOL)  # right: red
    np.testing.assert_allclose(_one(-1, 0), [0, 1, 1], atol=COLOUR_TOL)  # left: cyan
    down, up = _one(0, 1), _one(0, -1)
    assert down[1] > 0.99 and down[2] < 0.01  # down (+y): yellow-green, no blue
    assert up[2] > 0.99 and up[1] < 0.01  # up: violet, no green
    # opposite directions are complementary colours
    np.testing.assert_allclose(_one(0.6, 0.8) + _one(-0.6, -0.8), [1, 1, 1], atol=1e-5)


def test_flow_length_sets_saturation_zero_is_white():
    np.testing.assert_allclose(_one(0, 0), [1, 1, 1], atol=COLOUR_TOL)
    half = _one(0.5, 0)
    np.testing.assert_allclose(half, [1, 0.5, 0.5], atol=COLOUR_TOL)
    np.testing.assert_allclose(_one(5, 0), _one(1, 0), atol=COLOUR_TOL)  # clipped at max_norm


def test_flow_default_scale_is_the_longest_foreground_vector():
    flow = np.zeros((2, 2, 2), np.float32)
    flow[0, 0] = (2, 0)
    flow[0, 1] = (1, 0)
    flow[1, 1] = (100, 0)  # masked out: must not set the scale
    mask = np.array([[True, True], [True, False]])
    rgb = viz.flow_to_rgb(flow, mask, background=0.0)
    np.testing.assert_allclose(rgb[0, 0], [1, 0, 0], atol=COLOUR_TOL)
    np.testing.assert_allclose(rgb[0, 1], [1, 0.5, 0.5], atol=COLOUR_TOL)
    np.testing.assert_allclose(rgb[1, 1], [0, 0, 0])  # background
    assert rgb.dtype == np.float32 and rgb.shape == (2, 2, 3)


def test_flow_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        viz.flow_to_rgb(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="mask"):
        viz.flow_to_rgb(np.zeros((4, 4, 2)), np.ones((4, 5), bool))


def test_flow_wheel_is_a_disc_of_all_directions():
    w = viz.flow_wheel(32)
    assert w.shape == (32, 32, 3)
    np.testing.assert_allclose(w[0, 0], [1, 1, 1])  # corner: outside the disc, white
    # right edge: red (the pixel centre is 0.03 radius off the axis and 0.97 long)
    np.testing.assert_allclose(w[16, 31], _one(1, 0), atol=0.1)


def test_values_to_rgb_spans_the_colour_map():
    from matplotlib import colormaps

    c = viz.values_to_rgb(np.array([0.0, 5.0, 10.0, 20.0]), vmax=10.0)
    cmap = colormaps["viridis"]
    np.testing.assert_allclose(c[0], cmap(0.0)[:3], atol=COLOUR_TOL)
    np.testing.assert_allclose(c[2], cmap(1.0)[:3], atol=COLOUR_TOL)
    np.testing.assert_allclose(c[3], c[2])  # clipped
    assert c.shape == (4, 3) and c.dtype == np.float32


def test_draw_points_stamps_disks_inside_the_image_only():
    img = np.zeros((10, 12, 3), np.float32)
    out = viz.draw_points(img, [[2.0, 3.0], [11.4, 9.6], [50, 50], [np.nan, 1]], radius=1,
                          colour=(1.0, 0.0, 0.0))  # fmt: skip
    red = out[..., 0] > 0
    expected = np.zeros((10, 12), bool)
    expected[3, 1:4] = expected[2:5, 2] = True  # a radius-1 disk (a plus) at (x 2, y 3)
    expected[9, 11] = True  # at (11, 10) rounded: below the image but for its top pixel
    np.testing.assert_array_equal(red, expected)
    assert np.all(img == 0)  # the input is not drawn on


def test_draw_labels_writes_above_the_anchor_and_stays_inside():
    img = np.zeros((60, 80, 3), np.float32)
    out = viz.draw_labels(img, ["7"], [[40, 40]], size=12)
    ys, xs = np.nonzero(out.max(-1) > 0.5)  # the white text
    assert len(ys) and ys.max() <= 40 and abs((xs.min() + xs.max()) / 2 - 40) <= 4
    assert np.all(out[41:] == 0)  # nothing below the anchor
    edge = viz.draw_labels(img, ["12"], [[79, 2]], size=12)  # would leave at the top right
    assert (edge.max(-1) > 0.5).any()
    np.testing.assert_array_equal(viz.draw_labels(img, ["3"], [[np.nan, np.nan]]), img)
    with pytest.raises(ValueError):
        viz.draw_labels(img, ["1", "2"], [[1, 1]])  # one anchor per label


# a body's outline drawn small and the full-size outline shrunk differ along the edge only:
# a pixel row of the outline is ~0.5 % of a 1920-px picture of this body
_SHRUNK_OUTLINE_IOU = 0.95
# the same rendering once through an 8-bit PNG: dim shaded pixels cross the 0.05 threshold
# (measured 0.986)
_SAME_OUTLINE_IOU = 0.97


def test_a_large_photos_picture_is_drawn_smaller_with_the_body_in_place(monkeypatch):
    """A photo larger than MAX_PICTURE_SIDE gets its picture at that size (a 10.8 MP photo's
    took ~20 s a person and made 11 MB PNGs): the photo shrunk, the body rendered for the
    shrunk picture where the full-size rendering, shrunk, has it; labels and keypoints too."""
    import jax.numpy as jnp

    from jaxrefine.camera import Camera
    from jaxrefine.photo import people_picture
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    photo = np.full((1600, 2400, 3), 0.5, np.float32)
    params = {"global_orient": jnp.asarray([[np.pi, 0.0, 0.0]]),
              "body_pose": jnp.zeros((1, 23, 3)), "betas": jnp.zeros((1, model.num_betas)),
              "transl": jnp.asarray([[0.3, 0.1, 5.0]])}  # fmt: skip
    cams = Camera.from_intrinsics(np.array([[2800.0, 2800.0, 1200.0, 800.0]]))
    keypoints = np.array([[[1500.0, 400.0, 1.0]]], np.float32)
    small = people_picture(model, photo, [params], cams, keypoints=keypoints, labels=["7"])
    assert small.shape == (1280, 2 * 1920 + 2, 3)  # two panels of 1920 x 1280
    monkeypatch.setattr(viz, "MAX_PICTURE_SIDE", 10_000)
    full = people_picture(model, photo, [params], cams)
    assert full.shape == (1600, 2 * 2400 + 2, 3)

    def body(panel):
        return np.any(np.abs(panel - 0.5) > 0.05, -1)

    shrunk, _ = viz.picture_image(full[:, 2402:], max_side=1920)
    a, b = body(small[:, 1922:]), body(shrunk)
    a[:200] = b[:200] = False  # the label is drawn above the head in the small picture only
    assert a.sum() > 10_000 and (a & b).sum() / (a | b).sum() > _SHRUNK_OUTLINE_IOU
    dot = small[:, :1920][320, 1200]  # the keypoint at (1500, 400) x 0.8
    assert dot[0] > 0.9 and dot[1] < 0.3


def test_a_large_images_before_after_overlay_is_drawn_at_the_picture_size(tmp_path):
    """refine's per-estimate overlay of a large image: three panels at MAX_PICTURE_SIDE, the
    body where the people picture (tested above against the full size) draws it."""
    import imageio.v3 as iio
    import jax.numpy as jnp

    from jaxrefine.camera import Camera
    from jaxrefine.inputs import Estimates, read_images
    from jaxrefine.photo import people_picture
    from jaxrefine.refine_outputs import write_overlays
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    iio.imwrite(tmp_path / "big.png", np.full((1600, 2400, 3), 128, np.uint8))
    k = np.array([[2800.0, 2800.0, 1200.0, 800.0]])
    est = Estimates(np.array([[np.pi, 0.0, 0.0]]), np.zeros((1, 23, 3)),
                    np.zeros((1, model.num_betas)), np.array([[0.3, 0.1, 5.0]]), k,
                    np.array([0]), np.array([4]), "test", "generic")  # fmt: skip
    merged = {"index": np.array([0])} | {
        f"param_{n}": getattr(est, n) for n in ("global_orient", "body_pose", "betas", "transl")
    }
    write_overlays(model, read_images(tmp_path / "big.png"), est, np.array([0]), merged,
                   tmp_path / "out", "auto")  # fmt: skip
    pic = iio.imread(tmp_path / "out" / "overlays" / "big_4.png")[..., :3] / 255.0
    assert pic.shape == (1280, 4 * 1920 + 6, 3)  # image | initial | refined | side
    params = {n: jnp.asarray(getattr(est, n)) for n in ("global_orient", "body_pose", "betas",
                                                        "transl")}  # fmt: skip
    ref = people_picture(model, iio.imread(tmp_path / "big.png") / 255.0, [params],
                         Camera.from_intrinsics(k))  # fmt: skip
    a = np.any(np.abs(pic[:, 3844:5764] - 128 / 255) > 0.05, -1)  # the refined panel
    b = np.any(np.abs(ref[:, 1922:] - 128 / 255) > 0.05, -1)
    assert a.sum() > 10_000 and (a & b).sum() / (a | b).sum() > _SAME_OUTLINE_IOU


def test_the_side_view_shows_depth_and_lean():
    """The side panel: the camera on the photo's right looking along -x, so a body farther
    from the photo's camera lands farther right, at the same height; the first set's bodies
    grey, the last's blue; everyone in the picture."""
    import jax.numpy as jnp

    from jaxrefine.camera import project
    from jaxrefine.photo import SIDE_BACKGROUND, side_camera, side_panel
    from jaxrefine.smpl_io import load_body_model

    pts = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 6.0], [0.0, 0.5, 5.0], [0.3, -0.8, 5.5]])
    cam = side_camera(pts, 800.0, 480, 640)
    uv = np.asarray(project(cam, jnp.asarray(pts, jnp.float32)))
    assert uv[1, 0] > uv[0, 0] + 50 and abs(uv[1, 1] - uv[0, 1]) < 1e-3  # deeper: right
    assert uv[2, 1] > uv[0, 1] + 20  # lower in the photo (y down): lower in the side view
    assert np.all((uv > 0) & (uv < [640, 480]))
    model = load_body_model()
    from jaxrefine.body_model import forward

    def body(z):
        return np.asarray(forward(model, np.r_[np.pi, 0, 0, np.zeros(69)].astype(np.float32),
                                  np.zeros(model.num_betas, np.float32),
                                  np.float32([0, 0.2, z])).vertices)[None]  # fmt: skip

    pic = side_panel(model, [body(5.0), body(6.0)], 800.0, 240, 320)
    fg = np.any(np.abs(pic - SIDE_BACKGROUND) > 0.05, -1)
    blue = fg & (pic[..., 2] > pic[..., 0] + 0.15)
    grey = fg & (np.abs(pic[..., 2] - pic[..., 0]) < 0.05)
    grey[-30:] = False  # the caption
    xs_grey, xs_blue = np.nonzero(grey)[1], np.nonzero(blue)[1]
    assert len(xs_grey) > 500 and len(xs_blue) > 500
    assert np.median(xs_blue) > np.median(xs_grey) + 20  # the refined body, 1 m deeper
