"""Batched fits sharded over several devices give the one-device results.

Runs in a subprocess: the number of host devices is fixed when JAX starts, and the test session
has one. The child exposes two CPU devices, as the command line does on a 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import numpy as np, jax, jax.numpy as jnp
    from jaxrefine.fit import Stage, fit_stages_batch
    from jaxrefine.optimizers import Objective, adam, lbfgs
    assert len(jax.devices()) == 2, jax.devices()

    def loss(p, d):  # a batch of shifted Rosenbrock-like problems
        x, y = p["x"], p["y"]
        return jnp.sum((d["a"] - x) ** 2 + 10.0 * (y - x**2) ** 2)

    obj = Objective.from_loss(loss)
    B = 6
    init = {"x": jnp.zeros((B, 3)), "y": jnp.ones((B, 3))}
    data = {"a": jnp.linspace(0.5, 1.5, B * 3).reshape(B, 3)}
    stages = [Stage(obj, adam(0.05), 60, {"x"}), Stage(obj, lbfgs(), 20)]
    two = fit_stages_batch(stages, init, data)
    one = fit_stages_batch(stages, init, data, devices=jax.devices()[:1])
    assert len(two[-1].params["x"].sharding.device_set) == 1  # results come back unsharded
    # ... so a host callback downstream (the rasterizer's) runs on them without a deadlock
    cb = jax.jit(lambda x: jax.pure_callback(
        lambda a: np.asarray(a) * 2, jax.ShapeDtypeStruct(x.shape, x.dtype), x,
        vmap_method="expand_dims"))
    np.testing.assert_allclose(cb(two[-1].params["x"]), 2 * two[-1].params["x"])
    np.testing.assert_allclose(two[-1].params["x"], one[-1].params["x"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(two[-1].final_loss, one[-1].final_loss, rtol=1e-5, atol=1e-7)
    print("OK")
    """
)


def test_sharded_batch_equals_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]
