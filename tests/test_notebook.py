"""The student notebook: stored executed and in step with its jupytext twin; a fresh headless run gives the stored
outputs; its interactive part (``show`` and the sliders that call it) works without a browser."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")
pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from gym_pgtoy import exact  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
NOTEBOOK = NOTEBOOKS / "tree_game.ipynb"
SCRIPT = NOTEBOOKS / "tree_game.py"
REFRESH = "python docs/notebooks/execute.py"


def _load_execute() -> Any:
    spec = importlib.util.spec_from_file_location("notebook_execute", NOTEBOOKS / "execute.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


execute = _load_execute()


def _cells(notebook: Any) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def _stored() -> Any:
    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_and_its_script_hold_the_same_cells():
    """Edit the script, then `python docs/notebooks/execute.py` (it writes the notebook, executed, from the script)."""
    assert _cells(_stored()) == _cells(jupytext.read(SCRIPT))


def test_notebook_is_stored_executed():
    """Every code cell has run, in order, without an error; the numbers and pictures GitHub shows are stored."""
    notebook = _stored()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), f"run {REFRESH}"
    outputs = [output for cell in code for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    pictures = [output for output in outputs if "image/png" in output.get("data", {})]
    # the hand-set policy's tree, show's tree, the learning curve, the learned policy's tree
    assert len(pictures) == 4
    for picture in pictures:
        width, height = execute.png_size(picture["data"]["image/png"])
        assert width > 300 and height > 300
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    walkthrough = exact.analyze("PGToy-v0", exact.WALKTHROUGH_POLICY)
    assert f"expected return J = {walkthrough.expected_return:.3f}\n" in text
    d_left, d_right = walkthrough.gradient[(2, 1)]  # the rate along the simplex, not dJ/dpi(right) alone:
    assert f"hilltop, diamond there: {d_right:+.2f} - ({d_left:+.2f}) = {d_right - d_left:+.2f} per unit" in text
    assert "widgets" not in notebook.metadata  # no widget state (random ids) is stored


def test_notebook_does_not_call_reinforce_defaults_unbiased():
    """'unbiased' is said only of the textbook estimator, and REINFORCE's defaults are called rescaled."""
    markdown = " ".join(cell.source for cell in _stored().cells if cell.cell_type == "markdown")
    markdown = re.sub(r"\s+", " ", markdown)
    for sentence in re.split(r"(?<=\.)\s", markdown):
        if "unbiased" in sentence and "not unbiased" not in sentence:
            assert "textbook" in sentence, sentence
    assert "normalize_returns=True" in markdown and 'loss_reduction="mean"' in markdown
    assert "*rescaled*" in markdown


# --- the interactive part, run here without a kernel ---


def _code_cells_until(marker: str) -> Iterator[str]:
    """The code of the script's cells up to and including the first that contains ``marker`` (magics left out)."""
    for cell in jupytext.read(SCRIPT).cells:
        if cell.cell_type != "code":
            continue
        yield "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        if marker in cell.source:
            return
    raise AssertionError(f"no code cell of {SCRIPT.name} contains {marker!r}")


@pytest.fixture
def notebook_namespace(capsys) -> Iterator[dict[str, Any]]:
    """The notebook's namespace after its cells up to the one that defines ``show``, with ``display`` recording
    what it is given instead of showing it."""
    import matplotlib.pyplot as plt

    namespace: dict[str, Any] = {"__name__": "__notebook__"}
    for code in _code_cells_until("def show("):
        exec(compile(code, str(SCRIPT), "exec"), namespace)
    shown: list[Any] = []
    namespace["display"] = shown.append
    namespace["shown"] = shown
    capsys.readouterr()
    yield namespace
    plt.close("all")


def _policy(p_hilltop: float, p_hillside: float, p_hilltop_again: float) -> dict:
    rights = {(2, 1): p_hilltop, (1, 0): p_hillside, (2, 0): p_hilltop_again}
    return {state: (1 - p, p) for state, p in rights.items()}


@pytest.mark.parametrize("rights", [(0.3, 0.6, 0.2), (0.0, 1.0, 1.0), (1.0, 0.5, 0.5), (0.45, 0.05, 0.9)])
def test_show_prints_the_exact_numbers_and_draws_the_tree(notebook_namespace, capsys, rights):
    notebook_namespace["show"](*rights)
    out = capsys.readouterr().out
    analysis = exact.analyze("PGToy-v0", _policy(*rights))
    assert out.startswith(f"expected return J = {analysis.expected_return:.3f} ")
    for state, (d_left, d_right) in analysis.gradient.items():
        name = notebook_namespace["state_name"](notebook_namespace["game"], state)
        (line,) = [line for line in out.splitlines() if line.startswith(f"{name} ")]
        assert f"P(right) {_policy(*rights)[state][1]:.2f}:" in line
        numbers = [float(x) for x in re.findall(r"[-+]\d+\.\d+", line.split(":", 1)[1])]
        np.testing.assert_allclose(numbers, [d_left, d_right, d_right - d_left], atol=5e-4)
    (figure,) = notebook_namespace["shown"]
    assert figure.axes[0].get_title() == f"Expected return {analysis.expected_return:.3f} (exact, gamma=1)"
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert any(text.startswith(f"right {rights[0]:.2f}\n") for text in texts)
    assert any(text.startswith("hilltop, diamond there\n(2, 1)  t=0") for text in texts)


