"""Tests of jaxrefine.walkthrough: one 64 px frame through the pipeline with an untrained tiny
network (32 px crops), 2 + 3 iterations."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxrefine.walkthrough import WalkthroughConfig, walkthrough

CONFIG = WalkthroughConfig(image_size=64, texture_size=32, camera_steps=2, body_steps=3,
                           snapshots=3)  # fmt: skip


@pytest.fixture(scope="module")
def result():
    import jaxrefine
    from jaxrefine.data.poses import given_poses
    from jaxrefine.network import get_config, init_params

    model = jaxrefine.load_body_model()
    cfg = get_config("tiny")
    net = (cfg, init_params(cfg, jax.random.key(0)))
    return model, cfg, walkthrough(model, given_poses(model)[0], net, 0, CONFIG)


def test_every_step_has_its_picture(result):
    model, cfg, w = result
    S, H, V = cfg.crop_size, CONFIG.image_size, model.num_vertices
    assert w.image.shape == (H, H, 3) and w.image_crop.shape == (S, S, 3)
    assert w.gt_field.shape == w.pred_field.shape == (S, S, 2)
    assert w.channels.rgb.shape == (S, S, 3) and w.channels.depth.shape == (S, S)
    for a in (w.init_2d, w.gt_2d, w.pred_targets, w.gt_targets):
        assert a.shape == (V, 2) and np.all(np.isfinite(a))
    assert w.camera_loss.shape == (CONFIG.camera_steps + 1,)
    assert w.body_loss.shape == (CONFIG.body_steps + 1,)
    assert list(w.snapshot_steps) == [0, 2, 3]  # evenly spaced, first and last included
    assert w.snapshots.shape == (3, H, H, 3)
    assert set(w.overlays) == {"init", "refined", "ground truth"}
    assert set(w.error_pictures) == set(w.vertex_error) == {"init", "refined"}
    assert all(p.shape == (H, H, 3) for p in [*w.overlays.values(), *w.error_pictures.values()])
    assert set(w.metrics) == {"init", "refined"} and w.status in ("ok", "kept initial")


def test_channels_and_fields_come_from_one_rendering(result):
    _, _, w = result
    assert w.foreground.any()
    np.testing.assert_array_equal(w.channels.mask > 0.5, w.foreground)
    assert not np.any(w.gt_field[~w.foreground])  # the field is 0 off the rendering
    assert w.epe["zero"] > 0 and np.isfinite(w.epe["predicted"])


def test_ground_truth_targets_point_to_the_ground_truth(result):
    """Visible vertices' ground-truth targets sit near the projected ground-truth vertices,
    much nearer than the initial projections do (the transfer averages over pixels, so not
    exactly)."""
    _, _, w = result
    vis = w.weights > 0
    assert vis.sum() > 50
    to_gt = np.median(np.linalg.norm(w.gt_targets[vis] - w.gt_2d[vis], axis=-1))
    init_off = np.median(np.linalg.norm(w.init_2d[vis] - w.gt_2d[vis], axis=-1))
    assert to_gt < 0.5 * init_off


def test_vertex_errors_are_the_3d_distances(result):
    _, _, w = result
    for k in ("init", "refined"):
        e = w.vertex_error[k]
        assert np.all(e >= 0) and np.all(np.isfinite(e))
    assert w.vertex_error["init"].mean() > 1.0  # a medium initial estimate is centimetres off
