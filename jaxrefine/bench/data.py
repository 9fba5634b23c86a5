"""``jaxrefine bench data``: synthetic frames generated per second, EGL vs JAX rasterizer.

Each configuration calls :func:`jaxrefine.data.scenes.generate` end to end (scene sampling,
textures, backgrounds, the jitted render with body model, rasterizer, shading, keypoints and
visibility, initial estimates) with a new seed every call, at 256 x 256 by default, for batch
sizes 1, 8 and 32 and both rasterizer backends. Two texture modes:

* ``fresh``: a new procedural texture per frame (what :func:`generate` does by default),
* ``pool``: frames pick from a bank of pre-drawn textures (``GeneratorConfig.texture_pool``,
  what :func:`~jaxrefine.data.scenes.iterate` uses for training when asked).

Configurations are timed round-robin (:func:`jaxrefine.bench.common.interleaved`) after one
warm-up call each (compilation excluded). The ratio column is samples/s relative to the JAX
backend at the same batch size and texture mode, measured in the same run. Also reported:
the host-side cost per frame of a fresh texture and of a background.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from jaxrefine.bench.common import count, counts, seconds
from jaxrefine.files import output_file_arg


def _per_frame_costs(model, size: int, tex_size: int, reps: int = 8) -> dict:
    from jaxrefine.data.backgrounds import default_pool, sample_background
    from jaxrefine.data.textures import procedural_texture, texel_atlas

    texel_atlas(model, tex_size)
    pool = default_pool()
    t0 = time.perf_counter()
    for s in range(reps):
        procedural_texture(model, 1000 + s, tex_size)
    t1 = time.perf_counter()
    rng = np.random.default_rng(0)
    for _ in range(reps):
        sample_background(size, size, rng, pool)
    t2 = time.perf_counter()
    return {
        "texture_ms": (t1 - t0) / reps * 1e3,
        "background_ms": (t2 - t1) / reps * 1e3,
        "background_sources": list(pool.sources),
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="jaxrefine bench data", description=__doc__)
    ap.add_argument("--size", type=count, default=256, help="image side in pixels")
    ap.add_argument("--batch-sizes", type=counts, default="1,8,32")
    ap.add_argument("--backends", default="egl,jax")
    ap.add_argument("--modes", default="fresh,pool")
    ap.add_argument("--texture-size", type=count, default=256)
    ap.add_argument("--pool", type=count, default=64, help="texture bank size of the pool mode")
    ap.add_argument("--budget", type=seconds, default=10.0, help="seconds of timing per batch size")
    ap.add_argument("--min-reps", type=count, default=3)
    ap.add_argument("--poses", default=None, help="POSES.npz from `jaxrefine mocap`")
    ap.add_argument("--json", default=None, type=output_file_arg)
    return ap.parse_args(argv)


def _time_batch(model, poses, bs: int, configs: dict, args, seeds) -> list[dict]:
    """Time generating batches of ``bs`` frames for every (backend, mode) config, round-robin
    after one warm-up call each. Returns one record per config."""
    from jaxrefine.bench.common import interleaved, summary
    from jaxrefine.data.scenes import generate

    fns, records = {}, []
    for (backend, mode), (cfg, tex) in configs.items():

        def fn(cfg=cfg, tex=tex, bs=bs):
            b = generate(model, poses, bs, next(seeds), cfg, textures=tex)
            return b.image.sum()  # arrays are numpy: the work is done

        t0 = time.perf_counter()
        fn()  # warm-up: compilation
        compile_s = time.perf_counter() - t0
        fns[f"{backend}/{mode}"] = fn
        records.append({"backend": backend, "mode": mode, "batch": bs, "warmup_s": compile_s})
    times = interleaved(fns, min_reps=args.min_reps, budget_s=args.budget)
    for r in records:
        t = times[f"{r['backend']}/{r['mode']}"]
        r.update(summary(t))
        r["samples_per_s"] = bs / float(np.median(t))
    return records


def _table_rows(results: list[dict]) -> list[list]:
    """Rows of the table; adds each record's ``ratio_vs_jax`` (same mode and batch)."""
    rows = []
    for r in results:
        ref = next(
            (
                q
                for q in results
                if q["backend"] == "jax" and q["mode"] == r["mode"] and q["batch"] == r["batch"]
            ),
            None,
        )
        r["ratio_vs_jax"] = r["samples_per_s"] / ref["samples_per_s"] if ref else None
        rows.append(
            [
                r["backend"],
                r["mode"],
                r["batch"],
                f"{r['median_ms']:.1f}",
                f"{r['min_ms']:.1f}-{r['max_ms']:.1f}",
                r["reps"],
                f"{r['samples_per_s']:.2f}",
                "-" if r["ratio_vs_jax"] is None else f"{r['ratio_vs_jax']:.2f}x",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    from jaxrefine import load_body_model
    from jaxrefine.data.poses import given_poses
    from jaxrefine.data.sampling import SceneConfig
    from jaxrefine.data.scenes import GeneratorConfig, make_textures
    from jaxrefine.render import egl_available
    from jaxrefine.report import machine_info, print_table, write_json

    args = _parse_args(argv)
    model = load_body_model()
    poses, _ = given_poses(model, args.poses)
    backends = [b for b in args.backends.split(",") if b]
    notes = []
    if "egl" in backends and not egl_available():
        backends.remove("egl")
        notes.append("egl: no EGL context on this machine; rows skipped")
    modes = [m for m in args.modes.split(",") if m]
    sizes = args.batch_sizes
    bank = make_textures(model, range(args.pool), args.texture_size) if "pool" in modes else None
    costs = _per_frame_costs(model, args.size, args.texture_size)
    scene = SceneConfig(image_size=(args.size, args.size))
    configs = {
        (backend, mode): (
            GeneratorConfig(scene=scene, texture_size=args.texture_size, backend=backend),
            bank if mode == "pool" else None,
        )
        for backend, mode in itertools.product(backends, modes)
    }
    seeds = itertools.count()
    results = [r for bs in sizes for r in _time_batch(model, poses, bs, configs, args, seeds)]
    rows = _table_rows(results)
    print(f"generated frames at {args.size}x{args.size} (texture {args.texture_size}^2)")
    print_table(
        ["backend", "textures", "batch", "median ms", "range ms", "reps", "samples/s", "vs jax"],
        rows,
    )
    print(
        f"host cost per frame: fresh texture {costs['texture_ms']:.1f} ms, background "
        f"{costs['background_ms']:.1f} ms (sources: {', '.join(costs['background_sources'])})"
    )
    for n in notes:
        print("note:", n)
    write_json(
        args.json,
        {
            "benchmark": "data",
            "image_size": args.size,
            "texture_size": args.texture_size,
            "results": results,
            "per_frame": costs,
            "notes": notes,
            "machine": machine_info(),
        },
    )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
