"""Data-parallel training on two devices equals one device; a two-process ``jax.distributed``
run on CPU finishes with the same parameters on both processes.

Both run in subprocesses: the device count and the distributed runtime are fixed when JAX
starts, and the test session has one CPU device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from jaxrefine.testing import launch_local_processes

# Two devices compute the same per-example losses, but the batch mean and the gradient are then
# sums of two partial sums (one per device) instead of one: float32 rounding differs in the last
# bits. Adam divides by sqrt(v), so a parameter with a near-zero gradient still moves by ~lr per
# step and a rounding difference can shift such a step slightly: measured 2e-6 after 6 steps at
# lr 3e-3. The tolerance, 1e-4 absolute (3 % of one step), stays far below what a real error
# (batch statistics, a per-device loss) gives: whole steps, 1e-3 and more.
DP_RTOL, DP_ATOL = 1e-4, 1e-4

TWO_DEVICES = textwrap.dedent(
    """
    import functools, sys, numpy as np, jax
    sys.path.insert(0, "tests")
    from test_train import random_batch
    from jaxrefine import network
    from jaxrefine.train import displacement, distributed
    from jaxrefine.train.loop import Task, TrainConfig, train
    assert len(jax.devices()) == 2, jax.devices()
    cfg = network.get_config("tiny")
    task = Task(functools.partial(network.init_params, cfg),
                functools.partial(displacement.batch_loss, cfg), random_batch)
    config = TrainConfig(steps=6, batch=4, lr=3e-3, warmup=1, ckpt_every=0, val_every=0,
                         log_every=1)
    out = sys.argv[1]
    runs = {n: train(task, config, f"{out}/{n}", mesh=distributed.make_mesh(jax.devices()[:n]))
            for n in (1, 2)}
    import orbax.checkpoint as ocp
    from jaxrefine.train import checkpoint
    p = {n: checkpoint.manager(f"{out}/{n}/checkpoints").restore(
            6, args=ocp.args.Composite(params=ocp.args.StandardRestore()))["params"]
         for n in (1, 2)}
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(jax.tree.leaves(p[1]), jax.tree.leaves(p[2])))
    for a, b in zip(jax.tree.leaves(p[1]), jax.tree.leaves(p[2])):
        np.testing.assert_allclose(a, b, rtol=%(rtol)g, atol=%(atol)g)
    np.testing.assert_allclose(runs[1]["final"]["loss"], runs[2]["final"]["loss"], rtol=1e-5)
    print("OK max abs diff", diff)
    """
) % {"rtol": DP_RTOL, "atol": DP_ATOL}

PROCESS = textwrap.dedent(
    """
    import json, sys, numpy as np, jax
    coordinator, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    from jaxrefine.train import distributed, toy
    from jaxrefine.train.loop import TrainConfig, train
    distributed.initialize(coordinator, 2, pid)
    assert jax.process_count() == 2 and len(jax.devices()) == 2
    config = TrainConfig(steps=4, batch=4, lr=1e-2, warmup=1, ckpt_every=2, val_every=0,
                         log_every=1)
    summary = train(toy.task(), config, out)
    from jaxrefine.train import checkpoint
    import orbax.checkpoint as ocp
    params = checkpoint.manager(out + "/checkpoints").restore(
        4, args=ocp.args.Composite(params=ocp.args.StandardRestore()))["params"]
    print("RESULT", json.dumps({k: np.asarray(v).ravel().tolist() for k, v in params.items()}))
    jax.distributed.shutdown()
    """
)


def _env(**extra):
    return dict(os.environ, JAX_PLATFORMS="cpu", **extra)


@pytest.mark.slow
def test_two_devices_equal_one(tmp_path):
    env = _env(XLA_FLAGS="--xla_force_host_platform_device_count=2")
    res = subprocess.run([sys.executable, "-c", TWO_DEVICES, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=600, cwd=os.getcwd())  # fmt: skip
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]


@pytest.mark.slow
def test_two_process_distributed_run(tmp_path):
    outs = launch_local_processes(PROCESS, tmp_path)
    results = [json.loads(o.split("RESULT ", 1)[1]) for o in outs]
    assert results[0] == results[1]  # both processes hold the same replicated parameters
    assert (tmp_path / "run.json").is_file() and (tmp_path / "log.csv").is_file()
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["machine"]["process_count"] == 2
