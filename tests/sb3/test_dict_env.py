"""SB3's tests/test_dict_env.py, adapted to REINFORCE.

SB3's DummyDictEnv never ends an episode: it runs under a TimeLimit here (REINFORCE learns from complete episodes).
Left out: test_vec_normalize_image (VecNormalize alone, no algorithm).
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3 import A2C
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import BitFlippingEnv, SimpleMultiObsEnv
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecFrameStack, VecNormalize

from reinforce_sb3 import REINFORCE
from tests.sb3.helpers import EP_LENGTH

SMALL_CNN = dict(net_arch=[16], features_extractor_kwargs=dict(cnn_output_dim=16))


class DummyDictEnv(gym.Env):
    """Custom Environment for testing purposes only"""

    metadata = {"render_modes": ["human"]}

    def __init__(self, use_discrete_actions=False, channel_last=False, nested_dict_obs=False, vec_only=False):
        super().__init__()
        if use_discrete_actions:
            self.action_space = spaces.Discrete(3)
        else:
            self.action_space = spaces.Box(low=-1, high=1, shape=(2,), dtype=np.float32)
        n_channels, height, width = 1, 36, 36
        obs_shape = (height, width, n_channels) if channel_last else (n_channels, height, width)
        self.observation_space = spaces.Dict(
            {
                "img": spaces.Box(low=0, high=255, shape=obs_shape, dtype=np.uint8),
                "vec": spaces.Box(low=-1, high=1, shape=(2,), dtype=np.float32),
                "discrete": spaces.Discrete(4),
            }
        )
        # For checking consistency with normal MlpPolicy
        if vec_only:
            self.observation_space = spaces.Dict({"vec": spaces.Box(low=-1, high=1, shape=(2,), dtype=np.float32)})
        if nested_dict_obs:
            # Add dictionary observation inside observation space
            self.observation_space.spaces["nested-dict"] = spaces.Dict({"nested-dict-discrete": spaces.Discrete(4)})

    def seed(self, seed=None):
        if seed is not None:
            self.observation_space.seed(seed)

    def step(self, action):
        reward = 0.0
        terminated = truncated = False
        return self.observation_space.sample(), reward, terminated, truncated, {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.observation_space.seed(seed)
        return self.observation_space.sample(), {}

    def render(self):
        pass


class RewardedDummyDictEnv(DummyDictEnv):
    """DummyDictEnv paying ``-sum(action**2)``: with SB3's reward of 0, REINFORCE's gradient is 0 (nothing learned)."""

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, -float(np.sum(np.square(action))), terminated, truncated, info


def time_limited(env: gym.Env) -> gym.Env:
    return gym.wrappers.TimeLimit(env, EP_LENGTH)


# SB3 test_dict_env.py::test_env
@pytest.mark.parametrize("use_discrete_actions", [True, False])
@pytest.mark.parametrize("channel_last", [True, False])
@pytest.mark.parametrize("nested_dict_obs", [True, False])
@pytest.mark.parametrize("vec_only", [True, False])
def test_env(use_discrete_actions, channel_last, nested_dict_obs, vec_only):
    if nested_dict_obs:
        with pytest.warns(UserWarning, match=r"Nested observation spaces are not supported"):
            check_env(DummyDictEnv(use_discrete_actions, channel_last, nested_dict_obs, vec_only))
    else:
        check_env(DummyDictEnv(use_discrete_actions, channel_last, nested_dict_obs, vec_only))


# SB3 test_dict_env.py::test_policy_hint: the wrong policy for Dict observations is a ValueError
@pytest.mark.parametrize("policy", ["MlpPolicy", "CnnPolicy"])
def test_policy_hint(policy):
    with pytest.raises(ValueError):
        REINFORCE(policy, BitFlippingEnv(n_bits=4))


# SB3 test_dict_env.py::test_goal_env (the A2C case)
def test_goal_env():
    env = BitFlippingEnv(n_bits=4)
    model = REINFORCE("MultiInputPolicy", env, n_episodes=2).learn(100)
    assert model._n_updates > 0
    evaluate_policy(model, model.get_env())


# SB3 test_dict_env.py::test_consistency (the A2C case): Dict observations with one vector key, and the flattened
# vector, give the same network and the same training. Rewards are added, or REINFORCE would not move at all.
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
def test_consistency(model_class):
    dict_env = RewardedDummyDictEnv(use_discrete_actions=False, vec_only=True)
    dict_env.seed(10)
    dict_env = time_limited(dict_env)
    env = gym.wrappers.FlattenObservation(dict_env)
    obs, _ = dict_env.reset()

    n_steps = 64
    kwargs = dict(n_episodes=2) if model_class is REINFORCE else dict(n_steps=16)
    kwargs["policy_kwargs"] = dict(net_arch=[8, 8])
    dict_model = model_class("MultiInputPolicy", dict_env, gamma=0.5, seed=1, **kwargs)
    action_before_learning_1, _ = dict_model.predict(obs, deterministic=True)
    dict_model.learn(total_timesteps=n_steps)

    normal_model = model_class("MlpPolicy", env, gamma=0.5, seed=1, **kwargs)
    action_before_learning_2, _ = normal_model.predict(obs["vec"], deterministic=True)
    normal_model.learn(total_timesteps=n_steps)

    action_1, _ = dict_model.predict(obs, deterministic=True)
    action_2, _ = normal_model.predict(obs["vec"], deterministic=True)

    assert np.allclose(action_before_learning_1, action_before_learning_2)
    assert not np.allclose(action_before_learning_1, action_1)  # it learned (with SB3's zero reward, not REINFORCE)
    assert np.allclose(action_1, action_2)


# SB3 test_dict_env.py::test_dict_spaces (the A2C case)
@pytest.mark.parametrize("channel_last", [False, True])
def test_dict_spaces(channel_last):
    env = time_limited(DummyDictEnv(use_discrete_actions=True, channel_last=channel_last))
    model = REINFORCE("MultiInputPolicy", env, gamma=0.5, seed=1, n_episodes=2, policy_kwargs=SMALL_CNN)
    model.learn(total_timesteps=4 * EP_LENGTH)
    assert model._n_updates == 2
    evaluate_policy(model, env, n_eval_episodes=5, warn=False)


def make_dict_env():
    return time_limited(DummyDictEnv(use_discrete_actions=True, channel_last=False))


# SB3 test_dict_env.py::test_multiprocessing (the A2C case); "fork" starts the workers in a fraction of the time of
# SB3's default, "forkserver" (the training is the same)
def test_multiprocessing():
    env = make_vec_env(make_dict_env, n_envs=2, vec_env_cls=SubprocVecEnv, vec_env_kwargs=dict(start_method="fork"))
    model = REINFORCE("MultiInputPolicy", env, gamma=0.5, seed=1, n_episodes=2, policy_kwargs=SMALL_CNN)
    model.learn(total_timesteps=4 * EP_LENGTH)
    assert model._n_updates == 2
    env.close()


# SB3 test_dict_env.py::test_dict_vec_framestack (the A2C case)
@pytest.mark.parametrize("channel_last", [False, True])
def test_dict_vec_framestack(channel_last):
    channels_order = {"vec": None, "img": "last" if channel_last else "first"}
    env = DummyVecEnv([lambda: SimpleMultiObsEnv(random_start=True, discrete_actions=True, channel_last=channel_last)])
    env = VecFrameStack(env, n_stack=3, channels_order=channels_order)
    policy_kwargs = dict(net_arch=[8], features_extractor_kwargs=dict(cnn_output_dim=8))
    model = REINFORCE("MultiInputPolicy", env, gamma=0.5, seed=1, n_episodes=1, policy_kwargs=policy_kwargs)
    model.learn(total_timesteps=128)
    evaluate_policy(model, env, n_eval_episodes=2, warn=False)


# SB3 test_dict_env.py::test_vec_normalize (the A2C case)
def test_vec_normalize():
    env = DummyVecEnv([make_dict_env])
    env = VecNormalize(env, norm_obs_keys=["vec"])
    model = REINFORCE("MultiInputPolicy", env, gamma=0.5, seed=1, n_episodes=2, policy_kwargs=SMALL_CNN)
    model.learn(total_timesteps=4 * EP_LENGTH)
    assert model._n_updates == 2
    evaluate_policy(model, env, n_eval_episodes=5, warn=False)


# SB3 test_dict_env.py::test_dict_nested, whole: SB3's NotImplementedError for nested spaces. REINFORCE's error is
# that and the ValueError of every other unsupported space too (UnsupportedSpaceError), naming the observation space.
def test_dict_nested():
    # Without manual wrapping to vec-env
    env = DummyDictEnv(nested_dict_obs=True)
    with pytest.raises(NotImplementedError):
        _ = REINFORCE("MultiInputPolicy", env, seed=1)
    with pytest.raises(ValueError, match=r"observation_space: .*[Nn]ested"):
        _ = REINFORCE("MultiInputPolicy", env, seed=1)
    # With manual vec-env wrapping: SB3's DummyVecEnv refuses the space itself, before REINFORCE sees it
    with pytest.raises(NotImplementedError):
        env = DummyVecEnv([lambda: DummyDictEnv(nested_dict_obs=True)])
