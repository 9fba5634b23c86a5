"""Batched fits sharded over several devices give the one-device results.

Runs in a subprocess: the number of host devices is fixed when JAX starts, and the test session
has one. The child exposes two CPU devices, as the command line does on a 2-core machine.

The child computes in float64. In float32 the per-device batch shape (3 frames instead of 6)
changes how XLA vectorizes the same per-frame arithmetic, so the last bits differ, and 80 steps
on a Rosenbrock valley amplify that: measured 2026-12-05, jaxlib 0.10.2 gave identical float32
results, jaxlib 0.12.0.1 (Python 3.12) differences up to 3e-5 relative in float32 and 2e-14 in
float64. Sharding bugs (frames swapped, lost or fitted twice) change the results by more than
1e-2 (neighbouring frames' targets are 0.06 apart), so float64 with a tight tolerance tests the
sharding and not XLA's rounding.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# float64 results of the sharded and the one-device fit: measured <= 2e-14 relative apart
# (rounding); a sharding bug moves them by >= 1e-2
SHARD_RTOL = 1e-9
# the final losses are ~1e-7 (near the optimum), compared absolutely below that: measured 9e-18
SHARD_LOSS_ATOL = 1e-15

CHILD = f"SHARD_RTOL, SHARD_LOSS_ATOL = {SHARD_RTOL!r}, {SHARD_LOSS_ATOL!r}\n" + textwrap.dedent(
    """
    import numpy as np, jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    from jaxrefine.fit import Stage, fit_stages_batch
    from jaxrefine.optimizers import Objective, adam, lbfgs
    assert len(jax.devices()) == 2, jax.devices()

    def loss(p, d):  # a batch of shifted Rosenbrock-like problems
        x, y = p["x"], p["y"]
        return jnp.sum((d["a"] - x) ** 2 + 10.0 * (y - x**2) ** 2)

    obj = Objective.from_loss(loss)
    B = 6
    init = {"x": jnp.zeros((B, 3), jnp.float64), "y": jnp.ones((B, 3), jnp.float64)}
    data = {"a": jnp.linspace(0.5, 1.5, B * 3, dtype=jnp.float64).reshape(B, 3)}
    stages = [Stage(obj, adam(0.05), 60, {"x"}), Stage(obj, lbfgs(), 20)]
    two = fit_stages_batch(stages, init, data)
    one = fit_stages_batch(stages, init, data, devices=jax.devices()[:1])
    assert len(two[-1].params["x"].sharding.device_set) == 1  # results come back unsharded
    # ... so a host callback downstream (the rasterizer's) runs on them without a deadlock
    cb = jax.jit(lambda x: jax.pure_callback(
        lambda a: np.asarray(a) * 2, jax.ShapeDtypeStruct(x.shape, x.dtype), x,
        vmap_method="expand_dims"))
    np.testing.assert_allclose(cb(two[-1].params["x"]), 2 * two[-1].params["x"])
    assert two[-1].params["x"].dtype == jnp.float64
    for k in ("x", "y"):
        np.testing.assert_allclose(two[-1].params[k], one[-1].params[k], rtol=SHARD_RTOL)
    np.testing.assert_allclose(two[-1].final_loss, one[-1].final_loss, rtol=SHARD_RTOL,
                               atol=SHARD_LOSS_ATOL)
    print("OK")
    """
)


def test_sharded_batch_equals_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]
