"""REINFORCE in RL Baselines3 Zoo (rl_zoo3).

The zoo has no plugin hook for algorithms; its maintainers point to inserting into
``rl_zoo3.ALGOS`` (and ``rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER`` /
``HYPERPARAMS_CONVERTER``) before the zoo's own entry points run. :func:`run` does that,
imports ``gym_pgtoy`` so its env ids resolve, uses the hyperparameter file shipped in this
package for ``--algo reinforce`` unless ``--conf-file`` is given, and then runs the zoo's
script with every one of its flags.

As command-line tools (:func:`cli`: ``python -m reinforce_sb3.zoo.train`` and its aliases),
whatever the zoo raises ends in one line on stderr, ``<prog>: error: <ExceptionType>: <message>``,
with exit status 2, as argparse's own errors do; ``--debug`` shows the traceback instead (see
:mod:`gym_pgtoy.cli`). A YAML ``--conf-file`` is checked before the zoo reads it: it must map env
ids to hyperparameters.

``train -optimize`` scores each trial on several seeds and can share one study between many
worker processes on many machines through a database (:mod:`reinforce_sb3.zoo.tuning`). The
options that :func:`run` takes out of the command line before the zoo's parser sees it:
``--n-seeds`` (training seeds per trial, default 3), ``--first-seed`` (the first of them, default
0), ``--score`` (``final`` or ``curve``), ``--stochastic-eval``, ``--heartbeat-interval``
(seconds, default 60; 0: none) and ``--trial-retries`` (default 1).
For the train script, :func:`run` puts :class:`~reinforce_sb3.zoo.tuning.MultiSeedExperimentManager`
in the place of the zoo's ``rl_zoo3.exp_manager.ExperimentManager`` for the duration of the run:
the zoo's script constructs that class by name and has no other hook. Without ``-optimize`` the
subclass trains exactly as the zoo's class does.

The zoo is an optional extra: ``pip install "reinforce-sb3[zoo]"``; a PostgreSQL study also needs
the ``tune`` extra (psycopg). See docs/tuning.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch as th
from torch import nn

from gym_pgtoy.cli import int_at_least, run_cli

if TYPE_CHECKING:
    from reinforce_sb3.zoo.study import TuningOptions

HYPERPARAMS_FILE = Path(__file__).parent / "hyperparams" / "reinforce.yml"

NET_ARCHS = {"tiny": [64], "wide": [128], "small": [64, 64], "medium": [256, 256], "large": [256, 256, 256]}
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
BASELINES = ["none", "mean", "leave_one_out", "value"]


def sample_reinforce_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """
    Optuna sampler for REINFORCE hyperparameters (the zoo's ``HYPERPARAMS_SAMPLER`` signature).

    Besides the batch size, horizon, learning rate and network it offers the baseline (none, the
    batch mean, leave-one-out, a learned value), a linear decay of the learning rate, the entropy
    bonus and Adam's betas.

    :param trial: the optuna trial
    :param n_actions: the action dimension for Box action spaces, else 0
    :param n_envs: the number of parallel envs (``n_episodes`` is at least that)
    :param additional_args: unused (the zoo passes replay-buffer settings)
    :return: keyword arguments for :class:`~reinforce_sb3.REINFORCE`
    """
    from rl_zoo3.utils import SimpleLinearSchedule

    sampled = {
        "n_episodes": trial.suggest_categorical("n_episodes", [2, 4, 8, 16, 32, 64]),
        "one_minus_gamma": trial.suggest_float("one_minus_gamma", 1e-4, 0.1, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-2, log=True),
        "lr_schedule": trial.suggest_categorical("lr_schedule", ["constant", "linear"]),
        "normalize_returns": trial.suggest_categorical("normalize_returns", [True, False]),
        "baseline": trial.suggest_categorical("baseline", BASELINES),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.05, log=True),
        "net_arch": trial.suggest_categorical("net_arch", list(NET_ARCHS)),
        "activation_fn": trial.suggest_categorical("activation_fn", list(ACTIVATIONS)),
        "adam_beta1": trial.suggest_categorical("adam_beta1", [0.5, 0.9, 0.95]),
        "adam_beta2": trial.suggest_categorical("adam_beta2", [0.99, 0.999]),
    }
    if n_actions > 0:  # Box actions: the initial exploration noise matters
        sampled["log_std_init"] = trial.suggest_float("log_std_init", -2.0, 1.0)
    trial.set_user_attr("gamma", 1 - sampled["one_minus_gamma"])
    hyperparams = convert_reinforce_params(sampled)
    if isinstance(hyperparams["learning_rate"], str):  # the zoo's "lin_<initial value>"
        hyperparams["learning_rate"] = SimpleLinearSchedule(float(hyperparams["learning_rate"].split("_")[1]))
    hyperparams["n_episodes"] = max(hyperparams["n_episodes"], n_envs)
    return hyperparams


def convert_reinforce_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """
    Optuna's sampled values -> REINFORCE keyword arguments (the zoo's ``HYPERPARAMS_CONVERTER`` signature).

    A linear learning-rate decay becomes the zoo's ``"lin_<initial value>"``, which the zoo turns
    into a schedule when it loads a trial (``--trial-id``); Adam's betas go to ``optimizer_kwargs``.
    """
    hyperparams = dict(sampled_params)
    hyperparams["gamma"] = 1 - hyperparams.pop("one_minus_gamma")
    if hyperparams.pop("lr_schedule", "constant") == "linear":
        hyperparams["learning_rate"] = f"lin_{hyperparams['learning_rate']}"
    policy_kwargs: dict[str, Any] = {
        "net_arch": NET_ARCHS[hyperparams.pop("net_arch")],
        "activation_fn": ACTIVATIONS[hyperparams.pop("activation_fn")],
    }
    if "adam_beta1" in hyperparams or "adam_beta2" in hyperparams:
        policy_kwargs["optimizer_kwargs"] = {
            "betas": (hyperparams.pop("adam_beta1", 0.9), hyperparams.pop("adam_beta2", 0.999))
        }
    if "log_std_init" in hyperparams:
        policy_kwargs["log_std_init"] = hyperparams.pop("log_std_init")
    return {"policy_kwargs": policy_kwargs, **hyperparams}


def register() -> None:
    """Make ``--algo reinforce`` known to the zoo and its optuna support, and register the tree-game envs."""
    try:
        import rl_zoo3
        from rl_zoo3 import hyperparams_opt
    except ImportError as error:
        raise ImportError(
            f"the zoo scripts need the optional extra: pip install 'reinforce-sb3[zoo]' ({error})"
        ) from error

    import gym_pgtoy  # noqa: F401  (registers PGToy-v0 and SlipperyHill-v0)
    from reinforce_sb3 import REINFORCE

    rl_zoo3.ALGOS["reinforce"] = REINFORCE  # the same dict object as rl_zoo3.utils.ALGOS
    hyperparams_opt.HYPERPARAMS_SAMPLER["reinforce"] = sample_reinforce_params
    hyperparams_opt.HYPERPARAMS_CONVERTER["reinforce"] = convert_reinforce_params


def _option(argv: list[str], *flags: str) -> str | None:
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
    """
    has_config = any(arg in ("-conf", "--conf-file") or arg.startswith("--conf-file=") for arg in argv)
    if _option(argv, "--algo") == "reinforce" and not has_config:
        argv = [*argv, "--conf-file", str(HYPERPARAMS_FILE)]
    chose_output = any(arg in ("-P", "--progress", "--verbose") or arg.startswith("--verbose=") for arg in argv)
    if interactive and not chose_output:
        argv = [*argv, "--progress"]
    return argv


