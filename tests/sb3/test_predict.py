"""SB3's tests/test_predict.py, adapted to REINFORCE.

Left out: test_dqn_epsilon_greedy and the DQN part of test_predict (DQN's epsilon-greedy exploration).
"""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.utils import get_device
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from reinforce_sb3 import REINFORCE


class SubClassedBox(spaces.Box):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)


class CustomSubClassedSpaceEnv(gym.Env):
    def __init__(self):
        super().__init__()
        self.observation_space = SubClassedBox(-1, 1, shape=(2,), dtype=np.float32)
        self.action_space = SubClassedBox(-1, 1, shape=(2,), dtype=np.float32)

    def reset(self, seed=None):
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, np.random.rand() > 0.5, False, {}


# SB3 test_predict.py::test_env
@pytest.mark.parametrize("env_cls", [CustomSubClassedSpaceEnv])
def test_env(env_cls):
    check_env(env_cls(), skip_render_check=True)


# SB3 test_predict.py::test_auto_wrap (Pendulum with 25-step episodes: REINFORCE learns from complete ones)
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_auto_wrap(env_id):
    env = gym.make(env_id, max_episode_steps=25) if env_id == "Pendulum-v1" else gym.make(env_id)
    model = REINFORCE("MlpPolicy", env, n_episodes=2, seed=0)
    assert isinstance(model.get_env(), VecEnv)
    model.learn(100)
    assert model._n_updates > 0


# SB3 test_predict.py::test_predict
@pytest.mark.parametrize("env_id", ["Pendulum-v1", "CartPole-v1"])
@pytest.mark.parametrize("device", ["cpu", "cuda", "auto"])
def test_predict(env_id, device):
    if device == "cuda" and not th.cuda.is_available():
        pytest.skip("CUDA not available")

    # Detection of the different shapes by the predict method
    model = REINFORCE("MlpPolicy", env_id, device=device)
    # The policy is on the right device
    assert get_device(device).type == model.policy.device.type

    env = gym.make(env_id)
    vec_env = DummyVecEnv([lambda: gym.make(env_id), lambda: gym.make(env_id)])

    obs, _ = env.reset()
    action, _ = model.predict(obs)
    assert isinstance(action, np.ndarray)
    assert action.shape == env.action_space.shape
    assert env.action_space.contains(action)

    vec_env_obs = vec_env.reset()
    action, _ = model.predict(vec_env_obs)
    assert isinstance(action, np.ndarray)
    assert action.shape[0] == vec_env_obs.shape[0]


# SB3 test_predict.py::test_subclassed_space_env
def test_subclassed_space_env():
    env = CustomSubClassedSpaceEnv()
    model = REINFORCE("MlpPolicy", env, policy_kwargs=dict(net_arch=[32]), seed=0)
    model.learn(300)
    assert model._n_updates > 0
    obs, _ = env.reset()
    env.step(model.predict(obs)[0])


# SB3 test_predict.py::test_mixing_gym_vecenv_api
def test_mixing_gym_vecenv_api():
    env = gym.make("CartPole-v1")
    model = REINFORCE("MlpPolicy", env)
    # reset returns a tuple (obs, info)
    wrong_obs = env.reset()
    with pytest.raises(ValueError, match=r"mixing Gym API"):
        model.predict(wrong_obs)
