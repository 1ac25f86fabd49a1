"""The optuna search space of ``--algo reinforce``: what a trial samples and how it becomes REINFORCE's arguments.

:func:`sample_reinforce_params` is the zoo's ``HYPERPARAMS_SAMPLER`` for REINFORCE and
:func:`convert_reinforce_params` its ``HYPERPARAMS_CONVERTER`` (a stored trial's values, for ``--trial-id``);
:mod:`reinforce_sb3.zoo.registration` puts both in the zoo. A new option to tune goes in both.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from reinforce_sb3.estimator import BASELINES

NET_ARCHS = {"tiny": [64], "wide": [128], "small": [64, 64], "medium": [256, 256], "large": [256, 256, 256]}
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def sample_reinforce_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """
    Optuna sampler for REINFORCE hyperparameters (the zoo's ``HYPERPARAMS_SAMPLER`` signature).

    Besides the batch size, horizon, learning rate and network it offers the baseline (none, the
    batch mean, leave-one-out, a learned value), a linear decay of the learning rate, the entropy
    bonus, Adam's betas and what a time limit's cut means (``truncation``). For Box actions it also
    offers the initial log-std and tanh-squashed actions (``squash_output``; those have no entropy
    bonus, which REINFORCE refuses for them).

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
        "learning_rate": trial.suggest_float("learning_rate", 2e-5, 3e-2, log=True),
        "lr_schedule": trial.suggest_categorical("lr_schedule", ["constant", "linear"]),
        "normalize_returns": trial.suggest_categorical("normalize_returns", [True, False]),
        "baseline": trial.suggest_categorical("baseline", list(BASELINES)),
        "truncation": trial.suggest_categorical("truncation", ["end", "bootstrap_mean"]),
        "net_arch": trial.suggest_categorical("net_arch", list(NET_ARCHS)),
        "activation_fn": trial.suggest_categorical("activation_fn", list(ACTIVATIONS)),
        "adam_beta1": trial.suggest_categorical("adam_beta1", [0.5, 0.9, 0.95]),
        "adam_beta2": trial.suggest_categorical("adam_beta2", [0.99, 0.999]),
    }
    if n_actions > 0:  # Box actions: the initial exploration noise matters
        sampled["log_std_init"] = trial.suggest_float("log_std_init", -2.0, 1.0)
        sampled["squash_output"] = trial.suggest_categorical("squash_output", [False, True])
    if not sampled.get("squash_output", False):  # the tanh-squashed Gaussian has no entropy to add
        sampled["ent_coef"] = trial.suggest_float("ent_coef", 1e-8, 0.05, log=True)
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
    if hyperparams.pop("squash_output", False):
        policy_kwargs["squash_output"] = True
    return {"policy_kwargs": policy_kwargs, **hyperparams}
