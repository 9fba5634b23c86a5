"""``jaxrefine`` command line: a thin dispatcher; each command lives in a library module."""

from __future__ import annotations

import importlib
import sys

# command -> (module:function taking argv, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("jaxrefine.demo:main", "render the embedded open body model (and more) to PNGs"),
    "convert": ("jaxrefine.smpl_io:convert_main", "convert an SMPL .pkl/.npz to plain numpy .npz"),
    "mocap": ("jaxrefine.data.mocap:main", "convert CMU BVH / ASF+AMC trials to SMPL-layout poses"),
    "oracle": ("jaxrefine.oracle:main", "sparse vs dense ground-truth refinement (paper Table 2)"),
    "shards": ("jaxrefine.data.shards:main", "write cached synthetic evaluation shards"),
    "contact-sheet": (
        "jaxrefine.data.contact_sheet:main",
        "PNG grid of synthetic samples: image, ground truth, initial estimate",
    ),
    "bench": ("jaxrefine.bench:main", "run a benchmark: body | raster | data | smplify"),
}


def _usage() -> str:
    lines = ["usage: jaxrefine COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'jaxrefine COMMAND --help' for a command's options."]
    return "\n".join(lines)


def _enable_compilation_cache() -> None:
    """Persistent XLA compilation cache for command-line runs (the edge, not the library):
    ``$JAXREFINE_CACHE_DIR`` or ``~/.cache/jaxrefine/jax``; JAX's own
    ``JAX_COMPILATION_CACHE_DIR`` wins; ``JAXREFINE_CACHE_DIR=off`` disables it."""
    import os
    from pathlib import Path

    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    where = os.environ.get("JAXREFINE_CACHE_DIR", str(Path.home() / ".cache/jaxrefine/jax"))
    if where.lower() == "off":
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", where)


def _expose_cpu_cores() -> None:
    """On CPU, XLA runs most element-wise work on one core; exposing one host device per core
    (``--xla_force_host_platform_device_count``) lets batched fits shard frames across cores.
    Must run before JAX creates its backend; a user's own XLA_FLAGS setting wins."""
    import os

    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags and os.cpu_count():
        n = os.cpu_count()
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _expose_cpu_cores()
    _enable_compilation_cache()
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"jaxrefine: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module, func = COMMANDS[name][0].split(":")
    return int(getattr(importlib.import_module(module), func)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
