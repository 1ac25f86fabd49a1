"""Checks of the wrappers' options before the zoo acts on them: each raises a ``ValueError`` that names the option.

Left to the zoo, a slip in these options surfaces late and without the option's name: the zoo reads
each ``--hyperparams`` / ``--env-kwargs`` item ``NAME:VALUE`` with ``eval`` (``gamma:`` is
``SyntaxError: invalid syntax``), and passes a config entry's keys to the algorithm's constructor
once the envs are made (``TypeError: REINFORCE.__init__() got an unexpected keyword argument``).
Here a mistake is a ``ValueError`` saying which option, which item and what is allowed; the command
line makes it one line with exit status 2 (:func:`reinforce_sb3.zoo.scripts.cli`).
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch as th

from reinforce_sb3 import REINFORCE

ZOO_KEYS = ("n_timesteps", "n_envs", "normalize", "env_kwargs", "monitor_kwargs", "frame_stack", "env_wrapper",
            "vec_env_wrapper", "callback")  # fmt: skip
"""Keys of a hyperparameter entry that the zoo takes out for itself before it makes the model."""

ZOO_OPTIONS = {"seed": "--seed", "verbose": "--verbose", "device": "--device", "tensorboard_log": "--tensorboard-log"}
"""REINFORCE arguments that the zoo sets from its own options (a hyperparameter of the same name would clash)."""


def check_device(device: str | None) -> None:
    """A ``ValueError`` unless ``device`` is None, ``auto`` or a torch device string (the zoo passes it to SB3)."""
    if device is None or device == "auto":
        return
    try:
        th.device(device)
    except RuntimeError:
        raise ValueError(f"--device must be a torch device such as auto, cpu, cuda or cuda:0, got {device!r}") from None


def parse_items(option: str, items: Sequence[str], namespace: dict[str, Any]) -> dict[str, Any]:
    """
    ``NAME:VALUE`` items as the zoo reads them: the text after the first colon evaluated as Python.

    :param option: the option as given (``--hyperparams``), for the messages
    :param items: the option's values
    :param namespace: the globals the zoo evaluates the values in
    :return: the values by name
    :raises ValueError: naming the option and the item, if an item has no name, no value, or a value
        that does not evaluate as Python
    """
    parsed = {}
    for item in items:
        name, colon, text = item.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"{option} takes NAME:VALUE items, got {item!r}")
        if not text.strip():
            raise ValueError(
                f"{option}: {name} has no value after the colon "
                f"(NAME:VALUE, the value a Python literal such as 0.5, True or 'text')"
            )
        try:
            parsed[name] = eval(text, namespace)  # as the zoo does (rl_zoo3.utils.StoreDict)
        except Exception as error:
            detail = error.msg if isinstance(error, SyntaxError) else str(error)
            quote = f"; a string needs quotes: {name}:\"'{text}'\"" if isinstance(error, NameError) else ""
            raise ValueError(
                f"{option}: the value of {name}, {text!r}, does not evaluate as Python "
                f"({type(error).__name__}: {detail}){quote}"
            ) from None
    return parsed


def reinforce_arguments() -> list[str]:
    """REINFORCE's constructor arguments that a hyperparameter entry may set (the zoo sets the env and the others)."""
    skipped = {"self", "env", "_init_setup_model", *ZOO_OPTIONS}
    return [name for name in inspect.signature(REINFORCE.__init__).parameters if name not in skipped]


def check_reinforce_hyperparams(values: Mapping[str, Any]) -> None:
    """
    A ``ValueError`` naming the first key of ``values`` that neither REINFORCE nor the zoo takes, or the first
    invalid value, checked as REINFORCE's constructor checks it (without making an env or a network).

    The zoo's notations are understood: a learning rate ``"lin_<initial value>"`` (a linear decay;
    the initial value is checked) and ``policy_kwargs`` as a string of Python (its syntax is checked).

    :param values: a hyperparameter entry of ``--algo reinforce``, or the ``--hyperparams`` overriding one
    """
    arguments = reinforce_arguments()
    allowed = [*arguments, *ZOO_KEYS]
    for name in values:
        if name in ZOO_OPTIONS:
            raise ValueError(f"{name} is set with the zoo's option {ZOO_OPTIONS[name]}, not as a hyperparameter")
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"did you mean {close[0]}?" if close else f"allowed: {', '.join(allowed)}"
            raise ValueError(f"unknown hyperparameter {name!r} of --algo reinforce ({hint})")
    for name in ("n_timesteps", "n_envs"):
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1):
            raise ValueError(f"{name} must be a number >= 1, got {value!r}")
    kwargs = {name: value for name, value in values.items() if name in arguments and name != "policy"}
    if isinstance(kwargs.get("learning_rate"), str):
        kwargs["learning_rate"] = _linear_schedule_start(kwargs["learning_rate"])
    if isinstance(kwargs.get("policy_kwargs"), str):
        _check_python("policy_kwargs", kwargs.pop("policy_kwargs"))
    with warnings.catch_warnings():  # advice on the settings comes once, when the zoo makes the model
        warnings.simplefilter("ignore")
        # no env and no network: SB3 makes an algorithm without an env, as load() does
        REINFORCE("MlpPolicy", None, _init_setup_model=False, **kwargs)


def _linear_schedule_start(text: str) -> float:
    """The initial value of the zoo's linear schedule ``"lin_<initial value>"``, as the zoo splits it."""
    parts = text.split("_")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[1])
    except ValueError:
        raise ValueError(
            f"learning_rate must be a number or the zoo's linear decay 'lin_<initial value>', got {text!r}"
        ) from None


def _check_python(name: str, text: str) -> None:
    """A ``ValueError`` unless ``text`` is a Python expression (the zoo evaluates such strings)."""
    try:
        compile(text, name, "eval")
    except SyntaxError as error:
        raise ValueError(
            f"{name} must be a Python expression such as dict(net_arch=[64]), got {text!r}: {error.msg}"
        ) from None


def check_conf_file(path: str, algo: str | None = None, env_id: str | None = None) -> None:
    """
    A ``ValueError`` unless the YAML file at ``path`` maps env ids to hyperparameter mappings, as the zoo needs,
    and, for ``--algo reinforce``, the entry of ``env_id`` passes :func:`check_reinforce_hyperparams`.

    Python configs (``.py`` files and modules) are left to the zoo, and so is an env id without an entry.

    :param path: the ``--conf-file``
    :param algo: the ``--algo``
    :param env_id: the ``--env``
    """
    import yaml

    if not path.endswith((".yml", ".yaml")):
        return
    with open(path) as file:  # a missing file: FileNotFoundError
        content = yaml.safe_load(file)  # malformed YAML: yaml's own error
    if not isinstance(content, dict) or not content:
        raise ValueError(f"--conf-file {path} must map env ids to hyperparameters, but it holds {content!r}")
    for entry_id, hyperparams in content.items():
        if not isinstance(hyperparams, dict):
            raise ValueError(
                f"--conf-file {path}: the entry of {entry_id} must map names to values, got {hyperparams!r}"
            )
    if algo == "reinforce" and env_id in content:
        try:
            check_reinforce_hyperparams(content[env_id])
        except ValueError as error:
            raise ValueError(f"--conf-file {path}: {env_id}: {error}") from None
