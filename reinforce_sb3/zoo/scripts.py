"""The zoo's ``train``, ``enjoy`` and ``record_video`` scripts with ``--algo reinforce``: :func:`run` and :func:`cli`.

:func:`run` registers REINFORCE in the zoo (:mod:`reinforce_sb3.zoo.registration`), uses the
hyperparameter file shipped in this package for ``--algo reinforce`` unless ``--conf-file`` is
given (:mod:`reinforce_sb3.zoo.config`), checks the options the zoo would act on late or unclearly
(:mod:`reinforce_sb3.zoo.checks`), and then runs the zoo's script with every one of its flags.

For ``train``, the options of ``-optimize`` studies (:mod:`reinforce_sb3.zoo.tuning_options`) are
taken out of the command line before the zoo's parser sees it, and
:class:`~reinforce_sb3.zoo.tuning.MultiSeedExperimentManager` takes the place of the zoo's
``ExperimentManager`` for the run (:mod:`reinforce_sb3.zoo.hooks`); without ``-optimize`` it trains
exactly as the zoo's class does.

As command-line tools (:func:`cli`: ``python -m reinforce_sb3.zoo.train``, ``.enjoy`` and
``.record_video``), whatever the zoo raises ends in one line on stderr,
``<prog>: error: <ExceptionType>: <message>``, with exit status 2, as argparse's own errors do;
``--debug`` shows the traceback instead (see :mod:`gym_pgtoy.cli`).
"""

from __future__ import annotations

import contextlib
import runpy
import sys

from gym_pgtoy.cli import run_cli
from reinforce_sb3.zoo.checks import check_conf_file, check_device
from reinforce_sb3.zoo.config import option_value, with_default_config
from reinforce_sb3.zoo.hooks import checked_dict_options, zoo_experiment_manager
from reinforce_sb3.zoo.registration import register
from reinforce_sb3.zoo.tuning_options import split_tuning_options, tuning_parser

SCRIPTS = ("train", "enjoy", "record_video")
"""The zoo's scripts that the wrappers run."""


def run(script: str, argv: list[str] | None = None, prog: str | None = None) -> None:
    """Run the zoo's ``rl_zoo3.<script>`` as ``python -m rl_zoo3.<script>`` would, with REINFORCE registered.

    Errors propagate as the zoo raises them, and the checks of :mod:`reinforce_sb3.zoo.checks` raise
    a ``ValueError`` naming the option; :func:`cli` makes them one line. For ``train``, the options
    of :func:`~reinforce_sb3.zoo.tuning_options.tuning_parser` are taken out of ``argv`` and
    ``-optimize`` runs multi-seed studies (:mod:`reinforce_sb3.zoo.tuning`).

    :param script: ``"train"``, ``"enjoy"`` or ``"record_video"``
    :param argv: the command-line arguments (default: ``sys.argv[1:]``)
    :param prog: the program name in the zoo's messages (default: ``python -m reinforce_sb3.zoo.<script>``)
    """
    if script not in SCRIPTS:
        raise ValueError(f"script must be one of {SCRIPTS}, got {script!r}")
    register()
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or f"python -m reinforce_sb3.zoo.{script}"
    check_device(option_value(argv, "--device"))
    algo = option_value(argv, "--algo")
    with contextlib.ExitStack() as hooks:
        hooks.enter_context(checked_dict_options(algo))
        if script == "train":
            if "-h" in argv or "--help" in argv:
                print(tuning_parser(prog).format_help().split("\n\n", 1)[-1])
            options, argv = split_tuning_options(argv, prog)
            hooks.enter_context(zoo_experiment_manager(options))
            argv = with_default_config(argv, interactive=sys.stdout.isatty())
            conf_file = option_value(argv, "-conf", "--conf-file")
            if conf_file is not None:
                check_conf_file(conf_file, algo=algo, env_id=option_value(argv, "--env"))
        old_argv = sys.argv
        sys.argv = [prog, *argv]
        try:
            runpy.run_module(f"rl_zoo3.{script}", run_name="__main__", alter_sys=False)
        finally:
            sys.argv = old_argv


def cli(script: str, prog: str | None = None, argv: list[str] | None = None) -> None:
    """:func:`run` as a command-line tool: anything the zoo raises is one line on stderr and exit status 2.

    :param script: ``"train"``, ``"enjoy"`` or ``"record_video"``
    :param prog: how the tool was invoked (default: ``python -m reinforce_sb3.zoo.<script>``)
    :param argv: the command-line arguments (default: ``sys.argv[1:]``); ``--debug`` shows tracebacks
    """
    prog = prog or f"python -m reinforce_sb3.zoo.{script}"
    run_cli(lambda args: run(script, args, prog), prog, argv)
