"""The REINFORCE gradient estimator as pure functions: returns, baselines, standardisation, loss.

Nothing here keeps state. The numpy functions work on time-major ``(step, env)`` arrays as
the episode buffer stores them; :func:`reinforce_loss` works on the flattened batch
(:class:`TensorBatch`), with the estimator's options in one :class:`EstimatorOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

import numpy as np
import torch as th
import torch.nn.functional as F  # noqa: N812
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import PyTorchObs

Baseline = Literal["none", "mean", "leave_one_out", "value"]
LossReduction = Literal["mean", "episodes"]
Truncation = Literal["end", "bootstrap_mean"]
BASELINES: tuple[Baseline, ...] = get_args(Baseline)
LOSS_REDUCTIONS: tuple[LossReduction, ...] = get_args(LossReduction)
TRUNCATIONS: tuple[Truncation, ...] = get_args(Truncation)


@dataclass(frozen=True)
class EstimatorOptions:
    """
    How a batch of complete episodes becomes a gradient estimate: the options of REINFORCE's
    estimator, with REINFORCE's defaults (see :class:`~reinforce_sb3.reinforce.REINFORCE`).

    :param gamma: discount factor of the returns, in [0, 1]
    :param reward_to_go: weight each step by the return that follows it (else by its episode's return)
    :param normalize_returns: standardise the weights of the batch (:func:`standardize`)
    :param loss_reduction: "mean" over the batch's steps, or "episodes": the sum over steps / the episodes
    :param baseline: what is subtracted from the returns (:func:`advantages`)
    :param discounted_gradient: also weight each step by ``gamma^t`` (``t``: its time in its episode),
        the factor of the gradient of the discounted return
    """

    gamma: float = 0.99
    reward_to_go: bool = True
    normalize_returns: bool = True
    loss_reduction: LossReduction = "mean"
    baseline: Baseline = "none"
    discounted_gradient: bool = False


class TensorBatch(NamedTuple):
    """The steps of a batch of complete episodes as tensors on one device, flattened in (time, env) order."""

    observations: PyTorchObs
    actions: th.Tensor
    returns: th.Tensor
    """The return weighting each step (reward-to-go or whole-episode, as the options say), float32."""
    episode_ids: th.Tensor
    """Each step's episode, numbered ``0 .. n_episodes - 1``."""
    timesteps: th.Tensor
    """Each step's time since the start of its episode."""
    n_episodes: int


def discounted_returns(
    rewards: np.ndarray, dones: np.ndarray, gamma: float, end_values: np.ndarray | None = None
) -> np.ndarray:
    """
    The reward-to-go of every step, ``G_t = r_t + gamma * G_{t+1}``, where after a step whose ``done``
    is True (the episode ended) ``G_{t+1}`` is that step's ``end_values`` (0 by default: no bootstrapping,
    whether the episode terminated or was truncated).

    :param rewards: rewards shaped ``(n_steps, n_envs)``
    :param dones: whether each step ended its episode, same shape
    :param gamma: discount factor in [0, 1]
    :param end_values: what follows each step that ends its episode, same shape (read at those steps only):
        0 after a termination; after a truncation, 0 or a bootstrap value (REINFORCE's
        ``truncation="bootstrap_mean"``). None: 0 everywhere
    :return: float64 array shaped like ``rewards``; steps of an episode still running at the end
        hold the return of the part seen so far
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    continues = ~np.asarray(dones, dtype=bool)
    ends = np.zeros(rewards.shape) if end_values is None else np.asarray(end_values, dtype=np.float64)
    returns = np.empty_like(rewards)
    next_return = np.zeros(rewards.shape[1:])
    with np.errstate(invalid="ignore", over="ignore"):  # a non-finite reward stays in its own episode
        for t in range(len(rewards) - 1, -1, -1):
            next_return = rewards[t] + gamma * np.where(continues[t], next_return, ends[t])
            returns[t] = next_return
    return returns


def running_mean(mean: float, count: int, values: np.ndarray) -> tuple[float, int]:
    """
    The mean of ``count`` earlier values and of ``values``, from their mean ``mean`` alone:
    ``mean + (mean(values) - mean) * n / (count + n)`` with ``n = len(values)`` (the mean of Tianshou's
    ``RunningMeanStd.update``). No values leave it as it is.

    :return: the new mean and count, ``count + n``
    """
    n = len(values)
    if n == 0:
        return mean, count
    total = count + n
    return float(mean + (np.mean(values, dtype=np.float64) - mean) * n / total), total


def latest_starts(episode_starts: np.ndarray) -> np.ndarray:
    """For every ``(step, env)``, the step at which its episode started (0 before an env's first start)."""
    starts = np.asarray(episode_starts, dtype=bool)
    steps = np.arange(len(starts)).reshape(-1, *([1] * (starts.ndim - 1)))
    return np.maximum.accumulate(np.where(starts, steps, 0), axis=0)


def episode_returns(returns: np.ndarray, episode_starts: np.ndarray) -> np.ndarray:
    """
    Every step's whole-episode return ``G_0``: the reward-to-go of its episode's first step.

    :param returns: the reward-to-go of :func:`discounted_returns`, shaped ``(n_steps, n_envs)``
    :param episode_starts: whether each step is the first of its episode, same shape (steps
        before an env's first episode start take that first step's value)
    """
    return np.take_along_axis(returns, latest_starts(episode_starts), axis=0)


def standardize(weights: th.Tensor) -> th.Tensor:
    """``(weights - mean) / std`` (population std); zeros when the weights are all equal, never NaN."""
    mean = weights.mean()
    centered = weights - mean
    std = centered.pow(2).mean().sqrt()
    # all equal (the float32 mean of equal values need not equal them), or a spread below float32 rounding
    equal = (weights.amax() == weights.amin()) | (std <= 1e-6 * th.clamp(mean.abs(), min=1.0))
    # comparisons on the device, no host synchronisation
    return th.where(equal, th.zeros_like(centered), centered / std.clamp(min=1e-30))


def leave_one_out_baseline(
    returns: th.Tensor, episode_ids: th.Tensor, timesteps: th.Tensor, n_episodes: int, reward_to_go: bool = True
) -> th.Tensor:
    """
    Each step's baseline from the *other* episodes of the batch (Kool et al., 2019). It does not depend on
    the step's own episode, so it keeps the estimate's expectation (with the textbook settings, an unbiased
    estimate of the gradient of the expected return stays unbiased):

    - ``reward_to_go``: ``b_i(t) = sum_{j != i} G_j(t) / (N - 1)``, the mean of the other
      episodes' returns-to-go from the same time step (``G_j(t) = 0`` once episode j has ended);
    - otherwise: ``b_i = sum_{j != i} G_j / (N - 1)``, the mean of the other episodes' returns.

    :param returns: one return per step (reward-to-go, or the episode's return at every step)
    :param episode_ids: the episode of each step, ``0 .. n_episodes - 1``
    :param timesteps: each step's time since the start of its episode
    :param n_episodes: N, the number of episodes in the batch (zeros for N = 1: no other episode)
    :param reward_to_go: which of the two forms above
    """
    if n_episodes < 2:
        return th.zeros_like(returns)
    if reward_to_go:
        totals = th.zeros(int(timesteps.max()) + 1, dtype=returns.dtype, device=returns.device)
        per_step = totals.index_add(0, timesteps, returns)[timesteps]
    else:
        firsts = timesteps == 0
        episode_totals = th.zeros(n_episodes, dtype=returns.dtype, device=returns.device)
        episode_totals = episode_totals.index_add(0, episode_ids[firsts], returns[firsts])
        per_step = episode_totals.sum().expand_as(returns)
    return (per_step - returns) / (n_episodes - 1)


def advantages(
    returns: th.Tensor,
    baseline: Baseline,
    values: th.Tensor | None = None,
    leave_one_out: th.Tensor | None = None,
) -> th.Tensor:
    """
    The returns less the baseline: ``G - 0``, ``G - mean(G)``, ``G - V(s)`` (values detached) or
    ``G - b`` with the leave-one-out baseline ``b`` of :func:`leave_one_out_baseline`.

    :param returns: one Monte-Carlo return per step
    :param baseline: "none", "mean" (the mean of ``returns`` over the batch's steps), "leave_one_out"
        (``leave_one_out``) or "value" (``values``)
    :param values: the learned state values, for ``baseline="value"``
    :param leave_one_out: the leave-one-out baseline, for ``baseline="leave_one_out"``
    """
    if baseline == "mean":
        return returns - returns.mean()
    if baseline == "value":
        if values is None:
            raise ValueError("baseline='value' needs values")
        return returns - values.detach()
    if baseline == "leave_one_out":
        if leave_one_out is None:
            raise ValueError("baseline='leave_one_out' needs the leave-one-out baseline")
        return returns - leave_one_out
    return returns


class Losses(NamedTuple):
    """
    The terms of REINFORCE's loss for one batch, and what the policy term is made of:
    ``policy_loss = -(log_prob * weights).sum() * scale``.
    """

    policy_loss: th.Tensor
    entropy_loss: th.Tensor
    value_loss: th.Tensor | None
    values: th.Tensor | None
    """The learned baseline's predictions, if any."""
    log_prob: th.Tensor
    """``log pi(a_t|s_t)`` of every step, in the policy's graph."""
    weights: th.Tensor
    """Each step's weight of ``log pi``: the return less the baseline, standardised or not, times ``gamma^t`` or not."""
    scale: float
    """``1 / n_steps`` ("mean") or ``1 / n_episodes`` ("episodes")."""


def reinforce_loss(policy: BasePolicy, batch: TensorBatch, options: EstimatorOptions) -> Losses:
    """
    REINFORCE's loss terms for a batch of steps from complete episodes.

    ``policy_loss = -sum_t log pi(a_t|s_t) * w_t * scale`` with ``w = standardize(G - b)`` (or
    ``G - b``), times ``gamma^t`` with ``discounted_gradient``, and ``scale = 1 / n_steps`` ("mean")
    or ``1 / n_episodes`` ("episodes"). With raw returns (no standardisation), "episodes" and either
    ``gamma = 1`` or ``discounted_gradient``, its gradient is the textbook estimate of the gradient of
    the expected (discounted) return, unbiased for any baseline but "mean".

    :param policy: any SB3 policy with ``get_distribution`` (and ``predict_values`` for
        ``baseline="value"``), so the diagnostics can use the same loss on A2C's policy
    :param batch: the batch's steps as tensors on the policy's device
    :param options: the estimator's options (``gamma`` and ``reward_to_go`` must be those the
        batch's returns were computed with)
    """
    values = None
    if options.baseline == "value":
        values = policy.predict_values(batch.observations).flatten()  # type: ignore[operator]  # SB3 critics: (batch, 1)
    leave_one_out = None
    if options.baseline == "leave_one_out":
        leave_one_out = leave_one_out_baseline(
            batch.returns, batch.episode_ids, batch.timesteps, batch.n_episodes, options.reward_to_go
        )
    weights = advantages(batch.returns, options.baseline, values, leave_one_out)
    if options.normalize_returns:
        weights = standardize(weights)
    if options.discounted_gradient:
        weights = weights * options.gamma ** batch.timesteps.to(weights.dtype)

    distribution = policy.get_distribution(batch.observations)  # type: ignore[operator]  # every SB3 policy has it
    # SB3's distributions expect one flat action vector per step (a Box of shape (2, 2) gives 4 numbers)
    actions = batch.actions
    flat_actions = actions.reshape(len(actions), -1) if actions.dim() > 2 else actions
    log_prob, entropy = distribution.log_prob(flat_actions), distribution.entropy()
    scale = 1.0 / (len(weights) if options.loss_reduction == "mean" else batch.n_episodes)
    return Losses(
        # Policy gradient loss: ascend sum_t log pi(a_t|s_t) * G_t
        policy_loss=-(log_prob * weights).sum() * scale,
        # Entropy loss favours exploration
        entropy_loss=-entropy.sum() * scale if entropy is not None else th.zeros(()),
        # The learned baseline regresses on the returns (its input features are detached)
        value_loss=None if values is None else F.mse_loss(values, batch.returns),
        values=values,
        log_prob=log_prob,
        weights=weights,
        scale=scale,
    )
