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

The zoo is an optional extra: ``pip install "reinforce-sb3[zoo]"``.
"""

from __future__ import annotations

import itertools
import runpy
import sys
from pathlib import Path
from typing import Any

import torch as th
from torch import nn

from gym_pgtoy.cli import run_cli

HYPERPARAMS_FILE = Path(__file__).parent / "hyperparams" / "reinforce.yml"

NET_ARCHS = {"tiny": [64], "small": [64, 64], "medium": [256, 256]}
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def sample_reinforce_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """
    Optuna sampler for REINFORCE hyperparameters (the zoo's ``HYPERPARAMS_SAMPLER`` signature).

    :param trial: the optuna trial
    :param n_actions: the action dimension for Box action spaces, else 0
    :param n_envs: the number of parallel envs (``n_episodes`` is at least that)
    :param additional_args: unused (the zoo passes replay-buffer settings)
    :return: keyword arguments for :class:`~reinforce_sb3.REINFORCE`
    """
    sampled = {
        "n_episodes": trial.suggest_categorical("n_episodes", [2, 4, 8, 16, 32, 64]),
        "one_minus_gamma": trial.suggest_float("one_minus_gamma", 1e-4, 0.1, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-2, log=True),
        "normalize_returns": trial.suggest_categorical("normalize_returns", [True, False]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.05, log=True),
        "net_arch": trial.suggest_categorical("net_arch", list(NET_ARCHS)),
        "activation_fn": trial.suggest_categorical("activation_fn", list(ACTIVATIONS)),
    }
    if n_actions > 0:  # Box actions: the initial exploration noise matters
        sampled["log_std_init"] = trial.suggest_float("log_std_init", -2.0, 1.0)
    trial.set_user_attr("gamma", 1 - sampled["one_minus_gamma"])
    hyperparams = convert_reinforce_params(sampled)
    hyperparams["n_episodes"] = max(hyperparams["n_episodes"], n_envs)
    return hyperparams


def convert_reinforce_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's sampled values -> REINFORCE keyword arguments (the zoo's ``HYPERPARAMS_CONVERTER`` signature)."""
    hyperparams = dict(sampled_params)
    hyperparams["gamma"] = 1 - hyperparams.pop("one_minus_gamma")
    policy_kwargs: dict[str, Any] = {
        "net_arch": NET_ARCHS[hyperparams.pop("net_arch")],
        "activation_fn": ACTIVATIONS[hyperparams.pop("activation_fn")],
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


def with_default_config(argv: list[str]) -> list[str]:
    """``argv`` plus ``--conf-file <shipped reinforce.yml>`` for ``--algo reinforce`` when no config is given."""
    has_config = any(arg in ("-conf", "--conf-file") or arg.startswith("--conf-file=") for arg in argv)
    if _option(argv, "--algo") == "reinforce" and not has_config:
        return [*argv, "--conf-file", str(HYPERPARAMS_FILE)]
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


def run(script: str, argv: list[str] | None = None, prog: str | None = None) -> None:
    """Run the zoo's ``rl_zoo3.<script>`` as ``python -m rl_zoo3.<script>`` would, with REINFORCE registered.

    Errors propagate as the zoo raises them; :func:`cli` makes them one line.

    :param script: ``"train"``, ``"enjoy"`` or ``"record_video"``
    :param argv: the command-line arguments (default: ``sys.argv[1:]``)
    :param prog: the program name in the zoo's messages (default: ``python -m reinforce_sb3.zoo.<script>``)
    """
    register()
    argv = sys.argv[1:] if argv is None else argv
    check_device(_option(argv, "--device"))
    if script == "train":
        argv = with_default_config(argv)
        conf_file = _option(argv, "-conf", "--conf-file")
        if conf_file is not None:
            check_conf_file(conf_file)
    old_argv = sys.argv
    sys.argv = [prog or f"python -m reinforce_sb3.zoo.{script}", *argv]
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
