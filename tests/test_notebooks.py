"""Notebooks run top to bottom (small settings); they hold no logic of their own.

Each notebook reads ``JAXREFINE_NB_SMALL=1`` in its first code cell (tagged ``parameters``) and
shrinks its sizes (frames, image side, iterations); the numbers it then shows only prove that
it runs. Execution times are printed (``pytest -s``) so CI time stays watched.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
EXCLUDED: set[str] = set()  # slow notebooks excluded from CI by name (none yet)
MAX_BYTES = 200_000  # committed notebooks: outputs cleared or small (no large embedded images)
TIMEOUT_S = 900  # per cell; on a loaded 2-core machine a cold compile of a fit takes minutes


def _text_outputs(nb) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            out.append(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(out)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small_and_has_a_parameter_cell(path):
    nbformat = pytest.importorskip("nbformat", reason="pip install '.[notebooks]'")
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: clear its outputs before committing"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first cell untagged"
    assert "JAXREFINE_NB_SMALL" in code[0].source, f"{path.name}: no small-settings switch"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="pip install '.[notebooks]'")
    nbclient = pytest.importorskip("nbclient", reason="pip install '.[notebooks]'")
    if path.name in EXCLUDED:
        pytest.skip(f"{path.name} is excluded from CI (slow)")
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("JAXREFINE_NB_SMALL", "1")  # the kernel inherits the environment
    # the kernel's inline backend (not Agg) so that every figure is really drawn
    monkeypatch.delenv("MPLBACKEND", raising=False)
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    t0 = time.perf_counter()
    client.execute()
    print(f"\n{path.name}: executed in {time.perf_counter() - t0:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]  # fmt: skip
    assert not errors
    if path.name == "compare_optimizers.ipynb":  # every method is shown, run or skipped
        text = _text_outputs(nb)
        for label in ("Adam", "LGD"):
            assert label in text, f"{label} is missing from the notebook's output"