def check_conf_file(path: str) -> None:
    """A ``ValueError`` unless the YAML file at ``path`` maps env ids to hyperparameter mappings, as the zoo needs.

    Python configs (``.py`` files and modules) are left to the zoo.
    """
    import yaml

    if not path.endswith((".yml", ".yaml")):
        return
    with open(path) as file:  # a missing file: FileNotFoundError
        content = yaml.safe_load(file)  # malformed YAML: yaml's own error
    if not isinstance(content, dict) or not content:
        raise ValueError(f"--conf-file {path} must map env ids to hyperparameters, but it holds {content!r}")
    for env_id, hyperparams in content.items():
        if not isinstance(hyperparams, dict):
            raise ValueError(f"--conf-file {path}: the entry of {env_id} must map names to values, got {hyperparams!r}")


def check_device(device: str | None) -> None:
    """A ``ValueError`` unless ``device`` is None, ``auto`` or a torch device string (the zoo passes it to SB3)."""
    if device is None or device == "auto":
        return
    try:
        th.device(device)
    except RuntimeError:
        raise ValueError(f"--device must be a torch device such as auto, cpu, cuda or cuda:0, got {device!r}") from None


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


@contextlib.contextmanager
def zoo_experiment_manager(options: TuningOptions) -> Iterator[None]:
    """
    While inside, the zoo's ``ExperimentManager`` is our multi-seed subclass configured with ``options``.

    The zoo's train script does ``from rl_zoo3.exp_manager import ExperimentManager`` and constructs
    it with its own arguments; it has no hook for another class or for extra options, so the one
    place to put ours is that module attribute, restored on the way out.
    """
    import rl_zoo3.exp_manager

    from reinforce_sb3.zoo.tuning import MultiSeedExperimentManager

    original = rl_zoo3.exp_manager.ExperimentManager
    rl_zoo3.exp_manager.ExperimentManager = MultiSeedExperimentManager.configured(options)  # type: ignore[misc]  # a subclass
    try:
        yield
    finally:
        rl_zoo3.exp_manager.ExperimentManager = original  # type: ignore[misc]  # put back the zoo's class


def run(script: str, argv: list[str] | None = None, prog: str | None = None) -> None:
    """Run the zoo's ``rl_zoo3.<script>`` as ``python -m rl_zoo3.<script>`` would, with REINFORCE registered.

    Errors propagate as the zoo raises them; :func:`cli` makes them one line. For ``train``, the
    options of :func:`tuning_parser` are taken out of ``argv`` and ``-optimize`` runs multi-seed
    studies (:mod:`reinforce_sb3.zoo.tuning`).

    :param script: ``"train"``, ``"enjoy"`` or ``"record_video"``
    :param argv: the command-line arguments (default: ``sys.argv[1:]``)
    :param prog: the program name in the zoo's messages (default: ``python -m reinforce_sb3.zoo.<script>``)
    """
    register()
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or f"python -m reinforce_sb3.zoo.{script}"
    check_device(_option(argv, "--device"))
    manager: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if script == "train":
        if "-h" in argv or "--help" in argv:
            print(tuning_parser(prog).format_help().split("\n\n", 1)[-1])
        options, argv = split_tuning_options(argv, prog)
        manager = zoo_experiment_manager(options)
        argv = with_default_config(argv, interactive=sys.stdout.isatty())
        conf_file = _option(argv, "-conf", "--conf-file")
        if conf_file is not None:
            check_conf_file(conf_file)
    old_argv = sys.argv
    sys.argv = [prog, *argv]
    try:
        with manager:
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
