"""Export a training run's newest checkpoint as the shipped single-file network, with the JSON
the model card needs: how it was made and how good it is.

    python scripts/export_network.py --run RUN_DIR --out jaxrefine/assets/displacement_small.npz
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from jaxrefine.network.checkpoint import load_run, save_params


def _last_rows(log_csv: Path) -> tuple[dict, dict]:
    """(last training row, last row with validation columns) of ``log.csv``."""
    with open(log_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{log_csv}: no logged step")
    val = [r for r in rows if r.get("val_epe")]
    return rows[-1], (val[-1] if val else {})


def _mean_last(log_csv: Path, key: str, k: int = 20) -> float | None:
    """Mean of the last ``k`` logged values of ``key`` (training metrics are noisy per batch)."""
    with open(log_csv, newline="") as fh:
        vals = [float(r[key]) for r in csv.DictReader(fh) if r.get(key)]
    return float(np.mean(vals[-k:])) if vals else None


def export_run(run_dir, out, *, command: str, machine: str | None = None) -> Path:
    """Write the run's newest parameters to ``out`` (.npz + .json) with the run's record."""
    run_dir = Path(run_dir)
    cfg, params, info = load_run(run_dir)
    last, val = _last_rows(run_dir / "log.csv")
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    task = run.get("task") or {}
    meta = {
        "command": command,
        "run_dir_command": run.get("command"),
        "step": info["step"],
        "steps": info["step"],
        "wall_s": float(last["wall_s"]),
        "seed": run.get("seed", run.get("config", {}).get("seed")),
        "training_subjects": run.get("training_subjects", task.get("train_subjects")),
        "validation_subjects": run.get(
            "validation_subjects", task.get("validation_subjects", ["09", "16"])
        ),
        "init_from": task.get("init_from"),  # a fine-tuned run: the weights it started from
        "body_model": info["body_model"],  # the pairs' (load_run reads it from run.json)
        "machine": machine or run.get("machine"),
        "train_epe_last20": _mean_last(run_dir / "log.csv", "epe"),
        "train_zero_epe_last20": _mean_last(run_dir / "log.csv", "zero_epe"),
        "val_step": int(val["step"]) if val else None,
        "val_epe": float(val["val_epe"]) if val else None,
        "val_zero_epe": float(val["val_zero_epe"]) if val and val.get("val_zero_epe") else None,
    }
    return save_params(out, cfg, params, meta)
