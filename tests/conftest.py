"""Fixtures shared by the tests: small REINFORCE models, and VecEnvs that catch a reset mid-episode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch as th
from stable_baselines3.common.vec_env import VecEnv

from reinforce_sb3 import REINFORCE
from tests.envs import strict_vec_env


@pytest.fixture
def make_model() -> Callable[..., REINFORCE]:
    """
    ``make_model(env="PGToy-v0", policy="MlpPolicy", **kwargs)``: a small REINFORCE model.

    Defaults: 2 episodes per batch, seed 0, on the CPU, one hidden layer of 8 units (not for
    ``CnnPolicy``, whose default is no hidden layer); any keyword overrides them, and
    ``policy_kwargs`` are merged into the defaults.
    """

    def make(env: Any = "PGToy-v0", policy: Any = "MlpPolicy", **kwargs: Any) -> REINFORCE:
        policy_kwargs = dict(kwargs.pop("policy_kwargs", None) or {})
        if policy != "CnnPolicy":
            policy_kwargs.setdefault("net_arch", [8])
        kwargs = {"n_episodes": 2, "seed": 0, "device": "cpu", **kwargs}
        return REINFORCE(policy, env, policy_kwargs=policy_kwargs, **kwargs)

    return make


@pytest.fixture
def make_strict_env() -> Callable[..., VecEnv]:
    """``make_strict_env(kind="DummyVecEnv", env_id="CartPole-v1", n_envs=3, seed=0)``: envs that raise if reset
    mid-episode and count their resets (see :func:`tests.envs.strict_vec_env`)."""
    return strict_vec_env


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch thread for the test (restored afterwards): tiny networks gain nothing from more, and on shared
    cores lose a lot. REINFORCE.learn does this itself (``torch_threads=1``); A2C, predict and the exact
    analysis do not."""
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)
