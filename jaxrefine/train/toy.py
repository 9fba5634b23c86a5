"""A toy task (noisy linear regression) that exercises the training loop in tests and smoke
runs without the renderer: ``y = x @ W + noise`` with a fixed ``W``; the model is a 2-layer
MLP so that a few hundred steps show real learning."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.train.loop import Task

IN, HIDDEN, OUT = 4, 16, 2


def _true_weights() -> np.ndarray:
    return np.random.default_rng(1234).normal(size=(IN, OUT)).astype(np.float32)


def make_batch(seed: int, size: int) -> dict[str, np.ndarray]:
    """``x`` (size, 4) and ``y`` (size, 2) float32 from ``seed`` alone."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size, IN)).astype(np.float32)
    y = x @ _true_weights() + 0.01 * rng.normal(size=(size, OUT)).astype(np.float32)
    return {"x": x, "y": y}


def init(key: jax.Array) -> dict:
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (IN, HIDDEN)) / np.sqrt(IN),
        "b1": jnp.zeros(HIDDEN),
        "w2": jax.random.normal(k2, (HIDDEN, OUT)) / np.sqrt(HIDDEN),
        "b2": jnp.zeros(OUT),
    }


def predict(params: dict, x: jax.Array) -> jax.Array:
    """One example: (4,) -> (2,)."""
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]


def loss(params: dict, batch: dict, key: jax.Array, consts=None) -> tuple[jax.Array, dict]:
    """Mean squared error over the batch; metric ``epe``: mean Euclidean error."""
    del key, consts
    err = jax.vmap(functools.partial(predict, params))(batch["x"]) - batch["y"]
    return jnp.mean(jnp.sum(err**2, -1)), {"epe": jnp.mean(jnp.linalg.norm(err, axis=-1))}


def validate(params: dict) -> dict[str, float]:
    """Error on a fixed batch of 64 (seed 999)."""
    batch = make_batch(999, 64)
    _, metrics = jax.jit(loss)(params, batch, jax.random.PRNGKey(0))
    return {k: float(v) for k, v in metrics.items()}


def task() -> Task:
    return Task(init, loss, make_batch, validate, describe={"task": "toy regression"})
