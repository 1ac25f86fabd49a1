"""Checks of user input: each raises a ``ValueError`` that names the argument and what is allowed."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import numpy as np
from gymnasium import spaces

from reinforce_sb3.estimator import BASELINES, LOSS_REDUCTIONS

Choice = TypeVar("Choice", bound=str)


def check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer (not a bool) of at least ``minimum`` (and at most ``maximum``)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum:_}]"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return int(value)


def check_number(
    name: str,
    value: Any,
    minimum: float = -math.inf,
    maximum: float = math.inf,
    exclusive_minimum: bool = False,
) -> float:
    """A finite real number (not a bool) in ``[minimum, maximum]`` (``(minimum, maximum]`` if exclusive)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    try:
        ok = (
            ok and math.isfinite(value) and minimum <= value <= maximum and not (exclusive_minimum and value == minimum)
        )
    except OverflowError:  # an int too large for a float
        ok = False
    if not ok:
        if math.isfinite(minimum) and math.isfinite(maximum):
            allowed = f" in {'(' if exclusive_minimum else '['}{minimum:g}, {maximum:g}]"
        elif math.isfinite(minimum):
            allowed = f" {'>' if exclusive_minimum else '>='} {minimum:g}"
        else:
            allowed = ""
        raise ValueError(f"{name} must be a finite number{allowed}, got {value!r}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """``True`` or ``False`` (numpy's too); strings and numbers are refused ("False" would count as True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Sequence[Choice]) -> Choice:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value  # type: ignore[return-value]  # value is one of the choices, checked just above


class CheckedSchedule:
    """
    A schedule whose every value is checked: ``schedule(progress_remaining)`` must be a finite
    number >= 0, or a ``ValueError`` names the argument, the progress and the value.

    :param name: the argument the schedule came from (``"learning_rate"``)
    :param schedule: a number, or a function of the progress remaining (from 1 to 0)
    """

    def __init__(self, name: str, schedule: float | Callable[[float], float]) -> None:
        self.name = name
        self.schedule = schedule
        self(1.0)

    def __call__(self, progress_remaining: float) -> float:
        value = self.schedule(progress_remaining) if callable(self.schedule) else self.schedule
        try:
            return check_number(self.name, value, minimum=0.0)
        except ValueError:
            raise ValueError(
                f"{self.name} must be a finite number >= 0 (or a schedule of such); "
                f"at progress_remaining={progress_remaining:g} it is {value!r}"
            ) from None


MAX_EPISODES = 1_000_000
"""The most episodes a batch may have (the batch's steps are held in memory)."""


def _optional_positive(name: str, value: Any) -> float | None:
    return None if value is None else check_number(name, value, minimum=0.0, exclusive_minimum=True)


HYPERPARAMETERS: dict[str, Callable[[str, Any], Any]] = {
    "n_episodes": partial(check_int, maximum=MAX_EPISODES),
    "gamma": partial(check_number, minimum=0.0, maximum=1.0),
    "reward_to_go": check_bool,
    "normalize_returns": check_bool,
    "loss_reduction": partial(check_choice, choices=LOSS_REDUCTIONS),
    "baseline": partial(check_choice, choices=BASELINES),
    "vf_coef": partial(check_number, minimum=0.0),
    "ent_coef": check_number,
    "max_grad_norm": _optional_positive,
    "torch_threads": lambda name, value: None if value is None else check_int(name, value, maximum=1024),
}
"""REINFORCE's own hyperparameters and their checks (the learning rate is a :class:`CheckedSchedule`)."""


def check_hyperparameters(values: dict[str, Any]) -> None:
    """Check every hyperparameter in ``values`` (a ``ValueError`` names the first invalid one)."""
    for name, check in HYPERPARAMETERS.items():
        if name in values:
            check(name, values[name])


ACTION_SPACES = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)
OBSERVATION_SPACES = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary, spaces.Dict)


def check_spaces(
    observation_space: spaces.Space[Any], action_space: spaces.Space[Any], on_error: Callable[[], None] | None = None
) -> None:
    """A ``ValueError`` for spaces REINFORCE cannot learn on (calling ``on_error`` first, e.g. to close the env)."""
    problem = None
    if not isinstance(action_space, ACTION_SPACES):
        problem = f"action_space must be Discrete, Box, MultiDiscrete or MultiBinary for REINFORCE, got {action_space}"
    elif not isinstance(observation_space, OBSERVATION_SPACES):
        problem = (
            "observation_space must be Box, Discrete, MultiDiscrete, MultiBinary or a Dict of those for "
            f"REINFORCE, got {observation_space}"
        )
    elif isinstance(observation_space, spaces.Dict):
        nested = [
            key for key, space in observation_space.spaces.items() if not isinstance(space, OBSERVATION_SPACES[:-1])
        ]
        if nested:
            problem = f"observation_space: a Dict of Box, Discrete, MultiDiscrete or MultiBinary, got {nested} nested"
    if problem is not None:
        if on_error is not None:
            on_error()
        raise ValueError(problem)


def check_observations(obs: Any, space: spaces.Space[Any]) -> None:
    """
    A ``ValueError`` if a batch of observations cannot be fed to a policy for ``space``: a Box
    observation that is not finite, or a Discrete / MultiDiscrete / MultiBinary one out of range.
    """
    if isinstance(space, spaces.Dict) and isinstance(obs, dict):
        for key, subspace in space.spaces.items():
            check_observations(obs[key], subspace)
        return
    values = np.asarray(obs)
    if isinstance(space, spaces.Box):
        if np.issubdtype(values.dtype, np.number) and not np.isfinite(values).all():
            raise ValueError(f"observation is not finite: {values.tolist()!r}")
        return
    if isinstance(space, spaces.Discrete):
        low, high = space.start, space.start + space.n
    elif isinstance(space, spaces.MultiDiscrete):
        low, high = space.start, space.start + space.nvec
    elif isinstance(space, spaces.MultiBinary):
        low, high = 0, 2
    else:
        return
    if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
        raise ValueError(f"observation must be integers in {space}, got {values.tolist()!r}")
    flat = values.reshape(-1, *np.shape(low)) if np.ndim(low) else values
    if not ((flat >= low) & (flat < high) & (flat == np.floor(flat))).all():
        raise ValueError(f"observation is outside the observation space {space}: {values.tolist()!r}")
