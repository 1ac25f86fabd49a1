"""The options that ``train -optimize`` takes besides the zoo's, and taking them out of the command line.

The zoo's parser does not know them: :func:`split_tuning_options` removes them from ``argv`` before
the zoo's script runs and gives them to :mod:`reinforce_sb3.zoo.tuning` as a
:class:`~reinforce_sb3.zoo.study.TuningOptions`. A new option of multi-seed studies goes in
:func:`tuning_parser` and in ``TuningOptions``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from gym_pgtoy.cli import int_at_least

if TYPE_CHECKING:
    from reinforce_sb3.zoo.study import TuningOptions


def tuning_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The options of ``train -optimize`` that our wrapper adds to the zoo's (see :mod:`reinforce_sb3.zoo.tuning`)."""
    parser = argparse.ArgumentParser(prog=prog, add_help=False, allow_abbrev=False)
    group = parser.add_argument_group("multi-seed studies (reinforce_sb3.zoo, with -optimize)")
    group.add_argument(
        "--n-seeds", type=int_at_least(1), default=None, help="training seeds per trial; the trial's value is "
        "the mean minus one standard error of their final scores (default 3)",
    )  # fmt: skip
    group.add_argument(
        "--first-seed", type=int_at_least(0), default=None,
        help="every trial trains with seeds FIRST_SEED .. FIRST_SEED + N_SEEDS - 1 (default 0)",
    )  # fmt: skip
    group.add_argument(
        "--heartbeat-interval", type=int_at_least(0), default=None, help="seconds between heartbeats of a running "
        "trial in a database --storage; after twice that without one, the trial is failed and retried (default 60; "
        "0: none)",
    )  # fmt: skip
    group.add_argument(
        "--trial-retries", type=int_at_least(0), default=None,
        help="times a trial whose worker died is queued again (default 1)",
    )  # fmt: skip
    group.add_argument(
        "--score", choices=["final", "curve"], default=None, help="a seed's score: its final policy's evaluation "
        "(final, the default) or the mean of its n-evaluations evaluations (curve: rewards learning fast)",
    )  # fmt: skip
    group.add_argument(
        "--stochastic-eval", action="store_const", const=True, default=None,
        help="evaluate with sampled actions, as the policy acts (the zoo: the most likely actions)",
    )  # fmt: skip
    return parser


def split_tuning_options(argv: list[str], prog: str | None = None) -> tuple[TuningOptions, list[str]]:
    """
    Our ``-optimize`` options from ``argv``, and the rest for the zoo.

    :raises ValueError: if one of them is given without ``-optimize``
    """
    from reinforce_sb3.zoo.study import TuningOptions

    known, rest = tuning_parser(prog).parse_known_args(argv)
    given = {name: value for name, value in vars(known).items() if value is not None}
    optimize = any(arg in ("-optimize", "--optimize-hyperparameters") for arg in rest)
    if given and not optimize:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in given)  # (the names are the flags')
        raise ValueError(f"{flags} only apply to hyperparameter studies: add -optimize")
    return TuningOptions(**given), rest
