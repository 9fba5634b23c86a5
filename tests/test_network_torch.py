"""The PyTorch twin of the displacement network (the benchmark's reference) computes the same
function as the Flax network given the same weights."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxrefine import network

torch = pytest.importorskip("torch", reason="torch is not installed (pip install '.[ref]')")

from jaxrefine.bench.hourglass_torch import count_params, load_from_jax  # noqa: E402

# float32, ~40 layers with GroupNorm: convolution algorithms and summation orders differ
# between XLA and PyTorch (measured max 1.0e-4 on small with outputs of magnitude ~1).
PARITY_ATOL = 1e-3


def _random_params(cfg, seed=1):
    """Initial parameters plus noise (the zero-initialised heads would hide everything)."""
    p = jax.jit(network.init_params, static_argnums=0)(cfg, jax.random.key(seed))
    leaves, tree = jax.tree_util.tree_flatten(p)
    rng = np.random.default_rng(seed)
    leaves = [np.asarray(x) + 0.05 * rng.normal(size=x.shape).astype(np.float32) for x in leaves]
    return jax.tree_util.tree_unflatten(tree, leaves)


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("tiny", {}),
        ("tiny", {"confidence": True, "internal_stride": 2, "crop_size": 64}),
        ("small", {}),
    ],
)
def test_torch_twin_matches_the_flax_network(name, overrides):
    torch.set_num_threads(1)
    cfg = network.get_config(name, **overrides)
    params = _random_params(cfg)
    batch = 1 if name == "small" else 2
    rng = np.random.default_rng(0)
    S = cfg.crop_size
    images = rng.uniform(size=(batch, S, S, 3)).astype(np.float32)
    renders = rng.uniform(size=(batch, S, S, cfg.render_channels)).astype(np.float32)
    out = jax.jit(network.apply_batch, static_argnums=0)(cfg, params, images, renders)
    net = load_from_jax(cfg, params)
    assert count_params(net) == network.count_params(params)
    with torch.no_grad():
        fields, log_scale = net(torch.from_numpy(images), torch.from_numpy(renders))
    assert np.abs(np.asarray(out.fields)).max() > 0.1  # not a comparison of zeros
    np.testing.assert_allclose(fields.numpy(), out.fields, atol=PARITY_ATOL)
    if cfg.confidence:
        np.testing.assert_allclose(log_scale.numpy(), out.log_scale, atol=PARITY_ATOL)
    else:
        assert log_scale is None and out.log_scale is None
