"""`smplify(optimizer="lgd")`: Adam camera stage, then learned gradient descent as the body
stage (its trained steps, on the body objective's data term), with the checkpoint of the
data kind. Tiny untrained checkpoints stand in for the shipped ones (the package's assets
folder is pointed at a temporary one), so these tests check the wiring, not the weights."""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrefine.optimizers.learned as learned
from jaxrefine.bench.smplify import _fit_data, make_problem
from jaxrefine.body_model import OPEN_MODEL_ID
from jaxrefine.fit import Stage, fit_stages_batch
from jaxrefine.objective import compact_dense, get_preset, make_objectives, params_from_pose
from jaxrefine.optimizers import adam, make_optimizer, registry
from jaxrefine.optimizers.learned import data_term_objective, init_lgd, save_lgd
from jaxrefine.optimizers.registry import missing_version
from jaxrefine.smpl_io import load_body_model
from jaxrefine.smplify import CAMERA_STAGE_PARAMS, smplify

LGD_KEYS = ("global_orient", "body_pose", "betas", "transl")
# Different step counts per kind, so the body stage's length says which checkpoint ran.
TINY_STEPS = {"sparse": 3, "dense": 2, "dense_keypoints": 4}
CAMERA_STEPS = 2
# The same float32 program run twice (eagerly staged vs under one jit): XLA may fuse and
# order sums differently; seen ~1e-6 relative.
_SAME_PROGRAM_RTOL = 1e-4
_DENSE_VERTICES = 200  # visible vertices kept per dense frame (cheap, as test_learned does)


def _problem(model, kind):
    start, _, _, targets, conf, cams = make_problem(model, 2, kind)
    data = _fit_data(kind, cams, targets, conf, start[2])
    if kind == "dense":
        w = np.asarray(data.dense_weights)
        w = w * (np.cumsum(w > 0, axis=1) <= _DENSE_VERTICES)
        data = compact_dense(data.replace(dense_weights=jnp.asarray(w)), multiple=64)
    return params_from_pose(*start), data


