"""``jaxrefine bench network``: the displacement network's forward and training step per config
and batch size, jaxrefine (Flax, jit) vs the PyTorch twin (:mod:`jaxrefine.bench.hourglass_torch`,
same weights) measured in the same run with the same number of threads.

- forward: ms per frame of ``apply_batch`` (PyTorch: ``no_grad`` forward).
- train step: ms per step of Adam on an L2 loss over every stack's field (random targets).
- compile: seconds of jaxrefine's first call minus a timed call (forward + train step).
- memory: XLA's compiled memory analysis of the train step (arguments + outputs + temporaries,
  GB), and the growth of the process' peak RSS while this row ran (0 when an earlier row had
  already reached it).

Medians of equal repetitions, timed alternately (jax, torch, jax, ...) so both see the same
machine noise. Inputs are each config's own crop size unless ``--size`` says otherwise. On CPU
the ``paper`` config runs at batch 1 only: a training step at full resolution holds several GB
of activations per example and takes minutes at larger batches.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrefine import network
from jaxrefine.bench.common import count, counts
from jaxrefine.files import output_file_arg
from jaxrefine.report import machine_info, machine_line, print_table, write_json


def _loss(fields, target):
    """L2 on every stack: fields (B, stacks, S, S, 2), target (B, S, S, 2)."""
    return jnp.mean(jnp.sum((fields - target[:, None]) ** 2, -1))


def _jax_fns(cfg, params, opt):
    fwd = jax.jit(lambda p, im, re: network.apply_batch(cfg, p, im, re).fields)

    def step(p, state, im, re, target):
        loss, g = jax.value_and_grad(
            lambda p: _loss(network.apply_batch(cfg, p, im, re).fields, target)
        )(p)
        updates, state = opt.update(g, state, p)
        return optax.apply_updates(p, updates), state, loss

    return fwd, jax.jit(step, donate_argnums=(0, 1))


def _xla_memory_gb(compiled) -> float | None:
    try:
        m = compiled.memory_analysis()
        total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
        return total / 1e9
    except Exception:  # noqa: BLE001 -- not every backend reports it
        return None


def _maxrss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def _time_equal(fns: dict, reps: int) -> dict[str, float]:
    """Median ms of ``reps`` alternating calls of each (blocking) callable."""
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v) * 1e3) for k, v in times.items()}


def bench_one(cfg, params, B: int, reps: int, torch_mod=None) -> dict:
    """One row: forward and train-step timings of ``cfg`` (with ``params``) at batch ``B``."""
    S = cfg.crop_size
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.uniform(size=(B, S, S, 3)), jnp.float32)
    renders = jnp.asarray(rng.uniform(size=(B, S, S, cfg.render_channels)), jnp.float32)
    target = jnp.asarray(rng.normal(0, 5, (B, S, S, 2)), jnp.float32)
    opt = optax.adam(1e-4)
    fwd, step = _jax_fns(cfg, params, opt)
    rss0 = _maxrss_gb()
    state = {"p": jax.tree_util.tree_map(jnp.copy, params), "o": opt.init(params)}

    t0 = time.perf_counter()
    jax.block_until_ready(fwd(params, images, renders))
    fwd_first = time.perf_counter() - t0
    t0 = time.perf_counter()  # compile once, keep the executable (and its memory analysis)
    step = step.lower(state["p"], state["o"], images, renders, target).compile()
    mem = _xla_memory_gb(step)

    def train():
        state["p"], state["o"], loss = step(state["p"], state["o"], images, renders, target)
        jax.block_until_ready(loss)

    train()
    step_first = time.perf_counter() - t0

    fns = {"fwd": lambda: jax.block_until_ready(fwd(params, images, renders)), "step": train}
    if torch_mod is not None:
        fns.update(_torch_fns(torch_mod, cfg, params, images, renders, target))
    ms = _time_equal(fns, reps)
    row = {
        "config": cfg.name, "input": S, "batch": B, "params": network.count_params(params),
        "forward_ms_per_frame": ms["fwd"] / B, "train_step_ms": ms["step"],
        "compile_s": max(fwd_first - ms["fwd"] / 1e3, 0) + max(step_first - ms["step"] / 1e3, 0),
        "train_memory_gb_xla": mem, "peak_rss_growth_gb": max(_maxrss_gb() - rss0, 0.0),
        "reps": reps,
    }  # fmt: skip
    if torch_mod is not None:
        row["torch_forward_ms_per_frame"] = ms["torch_fwd"] / B
        row["torch_train_step_ms"] = ms["torch_step"]
    return row


def _torch_fns(torch, cfg, params, images, renders, target) -> dict:
    from jaxrefine.bench.hourglass_torch import load_from_jax

    net = load_from_jax(cfg, params)
    im, re = (torch.from_numpy(np.array(a)) for a in (images, renders))
    tg = torch.from_numpy(np.array(target))
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def fwd():
        with torch.no_grad():
            net(im, re)

    def step():
        opt.zero_grad(set_to_none=True)
        fields, _ = net(im, re)
        loss = ((fields - tg[:, None]) ** 2).sum(-1).mean()
        loss.backward()
        opt.step()

    fwd(), step()  # warm-up (allocator, kernels)
    return {"torch_fwd": fwd, "torch_step": step}


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _size(text: str) -> str | int:
    """``--size``: "native" or an input side of at least 1 pixel (:func:`count`)."""
    if text == "native":
        return text
    try:
        return count(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'native' or a side in pixels, got {text!r}") from None


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="jaxrefine bench network", description=__doc__)
    ap.add_argument("--configs", default="tiny,small,paper")
    ap.add_argument("--batches", type=counts, default="1,8,32")
    ap.add_argument("--size", default="native", type=_size,
                    help="input side for all configs, or 'native'")  # fmt: skip
    ap.add_argument("--reps", type=count, default=5, help="timed repetitions (each side)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json", default=None, type=output_file_arg)
    args = ap.parse_args(argv)
    torch_mod = None
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(_threads())
            torch_mod = torch
        except ImportError:
            print("torch not installed (pip install '.[ref]'): the PyTorch twin is skipped")
    info = machine_info()
    print(machine_line(info) + f"; PyTorch threads {_threads() if torch_mod else '-'}")
    on_cpu = jax.default_backend() == "cpu"
    rows, results = [], []
    for name in args.configs.split(","):
        cfg = network.get_config(name)
        if args.size != "native":
            cfg = cfg.replace(crop_size=args.size)
        params = jax.jit(network.init_params, static_argnums=0)(cfg, jax.random.key(0))
        for B in args.batches:
            if name == "paper" and on_cpu and B > 1:
                rows.append([name, cfg.crop_size, B, "-", "not run: CPU runs paper at batch 1",
                             "", "", "", "", "", ""])  # fmt: skip
                continue
            r = bench_one(cfg, params, B, args.reps, torch_mod)
            results.append(r)
            tf, ts = r.get("torch_forward_ms_per_frame"), r.get("torch_train_step_ms")
            mem = r["train_memory_gb_xla"]
            rows.append([
                name, cfg.crop_size, B, f"{r['params'] / 1e6:.2f} M",
                f"{r['forward_ms_per_frame']:.2f}", f"{tf:.2f}" if tf else "-",
                f"{r['train_step_ms']:.1f}", f"{ts:.1f}" if ts else "-",
                f"{B / r['train_step_ms'] * 1e3:.1f}", f"{r['compile_s']:.1f}",
                f"{mem:.2f}" if mem is not None else "-",
            ])  # fmt: skip
            print(f"  {name} batch {B}: forward {r['forward_ms_per_frame']:.2f} ms/frame "
                  f"(torch {rows[-1][5]}), train step {r['train_step_ms']:.1f} ms "
                  f"(torch {rows[-1][7]})", flush=True)  # fmt: skip
            # rewritten after every row: an interrupted run keeps the rows it measured
            write_json(args.json, {"machine": info, "reps": args.reps, "results": results,
                                   "complete": False}, announce=False)  # fmt: skip
    print(f"Displacement network, float32, Adam, L2 on every stack; medians of {args.reps} reps")
    print_table(
        ["config", "input", "batch", "params", "fwd ms/frame", "torch fwd", "train ms/step",
         "torch train", "train samples/s", "compile s", "train mem GB (XLA)"], rows,
    )  # fmt: skip
    write_json(args.json, {"machine": info, "reps": args.reps, "results": results,
                           "complete": True})  # fmt: skip
    return 0
