"""One contract for every command-line tool of ``gym_pgtoy`` and ``reinforce-sb3``: bad input ends in one line.

The tools (``python -m gym_pgtoy``, ``python -m reinforce_sb3.analysis.diagnostics`` and ``.plots``,
the zoo wrappers ``python -m reinforce_sb3.zoo.train``, ``.enjoy`` and ``.record_video``, and their
aliases) run their ``main`` through :func:`run_cli`:

- an error ends the program with exit status 2, argparse's status for bad usage, and a single line
  on stderr, ``<prog>: error: <ExceptionType>: <message>``, never a traceback;
- an argument error of any argparse parser that runs inside (the zoo's included) is that one line
  too, ``<prog>: error: <message> (see --help)``, without argparse's usage block;
- ``--debug`` anywhere on the command line shows the full traceback instead.

It lives in ``gym_pgtoy``, the bottom of the import graph, so that every tool can share it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn

DEBUG_FLAG = "--debug"
EXIT_BAD_INPUT = 2  # argparse's exit status for bad usage


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Show ``--debug`` in the ``--help`` of ``parser`` (:func:`run_cli` removes it before ``main`` parses)."""
    parser.add_argument(
        DEBUG_FLAG, action="store_true", help="on an error, show the full traceback instead of a one-line message"
    )


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``minimum``, else an argument error naming what is allowed."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    return parse


def run_cli(main: Callable[[list[str]], object], prog: str, argv: Sequence[str] | None = None) -> None:
    """Run ``main(argv)`` as a command-line tool: any error is one line on stderr and exit status 2.

    :param main: the tool; it receives the arguments without ``--debug``
    :param prog: how the tool is invoked (``python -m ...``), the start of every error line
    :param argv: the command-line arguments (default: ``sys.argv[1:]``)
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args
    args = [arg for arg in args if arg != DEBUG_FLAG]
    try:
        if debug:
            main(args)
        else:
            with _one_line_usage_errors():
                main(args)
    except Exception as error:  # SystemExit (argparse, --help) and KeyboardInterrupt pass through
        if debug:
            raise
        detail = _one_line(str(error))
        kind = type(error).__name__
        print(f"{prog}: error: {kind}: {detail}" if detail else f"{prog}: error: {kind}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None


def _one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


@contextlib.contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    """While inside, every argparse parser reports an argument error as one line (no usage block).

    The zoo's scripts build their own ``argparse.ArgumentParser``; replacing the class's ``error``
    method for the duration is the one way to reach it. ``--debug`` leaves argparse as it is.
    """
    original = argparse.ArgumentParser.error

    def error(self: argparse.ArgumentParser, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {_one_line(message)} (see --help)\n")

    argparse.ArgumentParser.error = error  # type: ignore[method-assign]  # scoped: restored on the way out
    try:
        yield
    finally:
        argparse.ArgumentParser.error = original  # type: ignore[method-assign]  # restoring the original
