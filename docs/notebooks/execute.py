"""Run the student notebook top to bottom and store it executed, from its jupytext twin.

    python docs/notebooks/execute.py

reads ``tree_game.py`` (the cells), executes them in a fresh kernel (nbclient, the ``python3`` kernel of the
environment it runs in) and writes ``tree_game.ipynb`` with every output, pictures as PNG, so that GitHub shows
the numbers and pictures. Cell ids are numbered and neither timings nor widget states are stored, so the
notebook changes only where its outputs do. ``tests/test_notebook.py`` runs the notebook the same way and
compares the outputs with the stored ones (:func:`comparable_outputs`).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "tree_game.ipynb"
SCRIPT = HERE / "tree_game.py"
TIMEOUT = 300
"""Seconds one cell may take (the training cell takes about 20 s on a laptop CPU)."""

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def execute(notebook: Any, folder: Path = HERE) -> Any:
    """Execute ``notebook`` in place in a fresh kernel with ``folder`` as its working directory, and return it."""
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        record_timing=False,
        store_widget_state=True,  # nbclient 0.10 fails on the sliders' outputs without it
    )
    client.execute()  # a failing cell raises CellExecutionError, with the cell and its traceback
    notebook.metadata.pop("widgets", None)  # the sliders' state (random ids, a copy of a picture): not stored
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    return notebook


def coalesce_streams(outputs: list[Any]) -> list[Any]:
    """The outputs with each run of stream outputs of the same name (stdout, stderr) joined into one: how a
    cell's printing is cut into messages depends on timing, what it printed does not."""
    joined: list[Any] = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            joined.append(output)
    return joined


def from_script(script: Path = SCRIPT) -> Any:
    """The notebook of the jupytext twin, its cells numbered ``cell-00``, ``cell-01``, ..."""
    notebook = jupytext.read(script)
    for i, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{i:02d}"
    return notebook


def png_size(data: str) -> tuple[int, int]:
    """``(width, height)`` in pixels of a base64-encoded PNG, from its header."""
    import base64

    header = base64.b64decode(data[:44])
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def comparable_outputs(notebook: Any) -> list[list[dict[str, Any]]]:
    """Each code cell's outputs as what two runs must share: texts exactly, memory addresses masked; pictures by
    their size in pixels (not their bytes); widgets by their text form, without the model's id."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in coalesce_streams(copy.deepcopy(cell.outputs)):
            kept: dict[str, Any] = {"output_type": output.output_type}
            if output.output_type == "stream":
                kept["name"] = output.name
                kept["text"] = _ADDRESS.sub("0x...", output.text)
            elif output.output_type in ("display_data", "execute_result"):
                data = output.get("data", {})
                kept["types"] = sorted(data)
                kept["text"] = _ADDRESS.sub("0x...", data.get("text/plain", ""))
                if "image/png" in data:
                    kept["png_size"] = png_size(data["image/png"])
            elif output.output_type == "error":
                kept["error"] = f"{output.ename}: {output.evalue}"
            outputs.append(kept)
        cells.append(outputs)
    return cells


def main() -> None:
    notebook = execute(from_script())
    nbformat.write(notebook, NOTEBOOK)  # type: ignore[no-untyped-call]  # nbformat ships no annotations
    print(f"wrote {NOTEBOOK.relative_to(Path.cwd()) if NOTEBOOK.is_relative_to(Path.cwd()) else NOTEBOOK}")


if __name__ == "__main__":
    main()
