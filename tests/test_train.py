"""Training library: the displacement loss, overfitting, grain input, checkpoints and resume,
and ``scripts/train.py`` end to end. (Data parallel and multi-process: test_train_distributed.)
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrefine import network
from jaxrefine.train import checkpoint, displacement, loop, toy
from jaxrefine.train import input as input_pipeline
from jaxrefine.train.export import export_run
from jaxrefine.train.loop import Task, TrainConfig, init_state, make_optimizer, train, train_step

# Resumed and uninterrupted runs execute the same XLA programs on the same inputs in the same
# order on one CPU device: they agree to the last bit in practice. The tolerance only allows
# for a re-compiled program choosing another (still deterministic) reduction order.
RESUME_RTOL, RESUME_ATOL = 1e-6, 1e-7
OVERFIT_DROP = 0.9  # EPE on one fixed batch must fall by at least 90 %

REPO = Path(__file__).resolve().parents[1]
TINY = network.get_config("tiny")
S = TINY.crop_size


def random_batch(seed: int, size: int, cfg=TINY) -> dict[str, np.ndarray]:
    """A synthetic displacement batch (no renderer): random inputs, a smooth field, a disc mask."""
    rng = np.random.default_rng(seed)
    n = cfg.crop_size
    yy, xx = np.mgrid[:n, :n] / n
    field = np.stack([3 * np.sin(6 * yy) * np.ones_like(xx), 2 * np.cos(5 * xx)], -1)
    mask = ((yy - 0.5) ** 2 + (xx - 0.5) ** 2 < 0.12).astype(np.float32)
    return {
        "image": rng.uniform(size=(size, n, n, 3)).astype(np.float32),
        "renders": rng.uniform(size=(size, n, n, cfg.render_channels)).astype(np.float32),
        "field": np.repeat((field * mask[..., None])[None], size, 0).astype(np.float32),
        "mask": np.repeat(mask[None], size, 0),
    }


def random_output(key, stacks=2, confidence=False):
    k1, k2 = jax.random.split(key)
    fields = jax.random.normal(k1, (stacks, S, S, 2))
    log_scale = jax.random.normal(k2, (S, S)) if confidence else None
    return network.NetworkOutput(fields=fields, log_scale=log_scale)


# --------------------------------------------------------------------------- the loss
@pytest.mark.parametrize("confidence", [False, True])
def test_loss_ignores_background(confidence):
    b = random_batch(0, 1)
    field, mask = jnp.asarray(b["field"][0]), jnp.asarray(b["mask"][0])
    out = random_output(jax.random.PRNGKey(0), confidence=confidence)
    loss, metrics = displacement.example_loss(out, field, mask)
    bg = (mask == 0)[..., None]
    noise = jax.random.normal(jax.random.PRNGKey(1), field.shape) * 50
    out2 = out.replace(
        fields=jnp.where(bg[None], out.fields + noise[None], out.fields),
        log_scale=None if out.log_scale is None else jnp.where(bg[..., 0], 9.0, out.log_scale),
    )
    loss2, metrics2 = displacement.example_loss(out2, jnp.where(bg, field - noise, field), mask)
    assert float(loss2) == float(loss)
    for k in metrics:
        assert float(metrics2[k]) == float(metrics[k]), k
    # ... while a foreground change does change it (the test can fail)
    loss3, _ = displacement.example_loss(out, field + (1 - bg) * 1.0, mask)
    assert float(loss3) != float(loss)


def test_every_stack_supervised():
    b = random_batch(0, 1)
    field, mask = jnp.asarray(b["field"][0]), jnp.asarray(b["mask"][0])
    out = random_output(jax.random.PRNGKey(0), stacks=3)
    grad = jax.grad(lambda f: displacement.example_loss(out.replace(fields=f), field, mask)[0])(
        out.fields
    )
    fg = np.asarray(mask) > 0
    for s in range(3):  # the loss reaches every stack's output on the foreground only
        g = np.abs(np.asarray(grad[s])).sum(-1)
        assert (g[fg] > 0).all() and (g[~fg] == 0).all(), s
    # ... and, through the network, every stack's head
    params = network.init_params(TINY, jax.random.PRNGKey(0))
    batch = {k: jnp.asarray(v) for k, v in random_batch(1, 2).items()}
    grads = jax.grad(lambda p: displacement.batch_loss(TINY, p, batch, None)[0])(params)
    for s in range(TINY.stacks):
        assert float(jnp.abs(grads[f"head{s}"]["kernel"]).sum()) > 0, s


def test_zero_epe_is_the_zero_fields_epe():
    b = random_batch(0, 1)
    field, mask = jnp.asarray(b["field"][0]), jnp.asarray(b["mask"][0])
    zero = network.NetworkOutput(fields=jnp.zeros((2, S, S, 2)))
    _, m = displacement.example_loss(zero, field, mask)
    np.testing.assert_allclose(m["epe"], m["zero_epe"], rtol=1e-6)
    exact = network.NetworkOutput(fields=jnp.stack([field, field]))
    _, m = displacement.example_loss(exact, field, mask)
    assert float(m["epe"]) == 0.0 and float(m["zero_epe"]) > 1.0


def test_bfloat16_compute_float32_params():
    cfg = TINY.replace(compute_dtype="bfloat16")
    params = network.init_params(cfg, jax.random.PRNGKey(0))
    batch = {k: jnp.asarray(v) for k, v in random_batch(1, 2).items()}
    (loss, metrics), grads = jax.value_and_grad(
        lambda p: displacement.batch_loss(cfg, p, batch, None), has_aux=True
    )(params)
    assert loss.dtype == jnp.float32 and np.isfinite(float(loss))
    assert {g.dtype for g in jax.tree.leaves(grads)} == {jnp.dtype(jnp.float32)}
    _, m32 = displacement.batch_loss(TINY, params, batch, None)
    # same parameters, lower precision activations: close, not equal (bf16 has 8 bits)
    np.testing.assert_allclose(metrics["epe"], m32["epe"], rtol=0.05)


@pytest.mark.slow
def test_tiny_overfits_one_batch():
    batch = {k: jnp.asarray(v) for k, v in random_batch(3, 2).items()}
    task = Task(functools.partial(network.init_params, TINY),
                functools.partial(displacement.batch_loss, TINY), random_batch)  # fmt: skip
    config = TrainConfig(steps=300, lr=3e-3, warmup=10, schedule="constant", clip=0.0)
    opt = make_optimizer(config)
    step = jax.jit(functools.partial(train_step, task.loss, opt))
    state = init_state(task, opt, 0)
    first = None
    for _ in range(config.steps):
        state, metrics = step(state, batch)
        first = float(metrics["epe"]) if first is None else first
    _, last = task.loss(state.params, batch, None)
    assert float(last["epe"]) <= (1 - OVERFIT_DROP) * first, (first, float(last["epe"]))


# --------------------------------------------------------------------------- input pipeline
def test_records_are_seeded_per_record_and_process():
    make = functools.partial(toy.make_batch, size=3)
    one = input_pipeline.BatchRecords(make, seed=5, num_records=8)
    a, b = (input_pipeline.BatchRecords(make, 5, 4, p, 2) for p in (0, 1))
    # process p of 2 takes global records k*2 + p: the two shards interleave the 1-process stream
    np.testing.assert_array_equal(a[1]["x"], one[2]["x"])
    np.testing.assert_array_equal(b[1]["x"], one[3]["x"])
    assert not np.array_equal(one[0]["x"], one[1]["x"])
    with pytest.raises(IndexError):
        one[8]


@pytest.mark.slow
def test_worker_processes_give_the_in_process_stream_and_resume():
    records = input_pipeline.BatchRecords(functools.partial(toy.make_batch, size=3), 5, 10)
    ref = [b["x"].copy() for b in input_pipeline.make_dataset(records, workers=0)]
    it = iter(input_pipeline.make_dataset(records, workers=2))
    try:
        got = [next(it)["x"].copy() for _ in range(4)]
        state = it.get_state()
    finally:
        it.close()
    it = iter(input_pipeline.make_dataset(records, workers=2))
    try:
        it.set_state(state)
        got += [next(it)["x"].copy() for _ in range(6)]
    finally:
        it.close()
    for k, (x, y) in enumerate(zip(ref, got, strict=True)):
        np.testing.assert_array_equal(x, y, err_msg=f"record {k}")


# --------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip(tmp_path):
    task, config = toy.task(), TrainConfig(steps=5)
    opt = make_optimizer(config)
    state = jax.jit(functools.partial(train_step, task.loss, opt))(
        init_state(task, opt, 3), toy.make_batch(1, 4)
    )[0]
    records = input_pipeline.BatchRecords(functools.partial(toy.make_batch, size=2), 0, 10)
    it = iter(input_pipeline.make_dataset(records))
    for _ in range(3):
        next(it)
    mgr = checkpoint.manager(tmp_path / "ck")
    checkpoint.save(mgr, 1, state, it)
    mgr.wait_until_finished()
    fresh = init_state(task, opt, 99)
    it2 = iter(input_pipeline.make_dataset(records))
    restored = checkpoint.restore(checkpoint.manager(tmp_path / "ck"), fresh, it2)
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(restored), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    np.testing.assert_array_equal(next(it2)["x"], records[3]["x"])  # the position came back
    with pytest.raises(FileNotFoundError):
        checkpoint.restore(checkpoint.manager(tmp_path / "empty"), fresh, it2)


class Crash(RuntimeError):
    pass


def crashing_batch(seed: int, size: int, at: set) -> dict:
    if seed in at:
        raise Crash("simulated kill")
    return toy.make_batch(seed, size)


def test_resume_equals_uninterrupted(tmp_path):
    config = TrainConfig(steps=12, batch=4, lr=1e-2, warmup=2, ckpt_every=5, val_every=0,
                         log_every=1)  # fmt: skip
    full = train(toy.task(), config, tmp_path / "full")
    # the run dies while making batch 8 (after the checkpoint at step 5)
    doomed = {input_pipeline.batch_seed(config.seed, 7)}
    crash = dataclasses.replace(toy.task(), make_batch=functools.partial(crashing_batch, at=doomed))
    with pytest.raises(Crash):
        train(crash, config, tmp_path / "cut")
    with pytest.raises(FileExistsError):  # no silent restart over an existing run
        train(toy.task(), config, tmp_path / "cut")
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        train(toy.task(), config, tmp_path / "never", resume=True)
    assert not (tmp_path / "never").exists()
    resumed = train(toy.task(), config, tmp_path / "cut", resume=True)
    assert resumed["resumed_from"] == 5
    a, b = (checkpoint.manager(tmp_path / d / "checkpoints") for d in ("full", "cut"))
    assert a.latest_step() == b.latest_step() == 12
    pa, pb = (m.restore(12, args=_params_args())["params"] for m in (a, b))
    for x, y in zip(jax.tree.leaves(pa), jax.tree.leaves(pb), strict=True):
        np.testing.assert_allclose(x, y, rtol=RESUME_RTOL, atol=RESUME_ATOL)
    assert full["final"]["loss"] == pytest.approx(resumed["final"]["loss"], rel=RESUME_RTOL)
    with open(tmp_path / "cut" / "log.csv") as fh:  # the log continues, no duplicated steps
        steps = [int(r["step"]) for r in csv.DictReader(fh)]
    assert steps == list(range(1, 13))


def test_resume_refuses_changed_settings(tmp_path):
    """Resuming with a setting that changes the run's numbers (a TrainConfig field or the task's
    description, e.g. the pair generator's clothing probability) stops before any step and
    names it with the run's value; settings that do not change the numbers (workers, logging)
    and the weights a run started from may change."""
    config = TrainConfig(steps=4, batch=4, lr=1e-2, warmup=1, ckpt_every=2, val_every=0,
                         log_every=1)  # fmt: skip
    task = dataclasses.replace(toy.task(), describe={"pairs": {"p_clothing": 0.0}})
    train(task, config, tmp_path / "run")
    with pytest.raises(loop.ResumeMismatchError, match=r"config.lr 0.002 \(run: 0.01\)"):
        train(task, dataclasses.replace(config, lr=2e-3), tmp_path / "run", resume=True)
    clothed = dataclasses.replace(task, describe={"pairs": {"p_clothing": 0.5}})
    with pytest.raises(loop.ResumeMismatchError, match=r"task.pairs.p_clothing 0.5 \(run: 0.0\)"):
        train(clothed, config, tmp_path / "run", resume=True)
    warm = dataclasses.replace(task, describe={**task.describe, "init_from": "elsewhere"})
    done = train(warm, dataclasses.replace(config, workers=0, log_every=2), tmp_path / "run",
                 resume=True)  # fmt: skip
    assert done["resumed_from"] == 4


def test_resume_accepts_settings_added_since_the_run_began(tmp_path):
    """A run folder whose settings.json predates a setting (jaxrefine gained it later) resumes
    when the setting has the value that reproduces the run (Task.added_settings), and is
    refused with any other value."""
    config = TrainConfig(steps=4, batch=4, lr=1e-2, warmup=1, ckpt_every=2, val_every=0,
                         log_every=1)  # fmt: skip
    old = dataclasses.replace(toy.task(), describe={"pairs": {"p_clothing": 0.0}})
    train(old, config, tmp_path / "run")
    newer = dataclasses.replace(old, describe={"pairs": {"p_clothing": 0.0, "p_new": [0.1, 0.2]}},
                                added_settings={"pairs": {"p_new": (0.1, 0.2)}})  # fmt: skip
    bad = dataclasses.replace(newer, describe={"pairs": {"p_clothing": 0.0, "p_new": [0.3, 0.2]}})
    with pytest.raises(
        loop.ResumeMismatchError, match=r"task.pairs.p_new \[0.3, 0.2\] \(run: None\)"
    ):
        train(bad, config, tmp_path / "run", resume=True)
    unlisted = dataclasses.replace(newer, added_settings={})
    with pytest.raises(loop.ResumeMismatchError, match="task.pairs.p_new"):
        train(unlisted, config, tmp_path / "run", resume=True)
    assert train(newer, config, tmp_path / "run", resume=True)["resumed_from"] == 4


def test_the_network_task_lists_real_pair_settings_as_added():
    from jaxrefine.data.pairs import PairConfig
    from jaxrefine.train import displacement

    fields = dataclasses.asdict(PairConfig())
    assert displacement._ADDED_PAIR_SETTINGS  # the table the resume check reads
    for k, v in displacement._ADDED_PAIR_SETTINGS.items():
        assert k in fields and fields[k] == v, k


def _nan_gradient_loss(params, batch, key, consts):
    """The toy loss plus a term whose value is 0 and whose gradient is NaN on poisoned
    batches (the norm of a zero vector) and finite on the others."""
    value, metrics = toy.loss(params, batch, key)
    hit = batch["poisoned"][0]
    n = jnp.linalg.norm(params["b2"] - params["b2"] + (1.0 - hit))
    return value + (n - jax.lax.stop_gradient(n)), metrics


def poisoned_batch(seed: int, size: int, at: set) -> dict:
    return {**toy.make_batch(seed, size), "poisoned": np.full((size,), seed in at, np.float32)}


def test_non_finite_gradient_stops_the_run_before_the_next_checkpoint(tmp_path):
    config = TrainConfig(steps=12, batch=4, lr=1e-2, warmup=2, ckpt_every=2, val_every=0,
                         log_every=5)  # fmt: skip
    bad = {input_pipeline.batch_seed(config.seed, 2)}  # the batch of step 3
    task = dataclasses.replace(
        toy.task(), loss=_nan_gradient_loss, make_batch=functools.partial(poisoned_batch, at=bad)
    )
    with pytest.raises(FloatingPointError, match=r"step 4: non-finite .*newest kept: step 2"):
        train(task, config, tmp_path / "run")
    assert checkpoint.manager(tmp_path / "run" / "checkpoints").latest_step() == 2


def _shifted_loss(params, batch, key, consts):
    """The toy loss against targets shifted by the task's constant ``shift`` (2,)."""
    return toy.loss(params, {**batch, "y": batch["y"] + consts["shift"][None]}, key)


