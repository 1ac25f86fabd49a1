"""Running the code of the README and the docs: their Python blocks run and print what their comments say, and
their shell commands run.

A ``print(...)`` whose line ends in a comment is checked: what it prints must be the comment, or the
comment's part before ``": "`` (``print(x)  # 11.0: the optimum`` must print ``11.0``). A block
with ``<!-- not run by the tests`` just before or after it is left out. Shell commands run in a subprocess with the
repository's ``.venv`` python, in a temporary folder, with small budgets where a flag allows;
``make`` targets are checked through ``make -n`` (``make train`` runs its command with a small
``-n``), ``pip install`` lines against ``pyproject.toml`` and with pip's ``--dry-run``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
SKIP = "<!-- not run by the tests"

# Small budgets for the commands the docs show: (pattern, replacement), applied in order.
BUDGETS = [
    (r"(^| )(-n|--n-timesteps) \d+", r"\1\2 1000"),
    (r"--timesteps \d+", "--timesteps 600"),
    (r"--seeds \d+", "--seeds 1"),
    (r"--n-batches \d+", "--n-batches 2"),
    (r"--n-episodes \d+", "--n-episodes 4"),
    (r"--n-trials \d+", "--n-trials 2"),
]


def fenced_blocks(path: Path, language: str) -> list[str]:
    """The code of every fenced block of ``language`` in ``path``, except those marked not to be run."""
    text = path.read_text()
    blocks = []
    for match in re.finditer(rf"^```{language}\n(.*?)^```$", text, re.S | re.M):
        around = text[max(0, match.start() - 120) : match.start()] + text[match.end() : match.end() + 80]
        if SKIP not in around:
            blocks.append(match.group(1))
    return blocks


def _expected_output(source_lines: list[str], statement: ast.stmt) -> str | None:
    """The trailing comment of a top-level ``print(...)`` statement (its expected output), if it has one."""
    if not (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == "print"
    ):
        return None
    last = source_lines[statement.end_lineno - 1]
    comments = [t.string for t in tokenize.generate_tokens(io.StringIO(last).readline) if t.type == tokenize.COMMENT]
    return comments[-1].lstrip("#").strip() if comments else None


def run_python_blocks(blocks: list[str], name: str, namespace: dict | None = None) -> str:
    """Run the blocks in order in one namespace; check every commented print; return everything printed."""
    namespace = {"__name__": "__docs__"} if namespace is None else namespace
    printed = io.StringIO()
    for block in blocks:
        lines = block.splitlines()
        for statement in ast.parse(block).body:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(ast.Module([statement], type_ignores=[]), name, "exec"), namespace)
            printed.write(out.getvalue())
            expected = _expected_output(lines, statement)
            if expected is not None:
                got = out.getvalue().strip()
                source = ast.get_source_segment(block, statement)
                assert got in (expected, expected.split(": ", 1)[0]), (
                    f"{name}: {source} printed {got!r}, not {expected!r}"
                )
    return printed.getvalue()


def shell_commands(path: Path) -> list[str]:
    """Every command line of the ``bash`` blocks of ``path``, without its trailing comment."""
    commands = []
    for block in fenced_blocks(path, "bash"):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def with_small_budget(command: str) -> str:
    for pattern, replacement in BUDGETS:
        command = re.sub(pattern, replacement, command)
    return command


def _run(
    args: list[str], cwd: Path, timeout: float = 300, repo_on_path: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``repo_on_path`` the repository is on ``PYTHONPATH`` (``python -m benchmarks...``)."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if repo_on_path:
        env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{shlex.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


_MODULES_DRIVER = """
import runpy, shlex, sys
for command in sys.argv[1:]:
    print(f"running: {command}", file=sys.stderr, flush=True)
    args = shlex.split(command)
    sys.argv = [args[2], *args[3:]]
    try:
        runpy.run_module(args[2], run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        if stop.code not in (None, 0):
            sys.exit(f"failed: {command} exited with {stop.code}")
"""


def run_python_modules(commands: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run several ``python -m module ...`` commands one after the other in one process (one import of torch
    instead of one each); fail naming the first that fails."""
    assert all(shlex.split(command)[:2] == ["python", "-m"] for command in commands), commands
    return _run([PYTHON, "-c", _MODULES_DRIVER, *commands], cwd, timeout=900)


def pyproject_value(pattern: str) -> str:
    """The first group of ``pattern`` in pyproject.toml (tomllib is Python 3.11+; the project supports 3.10)."""
    match = re.search(pattern, (ROOT / "pyproject.toml").read_text(), re.S | re.M)
    assert match, pattern
    return match.group(1)


def _extras() -> set[str]:
    section = pyproject_value(r"^\[project\.optional-dependencies\]\n(.*?)^\[")
    return set(re.findall(r"^([\w-]+) = ", section, re.M))


def run_shell_command(command: str, cwd: Path) -> subprocess.CompletedProcess[str] | None:
    """Run (or, where running it here makes no sense, check) one command the docs show; fail if it fails."""
    words = shlex.split(command)
    if words[:1] == ["make"]:
        target = words[1] if len(words) > 1 else ""
        recipe = _run(["make", "--no-print-directory", "-n", target], ROOT).stdout.strip().splitlines()
        if target == "train":  # run its command (the last line of the recipe) with a small budget
            script = shlex.split(recipe[-1])
            assert script[0].endswith("python") and script[1:] == ["examples/train_pgtoy.py"], recipe
            return _run([PYTHON, str(ROOT / script[1]), "-n", "1000", "--folder", str(cwd / "logs")], cwd)
        assert recipe, f"make {target} does nothing"
        return None
    if command == "source .venv/bin/activate":
        assert (ROOT / ".venv" / "bin" / "activate").is_file()
        return None
    if words[:2] == ["pip", "install"]:
        (spec,) = [word for word in words[2:] if not word.startswith("-") and word != "constraints.txt"]
        extras = set(re.search(r"\[(.*?)\]", spec).group(1).split(","))
        assert extras <= _extras(), f"{command}: no extra {sorted(extras - _extras())} in pyproject.toml"
        if "-c" in words:
            assert (ROOT / words[words.index("-c") + 1]).is_file()
        spec = spec.replace("git+<repository-url>", f"git+file://localhost{ROOT}")  # the committed HEAD of this clone
        spec = str(ROOT) + spec[1:] if spec.startswith(".[") else spec
        pip = [PYTHON, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index", "--no-build-isolation", spec]
        result = _run(pip, cwd, repo_on_path=False)  # else pip finds the clone's egg-info and installs nothing
        assert "Would install reinforce-sb3" in result.stdout, result.stdout
        return result
    if words[:2] == ["python", "-m"] or (words[:1] == ["python"] and words[1].endswith(".py")):
        args = shlex.split(with_small_budget(command))
        if args[1].endswith(".py"):
            args[1] = str(ROOT / args[1])
        return _run([PYTHON, *args[1:]], cwd)
    raise AssertionError(f"the docs show a command the tests do not know how to check: {command!r}")
