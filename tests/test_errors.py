"""Bad input gets a clear error that names the argument; nothing hangs or ends in NaN."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from reinforce_sb3 import REINFORCE
from tests.envs import DictObsEnv, NeverEndingEnv, ScriptedRewardEnv


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_episodes": 0}, "n_episodes must be an integer >= 1"),
        ({"n_episodes": -3}, "n_episodes must be an integer >= 1"),
        ({"n_episodes": 2.5}, "n_episodes must be an integer >= 1"),
        ({"n_episodes": True}, "n_episodes must be an integer >= 1"),
        ({"gamma": -0.1}, r"gamma must be a finite number in \[0, 1\]"),
        ({"gamma": 1.01}, r"gamma must be a finite number in \[0, 1\]"),
        ({"gamma": math.nan}, r"gamma must be a finite number in \[0, 1\]"),
        ({"learning_rate": -1e-3}, "learning_rate must be a finite number >= 0"),
        ({"learning_rate": math.inf}, "learning_rate must be a finite number >= 0"),
        ({"learning_rate": lambda progress: -0.1}, "learning_rate must be a finite number >= 0"),
        ({"loss_reduction": "sum"}, r"loss_reduction must be one of \('mean', 'episodes'\)"),
        ({"ent_coef": math.nan}, "ent_coef must be a finite number"),
        ({"baseline": "median"}, r"baseline must be one of \('none', 'mean', 'value'\)"),
        ({"vf_coef": -1.0}, "vf_coef must be a finite number >= 0"),
        ({"max_grad_norm": 0.0}, "max_grad_norm must be a finite number > 0"),
        ({"max_grad_norm": -1.0}, "max_grad_norm must be a finite number > 0"),
        ({"policy_kwargs": {"net_arch": {"pi": [64], "qf": [64]}}}, "net_arch as a dict takes the keys 'pi' and 'vf'"),
        ({"policy_kwargs": {"net_arch": [64, 0]}}, "net_arch must be a list of positive layer sizes"),
    ],
)
def test_invalid_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        REINFORCE("MlpPolicy", "CartPole-v1", **kwargs)


def test_unknown_policy_name():
    with pytest.raises(ValueError, match=r"policy must be one of \['MlpPolicy', 'CnnPolicy', 'MultiInputPolicy'\]"):
        REINFORCE("MlpLstmPolicy", "CartPole-v1")


def test_dict_observations_need_multi_input_policy():
    with pytest.raises(ValueError, match="MultiInputPolicy"):
        REINFORCE("MlpPolicy", DictObsEnv())


def test_unsupported_action_space():
    tuple_space = spaces.Tuple([spaces.Discrete(2), spaces.Discrete(3)])
    with pytest.raises(ValueError, match="action_space must be Discrete, Box, MultiDiscrete or MultiBinary"):
        REINFORCE("MlpPolicy", ScriptedRewardEnv([[1.0]], action_space=tuple_space))


def test_episodes_that_never_end_do_not_hang_learn():
    model = REINFORCE("MlpPolicy", NeverEndingEnv(), n_episodes=2, seed=0)
    with pytest.warns(UserWarning, match="REINFORCE learns from complete episodes only: give the env a time limit"):
        model.learn(500)
    assert model.num_timesteps == 500 and model._n_updates == 0


def test_an_unfinished_batch_continues_on_the_next_call():
    """Episodes of 50 steps, learn() calls of 30 steps: the batch spans calls instead of being thrown away."""
    env = gym.wrappers.TimeLimit(NeverEndingEnv(), max_episode_steps=50)
    model = REINFORCE("MlpPolicy", env, n_episodes=2, seed=0)
    with pytest.warns(UserWarning, match="made no gradient step"):
        model.learn(30)
    for _ in range(3):
        model.learn(30, reset_num_timesteps=False)
    assert model.num_timesteps == 120 and model._n_updates == 1


def test_fewer_episodes_than_envs_warns():
    from stable_baselines3.common.env_util import make_vec_env

    with pytest.warns(UserWarning, match="n_episodes=2 is smaller than the number of envs"):
        REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=4), n_episodes=2)


def test_huge_rewards_stay_finite():
    env = ScriptedRewardEnv([[1e30, -1e30, 1e30], [5e29]])
    model = REINFORCE("MlpPolicy", env, n_episodes=4, normalize_returns=True, seed=0)
    model.learn(100)
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.policy.parameters())
