"""SB3's tests/test_spaces.py, adapted to REINFORCE.

SB3's dummy envs never end an episode: here they run under a TimeLimit (REINFORCE learns from complete episodes).
Left out: test_sde_multi_dim (gSDE, which REINFORCE's policy does not have).
"""

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.spaces.space import Space
from stable_baselines3 import A2C
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from reinforce_sb3 import REINFORCE
from tests.sb3.helpers import EP_LENGTH

BOX_SPACE_FLOAT64 = spaces.Box(low=-1, high=1, shape=(2,), dtype=np.float64)
BOX_SPACE_FLOAT32 = spaces.Box(low=-1, high=1, shape=(2,), dtype=np.float32)


@dataclass
class DummyEnv(gym.Env):
    observation_space: Space
    action_space: Space

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            super().reset(seed=seed)
        return self.observation_space.sample(), {}


class DummyMultidimensionalAction(DummyEnv):
    def __init__(self):
        super().__init__(BOX_SPACE_FLOAT32, spaces.Box(low=-1, high=1, shape=(2, 2), dtype=np.float32))


class DummyMultiBinary(DummyEnv):
    def __init__(self, n):
        super().__init__(spaces.MultiBinary(n), BOX_SPACE_FLOAT32)


class DummyMultiDiscreteSpace(DummyEnv):
    def __init__(self, nvec):
        super().__init__(spaces.MultiDiscrete(nvec), BOX_SPACE_FLOAT32)


class RewardedMultidimensionalAction(DummyMultidimensionalAction):
    """DummyMultidimensionalAction paying ``-sum(action**2)``: with SB3's reward of 0, REINFORCE's gradient is 0."""

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, -float(np.sum(np.square(action))), terminated, truncated, info


# SB3 test_spaces.py::test_env
@pytest.mark.parametrize(
    "env",
    [DummyMultiDiscreteSpace([4, 3]), DummyMultiBinary(8), DummyMultiBinary((3, 2)), DummyMultidimensionalAction()],
)
def test_env(env):
    check_env(env, skip_render_check=True)


# SB3 test_spaces.py::test_identity_spaces (SAC/TD3 with Box actions, DQN with Discrete(4) ones)
@pytest.mark.parametrize("discrete_actions", [False, True])
@pytest.mark.parametrize(
    "make_env", [lambda: DummyMultiDiscreteSpace([4, 3]), lambda: DummyMultiBinary(8), lambda: DummyMultiBinary((3, 2))]
)
def test_identity_spaces(make_env, discrete_actions):
    env = make_env()  # a fresh env: SB3 changes the action space of one shared between the parametrized runs
    if discrete_actions:
        env.action_space = spaces.Discrete(4)
    env = gym.wrappers.TimeLimit(env, max_episode_steps=EP_LENGTH)
    model = REINFORCE("MlpPolicy", env, gamma=0.5, seed=1, n_episodes=2, policy_kwargs=dict(net_arch=[64]))
    model.learn(total_timesteps=5 * EP_LENGTH)
    assert model._n_updates > 0
    evaluate_policy(model, env, n_eval_episodes=5, warn=False)


# SB3 test_spaces.py::test_action_spaces (the A2C case: every space is supported; the multidimensional Box trains)
@pytest.mark.parametrize("env", ["Pendulum-v1", "CartPole-v1", DummyMultidimensionalAction()])
def test_action_spaces(env):
    model = REINFORCE("MlpPolicy", env, n_episodes=2)
    if isinstance(env, DummyMultidimensionalAction):
        model.set_env(gym.wrappers.TimeLimit(env, max_episode_steps=EP_LENGTH))
        model.learn(64)
        assert model._n_updates > 0


# Ours: a Box action space of shape (2, 2) trains, and predict gives actions of that shape, as A2C's
def test_multidimensional_box_actions_train():
    env = gym.wrappers.TimeLimit(RewardedMultidimensionalAction(), max_episode_steps=EP_LENGTH)
    model = REINFORCE("MlpPolicy", env, n_episodes=2, seed=0, learning_rate=0.05)
    a2c = A2C("MlpPolicy", env, seed=0)
    before = model.policy.action_net.weight.detach().clone()
    model.learn(20 * EP_LENGTH)
    assert model._n_updates == 10
    assert not np.allclose(before.numpy(), model.policy.action_net.weight.detach().numpy())

    obs, _ = env.reset(seed=0)
    for agent in (model, a2c):
        action, _ = agent.predict(obs, deterministic=False)
        assert action.shape == (2, 2) and env.action_space.contains(action)
        actions, _ = agent.predict(np.stack([obs, obs, obs]))
        assert actions.shape == (3, 2, 2)


# SB3 test_spaces.py::test_discrete_obs_space (Taxi, 2 envs)
def test_discrete_obs_space():
    env = _make_env_safe("Taxi-v3", n_envs=2, seed=0, env_kwargs=dict(max_episode_steps=32))
    model = REINFORCE("MlpPolicy", env, n_episodes=2).learn(128)
    assert model._n_updates > 0


# SB3 test_spaces.py::test_float64_action_space (the A2C case)
@pytest.mark.parametrize(
    "obs_space",
    [
        BOX_SPACE_FLOAT32,
        BOX_SPACE_FLOAT64,
        spaces.Dict({"a": BOX_SPACE_FLOAT32, "b": BOX_SPACE_FLOAT32}),
        spaces.Dict({"a": BOX_SPACE_FLOAT32, "b": BOX_SPACE_FLOAT64}),
    ],
)
@pytest.mark.parametrize("action_space", [BOX_SPACE_FLOAT32, BOX_SPACE_FLOAT64])
def test_float64_action_space(obs_space, action_space):
    env = DummyEnv(obs_space, action_space)
    env = gym.wrappers.TimeLimit(env, max_episode_steps=EP_LENGTH)
    policy = "MultiInputPolicy" if isinstance(env.observation_space, spaces.Dict) else "MlpPolicy"
    model = REINFORCE(policy, env, n_episodes=2, policy_kwargs=dict(net_arch=[12]))
    model.learn(64)
    initial_obs, _ = env.reset()
    action, _ = model.predict(initial_obs, deterministic=False)
    assert action.dtype == env.action_space.dtype


# SB3 test_spaces.py::test_multidim_binary_not_supported: SB3 asserts; REINFORCE may raise ValueError (project rule)
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
def test_multidim_binary_not_supported(model_class):
    env = DummyEnv(BOX_SPACE_FLOAT32, spaces.MultiBinary([2, 3]))
    with pytest.raises((AssertionError, ValueError), match=r"MultiBinary\(.*\)"):
        model_class("MlpPolicy", env)


def _make_env_safe(env_id, **kwargs):
    try:
        return make_vec_env(env_id, **kwargs)
    except gym.error.DeprecatedEnv:
        # as of gymnasium 1.3.0 Taxi-v3 is deprecated
        fallback_map = {"Taxi-v3": "Taxi-v4"}
        if env_id in fallback_map:
            return make_vec_env(fallback_map[env_id], **kwargs)
        raise