def test_task_consts_reach_the_step_as_arguments_not_constants(tmp_path):
    shift = np.float32([30.0, -20.0])
    task = dataclasses.replace(toy.task(), loss=_shifted_loss, consts={"shift": shift})
    config = TrainConfig(steps=3, batch=4, lr=1e-2, warmup=1, ckpt_every=0, val_every=0,
                         log_every=1)  # fmt: skip
    shifted = train(task, config, tmp_path / "shifted")
    zero = dataclasses.replace(task, consts={"shift": np.zeros(2, np.float32)})
    plain = train(zero, config, tmp_path / "plain")
    assert shifted["final"]["loss"] > 10 * plain["final"]["loss"]  # the loss saw the shift
    # lowered with consts, the shift is a parameter of the program; a closure makes it a literal
    opt, batch = make_optimizer(config), toy.make_batch(0, 4)
    state = init_state(task, opt, 0)
    step = functools.partial(train_step, task.loss, opt)
    text = jax.jit(step).lower(state, batch, task.consts).as_text()
    closed = jax.jit(lambda st, b: step(st, b, task.consts)).lower(state, batch).as_text()
    literal = "dense<[3.000000e+01, -2.000000e+01]>"
    assert literal in closed and literal not in text


def test_warm_start_begins_at_the_given_weights_and_refuses_another_config(tmp_path):
    params = network.init_params(TINY, jax.random.PRNGKey(7))
    path = network.save_params(tmp_path / "net.npz", TINY, params, {"step": 42})
    base = Task(init=functools.partial(network.init_params, TINY), loss=None,
                make_batch=None, describe={"a": 1})  # fmt: skip
    task = displacement.warm_start(base, displacement.load_start(TINY, path))
    start = task.init(jax.random.PRNGKey(0))  # any key: the loaded weights
    for x, y in zip(jax.tree.leaves(start), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert task.describe["init_from"]["step"] == 42 and task.describe["a"] == 1
    other = dataclasses.replace(TINY, stacks=TINY.stacks + 1)
    with pytest.raises(ValueError, match="stacks"):
        displacement.load_start(other, path)
    with pytest.raises(ValueError, match="shipped checkpoint: its network config differs"):
        displacement.load_start(TINY, None)  # the shipped one is `small`


def _params_args():
    import orbax.checkpoint as ocp

    return ocp.args.Composite(params=ocp.args.StandardRestore())


# --------------------------------------------------------------------------- end to end
def test_script_errors_are_one_line_before_any_work(tmp_path, open_model_file):
    flags = ["--config", "tiny", "--init-from", "shipped", "--out", str(tmp_path / "run")]
    cmd = [sys.executable, str(REPO / "scripts" / "train.py"), *flags]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]  # one line
    assert "shipped checkpoint: its network config differs" in res.stderr
    assert not (tmp_path / "run").exists()  # checked before the run folder and the data
    # a --model without the UV layout the pairs' textures need (SMPL's files have none)
    open_model_file(tmp_path / "bare.npz", uv=False)
    res = subprocess.run([*cmd[:-4], "--model", str(tmp_path / "bare.npz"), *flags[-2:]],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "has no UV layout" in res.stderr and "--uv" in res.stderr
    assert not (tmp_path / "run").exists()
    # --batch 0 (once taken as "the default"): refused before the run folder and the data
    res = subprocess.run([*cmd[:-4], "--batch", "0", *flags[-2:]], capture_output=True,
                         text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "jaxrefine train: error: train config: batch=0 (at least 1)"]  # fmt: skip
    assert not (tmp_path / "run").exists()
    # --resume of a folder without a run: refused before the data (it failed after them)
    res = subprocess.run([*cmd[:-4], "--resume", *flags[-2:]], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "jaxrefine train: error: --resume: no checkpoint to resume from in "
        f"{tmp_path / 'run' / 'checkpoints'}"]  # fmt: skip
    assert not (tmp_path / "run").exists()
    # a missing --poses: refused before the run folder (an empty one was left behind)
    res = subprocess.run([*cmd[:-6], "--poses", str(tmp_path / "gone.npz"), *flags[-2:]],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        f"jaxrefine train: error: pose file not found: {tmp_path / 'gone.npz'} (make it with "
        "`jaxrefine mocap`)"]  # fmt: skip
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("field, least, below", [
    ("steps", 1, 0), ("batch", 1, 0), ("lr", 0, -1e-3), ("warmup", 0, -1),
    ("final_lr_fraction", 0, -0.1), ("clip", 0, -1.0), ("workers", 0, -1),
    ("ckpt_every", 0, -1), ("val_every", 0, -1), ("log_every", 0, -1), ("keep", 1, 0),
])  # fmt: skip
def test_train_config_refuses_a_value_below_its_least(field, least, below):
    """A count or interval below its least, or a negative rate, is refused naming the field;
    the least itself is accepted (lr 0: a run that keeps its start's weights)."""
    with pytest.raises(ValueError, match=rf"train config: {field}={below} \(at least {least}\)"):
        TrainConfig(**{field: below})
    assert getattr(TrainConfig(**{field: least}), field) == least


@pytest.mark.slow
def test_script_end_to_end(tmp_path, open_model_file):
    poses = tmp_path / "poses.npz"
    rng = np.random.default_rng(0)
    subjects = np.array(["01", "02", "09", "16"] * 4)
    np.savez(poses, pose=(rng.normal(0, 0.2, (16, 24, 3))).astype(np.float32), subject=subjects,
             trial=np.char.add(subjects, "_01"))  # fmt: skip
    out = tmp_path / "run"
    model = tmp_path / "mine.npz"  # the open model under another name: --model reaches the run
    open_model_file(model, model_id="my-open-copy")
    flags = "--platform cpu --config tiny --steps 20 --workers 1 --val-frames 4 --ckpt-every 10"
    flags += " --val-every 10 --log-every 5"
    flags += " --schedule constant --clip 0.5 --confidence-weight 0.3 --subjects 3"  # recorded
    flags += " --precision bfloat16"  # activations in bfloat16; parameters stay float32
    cmd = [sys.executable, str(REPO / "scripts" / "train.py"), *flags.split()]
    cmd += ["--out", str(out), "--poses", str(poses), "--model", str(model)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "val_zero_epe" in res.stdout
    for name in ("log.csv", "curves.png", "run.json", "config.json", "validation.npz"):
        assert (out / name).is_file(), name
    assert list((out / "tb").glob("events.out.tfevents.*"))
    assert sorted(p.name for p in (out / "checkpoints").iterdir() if p.name.isdigit()) == [
        "10", "20"
    ]  # fmt: skip
    run = json.loads((out / "run.json").read_text())
    assert run["steps"] == 20 and run["task"]["train_subjects"] == ["01", "02"]
    assert run["task"]["model_id"] == "my-open-copy"
    assert (run["config"]["schedule"], run["config"]["clip"]) == ("constant", 0.5)
    assert run["task"]["confidence_weight"] == 0.3 and run["task"]["pairs"]["num_subjects"] == 3
    assert run["task"]["network"]["compute_dtype"] == "bfloat16"
    assert {"epe", "zero_epe", "val_epe", "val_zero_epe"} <= set(run["final"])
    assert run["machine"]["jax"] == jax.__version__
    cfg, params, meta = network.load_pretrained(out)  # the run folder loads as a trained model
    assert cfg == TINY.replace(compute_dtype="bfloat16") and network.count_params(params) > 0
    assert network.trained_body_model(meta) == "my-open-copy"  # refine compares it to its model
    shipped = export_run(out, tmp_path / "net.npz", command="the command")  # as shipped
    cfg2, params2, meta = network.load_pretrained(shipped)
    assert cfg2 == cfg and meta["step"] == 20 and meta["command"] == "the command"
    assert meta["training_subjects"] == ["01", "02"] and meta["init_from"] is None
    assert meta["body_model"] == "my-open-copy"
    assert meta["val_epe"] > 0 and meta["val_zero_epe"] > 0
    script = [sys.executable, str(REPO / "scripts" / "export_network.py"), "--run", str(out)]
    done = subprocess.run([*script, "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and f"{tmp_path} is a folder, not a file" in done.stderr


def test_lgd_script_errors_are_one_line(tmp_path):
    cmd = [sys.executable, str(REPO / "scripts" / "train_lgd.py"), "--kind", "dense", "--poses",
           str(tmp_path / "missing.npz"), "--out", str(tmp_path / "run")]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        f"jaxrefine train-lgd: error: pose file not found: {tmp_path / 'missing.npz'} "
        "(make it with `jaxrefine mocap`)"
    ]
    assert not (tmp_path / "run").exists()  # nothing made
    # a --model that is not there: named, before the run folder is made
    res = subprocess.run([*cmd, "--model", str(tmp_path / "SMPL_NEUTRAL.pkl")],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        f"jaxrefine train-lgd: error: body model file not found: {tmp_path / 'SMPL_NEUTRAL.pkl'}"
    ]
    assert not (tmp_path / "run").exists()
    res = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600,
                         cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "jaxrefine train-lgd: error: --resume: no checkpoint to resume from in "
        f"{tmp_path / 'run' / 'checkpoints'}"]  # fmt: skip


def test_lgd_script_flags_reach_its_configs():
    """Every flag of ``scripts/train_lgd.py`` that shapes the learned optimizer or its training
    loop lands in the field of ``LGDConfig`` / ``TrainConfig`` named for it (a value unlike
    the default each)."""
    from jaxrefine.train import lgd
    from jaxrefine.train.loop import TrainConfig

    flags = ("--kind dense --lgd-steps 3 --hidden 32 --blocks 1 --image-size 128 --camera-stage "
             "--point-loss root_vertices --root-weight 5 --dense-shrink 0.3 0.6 "
             "--dense-part-noise 4 --start-scale 0.5 0.9 --steps 7 --batch 6 --lr 0.002 "
             "--warmup 3 --clip 0.5 --seed 4 --workers 2 --ckpt-every 5 --val-every 6 "
             "--log-every 2")  # fmt: skip
    config, tc = lgd._configs(lgd.parser().parse_args(flags.split()))
    assert config == lgd.LGDConfig(
        kind="dense", num_steps=3, hidden=32, num_blocks=1, image_size=(128, 128),
        camera_stage=True, point_loss="root_vertices", root_weight=5.0,
        dense_shrink=(0.3, 0.6), dense_part_noise_px=4.0, start_scale=(0.5, 0.9),
    )  # fmt: skip
    assert tc == TrainConfig(steps=7, batch=6, lr=0.002, warmup=3, clip=0.5, seed=4, workers=2,
                             ckpt_every=5, val_every=6, log_every=2)  # fmt: skip
    default, _ = lgd._configs(lgd.parser().parse_args([]))
    assert default == lgd.LGDConfig()  # the flags' defaults are the config's
    refused = (
        ("--lgd-steps 0", "num_steps=0 (at least 1)"),
        ("--hidden 0", "hidden=0 (at least 1)"),
        ("--image-size 0", "image_size=(0, 0) (at least 1 each)"),
        ("--blocks -1", "num_blocks=-1 (at least 0)"),
        ("--root-weight -1", "root_weight=-1.0 (at least 0)"),
        ("--dense-part-noise -2", "dense_part_noise_px=-2.0 (at least 0)"),
    )
    for bad, said in refused:
        with pytest.raises(ValueError, match=re.escape(f"LGD config: {said}")):
            lgd._configs(lgd.parser().parse_args(bad.split()))


def test_mocap_poses_are_retargeted_to_the_model_trained_for(tmp_path, monkeypatch):
    """``--mocap`` without ``--poses``: converted once into OUT/poses.npz for the given body
    model (train_lgd's --model), then reused; ``--poses`` is taken as it is."""
    import argparse

    from jaxrefine.data import mocap
    from jaxrefine.train.run import resolve_poses

    calls = []

    def convert(src, out, model=None):
        calls.append((Path(src), Path(out), model))
        Path(out).write_bytes(b"poses")

    monkeypatch.setattr(mocap, "convert_folder", convert)
    args = argparse.Namespace(poses=None, out=tmp_path / "run", mocap=tmp_path)
    mine = object()
    assert resolve_poses(args, mine) == tmp_path / "run" / "poses.npz"
    assert calls == [(tmp_path, tmp_path / "run" / "poses.npz", mine)]
    assert resolve_poses(args, mine) == tmp_path / "run" / "poses.npz" and len(calls) == 1
    given = argparse.Namespace(poses=tmp_path / "p.npz", out=tmp_path, mocap=None)
    assert resolve_poses(given, mine) == tmp_path / "p.npz" and len(calls) == 1
