"""Checks of user input: each raises a ``ValueError`` that names the argument and what is allowed."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.utils import FloatSchedule

from gym_pgtoy.validation import check_integer
from reinforce_sb3.estimator import BASELINES, LOSS_REDUCTIONS, TRUNCATIONS

Choice = TypeVar("Choice", bound=str)


class UnsupportedSpaceError(NotImplementedError, ValueError):
    """An observation space the algorithm cannot learn on: SB3's ``NotImplementedError`` for nested spaces, and the
    ``ValueError`` every other bad argument raises here, so that code written for either catches it."""


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


def check_learning_rate(schedule: Any, progress_remaining: float = 1.0) -> float:
    """
    The learning rate at ``progress_remaining``: ``schedule`` is a finite number >= 0 or a function of
    the progress remaining (SB3's ``FloatSchedule`` and ``LinearSchedule`` among them) whose value is
    one; else a ``ValueError`` names the argument, the progress and the value. The schedule itself is
    left as it is (SB3 saves its schedule objects as they are).
    """
    value_schedule = schedule.value_schedule if isinstance(schedule, FloatSchedule) else schedule
    value = value_schedule(progress_remaining) if callable(value_schedule) else value_schedule
    try:
        return check_number("learning_rate", value, minimum=0.0)
    except ValueError:
        raise ValueError(
            "learning_rate must be a finite number >= 0 (or a schedule of such); "
            f"at progress_remaining={progress_remaining:g} it is {value!r}"
        ) from None


MAX_EPISODES = 1_000_000
"""The most episodes a batch may have (the batch's steps are held in memory)."""


def _optional_positive(name: str, value: Any) -> float | None:
    return None if value is None else check_number(name, value, minimum=0.0, exclusive_minimum=True)


HYPERPARAMETERS: dict[str, Callable[[str, Any], Any]] = {
    "learning_rate": lambda name, value: check_learning_rate(value),
    "n_episodes": partial(check_integer, low=1, high=MAX_EPISODES),
    "gamma": partial(check_number, minimum=0.0, maximum=1.0),
    "reward_to_go": check_bool,
    "normalize_returns": check_bool,
    "loss_reduction": partial(check_choice, choices=LOSS_REDUCTIONS),
    "baseline": partial(check_choice, choices=BASELINES),
    "discounted_gradient": check_bool,
    "truncation": partial(check_choice, choices=TRUNCATIONS),
    "vf_coef": partial(check_number, minimum=0.0),
    "ent_coef": check_number,
    "max_grad_norm": _optional_positive,
    "torch_threads": lambda name, value: None if value is None else check_integer(name, value, 1, 1024),
    "monitor_wrapper": check_bool,
}
"""REINFORCE's arguments and their checks (a learning rate schedule is checked at the start, then at each update)."""


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
    """
    A ``ValueError`` for spaces REINFORCE cannot learn on (calling ``on_error`` first, e.g. to close the env); an
    :class:`UnsupportedSpaceError` (a ``NotImplementedError`` too, as in SB3) for a nested observation space.
    """
    error: ValueError | None = None
    if not isinstance(action_space, ACTION_SPACES):
        error = ValueError(
            f"action_space must be Discrete, Box, MultiDiscrete or MultiBinary for REINFORCE, got {action_space}"
        )
    elif not isinstance(observation_space, OBSERVATION_SPACES):
        error = UnsupportedSpaceError(
            "observation_space must be Box, Discrete, MultiDiscrete, MultiBinary or a Dict of those for "
            f"REINFORCE, got {observation_space}"
        )
    elif isinstance(observation_space, spaces.Dict):
        nested = [
            key for key, space in observation_space.spaces.items() if not isinstance(space, OBSERVATION_SPACES[:-1])
        ]
        if nested:
            error = UnsupportedSpaceError(
                f"observation_space: a Dict of Box, Discrete, MultiDiscrete or MultiBinary, got {nested} nested"
            )
    if error is not None:
        if on_error is not None:
            on_error()
        raise error


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
