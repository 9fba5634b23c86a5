"""Temporal smoothness (jaxrefine.temporal): the acceleration penalty and a track's joint fit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine.body_model import forward
from jaxrefine.camera import Camera, project
from jaxrefine.objective import FitData, get_preset, make_objectives, params_from_pose
from jaxrefine.optimizers.registry import make_optimizer
from jaxrefine.temporal import (
    SequenceObjective,
    consecutive_runs,
    joint_accelerations,
    sequence_joints,
    smooth_track,
)
from tests.test_smplify import tiny_model

T = 7  # frames of the test track
# float32 sums of a few hundred squared residuals of order 1e2
LOSS_RTOL = 1e-5


def _track(model, seed=0, jitter=0.08):
    """A smooth ground-truth track (pose and translation linear in time), its dense targets
    and a start with per-frame jitter (what independent per-frame fits leave)."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 0.15, (2, 24, 3)).astype(np.float32)
    s = np.linspace(0, 1, T, dtype=np.float32)[:, None, None]
    pose = (1 - s) * a + s * b
    pose[:, 0] = [np.pi, 0, 0]
    betas = np.tile(rng.normal(0, 0.5, model.num_betas).astype(np.float32), (T, 1))
    transl = np.stack([np.linspace(-0.2, 0.2, T), np.zeros(T), np.full(T, 4.0)], 1)
    transl = transl.astype(np.float32)
    cams = Camera(
        fx=jnp.full(T, 600.0), fy=jnp.full(T, 600.0), cx=jnp.full(T, 128.0),
        cy=jnp.full(T, 128.0), R=jnp.tile(jnp.eye(3), (T, 1, 1)), t=jnp.zeros((T, 3)),
    )  # fmt: skip
    gt = jax.vmap(lambda p, bb, t: forward(model, p, bb, t))(pose, betas, transl)
    noisy = pose + rng.normal(0, jitter, pose.shape).astype(np.float32)
    start = params_from_pose(noisy, betas, transl)
    data = FitData(
        camera=cams, init_transl=start["transl"], pixel_scale=jnp.ones(T),
        dense_targets=jax.vmap(project)(cams, gt.vertices),
        dense_weights=jnp.ones((T, model.num_vertices), jnp.float32),
    )  # fmt: skip
    return start, data, params_from_pose(pose, betas, transl)


def _body_objective(model):
    preset = get_preset("dense")
    return make_objectives(model, preset, "dense", None, "smpl24")[1]


def test_constant_velocity_costs_nothing():
    t = jnp.arange(5.0)[:, None, None]
    joints = 0.3 * t + jnp.ones((5, 24, 3))
    np.testing.assert_allclose(joint_accelerations(joints), 0.0, atol=1e-6)
    jitter = joints.at[2].add(0.01)
    assert float(jnp.sum(jnp.square(joint_accelerations(jitter)))) > 1e-5


def test_sequence_loss_is_frame_losses_plus_weighted_accelerations():
    model = tiny_model()
    start, data, _ = _track(model)
    frame = _body_objective(model)
    obj = SequenceObjective(frame, model, jnp.float32(50.0))
    frames = float(jnp.sum(jax.vmap(frame.loss)(start, data)))
    acc = joint_accelerations(sequence_joints(model, start))
    expect = frames + 50.0 * float(jnp.sum(jnp.square(acc)))
    np.testing.assert_allclose(float(obj.loss(start, data)), expect, rtol=LOSS_RTOL)
    terms = obj.terms(start, data)
    np.testing.assert_allclose(float(terms["frames"]), frames, rtol=LOSS_RTOL)


def test_smoothing_removes_jitter_that_per_frame_fits_keep():
    """With the penalty the refitted track's accelerations are far smaller than with a
    vanishing weight after the same steps (same start, targets, optimizer)."""
    model = tiny_model()
    start, data, gt = _track(model)
    frame = _body_objective(model)
    opt = make_optimizer("adam", 1e-2)
    keys = {"global_orient", "body_pose", "transl"}

    def accel(weight):
        res = smooth_track(model, frame, start, data, opt, weight=weight, num_steps=40,
                           trainable=keys)  # fmt: skip
        assert res.params["body_pose"].shape == (T, 23, 3)
        assert float(res.final_loss) <= float(res.init_loss)
        np.testing.assert_array_equal(res.params["betas"], start["betas"])
        return float(jnp.sum(jnp.square(joint_accelerations(sequence_joints(model, res.params)))))

    gt_acc = float(jnp.sum(jnp.square(joint_accelerations(sequence_joints(model, gt)))))
    start_acc = float(jnp.sum(jnp.square(joint_accelerations(sequence_joints(model, start)))))
    smooth, free = accel(1e4), accel(1e-6)
    assert gt_acc < 1e-2 * start_acc  # the ground truth is smooth, the start is not
    assert smooth < 0.3 * free


