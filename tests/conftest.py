"""Shared test fixtures. Tests run on CPU in float32 (the precision users run)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")

REPO = Path(__file__).resolve().parents[1]
MOCAP_DIR = Path(os.environ.get("JAXREFINE_MOCAP_DIR", REPO.parent / "shared" / "mocap"))

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


def make_smpl_size_arrays(seed: int = 0, num_betas: int = 10, posedirs: bool = True) -> dict:
    """A model with SMPL's exact sizes (6,890 vertices, 13,776 faces, 207 pose correctives) and
    random but plausible content: a blob of points around the joints, sparse non-negative joint
    regressor, 4-joint skinning weights. Good for parity tests, not for pictures."""
    rng = np.random.default_rng(seed)
    V, F, J = 6890, 13776, 24
    joints = np.zeros((J, 3))
    for j in range(1, J):  # a tree of ~10-20 cm bones
        joints[j] = joints[SMPL_PARENTS[j]] + rng.normal(0, 0.1, 3)
    owner = rng.integers(0, J, V)
    v_template = joints[owner] + rng.normal(0, 0.05, (V, 3))
    weights = np.zeros((V, J))
    for v in range(V):
        js = np.unique(np.r_[owner[v], rng.integers(0, J, 3)])
        weights[v, js] = rng.dirichlet(np.ones(len(js)))
    J_reg = np.zeros((J, V))
    for j in range(J):
        ids = rng.choice(np.flatnonzero(owner == j) if np.any(owner == j) else np.arange(V), 8)
        J_reg[j, ids] = rng.dirichlet(np.ones(8))
    out = {
        "v_template": v_template,
        "shapedirs": rng.normal(0, 0.01, (V, 3, num_betas)),
        "J_regressor": J_reg,
        "weights": weights,
        "f": rng.integers(0, V, (F, 3)).astype(np.int64),
        "kintree_table": np.stack([np.array(SMPL_PARENTS), np.arange(J)]).astype(np.int64),
    }
    if posedirs:
        out["posedirs"] = rng.normal(0, 0.01, (V, 3, 207))
    return out


@pytest.fixture(scope="session")
def smpl_size_arrays():
    return make_smpl_size_arrays()


@pytest.fixture(scope="session")
def mocap_dir():
    if not MOCAP_DIR.is_dir():
        pytest.skip(f"CMU mocap folder not found at {MOCAP_DIR} (set JAXREFINE_MOCAP_DIR)")
    return MOCAP_DIR
