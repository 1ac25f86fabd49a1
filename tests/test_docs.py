"""The docs site builds strictly, its examples run and say what the code says, and its tables restate the code.

Each page's Python blocks run in order in one namespace, in a temporary folder, and every commented
``print`` must print its comment (see ``tests/test_readme.py``). A Python or ``bash`` block followed by a
``text`` block that starts with ``SomeError:``, ``SomeWarning:`` or ``<prog>: error:`` must raise, warn
or print exactly that (``...`` matches anything). Other ``bash`` commands run with small budgets.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import re
import shlex
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from tests.doc_blocks import (
    DOCS,
    PYTHON,
    README,
    ROOT,
    SKIP,
    run_python_blocks,
    run_python_modules,
    run_shell_command,
    with_small_budget,
)

PAGES = sorted(path for path in DOCS.glob("*.md"))
FENCE = re.compile(r"^```(?P<language>\w+)\n(?P<code>.*?)^```$", re.S | re.M)
EXPECTED = re.compile(r"^(?:\w+(?:Error|Warning|Exception)|python -m [\w.]+: error): ")


def examples(page: Path) -> list[tuple[str, str, str | None]]:
    """``(language, code, expected message or None)`` for every Python and bash block of ``page``."""
    text = page.read_text()
    fences = list(FENCE.finditer(text))
    found = []
    for index, fence in enumerate(fences):
        if fence["language"] not in ("python", "bash"):
            continue
        around = text[max(0, fence.start() - 120) : fence.start()] + text[fence.end() : fence.end() + 80]
        if SKIP in around:
            continue
        expected = None
        following = fences[index + 1] if index + 1 < len(fences) else None
        between = text[fence.end() : following.start()] if following else ""
        if following and following["language"] == "text" and not between.strip() and EXPECTED.match(following["code"]):
            expected = following["code"].strip()
        found.append((fence["language"], fence["code"], expected))
    return found


def matches(expected: str, got: str) -> bool:
    """Whether ``got`` is ``expected``, where ``...`` in ``expected`` stands for anything."""
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, got, re.S) is not None


def raised_or_warned(code: str, namespace: dict, expected: str, name: str) -> str:
    """Run ``code``; return ``"<Kind>: <message>"`` of what it raised, or of the warning of the expected kind."""
    kind = expected.split(":", 1)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(compile(code, name, "exec"), namespace)
        except Exception as error:
            return f"{type(error).__name__}: {error}"
    of_kind = [f"{w.category.__name__}: {w.message}" for w in caught if w.category.__name__ == kind]
    return of_kind[0] if of_kind else f"nothing raised, warnings: {[str(w.message) for w in caught]}"


def failing_command(command: str, cwd: Path) -> str:
    """The last line a command printed on stderr, checking that it failed with exit status 2."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    args = shlex.split(command)
    result = subprocess.run([PYTHON, *args[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, f"{command}: exit status {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_the_site_builds_strictly(tmp_path):
    """Any warning (a broken link, a missing page, an unresolved reference in a docstring) fails the build."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [PYTHON, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    api = (site / "api" / "reinforce_sb3" / "index.html").read_text()
    assert "n_episodes" in api and "The number of complete episodes per gradient step" in api  # from the docstring
    assert ":class:<code>" not in api  # the Sphinx roles became references (docs/hooks.py)
    for page in PAGES:
        assert (site / ("" if page.stem == "index" else page.stem) / "index.html").is_file()
    assert (site / "notebooks" / "tree_game.ipynb").is_file()


@pytest.mark.parametrize("page", [page.name for page in PAGES if examples(page)])
def test_python_examples_run_and_say_what_the_code_says(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples save models in the current folder
    namespace: dict = {"__name__": "__docs__"}
    path = DOCS / page
    for language, code, expected in examples(path):
        if language != "python":
            continue
        if expected is None:
            run_python_blocks_in(namespace, code, str(path))
        else:
            got = raised_or_warned(code, namespace, expected, str(path))
            assert matches(expected, got), f"{page}: {code}\nexpected: {expected}\n     got: {got}"


def run_python_blocks_in(namespace: dict, code: str, name: str) -> None:
    """Run one block in ``namespace``, checking its commented prints (as for the README)."""
    run_python_blocks([code], name, namespace)


@pytest.mark.slow
@pytest.mark.parametrize("page", [page.name for page in PAGES if any(e[0] == "bash" for e in examples(page))])
def test_shell_commands_run_or_fail_as_shown(page, tmp_path):
    for language, code, expected in examples(DOCS / page):
        if language != "bash":
            continue
        for line in code.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if not command:
                continue
            if expected is None:
                run_shell_command(command, tmp_path)
            else:
                got = failing_command(command, tmp_path)
                assert matches(expected, got), f"{page}: {command}\nexpected: {expected}\n     got: {got}"


def test_api_reference_documents_every_module_of_the_core():
    """The analysis, zoo and gym_pgtoy pages take every submodule; the core page lists its modules one by one."""
    api = (DOCS / "api" / "reinforce_sb3.md").read_text()
    for module in sorted((ROOT / "reinforce_sb3").glob("*.py")):
        if module.stem.startswith("_") or module.read_text().startswith('"""Alias of'):
            continue
        assert f"::: reinforce_sb3.{module.stem}\n" in api, f"docs/api/reinforce_sb3.md lacks {module.stem}"


def _table(page: Path, header: str) -> list[list[str]]:
    """The rows of the markdown table whose header line starts with ``header``, as lists of stripped cells."""
    lines = page.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_can_i_use_table_is_what_the_constructor_accepts():
    from gymnasium import spaces

    from reinforce_sb3.validation import ACTION_SPACES, OBSERVATION_SPACES

    for name, action, observation in _table(DOCS / "reinforce.md", "| Space | Action | Observation |"):
        space = getattr(spaces, name)
        assert (action == "✔") == issubclass(space, ACTION_SPACES), name
        assert (observation == "✔") == issubclass(space, OBSERVATION_SPACES), name
        assert {action, observation} <= {"✔", "✘"}


def test_argument_table_has_every_argument_with_its_default():
    from reinforce_sb3 import REINFORCE

    rows = _table(DOCS / "reinforce.md", "| argument | default | meaning |")
    documented = {row[0].strip("`"): row[1] for row in rows}
    parameters = inspect.signature(REINFORCE.__init__).parameters
    assert list(documented) == [name for name in parameters if name != "self"]
    for name, default in documented.items():
        value = parameters[name].default
        if value is inspect.Parameter.empty:
            assert default == "", name
        else:
            assert ast.literal_eval(default.strip("`")) == value, f"{name}: the docs say {default}, the code {value!r}"


def test_limits_table_states_the_constants():
    for _, value, where in _table(DOCS / "errors.md", "| limit | value | where |"):
        module, constant = where.strip("`").rsplit(".", 1)
        actual = getattr(importlib.import_module(module), constant)
        number = value.replace("at most ", "").split()[0].replace(",", "")
        scale = 2**30 if value.endswith("GiB") else 1
        assert int(number) * scale == actual, f"{where}: the docs say {value}, the code {actual:,}"


def _figure_commands() -> list[str]:
    """The commands of ``make figures``, as the docs write them (``python ...``)."""
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "figures"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [re.sub(r"^\S*python ", "python ", line.strip()) for line in recipe.splitlines() if "python" in line]


def test_every_picture_says_the_command_that_draws_it():
    figures = _figure_commands()
    for page in [README, *PAGES]:
        text = page.read_text()
        for image in re.finditer(r"!\[[^\]]*\]\((?P<path>[^)]+\.png)\)", text):
            name = Path(image["path"]).name
            caption = " ".join(text[image.end() : image.end() + 700].split())  # the caption below the picture
            commands = [
                c for c in re.findall(r"`(python -m [^`]+)`", caption) if re.search(rf"--(out|plot) docs/{name}\b", c)
            ]
            assert commands, f"{page.name}: no command drawing {name} under the picture"
            assert commands[0] in figures, f"{page.name}: {commands[0]!r} is not run by make figures"
            assert (DOCS / name).is_file()


def _update_results():
    spec = importlib.util.spec_from_file_location("update_results", DOCS / "update_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_blocks_are_filled_by_their_commands():
    update_results = _update_results()
    text = "a\n<!-- results: python -m x --n 1 -->\nold\n<!-- /results -->\nb\n"
    updated = update_results.update(text, lambda command: f"## ran {command}\n| t |\n")
    assert updated == "a\n<!-- results: python -m x --n 1 -->\n**ran python -m x --n 1**\n| t |\n<!-- /results -->\nb\n"
    assert update_results.update(updated, lambda command: "new\n").count("new") == 1
    for page in PAGES:
        for match in update_results.MARKER.finditer(page.read_text()):
            assert match["command"].startswith("python -m "), match["command"]
            assert match["output"].strip(), f"{page.name}: the results of {match['command']!r} are empty"


def test_a_later_results_block_reads_what_an_earlier_one_printed():
    """The page is written after each block, so a summary block can gather the blocks above it."""
    update_results = _update_results()
    first, second = "python -m first", "python -m second"
    text = f"<!-- results: {first} -->\nold\n<!-- /results -->\n<!-- results: {second} -->\n<!-- /results -->\n"
    written = []

    def run(command):
        return "new" if command.endswith("first") else f"saw {written[-1].count('new')} new block(s)"

    updated = update_results.update(text, run, written=written.append)
    assert len(written) == 2 and written[-1] == updated
    assert "saw 1 new block(s)" in updated and "old" not in updated


def test_mujoco_summary_block_is_what_it_prints_from_the_blocks_above_it():
    """Re-running a task's block (or changing an entry's budget) without the summary fails here."""
    from benchmarks.mujoco_summary import mujoco_summary

    page = DOCS / "zoo.md"
    command = "python -m benchmarks.mujoco_summary docs/zoo.md"
    (block,) = [m for m in _update_results().MARKER.finditer(page.read_text()) if m["command"] == command]
    assert block["output"].strip() == mujoco_summary(page)


@pytest.mark.slow
def test_results_commands_run_with_small_budgets(tmp_path):
    """Each results command works (here with small budgets), so `make figures` does not break half way."""
    update_results = _update_results()
    commands = [c for page in PAGES for c in update_results.results_commands(page.read_text())]
    assert commands
    # tests/test_benchmarks.py runs each benchmark with small budgets
    commands = [with_small_budget(command) for command in commands if not command.startswith("python -m benchmarks.")]
    run_python_modules(commands, tmp_path)


def test_hook_makes_sphinx_roles_references_and_keeps_usage_brackets():
    spec = importlib.util.spec_from_file_location("hooks", DOCS / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    usage = 'tree <autoref a="1" identifier="--env X-v0" b="2">--out t.png</autoref> '
    usage += '<autoref identifier="--seed">--seed</autoref>'
    assert hooks.brackets_as_text(usage) == "tree [--out t.png] [--env X-v0] [--seed]"
    reference = '<autoref identifier="gym_pgtoy.exact">exact</autoref>'
    assert hooks.brackets_as_text(reference) == reference
    html = "see :func:<code>~reinforce_sb3.estimator.reinforce_loss</code> and :mod:<code>gym_pgtoy.exact</code>"
    assert hooks.sphinx_roles_to_references(html) == (
        'see <autoref identifier="reinforce_sb3.estimator.reinforce_loss" optional><code>reinforce_loss</code>'
        '</autoref> and <autoref identifier="gym_pgtoy.exact" optional><code>gym_pgtoy.exact</code></autoref>'
    )


def test_examples_finds_expected_messages(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nf()\n```\n\n```text\nValueError: bad\n```\n\n```python\ng()\n```\n")
    assert examples(page) == [("python", "f()\n", "ValueError: bad"), ("python", "g()\n", None)]
    assert matches("ValueError: at ... it is nan", "ValueError: at 0.42 it is nan")
    assert not matches("ValueError: at ... it is nan", "ValueError: at 0.42 it is inf")


def _chromium() -> str | None:
    """A headless-capable Chromium or Chrome on this machine, if any."""
    return next(
        (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
    )


def _without_code(html_text: str) -> str:
    """``html_text`` without code, pre and KaTeX's annotation elements (which keep the TeX source on purpose)."""
    return re.sub(r"<(code|pre|annotation|script)\b[^>]*>.*?</\1>", "", html_text, flags=re.S)


def test_math_is_typeset_by_the_vendored_katex(tmp_path):
    """In headless Chromium every math element of the theorem page becomes KaTeX, none fails, and no CDN is named."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [PYTHON, "-m", "mkdocs", "build", "--site-dir", str(site)]
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True)
    for page in ("theorem", "questions", "reinforce"):
        built = (site / page / "index.html").read_text()
        n_math = built.count('class="arithmatex"')
        assert n_math > 0, page
        scripts = re.findall(r'<script[^>]*src="([^"]+)"', built) + re.findall(r'<link[^>]*href="([^"]+)"', built)
        assert [s for s in scripts if "katex" in s] and not [s for s in scripts if "katex" in s and "//" in s], scripts
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom"]
        url = (site / page / "index.html").as_uri()
        dom = subprocess.run([chromium, *flags, url], capture_output=True, text=True, timeout=120, check=True).stdout
        typeset = dom.count('class="katex"')
        assert typeset >= n_math, f"{page}: {typeset} KaTeX elements for {n_math} math elements"
        assert "katex-error" not in dom, page
        text = _without_code(dom)
        assert "\\(" not in text and "\\[" not in text, f"{page}: raw TeX left on the page"