def test_the_sliders_call_show(notebook_namespace, capsys):
    """The widget cell builds one slider per decision state, starting at the walk-through's policy; moving one
    runs ``show`` again with the new probability."""
    namespace = notebook_namespace
    (widget_cell,) = [code for code in _code_cells_until("widgets.interact(") if "widgets.interact(" in code]
    exec(compile(widget_cell, str(SCRIPT), "exec"), namespace)
    interactive = namespace["show"].widget
    sliders = [child for child in interactive.children if hasattr(child, "value")]
    assert [slider.value for slider in sliders] == [0.3, 0.6, 0.2]
    assert [slider.description for slider in sliders] == [
        "P(right) hilltop, diamond there",
        "P(right) hillside, diamond taken",
        "P(right) hilltop, diamond taken",
    ]
    assert all((slider.min, slider.max) == (0.0, 1.0) for slider in sliders)
    titles = [figure.axes[0].get_title() for figure in namespace["shown"]]
    assert titles == ["Expected return 2.636 (exact, gamma=1)"]  # drawn once when built
    sliders[0].value = 0.0
    sliders[1].value = 1.0
    sliders[2].value = 1.0
    last = namespace["shown"][-1].axes[0].get_title()
    assert last == f"Expected return {exact.optimal_return('PGToy-v0'):.3f} (exact, gamma=1)"
    assert "expected return J = 11.000" in capsys.readouterr().out


# --- a fresh run, headless, against the stored outputs ---


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory) -> Any:
    """The notebook, built from its script and executed in a fresh kernel (about half a minute on 2 cores)."""
    return execute.execute(execute.from_script(), tmp_path_factory.mktemp("notebook"))


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(fresh_run):
    outputs = [output for cell in fresh_run.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    errors = [float(e) for e in re.findall(r"one batch's error (\d\.\d+)", text)]
    assert len(errors) == 4 and errors[-1] < errors[0] / 3  # 64 times the episodes: about an eighth of the error
    scales = dict(re.findall(r"(textbook|REINFORCE's defaults) *: scale \|average\| / \|exact\| (\d\.\d+)", text))
    assert abs(float(scales["textbook"]) - 1) < 0.05 and float(scales["REINFORCE's defaults"]) < 0.5
    final = float(re.search(r"exact expected return after training: (\d+\.\d+)", text).group(1))
    assert final > 10.9  # the optimum (11), not the trap (10)
    widgets = [output for output in outputs if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert len(widgets) == 1 and widgets[0]["data"]["text/plain"].startswith("interactive(children=(FloatSlider(")


@pytest.mark.slow
def test_stored_outputs_are_those_of_a_fresh_run(fresh_run):
    """Texts equal (memory addresses masked), pictures of the same size; else run `python docs/notebooks/execute.py`."""
    stored, fresh = execute.comparable_outputs(_stored()), execute.comparable_outputs(fresh_run)
    assert len(stored) == len(fresh)
    for index, (was, now) in enumerate(zip(stored, fresh, strict=True)):
        assert was == now, f"code cell {index} differs from a fresh run: {REFRESH}"


def test_comparable_outputs_mask_only_what_changes_between_runs():
    """Addresses and the cutting of printed text into messages are masked; a changed number is not."""
    make = nbformat.v4

    def notebook(*outputs: Any) -> Any:
        cell = make.new_code_cell("x")
        cell.outputs = list(outputs)
        return make.new_notebook(cells=[cell])

    one = notebook(make.new_output("stream", name="stdout", text="J = 2.636\n<object at 0x7f3a2b1c9d00>\n"))
    two = notebook(
        make.new_output("stream", name="stdout", text="J = 2.636\n"),
        make.new_output("stream", name="stdout", text="<object at 0x7e00aa11bb22>\n"),
    )
    changed = notebook(make.new_output("stream", name="stdout", text="J = 2.637\n<object at 0x7f3a2b1c9d00>\n"))
    assert execute.comparable_outputs(one) == execute.comparable_outputs(two)
    assert execute.comparable_outputs(one) != execute.comparable_outputs(changed)
