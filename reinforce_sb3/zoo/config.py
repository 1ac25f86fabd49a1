"""What our wrappers add to the zoo's command line: the shipped hyperparameter file and the default output.

``--algo reinforce`` reads ``hyperparams/reinforce.yml`` of this package unless ``--conf-file`` is
given, and ``train`` shows SB3's progress bar on a terminal unless the output was chosen.
"""

from __future__ import annotations

import itertools
from pathlib import Path

HYPERPARAMS_FILE = Path(__file__).parent / "hyperparams" / "reinforce.yml"
"""The hyperparameters shipped for ``--algo reinforce``, one entry per env id."""


def option_value(argv: list[str], *flags: str) -> str | None:
    """The value given to the first of ``flags`` on the command line (``--flag value`` or ``--flag=value``)."""
    for flag, value in itertools.pairwise(argv):
        if flag in flags:
            return value
    return next((arg.split("=", 1)[1] for arg in argv if arg.split("=", 1)[0] in flags and "=" in arg), None)


def with_default_config(argv: list[str], interactive: bool = False) -> list[str]:
    """
    ``argv`` plus ``--conf-file <shipped reinforce.yml>`` for ``--algo reinforce`` when no config is given,
    and SB3's progress bar (``--progress``) when the output is a terminal and neither it nor ``--verbose``
    was asked for (the log tables then come every 100 updates, REINFORCE's default ``log_interval``).

    :param argv: the command-line arguments of ``train``
    :param interactive: whether the output is a terminal
    """
    has_config = any(arg in ("-conf", "--conf-file") or arg.startswith("--conf-file=") for arg in argv)
    if option_value(argv, "--algo") == "reinforce" and not has_config:
        argv = [*argv, "--conf-file", str(HYPERPARAMS_FILE)]
    chose_output = any(arg in ("-P", "--progress", "--verbose") or arg.startswith("--verbose=") for arg in argv)
    if interactive and not chose_output:
        argv = [*argv, "--progress"]
    return argv
