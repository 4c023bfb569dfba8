"""The notebooks in examples/ (jupytext percent scripts) run top to bottom in a Jupyter kernel.

Each notebook asserts on the numbers it shows, so a notebook that breaks, or whose results
drift out of their stated ranges, fails the suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(p for p in EXAMPLES.glob("*.py") if p.read_text().startswith("# ---\n# jupyter:"))


def test_every_notebook_is_collected() -> None:
    assert {p.stem for p in NOTEBOOKS} >= {"quickstart", "symbolic_dynamics", "your_own_data"}


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(notebook: Path, tmp_path: Path) -> None:
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(notebook)
    # The working directory is examples/, as when a user opens the notebook there.
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert any(o.get("output_type") == "stream" for o in outputs)  # the numbers were shown
