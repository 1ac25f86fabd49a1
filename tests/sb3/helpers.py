"""Helpers shared by the adapted SB3 tests: small envs whose episodes end, and a probe for resets."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.envs import IdentityEnv, IdentityEnvBox
from stable_baselines3.common.monitor import Monitor

EP_LENGTH = 10
"""Episode length of the identity envs (SB3 uses 100; REINFORCE learns from complete episodes, so short ones)."""

SMALL = dict(n_episodes=2, policy_kwargs=dict(net_arch=[16]))
"""REINFORCE's keyword arguments for a tiny, fast model."""


def select_env(discrete: bool) -> gym.Env:
    """SB3's ``select_env``: ``IdentityEnv(10)`` for discrete actions, ``IdentityEnvBox(-10, 10)`` otherwise."""
    if discrete:
        return IdentityEnv(10, ep_length=EP_LENGTH)
    return IdentityEnvBox(-10, 10, ep_length=EP_LENGTH)


def strict_monitor(env: gym.Env) -> Monitor:
    """A Monitor that raises ``RuntimeError`` if the env is reset before its episode ended."""
    return Monitor(env, allow_early_resets=False)


class CountingWrapper(gym.Wrapper):
    """Counts the steps and resets of the env it wraps (the counts live in the env, so in its process)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.n_steps = 0
        self.n_resets = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        self.n_resets += 1
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.n_steps += 1
        return self.env.step(action)


def same_parameters(model_a: Any, model_b: Any) -> bool:
    """Whether two models' policies hold bitwise equal parameters."""
    state_a, state_b = model_a.policy.state_dict(), model_b.policy.state_dict()
    return state_a.keys() == state_b.keys() and all(th.equal(state_a[k].cpu(), state_b[k].cpu()) for k in state_a)


class StopAt(BaseCallback):
    """Stops training at the ``n_calls``-th step (its ``on_step`` returns False there)."""

    def __init__(self, n_calls: int) -> None:
        super().__init__()
        self.stop_at = n_calls

    def _on_step(self) -> bool:
        return self.n_calls < self.stop_at
