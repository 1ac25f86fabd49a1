"""What the diagnostics measure on: episodes sampled as REINFORCE samples them, batched as it batches
them, and a learned value baseline fitted on episodes of its own.

- :func:`sample_episodes` draws every action from the policy's own distribution. A ``Box`` action is
  kept as drawn (the Gaussian sample whose log-probability the estimator weights) and the env
  receives it clipped to the action space, as REINFORCE's rollouts and SB3's do.
- :func:`episode_batch` puts episodes in an :class:`~reinforce_sb3.buffer.EpisodeBuffer` and returns
  its batch (returns, episode ids and time steps, as REINFORCE's ``train`` gets them).
- :func:`fit_value_baseline` copies a policy and fits the copy's value network to the returns of
  other episodes, so that ``baseline="value"`` is measured with a value function as good as
  learning makes it, and independent of the batches measured (hence unbiased, as in training,
  where the value network was fitted on earlier batches).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch as th
import torch.nn.functional as F  # noqa: N812
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from reinforce_sb3.analysis.policy_adapter import check_spaces
from reinforce_sb3.buffer import EpisodeBatch, EpisodeBuffer
from reinforce_sb3.policies import REINFORCEPolicy

Episode = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(observations, actions, rewards)`` of one episode; the actions as drawn (unclipped)."""

MAX_SAMPLED_STEPS = 500_000
"""The most environment steps one call of :func:`sample_episodes` may take (the episodes are kept in memory)."""


def sample_episodes(policy: BasePolicy, env: str | gym.Env, n_episodes: int, seed: int = 0) -> list[Episode]:
    """``n_episodes`` episodes played with actions drawn from the policy's distribution (see the module docstring)."""
    env = gym.make(env) if isinstance(env, str) else env
    check_spaces(policy, env.observation_space, env.action_space)
    episodes = []
    steps_left = MAX_SAMPLED_STEPS
    obs, _ = env.reset(seed=seed)
    with th.random.fork_rng(devices=[]):  # seed the policy's sampling without touching the caller's generator
        th.manual_seed(seed)
        for _ in range(n_episodes):
            episodes.append(_play_episode(policy, env, obs, steps_left))
            steps_left -= len(episodes[-1][2])
            obs, _ = env.reset()
    return episodes


def _play_episode(policy: BasePolicy, env: gym.Env, obs: np.ndarray, max_steps: int) -> Episode:
    """One episode from ``obs``, of at most ``max_steps`` steps, else ValueError."""
    box = env.action_space if isinstance(env.action_space, spaces.Box) else None
    observations: list[np.ndarray] = []
    actions: list[np.ndarray] = []
    rewards: list[float] = []
    done = False
    while not done:
        if len(rewards) == max_steps:
            raise ValueError(
                f"the sampled episodes reached {MAX_SAMPLED_STEPS:,} steps in all, the most the diagnostics keep: "
                "sample fewer episodes (n_episodes x n_batches) or use a shorter max_episode_steps"
            )
        obs_tensor, _ = policy.obs_to_tensor(obs)
        with th.no_grad():
            distribution = policy.get_distribution(obs_tensor)  # type: ignore[operator]  # every SB3 policy has it
            action = distribution.get_actions().cpu().numpy()[0]
        observations.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action if box is None else np.clip(action, box.low, box.high))
        rewards.append(float(reward))
        done = terminated or truncated
    return np.array(observations), np.array(actions), np.array(rewards, dtype=np.float32)


def episode_batch(
    policy: BasePolicy, episodes: Sequence[Episode], gamma: float = 1.0, reward_to_go: bool = True
) -> EpisodeBatch:
    """The batch REINFORCE's ``train`` would get from ``episodes`` (one after another, on one env)."""
    buffer = EpisodeBuffer(policy.observation_space, policy.action_space, n_envs=1)
    for observations, actions, rewards in episodes:
        last = len(rewards) - 1
        for t in range(len(rewards)):
            buffer.add(observations[t][None], np.asarray(actions[t])[None], rewards[t : t + 1],
                       np.array([t == 0]), np.array([t == last]), np.array([True]))  # fmt: skip
    return buffer.episode_batch(gamma, reward_to_go)


def fit_value_baseline(
    policy: BasePolicy,
    episodes: Sequence[Episode],
    gamma: float = 1.0,
    reward_to_go: bool = True,
    steps: int = 300,
    learning_rate: float = 0.02,
) -> BasePolicy:
    """A copy of ``policy`` whose value network is fitted to the returns of ``episodes``; the policy is untouched.

    The copy minimises REINFORCE's value loss, the mean squared error between ``predict_values`` and
    the returns (reward-to-go or whole-episode, as the estimator uses), by ``steps`` full-batch Adam
    steps on the value network's parameters alone, so its action distribution is the policy's. A
    REINFORCE policy made without a value network gets a fresh one (``value_baseline=True``).

    :raises ValueError: the policy has no value network and is not a REINFORCE policy
    """
    if isinstance(policy, REINFORCEPolicy) and policy.value_net is None:
        data = {**policy._get_constructor_parameters(), "value_baseline": True}
        clone: BasePolicy = type(policy)(**data).to(policy.device)
        clone.load_state_dict(policy.state_dict(), strict=False)  # all but the new value network
    elif hasattr(policy, "predict_values"):
        clone = copy.deepcopy(policy)
    else:
        raise ValueError(
            f"baseline='value' needs a value network: {type(policy).__name__} has no predict_values "
            "(use a REINFORCE model or an SB3 actor-critic policy such as A2C's or PPO's)"
        )
    value_parameters = [p for name, p in clone.named_parameters() if _is_value_parameter(name)]
    batch = episode_batch(clone, episodes, gamma, reward_to_go).to_tensors(clone.device)
    observations, returns = batch.observations, batch.returns
    optimizer = th.optim.Adam(value_parameters, lr=learning_rate)
    with th.enable_grad():
        for _ in range(steps):
            loss = F.mse_loss(clone.predict_values(observations).flatten(), returns)  # type: ignore[operator]  # a policy with a value network
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
            optimizer.step()
    return clone


def _is_value_parameter(name: str) -> bool:
    """Whether a parameter belongs to the value function (REINFORCE's ``value_net``; SB3's actor-critic's
    ``mlp_extractor.value_net``, ``value_net`` and ``vf_features_extractor``)."""
    return "value_net." in name or name.startswith("vf_features_extractor.")
