"""Exact expected returns and policy gradients on the tree game, by dynamic programming.

Every function takes the environment as a registered id (``"PGToy-v0"``), or as an
instance of :class:`~gym_pgtoy.slippery_hill.SlipperyHillEnv`, wrapped or not; the
horizon is the ``max_episode_steps`` of its ``TimeLimit`` unless ``horizon`` is given.
A policy is stationary: a dict ``{(cell, diamond): (p_left, p_right)}``, a callable
``obs -> (p_left, p_right)``, or a Stable-Baselines3 model or policy made for the env's spaces
(through the policy adapter of ``reinforce-sb3``); see :mod:`gym_pgtoy.policies`. On the continuous
variant the same description holds, the probabilities of moving left and right: Gaussian actions
``Normal(mu, sigma)`` move right with probability ``Phi(mu / sigma)`` (:func:`gaussian_policy`; the
adapter does it for SB3's Gaussian policies, differentiably in the mean and the log-std).

Limits: the horizon is at most 100_000 steps (``MAX_EPISODE_STEPS``), and the dynamic programme
visits at most ``horizon x 2 (H + 1)`` (time, state) pairs, which may not exceed 1_000_000
(``MAX_STATE_STEPS``: about 300 MB and 5 s at the limit). Beyond either, a ``ValueError``.

The objective is the expected discounted return from the start,
``J = E[r_1 + gamma r_2 + ... + gamma^(T-1) r_T]``, over at most ``T = horizon`` steps.
Its partial derivative with respect to one action probability is (the policy gradient
theorem, as derived in the tree walk-through)::

    dJ / dpi(a|s) = sum_t gamma^t P(s_t = s) Q_t(s, a)

the probability of reaching the node where the action is taken, times the expected
return after taking it, summed over the times ``t`` at which ``s`` can occur.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import TimeLimit

from gym_pgtoy.policies import (
    WALKTHROUGH_GAUSSIAN,
    WALKTHROUGH_POLICY,
    PolicyLike,
    adapters,
    gaussian_policy,
    policy_table,
    uniform_policy,
)
from gym_pgtoy.slippery_hill import LEFT, MAX_EPISODE_STEPS, RIGHT, SlipperyHillEnv, State
from gym_pgtoy.validation import check_integer

__all__ = [
    "MAX_EPISODE_STEPS",
    "MAX_STATE_STEPS",
    "WALKTHROUGH_GAUSSIAN",
    "WALKTHROUGH_POLICY",
    "OptimalSolution",
    "PolicyAnalysis",
    "action_probability_gradient",
    "analyze",
    "expected_return",
    "gaussian_policy",
    "optimal_return",
    "parameter_gradient",
    "solve",
    "surrogate_objective",
    "uniform_policy",
]

EnvLike = str | gym.Env

MAX_STATE_STEPS = 1_000_000
"""The most (time, state) pairs one analysis may visit: ``horizon x 2 (H + 1)``, about 300 bytes each."""


@dataclass(frozen=True)
class PolicyAnalysis:
    """Everything the dynamic programme knows about one policy on one environment.

    :param expected_return: J, the expected discounted return from the start state.
    :param policy: the action probabilities ``(p_left, p_right)`` at every decision state.
    :param reach: ``reach[t][s]``: the probability that the episode is still running at
        time ``t`` and in state ``s``, for ``t = 0 .. horizon - 1``.
    :param q_values: ``q_values[t][s][a]``: the expected discounted return from time ``t``
        on, after taking action ``a`` in state ``s`` (discounted to time ``t``).
    :param gradient: ``gradient[s][a]``: dJ/dpi(a|s), the partial derivative of J with
        respect to the probability of action ``a`` in state ``s``.
    """

    expected_return: float
    policy: dict[State, np.ndarray]
    reach: list[dict[State, float]]
    q_values: list[dict[State, np.ndarray]]
    gradient: dict[State, np.ndarray]


def analyze(env: EnvLike, policy: PolicyLike, gamma: float = 1.0, horizon: int | None = None) -> PolicyAnalysis:
    """Evaluate ``policy`` exactly: its expected return, reach probabilities, Q-values and gradient.

    :param env: a registered id of the family or an instance of it (wrapped or not).
    :param policy: a dict, a callable or a Stable-Baselines3 policy (see the module docstring).
    :param gamma: the discount factor, in [0, 1].
    :param horizon: the number of steps; by default the env's ``max_episode_steps``.
    """
    game, horizon = _resolve_env(env, horizon)
    gamma = _check_gamma(gamma)
    decision_states = _decision_states(game, horizon)
    probs = policy_table(policy, sorted(set().union(*decision_states)), game)

    # Forward: the probability of reaching each state at each time.
    reach: list[dict[State, float]] = [{game.start_state: 1.0}]
    for t in range(horizon - 1):
        nxt = dict.fromkeys(decision_states[t + 1], 0.0)
        for state, p_state in reach[t].items():
            for action in (LEFT, RIGHT):
                for prob, next_state, _, terminated in game.P[state][action]:
                    if not terminated:
                        nxt[next_state] += p_state * probs[state][action] * prob
        reach.append({state: float(p) for state, p in nxt.items()})

    # Backward: Q_t(s, a) = E[r + gamma V_{t+1}(s')], with V_horizon = 0.
    q_values: list[dict[State, np.ndarray]] = [{} for _ in range(horizon)]
    values: dict[State, float] = {}
    for t in reversed(range(horizon)):
        q_values[t] = {state: _q(game, state, values, gamma) for state in decision_states[t]}
        values = {state: float(probs[state] @ q) for state, q in q_values[t].items()}

    # The policy gradient theorem: dJ/dpi(a|s) = sum_t gamma^t P(s_t = s) Q_t(s, a).
    gradient = {state: np.zeros(2) for state in probs}
    for t in range(horizon):
        for state, p_state in reach[t].items():
            gradient[state] += gamma**t * p_state * q_values[t][state]

    return PolicyAnalysis(
        expected_return=values[game.start_state],
        policy=probs,
        reach=reach,
        q_values=q_values,
        gradient=gradient,
    )


def expected_return(env: EnvLike, policy: PolicyLike, gamma: float = 1.0, horizon: int | None = None) -> float:
    """The exact expected discounted return of ``policy`` from the start state (see :func:`analyze`)."""
    return analyze(env, policy, gamma, horizon).expected_return


def action_probability_gradient(
    env: EnvLike, policy: PolicyLike, gamma: float = 1.0, horizon: int | None = None
) -> dict[State, np.ndarray]:
    """dJ/dpi(a|s) for every decision state ``s``, as ``{s: np.array([d_left, d_right])}`` (see :func:`analyze`)."""
    return analyze(env, policy, gamma, horizon).gradient


@dataclass(frozen=True)
class OptimalSolution:
    """The best any policy can do, by backward induction.

    :param expected_return: the optimal expected discounted return from the start.
    :param actions: ``actions[t][s]``: an optimal action in state ``s`` at time ``t``
        (ties go to RIGHT, the safe side). Near the horizon the best action can change
        with the time left, so the optimal policy is in general time-dependent.
    :param policy: a deterministic stationary policy ``{s: (p_left, p_right)}`` that attains
        the optimum, when one is found (it is on PGToy-v0 and SlipperyHill-v0), else ``None``.
    """

    expected_return: float
    actions: list[dict[State, int]]
    policy: dict[State, tuple[float, float]] | None


def solve(env: EnvLike, gamma: float = 1.0, horizon: int | None = None) -> OptimalSolution:
    """The optimal expected return and an optimal policy, by backward induction over (time, state)."""
    game, horizon = _resolve_env(env, horizon)
    gamma = _check_gamma(gamma)
    decision_states = _decision_states(game, horizon)

    actions: list[dict[State, int]] = [{} for _ in range(horizon)]
    optimal: list[dict[State, np.ndarray]] = [{} for _ in range(horizon)]
    values: dict[State, float] = {}
    for t in reversed(range(horizon)):
        q_values = {state: _q(game, state, values, gamma) for state in decision_states[t]}
        optimal[t] = {state: np.isclose(q, q.max(), rtol=0.0, atol=1e-9) for state, q in q_values.items()}
        actions[t] = {state: RIGHT if best[RIGHT] else LEFT for state, best in optimal[t].items()}
        values = {state: float(q.max()) for state, q in q_values.items()}
    optimum = values[game.start_state]

    # Keep a stationary candidate if it attains the optimum (it does on both registered ids).
    candidate = _stationary_candidate(optimal)
    stationary_value = analyze(game, candidate, gamma, horizon).expected_return
    policy = candidate if np.isclose(stationary_value, optimum, rtol=0.0, atol=1e-9) else None
    return OptimalSolution(expected_return=optimum, actions=actions, policy=policy)


def _stationary_candidate(optimal: list[dict[State, np.ndarray]]) -> dict[State, tuple[float, float]]:
    """In each state, an action optimal at the earliest time the state can occur; ties go to the
    action that is optimal at more of the times the state can occur, then to RIGHT."""
    counts: dict[State, np.ndarray] = {}
    earliest: dict[State, np.ndarray] = {}
    for step_optimal in optimal:
        for state, best in step_optimal.items():
            counts[state] = counts.get(state, 0) + best
            earliest.setdefault(state, best)
    candidate = {}
    for state, first in earliest.items():
        if first[LEFT] != first[RIGHT]:
            left = bool(first[LEFT])
        else:
            left = counts[state][LEFT] > counts[state][RIGHT]
        candidate[state] = (1.0, 0.0) if left else (0.0, 1.0)
    return candidate


def optimal_return(env: EnvLike, gamma: float = 1.0, horizon: int | None = None) -> float:
    """The optimal expected discounted return (see :func:`solve`)."""
    return solve(env, gamma, horizon).expected_return


def surrogate_objective(env: EnvLike, policy: Any, gamma: float = 1.0, horizon: int | None = None) -> Any:
    """A differentiable scalar whose gradient with respect to the policy's parameters is exactly grad J.

    ``sum over (s, a) of dJ/dpi(a|s) * pi_theta(a|s)``, with the partial derivatives held
    fixed at their exact values: by the chain rule, autograd through it yields the exact
    policy gradient. (Its value is not J.) The scalar comes from a policy adapter (see the
    module docstring): for a torch policy it is a torch tensor.

    :param policy: a Stable-Baselines3 policy or model, or a callable ``obs -> probabilities``
        returning a torch tensor that depends on the parameters.
    """
    game, _ = _resolve_env(env, horizon)
    gradient = action_probability_gradient(env, policy, gamma, horizon)
    states = sorted(gradient)
    observations = np.array(states, dtype=np.int64)
    weights = np.stack([gradient[state] for state in states])
    for adapter in adapters():
        surrogate = adapter.surrogate_objective(
            policy, observations, weights, game.observation_space, game.action_space
        )
        if surrogate is not None:
            return surrogate
    raise TypeError(
        f"policy must be differentiable (an SB3 policy or model, or a callable returning torch tensors), "
        f"got {type(policy).__name__}; the SB3 adapter comes with reinforce-sb3"
    )


def parameter_gradient(
    env: EnvLike,
    policy: Any,
    parameters: Iterable[Any] | None = None,
    gamma: float = 1.0,
    horizon: int | None = None,
) -> list[Any]:
    """The exact gradient of J with respect to the parameters of a torch policy.

    :param policy: a Stable-Baselines3 policy or model, or a callable ``obs -> probabilities``
        returning a torch tensor.
    :param parameters: the tensors to differentiate with respect to; by default all the
        parameters of the policy (which must then be a torch module or an SB3 model).
    :return: one gradient per parameter, in order (zeros for a parameter J does not depend on).
    """
    surrogate = surrogate_objective(env, policy, gamma, horizon)
    for adapter in adapters():
        grads = adapter.parameter_gradient(policy, surrogate, parameters)
        if grads is not None:
            return list(grads)
    raise TypeError(f"no policy adapter can differentiate {type(policy).__name__}")


def _resolve_env(env: EnvLike, horizon: int | None) -> tuple[SlipperyHillEnv, int]:
    """The bare game and the horizon: ``horizon`` if given, else the env's TimeLimit."""
    if isinstance(env, str):
        env = gym.make(env)
    if not isinstance(env, gym.Env) or not isinstance(env.unwrapped, SlipperyHillEnv):
        raise TypeError(f"env must be PGToy-v0, SlipperyHill-v0 or a SlipperyHillEnv, got {env!r}")
    if horizon is None:
        horizon = _time_limit(env)
        if horizon is None:
            raise ValueError("horizon is unknown: pass horizon=... or an env made with max_episode_steps")
    horizon = check_integer("horizon", horizon, 1, MAX_EPISODE_STEPS, " (by default the env's max_episode_steps)")
    game = env.unwrapped
    pairs = horizon * 2 * (game.hill_length + 1)
    if pairs > MAX_STATE_STEPS:
        raise ValueError(
            f"horizon x 2 (hill_length + 1) = {horizon} x {2 * (game.hill_length + 1)} = {pairs:,} (time, state) "
            f"pairs, more than the {MAX_STATE_STEPS:,} the exact analysis allows: use a shorter horizon or hill"
        )
    return game, horizon


