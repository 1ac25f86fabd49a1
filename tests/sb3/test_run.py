"""SB3's tests/test_run.py and sb3-contrib's tests/test_run.py, adapted to REINFORCE.

Left out, as they concern what REINFORCE does not have:
- SB3: test_deterministic_pg, test_sac, test_n_critics, test_dqn, test_train_freq, test_train_freq_fail,
  test_offpolicy_multi_env, test_warn_dqn_multi_env (off-policy algorithms, replay buffers, critics);
  test_ppo (clip_range_vf clips a critic); the GPU advice of test_ppo_warnings (PPO's _maybe_recommend_cpu).
- sb3-contrib: test_crossq, test_tqc, test_n_critics, test_sde, test_qrdqn, test_offpolicy_multi_env (off-policy,
  critics, gSDE); ARS's AsyncEval in test_ars_multi_env; MaskablePPO's action masks.
"""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import A2C
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
from torch import nn

from reinforce_sb3 import REINFORCE
from tests.envs import ScriptedRewardEnv

PENDULUM = dict(max_episode_steps=32)
"""Pendulum with 32-step episodes (200 upstream): REINFORCE updates after complete episodes."""


def make_env(env_id: str) -> gym.Env:
    return gym.make(env_id, **(PENDULUM if env_id == "Pendulum-v1" else {}))


# SB3 test_run.py::test_a2c (and sb3-contrib test_run.py::test_trpo, the same run)
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_reinforce(env_id):
    model = REINFORCE("MlpPolicy", make_env(env_id), n_episodes=2, seed=0, policy_kwargs=dict(net_arch=[16]), verbose=1)
    model.learn(total_timesteps=128)
    assert model._n_updates > 0


# SB3 test_run.py::test_advantage_normalization and sb3-contrib test_run.py::test_advantage_normalization: REINFORCE
# has no advantage, it standardises the returns
@pytest.mark.parametrize("normalize_returns", [False, True])
def test_return_normalization(normalize_returns):
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=2, normalize_returns=normalize_returns, seed=0)
    model.learn(64)
    assert model._n_updates > 0


# SB3 test_run.py::test_ppo_warnings, "Only 1 step: advantage normalization will return NaN": a batch of one-step
# episodes with equal returns has a standard deviation of 0, and standardising it must not give NaN
@pytest.mark.parametrize("n_episodes", [1, 3])
def test_one_step_episodes_do_not_give_nan(n_episodes):
    model = REINFORCE("MlpPolicy", ScriptedRewardEnv([[1.0]]), n_episodes=n_episodes, normalize_returns=True)
    model.learn(4 * n_episodes)
    assert model._n_updates == 4
    loss = model.logger.name_to_value["train/policy_loss"]
    assert not np.isnan(loss)
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.policy.parameters())


# sb3-contrib test_run.py::test_ars_n_top (a dubious setting warns) and SB3 test_run.py::test_warn_dqn_multi_env:
# fewer episodes per batch than envs leaves envs without an episode in any batch
def test_warn_fewer_episodes_than_envs():
    with pytest.warns(UserWarning, match=r"n_episodes=1 is smaller than the number of envs \(2\)"):
        model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_episodes=1, seed=0)
    model.learn(64)
    assert model._n_updates > 0


# sb3-contrib test_run.py::test_ars_multi_env, without ARS's AsyncEval
def test_multi_env():
    env = make_vec_env("Pendulum-v1", n_envs=2, env_kwargs=PENDULUM)
    model = REINFORCE("MlpPolicy", env, n_episodes=2)
    model.learn(total_timesteps=128)
    assert model._n_updates > 0

    env = VecNormalize(make_vec_env("Pendulum-v1", n_envs=1, env_kwargs=PENDULUM))
    model = REINFORCE("MlpPolicy", env, n_episodes=2, seed=0)
    model.learn(128)
    assert model._n_updates > 0


# sb3-contrib test_run.py::test_ep_buffers_stats_window_size
@pytest.mark.parametrize("stats_window_size", [1, 42])
@pytest.mark.filterwarnings("ignore:REINFORCE made no gradient step")
def test_ep_buffers_stats_window_size(stats_window_size):
    model = REINFORCE("MlpPolicy", "CartPole-v1", stats_window_size=stats_window_size)
    model.learn(total_timesteps=10)
    assert model.ep_info_buffer.maxlen == stats_window_size
    assert model.ep_success_buffer.maxlen == stats_window_size


def hidden_sizes(network: nn.Module) -> list[int]:
    return [layer.out_features for layer in network.modules() if isinstance(layer, nn.Linear)]


# sb3-contrib test_run.py::test_trpo_params (net_arch=dict(pi=[32], vf=[32])), extended: SB3's dict form of
# net_arch gives REINFORCE the policy (and value) layers that it gives A2C
@pytest.mark.parametrize("net_arch", [dict(pi=[8]), dict(pi=[8, 6], vf=[4])])
def test_net_arch_dict(tmp_path, net_arch):
    baseline = "value" if "vf" in net_arch else "none"
    policy_kwargs = dict(net_arch=net_arch)
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=2, baseline=baseline, policy_kwargs=policy_kwargs, seed=0)
    a2c = A2C("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=net_arch))
    assert hidden_sizes(model.policy.latent_net) == hidden_sizes(a2c.policy.mlp_extractor.policy_net) == net_arch["pi"]
    if baseline == "value":
        # the value network ends with its output layer; A2C keeps that one apart (policy.value_net)
        assert hidden_sizes(model.policy.value_net)[:-1] == hidden_sizes(a2c.policy.mlp_extractor.value_net)
    model.learn(64)
    assert model._n_updates > 0
    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip", env=DummyVecEnv([lambda: gym.make("CartPole-v1")]))
    assert hidden_sizes(loaded.policy.latent_net) == net_arch["pi"]
    loaded.learn(64)
