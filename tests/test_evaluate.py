"""`jaxrefine eval`: the detector simulation, every row and column of the table, a subset of
rows, and one-shape subjects for ``--share-betas``."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jaxrefine import network
from jaxrefine.body_model import rest_joints
from jaxrefine.data.sampling import SceneConfig, sample_scenes, with_one_shape
from jaxrefine.data.scenes import GeneratorConfig
from jaxrefine.evaluate import (
    ROWS,
    TIME_COLUMNS,
    DetectorNoise,
    eval_frames,
    evaluate,
    format_result,
    main,
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
    # every frame's metrics: their means are the table's; written as a CSV (`eval --csv`)
    from jaxrefine.report import write_csv

    frames = result["per_frame"]
    assert frames["frame"] == [0, 1, 2, 3] and frames["subject"] == [0, 0, 1, 1]
    for row in set(ROWS) - {"zero_field"}:
        for m in METRIC_NAMES:
            assert np.mean(frames[f"{row}/{m}"]) == pytest.approx(result["rows"][row][m])
    write_csv(tmp_path / "f.csv", frames, announce=False)
    lines = (tmp_path / "f.csv").read_text().splitlines()
    assert lines[0].split(",")[:3] == ["frame", "subject", "init/mpjpe"] and len(lines) == 5


def _pelvis(model, betas, transl):
    return np.stack([np.asarray(rest_joints(model, b)[0]) for b in betas]) + transl


def test_with_one_shape_keeps_poses_and_pelvis_positions():
    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.2, (16, 24, 3)).astype(np.float32)
    scenes = sample_scenes(model, poses, 5, 3, SceneConfig(image_size=(64, 64)))
    assert np.ptp(scenes.betas, axis=0).max() > 0.1  # shapes vary per frame before
    one = with_one_shape(model, scenes)
    np.testing.assert_array_equal(one.betas, np.repeat(scenes.betas[:1], 5, axis=0))
    np.testing.assert_array_equal(one.pose, scenes.pose)
    # the pelvis stays where it was placed: float32 joints of a ~1 m body, 1e-5 m
    np.testing.assert_allclose(
        _pelvis(model, one.betas, one.transl),
        _pelvis(model, scenes.betas, scenes.transl),
        atol=1e-5,
    )


def test_eval_frames_one_shape_per_subject():
    model = load_body_model()
    poses = np.random.default_rng(1).normal(0, 0.2, (16, 24, 3)).astype(np.float32)
    config = GeneratorConfig(scene=SceneConfig(image_size=(48, 48)))
    batch, ids = eval_frames(model, poses, 5, 0, config, 2, one_shape=True)
    for s in np.unique(ids):
        b = batch.betas[ids == s]
        np.testing.assert_array_equal(b, np.repeat(b[:1], len(b), axis=0))
    assert not np.array_equal(batch.betas[0], batch.betas[2])  # subjects differ
    varying, _ = eval_frames(model, poses, 5, 0, config, 2)
    assert not np.array_equal(varying.betas[0], varying.betas[1])


@pytest.mark.slow
def test_eval_rows_subset_with_shared_betas():
    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.2, (32, 24, 3)).astype(np.float32)
    cfg = network.get_config("tiny")
    net = (cfg, network.init_params(cfg, jax.random.key(0)))
    opts = RefineOptions(batch_size=4, camera_steps=2, body_steps=3, texture_size=32,
                         share_betas=True)  # fmt: skip
    result = evaluate(model, poses, 4, 0, net, image_size=(48, 48), group=2, options=opts,
                      rows=("learned_dense",), one_shape=True)  # fmt: skip
    assert list(result["rows"]) == ["init", "learned_dense"]  # init always runs
    assert result["one_shape"] is True
    assert all(np.isfinite(result["rows"]["learned_dense"][m]) for m in METRIC_NAMES)
    assert result["rows"]["learned_dense"]["epe"] > 0
    assert "dense_gt" not in format_result(result)


def test_eval_refuses_unknown_rows_and_share_betas_without_one_shape(capsys):
    with pytest.raises(ValueError, match="unknown eval rows"):
        evaluate(None, None, 1, 0, None, rows=("nope",))
    with pytest.raises(ValueError, match="group=0: each must be at least 1"):
        evaluate(None, None, 1, 0, None, group=0)
    with pytest.raises(SystemExit) as e:
        main(["--poses", "p.npz", "--share-betas"])
    assert e.value.code == 2
    assert "--share-betas needs --one-shape" in capsys.readouterr().err


@pytest.fixture
def eval_inputs(tmp_path):
    """A pose file (two trials of six random poses) and a tiny random network checkpoint."""
    rng = np.random.default_rng(0)
    poses = tmp_path / "poses.npz"
    np.savez(poses, pose=rng.normal(0, 0.2, (12, 24, 3)).astype(np.float32),
             subject=np.full(12, "01"), trial=np.repeat(["01_01", "01_02"], 6))  # fmt: skip
    cfg = network.get_config("tiny")
    ckpt = tmp_path / "tiny.npz"
    network.save_params(ckpt, cfg, network.init_params(cfg, jax.random.key(0)), {})
    return poses, ckpt


def _prior_refused_before_poses(command, args, tmp_path, capsys, monkeypatch):
    """A missing --gmm file: exit 2 naming it, and no pose file read."""
    from jaxrefine.cli import main as cli_main

    capsys.readouterr()
    monkeypatch.setattr("jaxrefine.data.poses.load_poses", None)
    assert cli_main([command, *args, "--gmm", str(tmp_path / "nope.pkl")]) == 2
    assert "nope.pkl" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_fits_every_row_with_the_prior_gmm_names(eval_inputs, other_prior_file, tmp_path,
                                                      capsys, monkeypatch):  # fmt: skip
    """``eval --gmm FILE`` (given relative to the working folder): the given-target rows'
    SMPLify and the learned rows' refine get that prior, the JSON names it by its absolute
    path; a missing file is refused before any pose is read."""
    import importlib
    import types

    from jaxrefine.cli import main as cli_main
    from jaxrefine.priors import load_gmm

    smplify = importlib.import_module("jaxrefine.smplify")  # the module (the package exports
    # a function of that name)
    seen = {"smplify": [], "refine": []}

    def sparse(model, params, data, *, gmm=None, **k):  # stands in for the fit: only its prior
        seen["smplify"].append(gmm)
        return types.SimpleNamespace(params=params)

    def learned(model, images, params, cameras, network, *, options, **k):
        seen["refine"].append(options.gmm_path)  # refine's own use: test_refine.py
        stages = ("render", "network", "transfer", "fit")  # refine's timed stages
        return types.SimpleNamespace(params=params, ms=dict.fromkeys(stages, 0.0))

    monkeypatch.setattr(smplify, "smplify", sparse)
    monkeypatch.setattr("jaxrefine.evaluate.refine", learned)
    poses, ckpt = eval_inputs
    args = ["--poses", str(poses), "--checkpoint", str(ckpt), "--n", "2", "--group", "2",
            "--image-size", "48", "--batch", "2", "--rows", "sparse_gt", "learned_dense",
            "--json", str(tmp_path / "r.json")]  # fmt: skip
    monkeypatch.chdir(other_prior_file.parent)
    assert cli_main(["eval", *args, "--gmm", other_prior_file.name]) == 0
    other = load_gmm(other_prior_file)
    assert len(seen["smplify"]) == 2  # the warm-up batch and the timed one
    for prior in seen["smplify"]:
        np.testing.assert_array_equal(prior.means, other.means)
    assert seen["refine"] == [str(other_prior_file)] * 2
    assert json.loads((tmp_path / "r.json").read_text())["pose_prior"] == str(other_prior_file)
    _prior_refused_before_poses("eval", args, tmp_path, capsys, monkeypatch)


def test_eval_video_refines_with_the_prior_gmm_names(eval_inputs, other_prior_file, tmp_path,
                                                     capsys, monkeypatch):  # fmt: skip
    """``eval-video --gmm FILE``: every smoothness weight's refine gets that prior, the JSON
    names it; a missing file is refused before any pose is read."""
    import types

    from jaxrefine.cli import main as cli_main

    seen = []

    def learned(model, images, params, cameras, network, *, options, **k):
        seen.append(options.gmm_path)  # refine's own use: test_refine.py
        return types.SimpleNamespace(params=params)

    monkeypatch.setattr("jaxrefine.evaluate_video.refine", learned)
    poses, ckpt = eval_inputs
    args = [
        "--poses",
        str(poses),
        "--checkpoint",
        str(ckpt),
        "--tracks",
        "2",
        "--length",
        "3",
        "--image-size",
        "48",
        "--weights",
        "0",
        "10",
        "--json",
        str(tmp_path / "r.json"),
    ]
    assert cli_main(["eval-video", *args, "--gmm", str(other_prior_file)]) == 0
    assert seen == [str(other_prior_file)] * 2  # one refine per weight
    assert json.loads((tmp_path / "r.json").read_text())["pose_prior"] == str(other_prior_file)
    _prior_refused_before_poses("eval-video", args, tmp_path, capsys, monkeypatch)


@pytest.mark.slow
def test_eval_and_eval_video_make_frames_with_the_model_given(
    eval_inputs, tmp_path, capsys, monkeypatch, open_model_file
):
    """``--model FILE``: the synthetic frames are made and scored with that model (the JSON's
    ``model_id`` names it); a model without a UV layout (SMPL's files have none) is refused
    before any pose is read, saying how to add one (by the oracle too)."""
    import types

    from jaxrefine.body_model import OPEN_MODEL_ID
    from jaxrefine.cli import main as cli_main

    open_model_file(tmp_path / "copy.npz", model_id="my-open-copy")
    open_model_file(tmp_path / "bare.npz", uv=False)

    def unrefined(model, images, params, *a, **k):  # the fits are not what this checks
        return types.SimpleNamespace(params=params)

    monkeypatch.setattr("jaxrefine.evaluate_video.refine", unrefined)
    poses, ckpt = eval_inputs
    common = ["--poses", str(poses), "--checkpoint", str(ckpt), "--image-size", "48"]
    runs = (
        ["eval", *common, "--n", "2", "--group", "2", "--rows", "init"],
        ["eval-video", *common, "--tracks", "1", "--length", "3", "--weights", "0"],
    )
    for args in runs:
        out = tmp_path / f"{args[0]}.json"
        assert cli_main([*args, "--model", str(tmp_path / "copy.npz"), "--json", str(out)]) == 0
        got = json.loads(out.read_text())
        assert got["model_id"] == "my-open-copy"  # and the network's, measured on it:
        assert got["network_body_model"] == OPEN_MODEL_ID
    capsys.readouterr()
    monkeypatch.setattr("jaxrefine.data.poses.load_poses", None)
    monkeypatch.setattr("jaxrefine.oracle.load_poses", None)
    for args in (*runs, ["oracle", "--poses", str(poses), "--n", "2"]):
        assert cli_main([*args, "--model", str(tmp_path / "bare.npz")]) == 2
        err = capsys.readouterr().err
        assert "has no UV layout" in err and "jaxrefine convert MODEL OUT.npz --uv" in err
