"""The student notebook runs top to bottom, shows its pictures, and holds the same cells as its jupytext script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
NOTEBOOK = NOTEBOOKS / "tree_game.ipynb"
SCRIPT = NOTEBOOKS / "tree_game.py"


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_notebook_and_its_script_hold_the_same_cells():
    """Edit either one, then `jupytext --sync docs/notebooks/tree_game.ipynb`."""
    assert _cells(nbformat.read(NOTEBOOK, as_version=4)) == _cells(jupytext.read(SCRIPT))


def test_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # a failing cell raises CellExecutionError, with the cell and its traceback
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    pictures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(pictures) == 3  # the tree of the hand-set policy, the learning curve, the learned tree
    assert "expected return J = 2.636" in text
    errors = [float(e) for e in re.findall(r"one batch's error (\d\.\d+)", text)]
    assert len(errors) == 4 and errors[-1] < errors[0] / 3  # 64 times the episodes: about an eighth of the error
    final = float(re.search(r"exact expected return after training: (\d+\.\d+)", text).group(1))
    assert final > 10.9  # the optimum (11), not the trap (10)
