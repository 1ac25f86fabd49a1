"""The README cannot go stale: its Python blocks run and print what their comments say, and its shell commands run
(the harness: tests/doc_blocks.py)."""

from __future__ import annotations

import re

import pytest

from tests.doc_blocks import (
    README,
    ROOT,
    fenced_blocks,
    pyproject_value,
    run_python_blocks,
    run_shell_command,
    shell_commands,
    with_small_budget,
)


def test_readme_python_blocks_print_what_they_say(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples save models in the current folder
    blocks = fenced_blocks(README, "python")
    assert len(blocks) >= 2
    printed = run_python_blocks(blocks, str(README))
    assert "2.636" in printed
    assert (tmp_path / "reinforce_pgtoy.zip").is_file()


@pytest.mark.slow
def test_readme_shell_commands_run(tmp_path):
    commands = shell_commands(README)
    assert any(command.startswith("make train") for command in commands)
    for command in commands:
        result = run_shell_command(command, tmp_path)
        if command.startswith("python -m reinforce_sb3.analysis.plots tree"):
            assert result is not None and "wrote tree.png" in result.stdout
            assert (tmp_path / "tree.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("python -m x --timesteps 20000 -n 5 --seeds 5", "python -m x --timesteps 600 -n 1000 --seeds 1"),
        ("python -m x --n-batches 200 --n-episodes 32", "python -m x --n-batches 2 --n-episodes 4"),
        ("python -m x --n-trials 20 --hyperparams n_episodes:8", "python -m x --n-trials 2 --hyperparams n_episodes:8"),
    ],
)
def test_small_budgets_replace_only_budget_flags(command, expected):
    assert with_small_budget(command) == expected


def test_a_wrong_comment_fails_the_check():
    with pytest.raises(AssertionError, match="printed '3', not '4'"):
        run_python_blocks(["print(1 + 2)  # 4\n"], "example")
    run_python_blocks(["print(1 + 2)  # 3: the sum\n"], "example")


def test_readme_links_lead_to_files_that_exist():
    text = README.read_text()
    links = [link for link in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in link]
    assert "docs/tree.png" in links and "CITATION.cff" in links
    for link in links:
        assert (ROOT / link.split("#")[0]).exists(), f"README links to {link}, which does not exist"


def test_citation_and_license_match_the_project():
    yaml = pytest.importorskip("yaml")
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert citation["version"] == pyproject_value(r'^version = "(.*?)"')
    assert citation["license"] == pyproject_value(r'^license = \{ text = "(.*?)" \}') == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
