"""The displacement network: configs, the Flax model, the crop convention, checkpoints.

from jaxrefine import network
cfg = network.get_config("small")
params = network.init_params(cfg, jax.random.key(0))
out = network.apply(cfg, params, image, renders)  # out.fields (stacks, S, S, 2), crop px
"""

from jaxrefine.network import crop
from jaxrefine.network.checkpoint import (
    load_params,
    load_pretrained,
    save_params,
    trained_body_model,
)
from jaxrefine.network.config import CONFIGS, NetworkConfig, get_config, receptive_field
from jaxrefine.network.model import (
    NetworkOutput,
    apply,
    apply_batch,
    count_params,
    flatten_params,
    init_params,
    param_shapes,
    unflatten_params,
)

__all__ = [
    "CONFIGS",
    "NetworkConfig",
    "NetworkOutput",
    "apply",
    "apply_batch",
    "count_params",
    "crop",
    "flatten_params",
    "get_config",
    "init_params",
    "load_params",
    "load_pretrained",
    "param_shapes",
    "receptive_field",
    "save_params",
    "trained_body_model",
    "unflatten_params",
]
