"""A refine run's saved chunks (``OUT/parts/part_<k>.npz``) and what makes one reusable.

Each part holds its chunk's results plus what produced them: ``settings`` (a JSON string: the
refinement options, the body model, the network's config name and a hash of its weights, a
hash of the GMM pose prior's arrays) and ``inputs`` (a SHA-256 over the chunk's estimates,
intrinsics, track ids, image names, keypoints and masks; image pixels are not hashed, their
names are). ``--resume`` reuses a part
only when both match the run's: a part made with other settings or inputs is refused by
name, with the settings that differ, so a resumed run never mixes two configurations
silently. A missing, damaged or older-format part is simply refitted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import jax
import numpy as np

from jaxrefine.inputs import InputError
from jaxrefine.refine import pose_prior

PART_FORMAT = "jaxrefine-refine-part-v3"  # v3: the pose prior's file and hash


def part_path(out: Path, k: int) -> Path:
    return Path(out) / "parts" / f"part_{k:05d}.npz"


def run_settings(model, network, options) -> str:
    """JSON of what, besides the inputs, decides a chunk's results."""
    prior = pose_prior(options)
    return json.dumps(
        {
            "options": {k: str(v) for k, v in dataclasses.asdict(options).items()},
            "model": [model.model_id, model.gender, int(model.num_betas)],
            "network": [network[0].name, _digest(network[1])],
            "pose_prior": None if prior is None else _digest(prior),
        },
        sort_keys=True,
    )


def _digest(tree) -> str:
    """A short SHA-256 of a pytree's arrays (network weights, a pose prior)."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def chunk_inputs(est, names, keypoints, masks, idx: np.ndarray) -> str:
    """SHA-256 of chunk ``idx``'s inputs (``names``: its estimates' image names)."""
    h = hashlib.sha256()
    for a in (est.global_orient, est.body_pose, est.betas, est.transl, est.intrinsics,
              est.track_id):  # fmt: skip
        h.update(np.ascontiguousarray(np.asarray(a)[idx]).tobytes())
    h.update("\n".join(names).encode())
    if keypoints is not None:
        h.update(np.ascontiguousarray(np.asarray(keypoints)[idx]).tobytes())
    for i in idx if masks is not None else ():
        h.update(np.packbits(np.asarray(masks[i], bool)).tobytes())
    return h.hexdigest()


def load_part(path: Path, idx: np.ndarray, settings: str, inputs: str) -> dict | None:
    """The finished chunk at ``path``; None when it is missing, damaged or of an older format
    (refit it); :class:`InputError` when it was made with other settings or inputs."""
    try:
        with np.load(path, allow_pickle=False) as z:
            part = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None
    if str(part.get("format")) != PART_FORMAT:
        return None
    differ = _differences(json.loads(str(part["settings"])), json.loads(settings))
    if differ:
        raise InputError(
            f"{path}: made with other settings ({', '.join(differ)}); --resume continues a run "
            "with the same ones: give them again, or write to a new --out"
        )
    if not np.array_equal(part["index"], idx):
        raise InputError(
            f"{path}: holds other estimates than this run's chunk (another --chunk, or a run "
            "before chunks kept tracks whole); --resume continues a run with the same "
            "chunks: give its --chunk, or write to a new --out"
        )
    if str(part["inputs"]) != inputs:
        raise InputError(
            f"{path}: made from other inputs (estimates, images, keypoints or masks); "
            "--resume continues a run on the same files: write to a new --out"
        )
    return part


def _differences(old: dict, new: dict) -> list[str]:
    """Names of the settings that differ (``options.<field>``, ``model``, ``network``,
    ``pose_prior``)."""
    opts = [f"options.{k}" for k, v in new["options"].items() if old["options"].get(k) != v]
    groups = ("model", "network", "pose_prior")
    return opts + [group for group in groups if old.get(group) != new[group]]
