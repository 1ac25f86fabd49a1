"""Re-run the command of every results block of the docs and write its output in place (part of ``make figures``).

A results block is the output of one command, between two markers, so that the page shows exactly
what the command printed and names the command that printed it::

    <!-- results: python -m reinforce_sb3.analysis.diagnostics --n-episodes 32 --n-batches 200 -->
    ...what it printed...
    <!-- /results -->

Commands start with ``python`` and run with this interpreter, from the repository root. The page is
written after each block, so a later block's command can read what earlier ones printed (a summary
of the blocks above it), and a run stopped half way keeps the blocks it finished. A heading
the command prints (``## waste (57 s)``, as the benchmarks print them) becomes a bold line, so that
the page's own headings stay the page's.

    python docs/update_results.py                 # every page of docs/
    python docs/update_results.py docs/guide.md   # some pages
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"(?P<open><!-- results: (?P<command>.+?) -->\n)(?P<output>.*?)(?P<close><!-- /results -->)", re.S)


def results_commands(text: str) -> list[str]:
    """The commands of the results blocks of a page, in order."""
    return [match["command"] for match in MARKER.finditer(text)]


def update(text: str, run: Callable[[str], str], written: Callable[[str], object] | None = None) -> str:
    """
    ``text`` with the output of every results block replaced by what ``run(command)`` returns, block by block.

    :param written: called with the whole text after each block is replaced (the page is written there,
        so that a later block's command, such as ``benchmarks.mujoco_summary``, reads what earlier ones printed)
    """
    position = 0
    while match := MARKER.search(text, position):
        output = re.sub(r"^#+ (.*)$", r"**\1**", run(match["command"]).strip("\n"), flags=re.M)
        block = f"{match['open']}{output}\n{match['close']}"
        text = text[: match.start()] + block + text[match.end() :]
        position = match.start() + len(block)
        if written is not None:
            written(text)
    return text


def run_command(command: str) -> str:
    """What ``command`` (``python ...``) prints when run with this interpreter from the repository root."""
    words = shlex.split(command)
    if words[0] != "python":
        raise ValueError(f"a results command must start with python, got {command!r}")
    print(f"running: {command}", file=sys.stderr, flush=True)
    result = subprocess.run([sys.executable, *words[1:]], cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed with exit status {result.returncode}:\n{result.stderr}")
    return result.stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="the pages to update (default: every page of docs/)")
    args = parser.parse_args(argv)
    for page in args.pages or sorted((ROOT / "docs").rglob("*.md")):
        text = page.read_text()
        if MARKER.search(text):
            update(text, run_command, written=page.write_text)
            print(f"updated {page}", file=sys.stderr)


if __name__ == "__main__":
    main()
