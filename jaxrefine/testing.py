"""Synthetic model data with SMPL's exact sizes, for tests and benchmarks (no SMPL file needed)."""

from __future__ import annotations

import numpy as np

from jaxrefine.body_model import SMPL_PARENTS


def make_smpl_size_arrays(seed: int = 0, num_betas: int = 10, posedirs: bool = True) -> dict:
    """Model arrays with SMPL's sizes (6,890 vertices, 13,776 faces, 207 pose correctives) and
    random but plausible content: points scattered around a random joint tree of 10-20 cm
    bones, a sparse non-negative joint regressor (rows sum to 1), 2-4-joint skinning weights.
    Good for parity tests and timings, not for pictures (the faces are random)."""
    rng = np.random.default_rng(seed)
    V, F, J = 6890, 13776, 24
    joints = np.zeros((J, 3))
    for j in range(1, J):
        joints[j] = joints[SMPL_PARENTS[j]] + rng.normal(0, 0.1, 3)
    owner = rng.integers(0, J, V)
    v_template = joints[owner] + rng.normal(0, 0.05, (V, 3))
    weights = np.zeros((V, J))
    extra = rng.integers(0, J, (V, 3))
    for v in range(V):
        js = np.unique(np.r_[owner[v], extra[v]])
        weights[v, js] = rng.dirichlet(np.ones(len(js)))
    J_reg = np.zeros((J, V))
    for j in range(J):
        pool = np.flatnonzero(owner == j)
        ids = rng.choice(pool if len(pool) else np.arange(V), 8)
        np.add.at(J_reg[j], ids, rng.dirichlet(np.ones(8)))
    kintree = np.stack([np.array((-1,) + SMPL_PARENTS[1:]), np.arange(J)]).astype(np.int64)
    out = {
        "v_template": v_template,
        "shapedirs": rng.normal(0, 0.01, (V, 3, num_betas)),
        "J_regressor": J_reg,
        "weights": weights,
        "f": rng.integers(0, V, (F, 3)).astype(np.int64),
        "kintree_table": kintree,
    }
    if posedirs:
        out["posedirs"] = rng.normal(0, 0.01, (V, 3, 207))
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a local coordinator)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_local_processes(script: str, *args, num_processes: int = 2, timeout: float = 600):
    """Run ``python -c script COORDINATOR PROCESS_ID *args`` as ``num_processes`` local CPU
    processes (a ``jax.distributed`` run on one machine) and return their stdouts.

    Raises:
      AssertionError: a process exited non-zero (with the end of its stderr).
    """
    import os
    import subprocess
    import sys

    coordinator = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, coordinator, str(p), *map(str, args)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in range(num_processes)
    ]  # fmt: skip
    outs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=timeout)
            assert p.returncode == 0, stderr[-3000:]
            outs.append(stdout)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return outs
