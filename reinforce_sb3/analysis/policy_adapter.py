"""Stable-Baselines3 and torch policies for :mod:`gym_pgtoy.exact`, which knows only plain policies.

``gym_pgtoy.exact`` finds this module through the entry-point group ``gym_pgtoy.policy_adapters``
that this distribution declares (``pyproject.toml``), so ``exact.expected_return(env, model)``
and ``exact.parameter_gradient(env, model)`` work for any SB3 model while ``gym_pgtoy`` never
imports torch or SB3. An adapter module has the three functions below; each returns ``None``
for a policy it does not know.

Discrete policies (``Discrete(2)`` actions) give their action probabilities. Gaussian policies
(``continuous=True``: ``Box(-1, 1, (1,))`` actions, SB3's ``DiagGaussianDistribution`` as in
REINFORCE's, A2C's and PPO's policies) draw ``a ~ Normal(mu(s), sigma(s))``, and the env moves
right when ``a >= 0`` (clipping to [-1, 1] keeps the sign), so they give
``(p_left, p_right) = (Phi(-mu / sigma), Phi(mu / sigma))``: differentiable in the mean's and the
log-std's parameters alike, so :func:`gym_pgtoy.exact.parameter_gradient` is exact for both.
:func:`gaussian_parameters` gives ``(mu, sigma)`` per state, for pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import DiagGaussianDistribution, Distribution
from stable_baselines3.common.policies import BasePolicy


def _sb3_policy(policy: Any) -> BasePolicy | None:
    """The SB3 policy of a model or policy, else None."""
    candidate = getattr(policy, "policy", policy)
    return candidate if isinstance(candidate, BasePolicy) else None


def check_spaces(policy: Any, observation_space: spaces.Space[Any], action_space: spaces.Space[Any]) -> None:
    """A ``ValueError`` unless the SB3 policy (or model) was made for these spaces: the same game variant."""
    if policy.observation_space != observation_space or policy.action_space != action_space:
        raise ValueError(
            f"policy was made for observation_space={policy.observation_space} and action_space="
            f"{policy.action_space}, but the env has {observation_space} and {action_space}: "
            "analyse a policy on the game variant it was trained on"
        )


def _distribution(policy: BasePolicy, obs: np.ndarray) -> Distribution:
    """The SB3 action distribution of ``policy`` at one observation."""
    obs_tensor, _ = policy.obs_to_tensor(obs)
    return policy.get_distribution(obs_tensor)  # type: ignore[operator,no-any-return]  # every SB3 policy has it


def _gaussian(distribution: Distribution) -> th.distributions.Normal | None:
    """The torch Normal of a diagonal Gaussian over one action, None for a categorical, else a ValueError."""
    if isinstance(distribution.distribution, th.distributions.Categorical):
        return None
    if type(distribution) is DiagGaussianDistribution and distribution.distribution.mean.shape[-1] == 1:
        return distribution.distribution
    raise ValueError(
        f"policy must draw its actions from a categorical (Discrete(2) actions) or a diagonal Gaussian over one "
        f"action (Box actions, SB3's DiagGaussianDistribution), got {type(distribution).__name__}: other "
        "distributions (gSDE's noise, held for several steps, among them) are not a stationary policy of directions"
    )


def _torch_probabilities(policy: BasePolicy) -> Callable[[np.ndarray], th.Tensor]:
    """``obs -> (p_left, p_right)`` as a tensor that depends on the policy's parameters."""

    def probabilities(obs: np.ndarray) -> th.Tensor:
        distribution = _distribution(policy, obs)
        gaussian = _gaussian(distribution)
        if gaussian is None:
            probs: th.Tensor = distribution.distribution.probs  # type: ignore[union-attr]  # a Categorical: checked
            return probs[0]
        # a >= 0 moves right: P = Phi(mu / sigma); ndtr on both sides keeps the small one accurate
        z = (gaussian.mean / gaussian.stddev)[0]
        return th.cat([th.special.ndtr(-z), th.special.ndtr(z)])

    return probabilities


def gaussian_parameters(policy: Any, observations: np.ndarray) -> list[tuple[float, float]] | None:
    """``(mu, sigma)`` of a Gaussian SB3 policy (or model) at each observation; None for any other policy."""
    sb3_policy = _sb3_policy(policy)
    if sb3_policy is None:
        return None
    parameters = []
    with th.no_grad():
        for obs in observations:
            gaussian = _gaussian(_distribution(sb3_policy, obs))
            if gaussian is None:
                return None
            parameters.append((float(gaussian.mean[0, 0]), float(gaussian.stddev[0, 0])))
    return parameters


def probability_fn(
    policy: Any, observation_space: spaces.Space[Any], action_space: spaces.Space[Any]
) -> Callable[[np.ndarray], np.ndarray] | None:
    """``obs -> (p_left, p_right)`` in numpy for an SB3 model or policy; None for anything else."""
    sb3_policy = _sb3_policy(policy)
    if sb3_policy is None:
        return None
    check_spaces(sb3_policy, observation_space, action_space)
    probabilities = _torch_probabilities(sb3_policy)

    def numpy_probabilities(obs: np.ndarray) -> np.ndarray:
        with th.no_grad():
            return probabilities(obs).cpu().numpy().astype(np.float64)

    return numpy_probabilities


def surrogate_objective(
    policy: Any,
    observations: np.ndarray,
    weights: np.ndarray,
    observation_space: spaces.Space[Any],
    action_space: spaces.Space[Any],
) -> th.Tensor | None:
    """
    ``sum_i weights[i] . pi(. | observations[i])`` as a differentiable scalar: for an SB3 model or
    policy, or a callable returning torch tensors; None for anything else.
    """
    sb3_policy = _sb3_policy(policy)
    if sb3_policy is not None:
        check_spaces(sb3_policy, observation_space, action_space)
        function: Callable[[np.ndarray], Any] = _torch_probabilities(sb3_policy)
    elif callable(policy):
        function = policy
    else:
        return None
    rows = [function(obs) for obs in observations]
    if not all(isinstance(row, th.Tensor) for row in rows):
        return None
    probs = th.stack(rows)
    return (th.as_tensor(weights, dtype=probs.dtype, device=probs.device) * probs).sum()


def parameter_gradient(
    policy: Any, surrogate: th.Tensor, parameters: Iterable[th.Tensor] | None
) -> list[th.Tensor] | None:
    """The gradient of ``surrogate`` with respect to ``parameters`` (default: the policy's)."""
    if parameters is None:
        module = getattr(policy, "policy", policy)
        if not isinstance(module, th.nn.Module):
            raise ValueError("parameters must be given when policy is not a torch module or an SB3 model")
        parameters = module.parameters()
    parameters = list(parameters)
    grads = th.autograd.grad(surrogate, parameters, allow_unused=True)
    return [th.zeros_like(p) if g is None else g for p, g in zip(parameters, grads, strict=True)]
