"""Stable-Baselines3 and torch policies for :mod:`gym_pgtoy.exact`, which knows only plain policies.

``gym_pgtoy.exact`` finds this module through the entry-point group ``gym_pgtoy.policy_adapters``
that this distribution declares (``pyproject.toml``), so ``exact.expected_return(env, model)``
and ``exact.parameter_gradient(env, model)`` work for any SB3 model while ``gym_pgtoy`` never
imports torch or SB3. An adapter module has the three functions below; each returns ``None``
for a policy it does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
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


def _torch_probabilities(policy: BasePolicy) -> Callable[[np.ndarray], th.Tensor]:
    """``obs -> action probabilities`` as a tensor that depends on the policy's parameters."""

    def probabilities(obs: np.ndarray) -> th.Tensor:
        obs_tensor, _ = policy.obs_to_tensor(obs)
        distribution = policy.get_distribution(obs_tensor).distribution  # type: ignore[operator]  # SB3 policies
        if not isinstance(distribution, th.distributions.Categorical):
            raise ValueError("policy must have a discrete action distribution (Discrete(2) actions)")
        return distribution.probs[0]

    return probabilities


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