def test_short_tracks_and_bad_weights_are_refused():
    model = tiny_model()
    start, data, _ = _track(model)
    frame = _body_objective(model)
    opt = make_optimizer("adam", 1e-2)
    two = jax.tree.map(lambda a: a[:2], start)
    with pytest.raises(ValueError, match="at least 3 frames"):
        smooth_track(model, frame, two, jax.tree.map(lambda a: a[:2], data), opt, weight=1.0,
                     num_steps=2)  # fmt: skip
    with pytest.raises(ValueError, match="must be > 0"):
        smooth_track(model, frame, start, data, opt, weight=0.0, num_steps=2)


def test_sample_sequences_keeps_a_track_in_one_trial_with_one_placement():
    from jaxrefine.data.sampling import sample_sequences
    from jaxrefine.smpl_io import load_body_model

    model = load_body_model()
    poses = np.random.default_rng(0).normal(0, 0.3, (30, 24, 3)).astype(np.float32)
    trials = np.repeat(["a", "b", "c"], [4, 20, 6])
    s = sample_sequences(model, poses, trials, 5, 6, seed=1)
    idx = s.pose_index.reshape(5, 6)
    np.testing.assert_array_equal(np.diff(idx, axis=1), 1)  # consecutive rows
    assert all(len(set(trials[row])) == 1 for row in idx)  # one trial per track
    assert not np.isin(idx, np.flatnonzero(trials == "a")).any()  # "a" is too short
    for name in ("betas", "transl", "focal"):
        v = getattr(s, name).reshape(5, 6, -1)
        np.testing.assert_array_equal(v, np.repeat(v[:, :1], 6, axis=1))
    body = s.pose[:, 1:].reshape(5, 6, 23, 3)
    np.testing.assert_array_equal(body, poses[idx][:, :, 1:])
    with pytest.raises(ValueError, match="no trial of the pose file has 21 frames"):
        sample_sequences(model, poses, trials, 1, 21, seed=1)


def test_accel_error():
    from jaxrefine.metrics import accel_error

    gt = 0.1 * jnp.arange(5.0)[:, None, None] * jnp.ones((5, 2, 3))
    assert float(accel_error(gt, gt)) == 0.0
    pred = gt.at[2, :, 0].add(0.003)  # one frame 3 mm off: accelerations -3, +6, -3 mm
    np.testing.assert_allclose(float(accel_error(pred, gt)), 4.0, rtol=1e-4)
    with pytest.raises(ValueError, match="T >= 3"):
        accel_error(gt[:2], gt[:2])


def test_eval_video_rows_and_columns():
    """`jaxrefine eval-video` machinery on 2 tiny tracks (a random tiny network)."""
    from jaxrefine import network
    from jaxrefine.data.poses import PoseSet
    from jaxrefine.evaluate_video import evaluate_video, format_result
    from jaxrefine.metrics import METRIC_NAMES
    from jaxrefine.refine import RefineOptions
    from jaxrefine.smpl_io import load_body_model

    rng = np.random.default_rng(0)
    poses = PoseSet(pose=rng.normal(0, 0.2, (12, 24, 3)).astype(np.float32),
                    subject=np.full(12, "01"), trial=np.repeat(["01_01", "01_02"], 6))  # fmt: skip
    cfg = network.get_config("tiny")
    net = (cfg, network.init_params(cfg, jax.random.key(0)))
    opts = RefineOptions(batch_size=3, camera_steps=2, body_steps=3, texture_size=32)
    res = evaluate_video(load_body_model(), poses, net, num_tracks=2, length=3, seed=0,
                         weights=(10.0,), image_size=(64, 64), options=opts)  # fmt: skip
    assert list(res["rows"]) == ["init", "w=10"]
    for row in res["rows"].values():
        assert set(row) == {*METRIC_NAMES, "accel"}
        assert all(np.isfinite(v) for v in row.values())
    assert "| w=10 |" in format_result(res)


def test_consecutive_runs_cut_tracks_at_gaps_in_frame_order():
    # subject 0: frames 0-2 then 5-6 (a gap of two missed frames), given out of order
    subjects = [0, 0, 0, 1, 0, 0, 1]
    frames = [2, 0, 1, 0, 6, 5, 1]
    runs = consecutive_runs(subjects, frames)
    assert len(set(runs[[0, 1, 2]])) == 1 and len(set(runs[[4, 5]])) == 1
    assert runs[0] != runs[4]  # the gap
    assert runs[3] == runs[6] and runs[3] not in runs[[0, 4]]  # subject 1: frames 0-1
    assert sorted(set(runs.tolist())) == [0, 1, 2]
    # a frame given twice for one subject is not a neighbour of itself
    assert len(set(consecutive_runs([0, 0], [4, 4]).tolist())) == 2
    # without frame numbers: one run per subject, in the order given
    np.testing.assert_array_equal(consecutive_runs([5, 5, 2, 5]), [1, 1, 0, 1])
