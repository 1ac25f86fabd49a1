"""Alias of :mod:`reinforce_sb3.analysis.plots`, where this module lives now (the README showed this path)."""

import sys

from reinforce_sb3.analysis import plots

if __name__ == "__main__":
    plots.cli(prog="python -m reinforce_sb3.plots")
else:
    sys.modules[__name__] = plots
