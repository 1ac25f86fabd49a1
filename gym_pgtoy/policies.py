"""Policies as :mod:`gym_pgtoy.exact` takes them: plain tables, callables, and the kinds policy adapters know.

A policy is stationary and may be given as

- a dict ``{(cell, diamond): (p_left, p_right)}`` over the states where a decision is made,
- a callable ``obs -> (p_left, p_right)`` taking one observation ``np.array([cell, diamond])``
  (it may return a list, a numpy array or a torch tensor),
- any other kind of policy a *policy adapter* knows: adapters are modules declared in the
  entry-point group ``gym_pgtoy.policy_adapters``, loaded on first use. The ``reinforce-sb3``
  distribution declares one for Stable-Baselines3 models and policies, which checks that the
  policy was made for the env's observation and action spaces; ``gym_pgtoy`` never imports
  torch or SB3 itself.

On the continuous variant (``continuous=True``) a policy is still described by ``(p_left, p_right)``:
an action below 0 moves left, 0 or above moves right. :func:`gaussian_policy` turns Gaussian
actions ``Normal(mu(s), sigma(s))`` into that description, ``p_right = Phi(mu / sigma)``.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

import numpy as np

from gym_pgtoy.slippery_hill import SlipperyHillEnv, State

PolicyLike = Mapping[State, Sequence[float]] | Callable[[np.ndarray], Any] | Any

PROBABILITY_TOLERANCE = 1e-6

WALKTHROUGH_POLICY: dict[State, tuple[float, float]] = {(2, 1): (0.7, 0.3), (1, 0): (0.4, 0.6), (2, 0): (0.8, 0.2)}
"""The policy of the walk-through on ``PGToy-v0`` (any hill of length 1): P(left) = 0.7, 0.4, 0.8."""


def direction_probabilities(mu: float, sigma: float) -> tuple[float, float]:
    """``(p_left, p_right) = (Phi(-mu / sigma), Phi(mu / sigma))``: where an action ``Normal(mu, sigma)`` moves.

    The env moves right for an action of 0 or above, and clipping to [-1, 1] keeps the sign.
    :param mu: the mean, a finite number
    :param sigma: the standard deviation, a finite number > 0
    """
    if not (isinstance(mu, (int, float, np.number)) and math.isfinite(mu)):
        raise ValueError(f"mu must be a finite number, got {mu!r}")
    if not (isinstance(sigma, (int, float, np.number)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    z = float(mu) / float(sigma) / math.sqrt(2.0)
    return 0.5 * math.erfc(z), 0.5 * math.erfc(-z)  # erfc on both sides keeps the small one accurate


def gaussian_policy(parameters: Mapping[State, tuple[float, float]]) -> dict[State, tuple[float, float]]:
    """``{state: (p_left, p_right)}`` of Gaussian actions given as ``{state: (mu, sigma)}`` (continuous variant)."""
    return {state: direction_probabilities(mu, sigma) for state, (mu, sigma) in parameters.items()}


WALKTHROUGH_GAUSSIAN: dict[State, tuple[float, float]] = {
    state: (statistics.NormalDist().inv_cdf(p_right), 1.0) for state, (_, p_right) in WALKTHROUGH_POLICY.items()
}
"""The walk-through's policy as Gaussian actions ``(mu, sigma = 1)`` for ``continuous=True``: the same P(right)."""


def uniform_policy(hill_length: int) -> dict[State, tuple[float, float]]:
    """Left and right with probability 1/2 in every state of a hill of ``hill_length`` cells where a decision is due."""
    return {(cell, diamond): (0.5, 0.5) for cell in range(1, hill_length + 2) for diamond in (0, 1)}


@functools.cache
def adapters() -> tuple[Any, ...]:
    """The policy adapters declared in the entry-point group ``gym_pgtoy.policy_adapters`` (loaded once)."""
    return tuple(entry_point.load() for entry_point in entry_points(group="gym_pgtoy.policy_adapters"))


def probability_fn(policy: Any, game: SlipperyHillEnv) -> Callable[[np.ndarray], Any]:
    """``obs -> action probabilities`` for a policy an adapter knows, or a plain callable."""
    for adapter in adapters():
        function = adapter.probability_fn(policy, game.observation_space, game.action_space)
        if function is not None:
            return function  # type: ignore[no-any-return]  # adapters are modules loaded at run time
    if callable(policy):
        return policy  # type: ignore[no-any-return]  # callable() narrows Any to Any in mypy
    raise TypeError(
        f"policy must be a dict, a callable or a policy an adapter knows (SB3 models with reinforce-sb3), "
        f"got {type(policy).__name__}"
    )


def policy_table(policy: PolicyLike, states: list[State], game: SlipperyHillEnv) -> dict[State, np.ndarray]:
    """The action probabilities at ``states``, checked to be a probability vector over (left, right)."""
    if isinstance(policy, Mapping):
        missing = [state for state in states if state not in policy]
        if missing:
            raise ValueError(f"policy has no action probabilities for the decision states {missing}")
        raw = {state: policy[state] for state in states}
    else:
        function = probability_fn(policy, game)
        raw = {state: function(np.array(state, dtype=np.int64)) for state in states}

    table = {}
    for state, p in raw.items():
        if hasattr(p, "detach"):  # a torch tensor
            p = p.detach().cpu().numpy()
        probs = np.asarray(p, dtype=np.float64)
        if (
            probs.shape != (2,)
            or not np.all(np.isfinite(probs))
            or np.any(probs < -PROBABILITY_TOLERANCE)
            or abs(probs.sum() - 1.0) > PROBABILITY_TOLERANCE
        ):
            raise ValueError(f"policy must give (p_left, p_right) >= 0 summing to 1; at state {state} it gave {p!r}")
        table[state] = probs
    return table
