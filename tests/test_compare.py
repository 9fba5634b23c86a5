"""Tests of jaxrefine.compare (the optimizer comparison) at tiny settings: 2 frames of 64 px,
2 + 2 iterations, sparse ground-truth targets (one compiled fit per stage)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxrefine import compare
from jaxrefine.fit import STATUS_NAMES, STATUS_OK
from jaxrefine.metrics import METRIC_NAMES

N = 2
ADAM = compare.Method("Adam 2+2", "adam", 2, 2)
LGD = compare.Method("LGD 2+2", "lgd", 2, 2)
LOSS_RTOL = 1e-4  # the loss curve's start recomputed in float32 (same program, other batching)


@pytest.fixture(scope="module")
def setup():
    import jaxrefine
    from jaxrefine.data.poses import given_poses

    model = jaxrefine.load_body_model()
    frames = compare.make_frames(model, given_poses(model)[0], N, 0, None,
                                 targets=("sparse_gt", "dense_learned"), image_size=64,
                                 texture_size=32)  # fmt: skip
    return model, frames


@pytest.fixture
def no_lgd_weights(monkeypatch, tmp_path):
    """LGD's shipped-checkpoint folder replaced by an empty one (whatever is shipped)."""
    from jaxrefine.optimizers import learned

    monkeypatch.setattr(learned, "ASSETS", tmp_path)


def test_make_frames_keeps_why_a_target_set_is_missing(setup):
    _, frames = setup
    assert set(frames.data) == {"sparse_gt"}
    assert frames.skipped == {"dense_learned": "no displacement network given"}
    assert frames.init_vertices.shape[0] == N
    with pytest.raises(ValueError, match="unknown target sets"):
        compare.make_frames(None, None, 1, 0, targets=("dense_magic",))


def test_compare_measures_every_row_and_shows_skipped_lgd(setup, no_lgd_weights):
    model, frames = setup
    res = compare.compare(model, frames, (ADAM, LGD))
    assert set(res["init"]) == set(METRIC_NAMES) and res["n"] == N
    assert res["skipped_targets"] == {"dense_learned": "no displacement network given"}
    out = res["targets"]["sparse_gt"]
    assert out["kind"] == "keypoints"
    assert "no shipped weights" in out["skipped"][LGD.label]  # visible, not dropped
    row = out["rows"][ADAM.label]
    assert set(row["metrics"]) == set(METRIC_NAMES)
    assert all(np.isfinite(v) for v in row["metrics"].values())
    assert row["loss_curve"].shape == (N, ADAM.body_steps + 1)
    assert np.all(np.isfinite(row["loss_curve"]))
    assert np.all(np.diff(row["ms_axis"]) >= 0) and row["ms_axis"].shape == (ADAM.body_steps + 1,)
    assert row["ms_axis"][0] == pytest.approx(row["ms_camera"])
    assert row["ms_axis"][-1] == pytest.approx(row["ms_per_frame"])
    assert sum(row["status_counts"].values()) == N
    assert set(row["status_counts"]) == set(STATUS_NAMES.values())
    assert row["failed"] == int(np.sum(row["status"] != STATUS_OK))
    assert row["compile_s"] >= 0 and row["ms_per_frame"] > 0
    med = compare.median_curve(row)
    assert med[0] == pytest.approx(1.0) and med.shape == (ADAM.body_steps + 1,)
    table = compare.format_comparison(res)
    assert ADAM.label in table and "initial estimate" in table
    lgd_line = next(line for line in table.splitlines() if LGD.label in line)
    assert "SKIPPED: no shipped weights" in lgd_line
    assert "dense_learned" in table  # the skipped target set is in the table too


