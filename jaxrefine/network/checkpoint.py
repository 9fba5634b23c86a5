"""Network checkpoints: an exported single-file format for shipping, and training runs.

Exported format (``save_params`` / ``load_params``): ``NAME.npz`` holds the float32 parameters
flattened to '/'-joined paths (``hourglass0/up/conv1/kernel``); ``NAME.json`` beside it holds
``{"format": "jaxrefine.network/1", "config": {...}, "meta": {...}}``. Loading validates the
parameters against the config (every key present, no extra key, shapes, finite values) and
names the file in every error. ``meta`` is how it was made (``jaxrefine.train.export``); its
``body_model`` names the body model whose renderings trained it (:func:`trained_body_model`).

A training run directory (``DIR/checkpoints/`` written by orbax's ``CheckpointManager`` with a
``params`` item, and ``DIR/config.json`` holding the network config) loads with
:func:`load_pretrained` too; its meta is the run folder, the step and the body model of the
run's ``run.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

from jaxrefine.body_model import OPEN_MODEL_ID, recorded_model_id
from jaxrefine.extras import require
from jaxrefine.files import atomic_savez, atomic_write
from jaxrefine.network.config import NetworkConfig
from jaxrefine.network.model import flatten_params, param_shapes, unflatten_params

FORMAT = "jaxrefine.network/1"
ASSETS = Path(__file__).resolve().parent.parent / "assets"
SHIPPED_PATH = ASSETS / "displacement_small.npz"


class CheckpointError(ValueError):
    """A checkpoint file does not hold what its config says."""


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def save_params(path, cfg: NetworkConfig, params, meta: dict | None = None) -> Path:
    """Write ``params`` of ``cfg`` to ``path`` (.npz) and its config + ``meta`` to the .json
    beside it (both written atomically). Returns the .npz path."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"{path}: an exported network checkpoint must end in .npz")
    _validate(path, cfg, flatten_params(params))
    flat = {k: np.asarray(v, np.float32) for k, v in flatten_params(params).items()}
    header = {"format": FORMAT, "config": cfg.to_dict(), "meta": dict(meta or {})}
    atomic_savez(path, flat, compressed=True)
    text = json.dumps(header, indent=2, default=str).encode()
    atomic_write(_sidecar(path), lambda fh: fh.write(text))
    return path


def load_params(path) -> tuple[NetworkConfig, dict, dict]:
    """Read an exported checkpoint: ``(cfg, params, meta)``; params as float32 jnp arrays."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such network checkpoint (.npz)")
    if path.suffix != ".npz":  # as save_params writes them; its sidecar may be another file
        raise CheckpointError(f"{path}: not a network checkpoint (an exported .npz with its "
                              ".json beside it, or a training run folder)")  # fmt: skip
    side = _sidecar(path)
    if not side.is_file():
        raise CheckpointError(f"{path}: its config file {side.name} is missing beside it")
    try:
        header = json.loads(side.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{side}: not valid JSON ({exc})") from None
    if header.get("format") != FORMAT or "config" not in header:
        raise CheckpointError(
            f"{side}: expected format {FORMAT!r} with a 'config', got format "
            f"{header.get('format')!r}"
        )
    cfg = NetworkConfig.from_dict(header["config"], source=str(side))
    try:
        with np.load(path, allow_pickle=False) as z:
            flat = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read the parameters ({exc})") from None
    _validate(path, cfg, flat)
    params = jax.tree_util.tree_map(jax.numpy.asarray, unflatten_params(flat))
    return cfg, params, header.get("meta", {})


def _validate(path, cfg: NetworkConfig, flat: dict) -> None:
    """Raise a CheckpointError naming ``path`` unless ``flat`` matches ``cfg``'s parameters."""
    expected = {k: v.shape for k, v in flatten_params(param_shapes(cfg)).items()}
    missing = sorted(set(expected) - set(flat))
    extra = sorted(set(flat) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"{path}: parameters do not match config {cfg.name!r}: "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected "
            f"(e.g. {extra[:3]})"
        )
    for k, shape in expected.items():
        v = np.asarray(flat[k])
        if v.shape != shape:
            raise CheckpointError(f"{path}: {k} has shape {v.shape}, config expects {shape}")
        if not np.all(np.isfinite(v)):
            raise CheckpointError(f"{path}: {k} holds NaN or infinite values")


def load_run(run_dir) -> tuple[NetworkConfig, dict, dict]:
    """The latest ``params`` of a training run directory (orbax ``DIR/checkpoints/``) with the
    network config from ``DIR/config.json`` (the whole file, or its ``"network"`` entry)."""
    run_dir = Path(run_dir).resolve()
    ocp = require("orbax.checkpoint", "train", f"{run_dir}: reading a training run folder")
    ckdir, cfg_file = run_dir / "checkpoints", run_dir / "config.json"
    if not ckdir.is_dir() or not cfg_file.is_file():
        raise FileNotFoundError(
            f"{run_dir}: not a training run directory (expected checkpoints/ and config.json)"
        )
    header = json.loads(cfg_file.read_text())
    cfg = NetworkConfig.from_dict(header.get("network", header), source=str(cfg_file))
    mgr = ocp.CheckpointManager(ckdir)
    step = mgr.latest_step()
    if step is None:
        raise FileNotFoundError(f"{ckdir}: no checkpoint step in it")
    target = param_shapes(cfg)
    restored = mgr.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore(target)))
    params = restored["params"]
    _validate(ckdir / str(step), cfg, flatten_params(params))
    run_file = run_dir / "run.json"  # its task names the body model (if begun after --model)
    task = (json.loads(run_file.read_text()).get("task") or {}) if run_file.is_file() else {}
    meta = {"run_dir": str(run_dir), "step": int(step)}
    return cfg, params, {**meta, "body_model": task.get("model_id", OPEN_MODEL_ID)}


def trained_body_model(meta: dict) -> str:
    """The id of the body model whose renderings trained a network, from its ``meta`` (as
    :func:`load_pretrained` returns it; :func:`jaxrefine.body_model.recorded_model_id`):
    checkpoints that name none were all trained on the open model (``scripts/train.py
    --model`` did not exist before)."""
    return recorded_model_id(meta)


def load_pretrained(path=None) -> tuple[NetworkConfig, dict, dict]:
    """Load network weights: ``(cfg, params, meta)``.

    Args:
      path: None -> the checkpoint shipped with jaxrefine (``assets/displacement_small.npz``);
        an exported ``.npz`` (with its ``.json``); or a training run directory.
    """
    if path is None:
        if not SHIPPED_PATH.is_file():
            raise FileNotFoundError(
                f"no shipped network checkpoint ({SHIPPED_PATH} is absent in this install). "
                "Train one with `python scripts/train.py --config small --out DIR` and load it "
                "with load_pretrained(DIR), or pass an exported .npz"
            )
        return load_params(SHIPPED_PATH)
    path = Path(path)
    if path.is_dir():
        return load_run(path)
    return load_params(path)
