"""Cached evaluation sets: generated frames written as ``.npz`` shards with a JSON index.

Format (version 1), a folder::

    index.json           the index (below), written last and atomically
    shard-00000.npz      numpy ``savez_compressed`` archive, no pickles
    shard-00001.npz
    ...

``index.json``::

    {
      "format": "jaxrefine-scene-shards",
      "version": 1,
      "complete": true,                 # false while writing (a resumable partial set)
      "num_samples": 1000,
      "seed": 0,                        # stream seed; shard k batch j uses batch_seed(seed, .)
      "shard_size": 256,
      "batch_size": 32,
      "image_size": [256, 256],
      "difficulty": "medium",
      "keypoint_set": "body25",
      "model_id": "jaxrefine-open-anny-v1",
      "config": {...},                  # GeneratorConfig as JSON, for the record
      "fields": {"image": {"dtype": "uint8", "shape": [256, 256, 3]}, ...},
      "shards": [{"file": "shard-00000.npz", "num_samples": 256, "sha256": "..."}, ...]
    }

Every field of :class:`~jaxrefine.data.scenes.SceneBatch` is an array in the shard with a
leading sample axis; ``fields`` gives each one's dtype and per-sample shape. Images are stored
as 8-bit sRGB (``round(255 * x)``, like a camera file) and read back as float32 ``x / 255``;
every other field is stored exactly. Each file is written to a temporary name in the same
folder and moved into place with ``os.replace`` (atomic on POSIX), so a crash never leaves a
half-written shard or index under its final name. :func:`read_shard` checks the index, the
file's SHA-256, its keys, dtypes and shapes, and raises :class:`ShardFormatError` naming the
file and the problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from jaxrefine.data.scenes import GeneratorConfig, SceneBatch, batch_seed, generate
from jaxrefine.errors import JaxrefineError
from jaxrefine.files import atomic_write

FORMAT = "jaxrefine-scene-shards"
VERSION = 1
INDEX = "index.json"
ARRAY_FIELDS = tuple(
    f.name for f in dataclasses.fields(SceneBatch) if f.name not in ("difficulty", "keypoint_set")
)


class ShardFormatError(JaxrefineError, ValueError):
    """A shard folder, index or file does not follow the documented format."""


def _atomic_write(path: Path, write) -> None:
    """Call ``write(fh)`` on a temporary file next to ``path``, then move it into place."""
    atomic_write(path, write)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _to_arrays(batch: SceneBatch) -> dict[str, np.ndarray]:
    arrays = {name: np.asarray(getattr(batch, name)) for name in ARRAY_FIELDS}
    arrays["image"] = np.round(np.clip(arrays["image"], 0.0, 1.0) * 255.0).astype(np.uint8)
    return arrays


def _fields(arrays: dict[str, np.ndarray]) -> dict:
    return {k: {"dtype": str(v.dtype), "shape": list(v.shape[1:])} for k, v in arrays.items()}


def _concat(batches: list[SceneBatch]) -> SceneBatch:
    if len(batches) == 1:
        return batches[0]
    kw = {n: np.concatenate([np.asarray(getattr(b, n)) for b in batches]) for n in ARRAY_FIELDS}
    return SceneBatch(**kw, difficulty=batches[0].difficulty, keypoint_set=batches[0].keypoint_set)


def save_shard(path: str | os.PathLike, batch: SceneBatch) -> str:
    """Write one shard file atomically; returns its SHA-256."""
    path = Path(path)
    arrays = _to_arrays(batch)
    _atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))
    return _sha256(path)


def _config_json(config: GeneratorConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config), default=list))


def write_shards(
    out_dir: str | os.PathLike,
    model,
    poses: np.ndarray,
    num_samples: int,
    seed: int,
    config: GeneratorConfig | None = None,
    *,
    shard_size: int = 256,
    batch_size: int = 32,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Generate ``num_samples`` frames and write them as shards (with a tqdm progress bar).

    Shard ``k`` holds frames ``k * shard_size ...``; they are generated in batches of
    ``batch_size`` with seeds ``batch_seed(seed, k * ceil(shard_size / batch_size) + j)``, so
    the set is reproducible. An interrupted run leaves an index with ``"complete": false``;
    calling again with the same arguments resumes after the last finished shard.

    Args:
      out_dir: folder (created).
      model, poses, config: as in :func:`jaxrefine.data.scenes.generate` (config None = the
        default :class:`~jaxrefine.data.scenes.GeneratorConfig`).
      num_samples: total frames.
      seed: stream seed.
      shard_size: frames per shard file.
      batch_size: frames per :func:`generate` call.
      overwrite: replace an existing complete set (else raise FileExistsError).
      progress: show a tqdm progress bar (frames).

    Returns:
      The index (dict, as written to ``index.json``).
    """
    from tqdm.auto import tqdm

    config = GeneratorConfig() if config is None else config
    check_counts(num_samples, shard_size, batch_size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = _header(model, config, num_samples, seed, shard_size, batch_size)
    index = _starting_index(out, header, overwrite)
    per_shard = -(-shard_size // batch_size)
    num_shards = -(-num_samples // shard_size)
    bar = tqdm(total=num_samples, unit="frame", desc="shards", disable=not progress)
    bar.update(sum(s["num_samples"] for s in index["shards"]))
    for k in range(len(index["shards"]), num_shards):
        n_k = min(shard_size, num_samples - k * shard_size)
        seeds = [batch_seed(seed, k * per_shard + j) for j in range(-(-n_k // batch_size))]
        batch = _generated(model, poses, config, n_k, batch_size, seeds, bar)
        name = f"shard-{k:05d}.npz"
        digest = save_shard(out / name, batch)
        index["fields"] = _fields(_to_arrays(batch.select(slice(0, 1))))
        index["shards"].append({"file": name, "num_samples": n_k, "sha256": digest})
        index["complete"] = k == num_shards - 1
        _write_index(out, index)
    bar.close()
    if not index["complete"]:  # nothing was left to do: mark a finished resume complete
        index["complete"] = True
        _write_index(out, index)
    return index


def _header(model, config: GeneratorConfig, num_samples, seed, shard_size, batch_size) -> dict:
    """The index fields that say which set this is (a resume must match them all)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "complete": False,
        "num_samples": int(num_samples),
        "seed": int(seed),
        "shard_size": int(shard_size),
        "batch_size": int(batch_size),
        "image_size": list(config.scene.image_size),
        "difficulty": config.difficulty,
        "keypoint_set": config.keypoint_set,
        "model_id": model.model_id,
        "config": _config_json(config),
    }


def _starting_index(out: Path, header: dict, overwrite: bool) -> dict:
    """A new index, or the folder's unfinished one when it is the same set (a resume);
    ``FileExistsError`` for a complete set unless ``overwrite``."""
    index = dict(header, fields={}, shards=[])
    if (out / INDEX).exists():
        old = read_index(out)
        same = all(old.get(k) == v for k, v in header.items() if k != "complete")
        if old.get("complete") and not overwrite:
            raise FileExistsError(f"{out} already holds a complete shard set (overwrite=True)")
        if same and not old.get("complete"):
            index = old  # resume
    return index


def _generated(model, poses, config, n: int, batch_size: int, seeds: list[int], bar) -> SceneBatch:
    """``n`` frames generated in batches of ``batch_size``, batch ``j`` with ``seeds[j]``."""
    parts = []
    for j, s in enumerate(seeds):
        nb = min(batch_size, n - j * batch_size)
        parts.append(generate(model, poses, nb, s, config))
        bar.update(nb)
    return _concat(parts)


def _write_index(out: Path, index: dict) -> None:
    data = json.dumps(index, indent=1).encode()
    _atomic_write(out / INDEX, lambda fh: fh.write(data))


# --------------------------------------------------------------------------- reading
_REQUIRED = ("format", "version", "complete", "num_samples", "fields", "shards", "image_size")


def read_index(folder: str | os.PathLike) -> dict:
    """Read and validate ``index.json`` of a shard folder.

    Raises:
      ShardFormatError: missing / unparsable index, wrong format or version, missing keys,
        fields of the wrong type (see the module docstring), shard entries that are not plain
        file names with a sample count and a SHA-256, inconsistent sample counts.
    """
    path = Path(folder) / INDEX
    if not path.is_file():
        raise ShardFormatError(f"{path}: no shard index (not a shard folder, or still writing)")
    try:
        index = json.loads(path.read_text())
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, nesting
        raise ShardFormatError(f"{path}: not valid JSON ({type(e).__name__}: {e})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise ShardFormatError(f"{path}: format is not {FORMAT!r}")
    if not _is_int(index.get("version")) or index["version"] != VERSION:
        raise ShardFormatError(f"{path}: version {index.get('version')!r}, expected {VERSION}")
    missing = [k for k in _REQUIRED if k not in index]
    if missing:
        raise ShardFormatError(f"{path}: missing keys {missing}")
    _check_index_types(index, path)
    total = sum(s["num_samples"] for s in index["shards"])
    if index["complete"] and total != index["num_samples"]:
        raise ShardFormatError(
            f"{path}: shards hold {total} samples, the index says {index['num_samples']}"
        )
    return index


def _is_int(x, minimum: int = 0) -> bool:
    """A JSON integer (not a bool) >= ``minimum``."""
    return type(x) is int and x >= minimum


def _is_sha256(x) -> bool:
    return isinstance(x, str) and len(x) == 64 and all(c in "0123456789abcdef" for c in x)


def _is_field_spec(spec) -> bool:
    """``{"dtype": "<numeric numpy dtype>", "shape": [non-negative ints]}``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("shape"), list):
        return False
    if not all(_is_int(d) for d in spec["shape"]) or not isinstance(spec.get("dtype"), str):
        return False
    try:
        dt = np.dtype(spec["dtype"])
    except (TypeError, ValueError):
        return False
    return dt.kind in "biuf" and str(dt) == spec["dtype"]


def _check_index_types(index: dict, path: Path) -> None:
    """Every index field has the documented JSON type; shard files are plain names in the
    folder (no paths)."""
    checks = {
        "complete": lambda v: isinstance(v, bool),
        "num_samples": _is_int,
        "image_size": lambda v: isinstance(v, list) and len(v) == 2
        and all(_is_int(d, 1) for d in v),
        "fields": lambda v: isinstance(v, dict) and all(_is_field_spec(f) for f in v.values()),
        "shards": lambda v: isinstance(v, list),
        "difficulty": lambda v: isinstance(v, str),
        "keypoint_set": lambda v: isinstance(v, str),
    }  # fmt: skip
    for key, ok in checks.items():
        if key in index and not ok(index[key]):
            raise ShardFormatError(f"{path}: {key} has the wrong type or value: {index[key]!r:.80}")
    for i, s in enumerate(index["shards"]):
        good = (
            isinstance(s, dict)
            and isinstance(s.get("file"), str)
            and s["file"] == Path(s["file"]).name
            and s["file"] not in ("", ".", "..")
            and _is_int(s.get("num_samples"))
            and _is_sha256(s.get("sha256"))
        )
        if not good:
            raise ShardFormatError(
                f"{path}: shard entry {i} must hold file (a name in the folder), num_samples "
                f"(an integer >= 0) and sha256 (64 hex digits); found {s!r:.120}"
            )


def num_shards(folder: str | os.PathLike) -> int:
    """Number of finished shards in a folder."""
    return len(read_index(folder)["shards"])


def read_shard(folder: str | os.PathLike, i: int, *, verify: bool = True) -> SceneBatch:
    """Read shard ``i`` of a folder as a :class:`~jaxrefine.data.scenes.SceneBatch`.

    Args:
      folder: shard folder (with ``index.json``).
      i: shard number (0-based).
      verify: check the file's SHA-256 against the index.

    Raises:
      ShardFormatError: index problems, a missing / truncated / corrupted file, a checksum
        mismatch, missing or unexpected arrays, wrong dtype, shape or sample count, NaN or
        inf in a float array.
      IndexError: ``i`` out of range.
    """
    folder = Path(folder)
    index = read_index(folder)
    shards = index["shards"]
    if not 0 <= i < len(shards):
        raise IndexError(f"{folder}: shard {i} out of range (0..{len(shards) - 1})")
    entry = shards[i]
    path = folder / entry["file"]
    if not path.is_file():
        raise ShardFormatError(f"{path}: shard file missing")
    if verify and _sha256(path) != entry["sha256"]:
        raise ShardFormatError(f"{path}: SHA-256 mismatch (file corrupted or replaced)")
    try:
        # our own handle: numpy leaks the one it opens when the archive is corrupt
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - zip, zlib, npy-header errors: all a bad file
        raise ShardFormatError(f"{path}: unreadable npz ({type(e).__name__}: {e})") from None
    fields = index["fields"]
    if set(arrays) != set(fields) or set(fields) != set(ARRAY_FIELDS):
        raise ShardFormatError(
            f"{path}: arrays {sorted(arrays)} do not match the format's fields "
            f"{sorted(ARRAY_FIELDS)} (index lists {sorted(fields)})"
        )
    n = entry["num_samples"]
    for name, spec in fields.items():
        a = arrays[name]
        want = (n, *spec["shape"])
        if str(a.dtype) != spec["dtype"]:
            raise ShardFormatError(
                f"{path}: {name} has dtype {a.dtype}, index says {spec['dtype']}"
            )
        if a.shape != want:
            raise ShardFormatError(f"{path}: {name} has shape {a.shape}, expected {want}")
    if arrays["image"].dtype != np.uint8:
        raise ShardFormatError(f"{path}: image must be uint8, got {arrays['image'].dtype}")
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ShardFormatError(f"{path}: {name} holds NaN or inf")
    arrays["image"] = arrays["image"].astype(np.float32) / 255.0
    return SceneBatch(
        **arrays, difficulty=index.get("difficulty", ""), keypoint_set=index.get("keypoint_set", "")
    )


def iter_shards(folder: str | os.PathLike, *, verify: bool = True) -> Iterator[SceneBatch]:
    """Yield every shard of a complete folder in order (raises if it is incomplete)."""
    index = read_index(folder)
    if not index["complete"]:
        raise ShardFormatError(f"{folder}: shard set is incomplete (interrupted write?)")
    for i in range(len(index["shards"])):
        yield read_shard(folder, i, verify=verify)


def check_counts(num_samples: int, shard_size: int, batch_size: int) -> None:
    """Raise ``ValueError`` naming the counts of :func:`write_shards` below 1."""
    counts = {"num_samples": num_samples, "shard_size": shard_size, "batch_size": batch_size}
    below = [f"{k}={v}" for k, v in counts.items() if v < 1]
    if below:
        raise ValueError(f"shards: {', '.join(below)} (each at least 1)")


def main(argv: list[str] | None = None) -> int:
    """``jaxrefine shards OUT_DIR -n N``: generate a cached evaluation set (progress bar)."""
    import argparse
    import logging

    from jaxrefine import load_body_model
    from jaxrefine.data.poses import given_poses
    from jaxrefine.data.sampling import SceneConfig

    ap = argparse.ArgumentParser(prog="jaxrefine shards", description=main.__doc__)
    ap.add_argument("out_dir")
    ap.add_argument("-n", "--num-samples", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=256, help="image side in pixels")
    ap.add_argument("--difficulty", default="medium", choices=["easy", "medium", "hard"])
    ap.add_argument("--poses", default=None, help="POSES.npz from `jaxrefine mocap` (key pose)")
    ap.add_argument("--mocap", default=None, help="else a CMU folder to read a few trials from")
    ap.add_argument("--shard-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--texture-size", type=int, default=256)
    ap.add_argument("--backend", default="auto", choices=["auto", "egl", "jax"])
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("jaxrefine").setLevel(logging.INFO)  # not JAX's own INFO lines
    check_counts(args.num_samples, args.shard_size, args.batch_size)  # before any file is read
    cfg = GeneratorConfig(
        scene=SceneConfig(image_size=(args.size, args.size)),
        difficulty=args.difficulty,
        texture_size=args.texture_size,
        backend=args.backend,
    )
    model = load_body_model()
    poses, _ = given_poses(model, args.poses, args.mocap)
    index = write_shards(
        args.out_dir, model, poses, args.num_samples, args.seed, cfg,
        shard_size=args.shard_size, batch_size=args.batch_size, overwrite=args.overwrite,
    )  # fmt: skip
    print(f"wrote {index['num_samples']} frames in {len(index['shards'])} shards to {args.out_dir}")
    return 0
