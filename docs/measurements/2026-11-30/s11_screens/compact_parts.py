"""The pieces of compact_dense at (32, 13348) (the open model's vertex count), K = 4352: the old
numpy path (stable argsort, take_along_axis) vs flatnonzero ids and the on-device gather."""
import time

import jax
import jax.numpy as jnp
import numpy as np

rng = np.random.default_rng(0)
vis = rng.uniform(size=(32, 13348)) < 0.3
t = rng.normal(size=(32, 13348, 2)).astype(np.float32)
w = vis.astype(np.float32)
k = 4352


def tm(f, n=30):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        ts.append(time.perf_counter() - t0)
    return np.median(ts) * 1e3


def flat_ids():
    out = np.empty((32, k), np.int32)
    for i, row in enumerate(vis):
        on = np.flatnonzero(row)[:k]
        out[i, : len(on)] = on
        out[i, len(on):] = np.flatnonzero(~row)[: k - len(on)]
    return out


ids = np.argsort(~vis, axis=1, kind="stable")[:, :k].astype(np.int32)
assert (ids == flat_ids()).all()
tj, wj, ij = jnp.asarray(t), jnp.asarray(w), jnp.asarray(ids)
g = jax.jit(lambda t, w, i: (jnp.take_along_axis(t, i[..., None], 1), jnp.take_along_axis(w, i, 1)))
print(f"argsort ids        {tm(lambda: np.argsort(~vis, axis=1, kind='stable')[:, :k]):.2f} ms")
print(f"flatnonzero ids    {tm(flat_ids):.2f} ms")
print(f"numpy gather t + w {tm(lambda: (np.take_along_axis(t, ids[..., None], 1), np.take_along_axis(w, ids, 1))):.2f} ms")
print(f"device gather      {tm(lambda: g(tj, wj, ij)):.2f} ms")
