"""Notebooks run top to bottom (small settings); they hold no logic of their own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
EXCLUDED: set[str] = set()  # slow notebooks excluded from CI by name (none yet)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="pip install '.[notebooks]'")
    nbclient = pytest.importorskip("nbclient", reason="pip install '.[notebooks]'")
    if path.name in EXCLUDED:
        pytest.skip(f"{path.name} is excluded from CI (slow)")
    nb = nbformat.read(path, as_version=4)
    os.environ["JAXREFINE_NB_SMALL"] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]  # fmt: skip
    assert not errors
