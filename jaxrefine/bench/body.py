"""``jaxrefine bench body``: body-model forward and forward+backward, jaxrefine vs smplx
(PyTorch) and the JAX peer ``body-models``.

``--model open|smpl-size|PATH`` (repeatable; default both shipped choices): the shipped open
model (no pose correctives), a random model of SMPL's sizes (6,890 vertices, 207 correctives),
or a model file. All sides pose the whole mesh (same work). jaxrefine: jit + vmap, whatever JAX
runs on; smplx: PyTorch CPU with as many threads as the cores JAX uses (said in the header);
body-models: its JAX SMPL, jitted, loading the same arrays from a temporary SMPL ``.npz`` (rows
skipped with the reason when it cannot load). Timed in the same run, the sides taking turns
(round-robin) of ``--block`` calls in a row, each call timed alone; medians of the same number
of repetitions each. A fit calls the model hundreds of times in a row, so the default turn of 10
calls measures that steady state; ``--block 1`` alternates single calls, where each call first
reloads from memory what the other sides' calls pushed out of the caches (at batch 1 the
correctives, 17 MB, dominate jaxrefine's time then, while smplx's is mostly per-call overhead).
jaxrefine's programs take the model as an argument, as its fits do (one copy of the arrays,
as smplx's module has). "fwd+bwd" is the gradient of a scalar loss of the vertices
(jaxrefine and smplx: plus the joints) w.r.t. pose and betas, as a fitting step needs.
Compilation time (first call of jaxrefine's jitted forward+backward) is reported separately.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrefine.bench.common import count, interleaved, seconds, summary
from jaxrefine.bench.smplify import jax_cores, model_arrays
from jaxrefine.body_model import forward, from_arrays
from jaxrefine.files import output_file_arg
from jaxrefine.report import machine_info, machine_line, print_table, write_json


def _jax_fns(model, batch):
    """jaxrefine's jitted forward and forward+backward. The model is an argument of both, as in
    jaxrefine's fits: one copy of its arrays, shared by the two programs as smplx's module
    shares its buffers (closed over, each program would embed its own copy as constants)."""

    def loss(pose, betas, m):
        out = jax.vmap(lambda p, b: forward(m, p, b))(pose, betas)
        return jnp.sum(out.vertices**2) + jnp.sum(out.joints**2)

    fwd = jax.jit(lambda p, b, m: jax.vmap(lambda pp, bb: forward(m, pp, bb).vertices)(p, b))
    fb = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    rng = np.random.default_rng(0)
    pose = jnp.asarray(rng.normal(0, 0.3, (batch, 24, 3)), jnp.float32)
    betas = jnp.asarray(rng.normal(0, 1, (batch, model.num_betas)), jnp.float32)
    t0 = time.perf_counter()
    jax.block_until_ready(fb(pose, betas, model))
    compile_fb = time.perf_counter() - t0
    jax.block_until_ready(fwd(pose, betas, model))
    return (
        lambda: jax.block_until_ready(fwd(pose, betas, model)),
        lambda: jax.block_until_ready(fb(pose, betas, model)),
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


def _peer_fns(arrays, batch: int, tmpdir: str):
    """body-models' JAX SMPL on the same arrays (written to a temporary SMPL ``.npz``):
    (fwd, fwd+bwd) callables, or the reason it cannot run."""
    try:
        from body_models.smpl.jax import SMPL
    except ImportError as exc:
        return f"body-models not installed ({exc})"
    a = dict(arrays)
    V = a["v_template"].shape[0]
    if a.get("posedirs") is None:
        a["posedirs"] = np.zeros((V, 3, 207), np.float32)
    if "kintree_table" not in a:
        parents = np.asarray(a["parents"], np.int64)
        a["kintree_table"] = np.stack([parents, np.arange(len(parents))])
    path = Path(tmpdir) / f"peer_{V}.npz"
    keys = ("v_template", "f", "weights", "shapedirs", "posedirs", "J_regressor", "kintree_table")
    try:
        np.savez(path, **{k: np.asarray(a[k]) for k in keys})
        m = SMPL(model_path=path)
    except Exception as exc:  # any load failure: the rows are skipped with this reason
        return f"body-models could not load the model: {type(exc).__name__}: {exc}"
    rng = np.random.default_rng(0)
    pose = jnp.asarray(rng.normal(0, 0.3, (batch, 24, 3)), jnp.float32)
    betas = jnp.asarray(rng.normal(0, 1, (batch, 10)), jnp.float32)

    def verts(p, b):
        # body-models' own code relies on numpy-style rank promotion: allowed for it alone
        with jax.numpy_rank_promotion("allow"):
            return m.forward_vertices(body_pose=p[:, 1:], pelvis_rotation=p[:, 0], shape=b)

    fwd = jax.jit(verts)
    fb = jax.jit(jax.value_and_grad(lambda p, b: jnp.sum(verts(p, b) ** 2), argnums=(0, 1)))
    try:
        jax.block_until_ready(fb(pose, betas))
        jax.block_until_ready(fwd(pose, betas))
    except Exception as exc:
        return f"body-models failed on the model: {type(exc).__name__}: {exc}"
    return (
        lambda: jax.block_until_ready(fwd(pose, betas)),
        lambda: jax.block_until_ready(fb(pose, betas)),
    )


HEADERS = [
    "model", "batch", "pass", "jaxrefine ms (range)", "smplx ms", "speed-up",
    "body-models ms", "speed-up", "compile s",
]  # fmt: skip


def _parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="jaxrefine bench body", description=__doc__)
    ap.add_argument("--model", nargs="+", default=["open", "smpl-size"],
                    help="open | smpl-size | PATH of a model file (several allowed)")  # fmt: skip
    ap.add_argument("--batches", type=count, nargs="+", default=[1, 32, 256])
    ap.add_argument("--budget", type=seconds, default=3.0, help="seconds per measurement cell")
    ap.add_argument("--reps", type=count, default=5, help="least timed turns per side")
    ap.add_argument("--block", type=count, default=10,
                    help="timed calls of one side in a row per turn (a fit's loop calls "
                         "the model many times in a row); 1 = alternate single calls")  # fmt: skip
    ap.add_argument("--no-torch", action="store_true", help="skip the smplx reference")
    ap.add_argument("--no-peer", action="store_true", help="skip body-models")
    ap.add_argument("--json", default=None, type=output_file_arg)
    return ap.parse_args(argv)


def _torch_available() -> bool:
    try:
        import smplx  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        print("torch/smplx not installed (pip install '.[ref]'): reference columns skipped")
        return False
    return True


def _measure(model, arrays, batch: int, args, with_torch: bool, tmpdir: str):
    """Round-robin timings of one cell: {name: summary}, jaxrefine's compile seconds, and why
    the peer is missing (or None)."""
    jfwd, jfb, compile_s = _jax_fns(model, batch)
    cells = {"jax fwd": jfwd, "jax fwd+bwd": jfb}
    if with_torch:
        import torch

        torch.set_num_threads(jax_cores())
        tfwd, tfb = _torch_fns(arrays, batch, 10)
        cells["torch fwd"], cells["torch fwd+bwd"] = tfwd, tfb
    peer = "skipped (--no-peer)" if args.no_peer else _peer_fns(arrays, batch, tmpdir)
    if not isinstance(peer, str):
        cells["peer fwd"], cells["peer fwd+bwd"] = peer
        peer = None
    for f in cells.values():  # warm-up
        f()
    t = interleaved(cells, min_reps=args.reps, budget_s=args.budget, block=args.block)
    return {k: summary(v) for k, v in t.items()}, compile_s, peer


def _row_and_record(mname, batch, kind, s: dict, compile_s: float):
    """The table row and the JSON record of one (model, batch, pass)."""
    j = s[f"jax {kind}"]
    row = [mname, batch, kind, f"{j['median_ms']:.2f} ({j['min_ms']:.2f}-{j['max_ms']:.2f})"]
    rec = {"model": mname, "batch": batch, "pass": kind, "jax": j}
    for side in ("torch", "peer"):
        r = s.get(f"{side} {kind}")
        if r is None:
            row += ["-", "-"]
            continue
        ratio = r["median_ms"] / j["median_ms"]
        row += [f"{r['median_ms']:.2f} ({r['min_ms']:.2f}-{r['max_ms']:.2f})", f"{ratio:.1f}x"]
        rec[side], rec[f"speedup_vs_{side}"] = r, ratio
    row.append(f"{compile_s:.2f}" if kind == "fwd+bwd" else "")
    rec["compile_s"] = compile_s if kind == "fwd+bwd" else None
    return row, rec


def main(argv: list[str]) -> int:
    args = _parse_args(argv)
    with_torch = not args.no_torch and _torch_available()
    info = machine_info()
    print(machine_line(info))
    results, rows, notes = [], [], []
    with tempfile.TemporaryDirectory(prefix="jaxrefine-bench-body-") as tmpdir:
        for mname in args.model:
            arrays, what = model_arrays(mname)
            model = from_arrays(arrays, model_id=mname, gender="neutral", num_betas=10)
            for batch in args.batches:
                s, compile_s, peer = _measure(model, arrays, batch, args, with_torch, tmpdir)
                if peer is not None and peer not in notes:
                    notes.append(peer)
                    print(f"body-models rows skipped: {peer}")
                for kind in ("fwd", "fwd+bwd"):
                    row, rec = _row_and_record(mname, batch, kind, s, compile_s)
                    rows.append(row)
                    results.append(rec)
    print(
        f"Body model, whole mesh on every side; medians of the same repetitions each, sides "
        f"taking turns of {args.block} timed call(s) in a row (at least {args.reps} turns). "
        f"jaxrefine: {jax_cores()} cores, "
        f"{len(jax.devices())} devices; smplx: PyTorch, {jax_cores()} threads; body-models: JAX."
    )
    print_table(HEADERS, rows)
    write_json(args.json, {"machine": info, "torch_threads": jax_cores(), "block": args.block,
                           "results": results, "notes": notes})  # fmt: skip
    return 0
