"""``jaxrefine bench body``: body-model forward and forward+backward, jaxrefine vs smplx.

For each model (the shipped open model and a random model with SMPL's exact sizes) and batch
size, it times, round-robin in the same run: jaxrefine (jit + vmap; CPU or whatever JAX runs
on) and smplx on PyTorch CPU with 1 and with 2 threads. "fwd+bwd" is the gradient of a scalar
loss of vertices and joints w.r.t. pose and betas, as a fitting step needs. Compilation time
(first call of the jitted forward+backward) is reported separately.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.bench.common import interleaved, summary
from jaxrefine.body_model import forward, from_arrays
from jaxrefine.report import machine_info, machine_line, print_table, write_json
from jaxrefine.smpl_io import OPEN_MODEL_PATH, read_npz
from jaxrefine.testing import make_smpl_size_arrays


def _jax_fns(model, batch):
    def loss(pose, betas):
        out = jax.vmap(lambda p, b: forward(model, p, b))(pose, betas)
        return jnp.sum(out.vertices**2) + jnp.sum(out.joints**2)

    fwd = jax.jit(lambda p, b: jax.vmap(lambda pp, bb: forward(model, pp, bb).vertices)(p, b))
    fb = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    rng = np.random.default_rng(0)
    pose = jnp.asarray(rng.normal(0, 0.3, (batch, 24, 3)), jnp.float32)
    betas = jnp.asarray(rng.normal(0, 1, (batch, model.num_betas)), jnp.float32)
    t0 = time.perf_counter()
    jax.block_until_ready(fb(pose, betas))
    compile_fb = time.perf_counter() - t0
    jax.block_until_ready(fwd(pose, betas))
    return (
        lambda: jax.block_until_ready(fwd(pose, betas)),
        lambda: jax.block_until_ready(fb(pose, betas)),
        compile_fb,
    )


def _torch_fns(arrays, batch, num_betas):
    import torch
    from smplx import SMPL
    from smplx.utils import Struct

    arrays = dict(arrays)
    if "posedirs" not in arrays:
        arrays["posedirs"] = np.zeros((arrays["v_template"].shape[0], 3, 207), np.float32)
    m = SMPL("unused", data_struct=Struct(**arrays), num_betas=num_betas)
    rng = np.random.default_rng(0)
    pose = torch.tensor(rng.normal(0, 0.3, (batch, 72)), dtype=torch.float32)
    betas = torch.tensor(rng.normal(0, 1, (batch, num_betas)), dtype=torch.float32)

    def fwd():
        with torch.no_grad():
            m(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=betas)

    def fb():
        p = pose.clone().requires_grad_(True)
        b = betas.clone().requires_grad_(True)
        o = m(global_orient=p[:, :3], body_pose=p[:, 3:], betas=b)
        loss = (o.vertices**2).sum() + (o.joints[:, :24] ** 2).sum()
        loss.backward()

    return fwd, fb


def _with_threads(n, f):
    import torch

    def g():
        torch.set_num_threads(n)
        f()

    return g


HEADERS = [
    "model", "batch", "pass", "jaxrefine ms (range)", "smplx 1 thr ms", "speed-up",
    "smplx 2 thr ms", "speed-up", "compile s",
]  # fmt: skip


def _parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="jaxrefine bench body", description=__doc__)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256])
    ap.add_argument("--budget", type=float, default=3.0, help="seconds per measurement cell")
    ap.add_argument("--no-torch", action="store_true", help="skip the smplx reference")
    ap.add_argument("--json", default=None)
    return ap.parse_args(argv)


def _torch_available() -> bool:
    try:
        import smplx  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        print("torch/smplx not installed (pip install '.[ref]'): reference columns skipped")
        return False
    return True


def _model_arrays() -> dict[str, dict]:
    """The models measured: the shipped open model (10 betas) and a random SMPL-size one."""
    models = {}
    if OPEN_MODEL_PATH.is_file():
        a = read_npz(OPEN_MODEL_PATH)
        a["shapedirs"] = a["shapedirs"][:, :, :10]
        models["open"] = a
    models["smpl-size"] = make_smpl_size_arrays(seed=0)
    return models


def _measure(model, arrays, batch: int, budget: float, with_torch: bool):
    """Round-robin timings of one cell: {name: summary} and jaxrefine's compile seconds."""
    jfwd, jfb, compile_s = _jax_fns(model, batch)
    cells = {"jax fwd": jfwd, "jax fwd+bwd": jfb}
    if with_torch:
        tfwd, tfb = _torch_fns(arrays, batch, 10)
        for n in (1, 2):
            cells[f"torch{n} fwd"] = _with_threads(n, tfwd)
            cells[f"torch{n} fwd+bwd"] = _with_threads(n, tfb)
        for f in cells.values():  # warm-up
            f()
    t = interleaved(cells, budget_s=budget)
    return {k: summary(v) for k, v in t.items()}, compile_s


def _row_and_record(mname, batch, kind, s: dict, compile_s: float, with_torch: bool):
    """The table row and the JSON record of one (model, batch, pass)."""
    j = s[f"jax {kind}"]
    row = [mname, batch, kind, f"{j['median_ms']:.2f} ({j['min_ms']:.2f}-{j['max_ms']:.2f})"]
    rec = {"model": mname, "batch": batch, "pass": kind, "jax": j}
    for n in (1, 2):
        if with_torch:
            r = s[f"torch{n} {kind}"]
            ratio = r["median_ms"] / j["median_ms"]
            row += [f"{r['median_ms']:.2f} ({r['min_ms']:.2f}-{r['max_ms']:.2f})", f"{ratio:.1f}x"]
            rec[f"torch_{n}thread"] = r
            rec[f"speedup_vs_torch_{n}thread"] = ratio
        else:
            row += ["-", "-"]
    row.append(f"{compile_s:.2f}" if kind == "fwd+bwd" else "")
    rec["compile_s"] = compile_s if kind == "fwd+bwd" else None
    return row, rec


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    with_torch = not args.no_torch and _torch_available()
    models = _model_arrays()
    info = machine_info()
    print(machine_line(info))
    results, rows = [], []
    for mname, arrays in models.items():
        model = from_arrays(arrays, model_id=mname, gender="neutral", num_betas=10)
        for batch in args.batches:
            s, compile_s = _measure(model, arrays, batch, args.budget, with_torch)
            for kind in ("fwd", "fwd+bwd"):
                row, rec = _row_and_record(mname, batch, kind, s, compile_s, with_torch)
                rows.append(row)
                results.append(rec)
    print_table(HEADERS, rows)
    write_json(args.json, {"machine": info, "results": results})
    return 0