def _one(tree):
    return jax.tree_util.tree_map(lambda a: a[0], tree)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The open body model, a keypoint, a dense and a dense-plus-keypoints problem, and tiny
    checkpoints of the three kinds in a temporary assets folder that load_pretrained reads
    while the module runs."""
    model = load_body_model()
    assets = tmp_path_factory.mktemp("assets")
    problems = {kind: _problem(model, kind) for kind in ("keypoints", "dense")}
    kp = problems["keypoints"][1]  # keypoints of other bodies beside the dense targets: wiring
    problems["dense+keypoints"] = (problems["dense"][0], problems["dense"][1].replace(
        keypoints=kp.keypoints, keypoint_conf=kp.keypoint_conf))  # fmt: skip
    for kind, ckpt in learned.CHECKPOINT_FOR_DATA_KIND.items():
        params, data = problems[kind]
        _, body = make_objectives(model, get_preset("spin"), kind, None)
        lgd = init_lgd(
            jax.random.key(1), _one(params), data_term_objective(body), _one(data),
            features=kind, keys=LGD_KEYS, hidden=16, num_blocks=1,
            num_steps=TINY_STEPS[ckpt],
        )  # fmt: skip
        save_lgd(assets / f"lgd_{ckpt}", lgd, {"note": "tiny untrained test checkpoint"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(learned, "ASSETS", assets)
        yield model, problems


def _smplify(model, params, data, kind, optimizer="lgd", **kw):
    return smplify(
        model, params, data, preset="spin", data_kind=kind, optimizer=optimizer,
        camera_steps=CAMERA_STEPS, devices=jax.devices()[:1], **kw,
    )  # fmt: skip


def test_lgd_body_stage_is_the_sparse_checkpoint_after_an_adam_camera_stage(setup):
    model, problems = setup
    params, data = problems["keypoints"]
    res = _smplify(model, params, data, "keypoints")
    steps = TINY_STEPS["sparse"]
    assert res.camera_stage.loss_curve.shape == (2, CAMERA_STEPS + 1)
    assert res.body_stage.loss_curve.shape == (2, steps + 1)  # the checkpoint's steps
    assert np.all(np.isfinite(np.asarray(res.body_stage.loss_curve)))
    # the same two stages built by hand: Adam on the camera, the sparse LGD on the data term
    cam_obj, body = make_objectives(model, get_preset("spin"), "keypoints", None)
    lgd = learned.load_pretrained("sparse")
    stages = [
        Stage(cam_obj, adam(get_preset("spin").learning_rate), CAMERA_STEPS,
              set(CAMERA_STAGE_PARAMS)),
        Stage(data_term_objective(body), lgd, steps, set(LGD_KEYS)),
    ]  # fmt: skip
    ref = fit_stages_batch(stages, params, data, devices=jax.devices()[:1])
    for k in LGD_KEYS:
        np.testing.assert_allclose(
            res.body_stage.params[k], ref[1].params[k], rtol=_SAME_PROGRAM_RTOL, atol=1e-6
        )
    # the body stage's losses are the data term (no GMM, no shape prior)
    recomputed = jax.vmap(data_term_objective(body).loss)(res.body_stage.params, data)
    np.testing.assert_allclose(res.body_stage.final_loss, recomputed, rtol=_SAME_PROGRAM_RTOL)


def test_lgd_smplify_under_jit_matches_eager(setup):
    model, problems = setup
    params, data = problems["keypoints"]
    eager = _smplify(model, params, data, "keypoints", select="none")
    jitted = jax.jit(lambda p, d: _smplify(model, p, d, "keypoints", select="none").params)
    out = jitted(params, data)
    for k in LGD_KEYS:
        np.testing.assert_allclose(out[k], eager.params[k], rtol=_SAME_PROGRAM_RTOL, atol=1e-6)


def test_lgd_dense_data_gets_the_dense_checkpoint(setup):
    model, problems = setup
    params, data = problems["dense"]
    res = _smplify(model, params, data, "dense", body_steps=None)
    assert res.body_stage.loss_curve.shape == (2, TINY_STEPS["dense"] + 1)
    assert np.all(np.isfinite(np.asarray(res.params["body_pose"])))
    # an explicit body_steps overrides the trained count
    res = _smplify(model, params, data, "dense", body_steps=1)
    assert res.body_stage.loss_curve.shape == (2, 2)


def test_lgd_dense_and_keypoint_data_gets_its_own_checkpoint(setup):
    model, problems = setup
    params, data = problems["dense+keypoints"]
    res = _smplify(model, params, data, "dense+keypoints")
    assert res.body_stage.loss_curve.shape == (2, TINY_STEPS["dense_keypoints"] + 1)
    assert np.all(np.isfinite(np.asarray(res.params["body_pose"])))
    assert make_optimizer("lgd", data_kind="dense+keypoints").features == "dense+keypoints"


def test_lgd_names_what_is_missing(setup, tmp_path, monkeypatch):
    model, problems = setup
    params, data = problems["keypoints"]
    with pytest.raises(ValueError, match="no LGD checkpoint for data kind 'silhouette'"):
        make_optimizer("lgd", data_kind="silhouette")
    assert make_optimizer("lgd").features == "keypoints"  # no data kind: keypoints
    assert make_optimizer("lgd", data_kind="dense").features == "dense"
    assert "no LGD checkpoint" in missing_version("lgd", "silhouette")
    for kind in learned.CHECKPOINT_FOR_DATA_KIND:
        assert missing_version("lgd", kind) is None
    assert missing_version("adam", "dense+keypoints") is None
    monkeypatch.setattr(learned, "ASSETS", tmp_path)  # a package without the checkpoints
    with pytest.raises(FileNotFoundError, match="lgd_sparse.npz"):
        _smplify(model, params, data, "keypoints")


def test_a_users_checkpoint_by_path_serves_the_data_it_was_trained_for(setup):
    """``"lgd:PATH"``: a checkpoint of the user's (here the tiny dense one) runs as the shipped
    one of its kind does, and refuses other data naming the file and what to train."""
    model, problems = setup
    params, data = problems["dense"]
    path = learned.ASSETS / "lgd_dense"
    for name in (f"lgd:{path}", f"lgd:{path}.npz", f"lgd:{path}.json"):
        assert make_optimizer(name, data_kind="dense").features == "dense"
    mine = _smplify(model, params, data, "dense", optimizer=f"lgd:{path}")
    shipped = _smplify(model, params, data, "dense")
    assert mine.body_stage.loss_curve.shape == (2, TINY_STEPS["dense"] + 1)
    for k in LGD_KEYS:
        np.testing.assert_allclose(mine.params[k], shipped.params[k], rtol=_SAME_PROGRAM_RTOL)
    with pytest.raises(ValueError, match=r"lgd_dense was trained for 'dense' observations, this "
                       r"fit has 'keypoints' \(train one with .* --kind sparse\)"):  # fmt: skip
        make_optimizer(f"lgd:{path}", data_kind="keypoints")
    assert "trained for 'dense'" in missing_version(f"lgd:{path}", "dense+keypoints")
    assert missing_version(f"lgd:{path}", "dense") is None
    assert registry.lgd_checkpoint(f"lgd:{path}.npz", "dense") == path
    assert (
        registry.lgd_checkpoint("lgd", "dense+keypoints") == learned.ASSETS / "lgd_dense_keypoints"
    )
    assert registry.lgd_checkpoint("adam", "dense") is None


def test_optimizer_flags_check_names_and_checkpoint_files(setup, tmp_path):
    path = learned.ASSETS / "lgd_sparse"
    assert registry.optimizer_arg("lm") == "lm"
    assert registry.optimizer_arg(f"lgd:{path}") == f"lgd:{path}"
    with pytest.raises(argparse.ArgumentTypeError, match="unknown optimizer 'adamw'.*lgd:PATH"):
        registry.optimizer_arg("adamw")
    (tmp_path / "half.npz").write_bytes(b"")  # the .json is missing
    with pytest.raises(argparse.ArgumentTypeError, match=f"not found: {tmp_path / 'half.json'}"):
        registry.optimizer_arg(f"lgd:{tmp_path / 'half.npz'}")
    with pytest.raises(KeyError, match="unknown optimizer 'adamw'"):
        make_optimizer("adamw")


def test_checkpoints_name_the_body_model_they_learned_on(setup, tmp_path):
    """The shipped checkpoints (no record) learned on the open model; an export records its."""
    shipped = Path(learned.__file__).resolve().parents[1] / "assets" / "lgd_dense"
    assert learned.trained_body_model(shipped) == OPEN_MODEL_ID
    assert load_body_model().model_id == OPEN_MODEL_ID
    save_lgd(tmp_path / "mine", learned.load_lgd(shipped), {"body_model": {"model_id": "m:1"}})
    assert learned.trained_body_model(tmp_path / "mine.npz") == "m:1"
    save_lgd(tmp_path / "old", learned.load_lgd(shipped), {"note": "no body_model record"})
    assert learned.trained_body_model(tmp_path / "old") == OPEN_MODEL_ID


def test_classical_optimizers_run_the_stage_as_asked(setup):
    model, _ = setup
    _, body = make_objectives(model, get_preset("spin"), "keypoints", None)
    opt = make_optimizer("adam", data_kind="dense")  # ignored by classical entries
    assert opt.camera_stage_optimizer is None
    assert opt.adapt_stage(body, None, {"betas"}) == (body, None, {"betas"})


def test_shipped_checkpoint_is_read_once_per_file_version(tmp_path, monkeypatch):
    """Resolving "lgd" by name on every smplify call must not re-read the checkpoint (~170 ms,
    more than a sparse fit of 32 frames); a rewritten file is read again."""
    lgd = learned.load_lgd(learned.ASSETS / "lgd_sparse")
    save_lgd(tmp_path / "lgd_sparse", lgd)
    monkeypatch.setattr(learned, "ASSETS", tmp_path)
    first = learned.load_pretrained("sparse")
    assert learned.load_pretrained("sparse") is first
    save_lgd(tmp_path / "lgd_sparse", lgd.replace(step_size=jnp.asarray(0.5, jnp.float32)))
    again = learned.load_pretrained("sparse")
    assert again is not first and float(again.step_size) == 0.5
    assert learned.load_pretrained("sparse", detach_gradient=False).detach_gradient is False


@pytest.mark.parametrize("kind", learned.SHIPPED_KINDS)
def test_shipped_checkpoint_loads_with_its_record(kind):
    """The package's own checkpoints (not the module's tiny ones): they load, serve their data
    kind, run at most 10 learned steps, and say how they were made."""
    shipped = Path(learned.__file__).resolve().parents[1] / "assets" / f"lgd_{kind}"
    lgd = learned.load_lgd(shipped)
    assert learned.CHECKPOINT_FOR_DATA_KIND[lgd.features] == kind  # its data kind's checkpoint
    assert lgd.num_steps <= 10 and {k for k, _ in lgd.layout} == set(LGD_KEYS)
    meta = learned.checkpoint_meta(shipped)
    for field in ("command", "seed", "steps", "wall_s", "machine", "final"):
        assert field in meta, f"{shipped}.json lacks {field!r}"
    assert meta["validation_subjects"] == ["09", "16"]
    assert np.isfinite(meta["final"]["val_joint_mm_final"])
    if kind == "dense_keypoints":  # its lineage starts at the dense one, extended (extend_start)
        first = meta["init_from"]
        while "extended_from" not in first and "meta" in first:  # fine-tuned again since
            first = first["meta"]["init_from"]
        assert first["extended_from"] == "dense" and "--kind dense" in first["command"]
