"""Alias of :mod:`reinforce_sb3.analysis.diagnostics`, where this module lives now (the README showed this path)."""

import sys

from reinforce_sb3.analysis import diagnostics

if __name__ == "__main__":
    diagnostics.cli(prog="python -m reinforce_sb3.diagnostics")
else:
    sys.modules[__name__] = diagnostics
