"""SB3's tests/test_vec_normalize.py, the parts that concern an algorithm training on a VecNormalize, adapted to
REINFORCE.

Left out, as they test VecNormalize (or RunningMeanStd) alone, with no algorithm: test_runningmeanstd,
test_combining_stats, test_obs_rms_vec_normalize, test_get_original, test_get_original_dict, test_normalize_external,
test_normalize_dict_selected_keys, test_discrete_obs, test_non_dict_obs_keys; test_sync_vec_normalize's
synchronisation is what EvalCallback does, tested with REINFORCE in test_callbacks.py::test_eval_friendly_error.
The image env of test_vec_env is left out (a CNN on 84x84 images adds seconds, and nothing VecNormalize-specific).
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from reinforce_sb3 import REINFORCE

ENV_ID = "Pendulum-v1"


class DummyDictEnv(gym.Env):
    """Dummy gym goal env for testing purposes"""

    def __init__(self):
        super().__init__()
        self.observation_space = spaces.Dict(
            {
                "observation": spaces.Box(low=-20.0, high=20.0, shape=(4,), dtype=np.float32),
                "achieved_goal": spaces.Box(low=-20.0, high=20.0, shape=(4,), dtype=np.float32),
                "desired_goal": spaces.Box(low=-20.0, high=20.0, shape=(4,), dtype=np.float32),
            }
        )
        self.action_space = spaces.Box(low=-1, high=1, shape=(3,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        obs = self.observation_space.sample()
        reward = self.compute_reward(obs["achieved_goal"], obs["desired_goal"], {})
        terminated = np.random.rand() > 0.8
        return obs, reward, terminated, False, {}

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, _info) -> np.float32:
        distance = np.linalg.norm(achieved_goal - desired_goal, axis=-1)
        return -(distance > 0).astype(np.float32)


def make_env():
    # Pendulum with 16-step episodes (200 upstream): REINFORCE learns from complete episodes
    return Monitor(gym.make(ENV_ID, max_episode_steps=16))


def make_dict_env():
    return Monitor(DummyDictEnv())


def check_rms_equal(rmsa, rmsb):
    if isinstance(rmsa, dict):
        for key in rmsa:
            check_rms_equal(rmsa[key], rmsb[key])
    else:
        assert np.all(rmsa.mean == rmsb.mean)
        assert np.all(rmsa.var == rmsb.var)
        assert np.all(rmsa.count == rmsb.count)


def check_vec_norm_equal(norma, normb):
    assert norma.observation_space == normb.observation_space
    assert norma.action_space == normb.action_space
    assert norma.num_envs == normb.num_envs
    check_rms_equal(norma.obs_rms, normb.obs_rms)
    check_rms_equal(norma.ret_rms, normb.ret_rms)
    assert norma.clip_obs == normb.clip_obs
    assert norma.clip_reward == normb.clip_reward
    assert norma.norm_obs == normb.norm_obs
    assert norma.norm_reward == normb.norm_reward
    # (upstream also compares `returns`, after stepping to an episode end where they are 0: VecNormalize.load starts
    # them at 0, and REINFORCE's budget may end mid-episode)
    assert norma.gamma == normb.gamma
    assert norma.epsilon == normb.epsilon
    assert norma.training == normb.training


class RecordSteps(BaseCallback):
    """Records the largest observation and reward (in absolute value) that the model saw."""

    max_obs = 0.0
    max_reward = 0.0

    def _on_step(self) -> bool:
        obs = self.locals["new_obs"]
        values = np.concatenate([np.ravel(v) for v in obs.values()]) if isinstance(obs, dict) else np.ravel(obs)
        self.max_obs = max(self.max_obs, float(np.abs(values).max()))
        self.max_reward = max(self.max_reward, float(np.abs(self.locals["rewards"]).max()))
        return True


# SB3 test_vec_normalize.py::test_vec_env, with REINFORCE stepping the envs: what it sees is clipped, and the
# statistics it trained with save and load
@pytest.mark.parametrize("make_gym_env", [make_env, make_dict_env])
def test_vec_env(tmp_path, make_gym_env):
    clip_obs = 0.5
    clip_reward = 5.0
    orig_venv = DummyVecEnv([make_gym_env])
    norm_venv = VecNormalize(orig_venv, norm_obs=True, norm_reward=True, clip_obs=clip_obs, clip_reward=clip_reward)
    policy = "MultiInputPolicy" if isinstance(norm_venv.observation_space, spaces.Dict) else "MlpPolicy"
    model = REINFORCE(policy, norm_venv, n_episodes=2, seed=0)
    recorder = RecordSteps()
    model.learn(64, callback=recorder)
    assert model._n_updates > 0
    assert 0 < recorder.max_obs <= clip_obs
    assert recorder.max_reward <= clip_reward

    path = tmp_path / "vec_normalize"
    norm_venv.save(path)
    deserialized = VecNormalize.load(path, venv=orig_venv)
    check_vec_norm_equal(norm_venv, deserialized)


# SB3 test_vec_normalize.py::test_offpolicy_normalization and test_her_normalization (SAC/TD3, SAC with HER): the
# model finds the VecNormalize, follows set_env, and an eval VecNormalize (training=False) keeps its statistics
@pytest.mark.parametrize("make_gym_env", [make_env, make_dict_env])
@pytest.mark.filterwarnings("ignore:REINFORCE made no gradient step")
def test_normalization(make_gym_env):
    env = VecNormalize(DummyVecEnv([make_gym_env]), norm_obs=True, norm_reward=True, clip_obs=10.0, clip_reward=10.0)
    eval_env = DummyVecEnv([make_gym_env])
    eval_env = VecNormalize(eval_env, training=False, norm_obs=True, norm_reward=False, clip_obs=10.0, clip_reward=10.0)
    policy = "MultiInputPolicy" if isinstance(env.observation_space, spaces.Dict) else "MlpPolicy"
    model = REINFORCE(policy, env, n_episodes=2, policy_kwargs=dict(net_arch=[64]), seed=2)

    # The VecNormalize object is correctly updated
    assert model.get_vec_normalize_env() is env
    model.set_env(eval_env)
    assert model.get_vec_normalize_env() is eval_env
    eval_counts = [rms.count for rms in _rms_list(eval_env.obs_rms)]
    model.learn(total_timesteps=10)
    assert [rms.count for rms in _rms_list(eval_env.obs_rms)] == eval_counts  # training=False: not updated
    model.set_env(env)
    model.learn(total_timesteps=150)
    assert model._n_updates > 0
    assert isinstance(model.get_vec_normalize_env(), VecNormalize)


def _rms_list(obs_rms):
    return list(obs_rms.values()) if isinstance(obs_rms, dict) else [obs_rms]


# After SB3's test_obs_rms_vec_normalize: VecNormalize's statistics count one observation per env at the reset and
# one per env step. Training on it, they count the steps the model took and the one reset of the first learn, and
# nothing more at later learn(..., reset_num_timesteps=False) calls (which must not reset), as with A2C.
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
def test_statistics_count_the_steps_taken(model_class):
    n_envs = 2
    env = VecNormalize(DummyVecEnv([make_env] * n_envs))
    kwargs = dict(n_episodes=2) if model_class is REINFORCE else dict(n_steps=4)
    model = model_class("MlpPolicy", env, seed=0, policy_kwargs=dict(net_arch=[8]), **kwargs)
    epsilon = env.obs_rms.count  # RunningMeanStd starts at a count of epsilon
    model.learn(40)
    model.learn(24, reset_num_timesteps=False)
    assert model.num_timesteps == 64
    np.testing.assert_allclose(env.obs_rms.count, epsilon + n_envs + model.num_timesteps)
    np.testing.assert_allclose(env.ret_rms.count, epsilon + model.num_timesteps)
