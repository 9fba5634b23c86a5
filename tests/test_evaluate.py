"""`jaxrefine eval`: the detector simulation and every row and column of the table."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jaxrefine import network
from jaxrefine.evaluate import (
    ROWS,
    TIME_COLUMNS,
    DetectorNoise,
    evaluate,
    format_result,
    simulate_detections,
)
from jaxrefine.metrics import METRIC_NAMES
from jaxrefine.refine import RefineOptions
from jaxrefine.smpl_io import load_body_model


def test_detector_simulation_statistics():
    rng = np.random.default_rng(0)
    n, k = 400, 25
    kp = rng.uniform(0, 100, (n, k, 2))
    kp[:, 0] = 0.0
    kp[:, 1] = 100.0  # person size 100 px in x and y
    visible = rng.random((n, k)) < 0.7
    noise = DetectorNoise(outlier_frac=0.0)
    det = simulate_detections(kp, visible, 1, noise)
    assert det.shape == (n, k, 3)
    missed = det[..., 2] == 0
    # miss rates within 5 binomial standard deviations of the configured probabilities
    for mask, p in ((visible, noise.miss_visible), (~visible, noise.miss_occluded)):
        rate, m = missed[mask].mean(), mask.sum()
        assert abs(rate - p) < 5 * np.sqrt(p * (1 - p) / m)
    sure = (det[..., 2] >= noise.high_conf[0]) & ~missed
    err = np.linalg.norm(det[..., :2] - kp, axis=-1)[sure]
    # RMS of a 2D Gaussian with per-axis std sigma * size is sqrt(2) * sigma * size
    np.testing.assert_allclose(np.sqrt(np.mean(err**2)), np.sqrt(2) * 1.5, rtol=0.15)
    np.testing.assert_array_equal(simulate_detections(kp, visible, 1, noise), det)


@pytest.mark.slow
def test_eval_rows_and_columns_all_present(tmp_path):
    model = load_body_model()
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.2, (32, 24, 3)).astype(np.float32)
    cfg = network.get_config("tiny")
    net = (cfg, network.init_params(cfg, jax.random.key(0)))
    opts = RefineOptions(batch_size=4, camera_steps=2, body_steps=3, texture_size=32)
    result = evaluate(model, poses, 4, 0, net, image_size=(48, 48), group=2, options=opts)
    assert set(result["rows"]) == set(ROWS)
    for row, values in result["rows"].items():
        assert set(values) == {*METRIC_NAMES, "epe", *TIME_COLUMNS}
        metrics_apply = row != "zero_field"
        for m in METRIC_NAMES:
            assert (values[m] is not None) == metrics_apply, (row, m)
            if metrics_apply:
                assert np.isfinite(values[m]) and values[m] > 0
    assert result["rows"]["zero_field"]["epe"] > 0
    assert result["rows"]["learned_dense"]["ms_network"] is not None
    assert result["rows"]["sparse_gt"]["ms_render"] is None
    assert result["rows"]["init"]["ms_fit"] is None
    json.dumps(result)  # JSON-ready
    assert "learned_dense" in format_result(result)