def _time_limit(env: gym.Env) -> int | None:
    """The max_episode_steps of the outermost TimeLimit around ``env``, or of its spec."""
    wrapper = env
    while isinstance(wrapper, gym.Wrapper):
        if isinstance(wrapper, TimeLimit):
            return wrapper._max_episode_steps
        wrapper = wrapper.env
    return env.spec.max_episode_steps if env.spec is not None else None


def _check_gamma(gamma: float) -> float:
    if not isinstance(gamma, (int, float, np.floating)) or not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    return float(gamma)


def _decision_states(game: SlipperyHillEnv, horizon: int) -> list[list[State]]:
    """``[S_0, ..., S_{horizon-1}]``: the states in which a decision can be due at each time, whatever the policy."""
    layers = [[game.start_state]]
    for _ in range(horizon - 1):
        successors = {
            next_state
            for state in layers[-1]
            for action in (LEFT, RIGHT)
            for _, next_state, _, terminated in game.P[state][action]
            if not terminated
        }
        layers.append(sorted(successors))
    return layers


def _q(game: SlipperyHillEnv, state: State, next_values: dict[State, float], gamma: float) -> np.ndarray:
    """``[Q(s, left), Q(s, right)]`` given the values of the next time step (0 where the episode ends)."""
    return np.array(
        [
            sum(
                prob * (reward + (0.0 if terminated else gamma * next_values.get(next_state, 0.0)))
                for prob, next_state, reward, terminated in game.P[state][action]
            )
            for action in (LEFT, RIGHT)
        ]
    )