@pytest.mark.parametrize("prior", ["shipped", "other"])
def test_loss_curve_is_the_body_objective_at_the_camera_stage_result(setup, prior,
                                                                     other_prior_file):  # fmt: skip
    """The curve's start is the reference objective at the params the body stage began from,
    with the pose prior given (the shipped one by default; here also SMPLify's format)."""
    from jaxrefine.objective import get_preset, load_gmm_prior, make_objectives
    from jaxrefine.smplify import smplify

    model, frames = setup
    gmm = load_gmm_prior(None if prior == "shipped" else other_prior_file)
    row = compare.run_method(model, frames, "sparse_gt", ADAM,
                             gmm=None if prior == "shipped" else gmm)  # fmt: skip
    data = frames.data["sparse_gt"]
    cam = smplify(model, frames.init_params, data, preset="dense", optimizer="adam",
                  gmm=gmm, camera_steps=2, body_steps=0)  # fmt: skip
    _, body = make_objectives(model, get_preset("dense"), "keypoints", gmm)
    start = np.asarray(jax.vmap(body.loss)(cam.params, data))
    np.testing.assert_allclose(row["loss_curve"][:, 0], start, rtol=LOSS_RTOL)
    if prior == "other":  # the shipped prior's objective there is another
        _, shipped = make_objectives(model, get_preset("dense"), "keypoints", load_gmm_prior())
        elsewhere = np.asarray(jax.vmap(shipped.loss)(cam.params, data))
        assert np.all(np.abs(elsewhere - start) > 10 * LOSS_RTOL * start), (elsewhere, start)


def test_default_methods_cover_every_optimizer_and_filter():
    from jaxrefine.optimizers.registry import optimizer_names

    rows = compare.default_methods(0.1, lgd_steps=5)
    assert {m.optimizer for m in rows} <= set(optimizer_names())
    assert {m.optimizer for m in rows} == {"adam", "lbfgs", "lm", "gn", "jaxopt-lbfgs", "lgd"}
    lgd = next(m for m in rows if m.optimizer == "lgd")
    adam = next(m for m in rows if m.optimizer == "adam")
    assert lgd.body_steps == 5 and lgd.camera_steps == adam.camera_steps
    assert all(m.camera_steps >= 2 and m.body_steps >= 2 for m in rows)
    assert [m.optimizer for m in compare.default_methods(optimizers=("lm", "adam"))] == [
        "adam",
        "lm",
    ]


def test_lgd_row_runs_with_a_checkpoint(setup, monkeypatch, tmp_path):
    """An (untrained, tiny) LGD checkpoint where the shipped ones live: its row is measured
    like the others, the body stage with its own step count."""
    from jaxrefine.objective import get_preset, make_objectives
    from jaxrefine.optimizers import learned

    model, frames = setup
    one = jax.tree.map(lambda a: a[0], (frames.init_params, frames.data["sparse_gt"]))
    _, body = make_objectives(model, get_preset("dense"), "keypoints", None)
    lgd = learned.init_lgd(
        jax.random.key(0), one[0], learned.data_term_objective(body), one[1],
        features="keypoints", keys=("global_orient", "body_pose", "betas", "transl"),
        hidden=8, num_blocks=0, num_steps=LGD.body_steps,
    )  # fmt: skip
    learned.save_lgd(tmp_path / "lgd_sparse", lgd)
    monkeypatch.setattr(learned, "ASSETS", tmp_path)
    res = compare.compare(model, frames, (LGD,))
    assert not res["targets"]["sparse_gt"]["skipped"]
    row = res["targets"]["sparse_gt"]["rows"][LGD.label]
    assert row["loss_curve"].shape == (N, LGD.body_steps + 1)
    assert np.all(np.isfinite(row["loss_curve"])) and sum(row["status_counts"].values()) == N

    # the same checkpoint by path measures the same; one trained for dense targets is skipped
    learned.save_lgd(tmp_path / "theirs", learned.load_lgd(learned.ASSETS / "lgd_sparse")
                     .replace(features="dense"))  # fmt: skip
    mine = compare.Method("mine", f"lgd:{tmp_path / 'lgd_sparse'}", 2, LGD.body_steps)
    theirs = compare.Method("theirs", f"lgd:{tmp_path / 'theirs'}", 2, LGD.body_steps)
    res = compare.compare(model, frames, (mine, theirs), targets=("sparse_gt",))
    got = res["targets"]["sparse_gt"]
    assert "trained for 'dense' observations" in got["skipped"]["theirs"]
    assert list(got["rows"]) == ["mine"]
    np.testing.assert_allclose(got["rows"]["mine"]["loss_curve"], row["loss_curve"],
                               rtol=LOSS_RTOL)  # fmt: skip
