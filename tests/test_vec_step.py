"""Waiting envs of a DummyVecEnv are not stepped: no step is wasted, and stepping follows DummyVecEnv's own."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecCheckNan, VecNormalize

from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout.vec_step import can_pause, step_active


class SubclassedVecEnv(DummyVecEnv):
    def step_wait(self):
        return super().step_wait()


def test_which_vec_envs_can_pause():
    env = make_vec_env("CartPole-v1", n_envs=2)
    assert can_pause(env)
    assert not can_pause(VecNormalize(env))
    assert not can_pause(VecCheckNan(env))
    assert not can_pause(SubclassedVecEnv([lambda: gym.make("CartPole-v1")]))


def test_all_active_is_dummy_vec_env_step():
    """Two copies with the same seeds: step_active with every env active returns what env.step returns."""
    reference, paused = (make_vec_env("CartPole-v1", n_envs=3, seed=5) for _ in range(2))
    np.testing.assert_array_equal(reference.reset(), paused.reset())
    rng = np.random.default_rng(0)
    n_done = 0
    for _ in range(200):
        actions = rng.integers(0, 2, size=3)
        obs, rewards, dones, infos = reference.step(actions)
        obs2, rewards2, dones2, infos2 = step_active(paused, actions, np.ones(3, dtype=bool))
        np.testing.assert_array_equal(obs, obs2)
        np.testing.assert_array_equal(rewards, rewards2)
        np.testing.assert_array_equal(dones, dones2)
        for info, info2 in zip(infos, infos2, strict=True):
            assert info.keys() == info2.keys()
            assert info["TimeLimit.truncated"] == info2["TimeLimit.truncated"]
            if "terminal_observation" in info:
                np.testing.assert_array_equal(info["terminal_observation"], info2["terminal_observation"])
                assert info["episode"]["r"] == info2["episode"]["r"]  # the Monitors agree
                n_done += 1
    assert n_done > 5


def test_paused_envs_keep_their_state():
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    first = env.reset()
    active = np.array([True, False])
    for _ in range(5):
        obs, rewards, dones, infos = step_active(env, np.zeros(2, dtype=np.int64), active)
        np.testing.assert_array_equal(obs[1], first[1])
        assert rewards[1] == 0 and not dones[1] and infos[1] == {}
    assert not np.array_equal(obs[0], first[0])
    assert env.envs[1].get_wrapper_attr("total_steps") == 0  # its Monitor saw no step


class WasteRecorder(BaseCallback):
    """The logged share of unused steps of every update."""

    def __init__(self) -> None:
        super().__init__()
        self.waste = []

    def _on_rollout_start(self) -> None:
        if self.model._n_updates > len(self.waste):
            self.waste.append(self.logger.name_to_value["rollout/waste"])

    def _on_step(self) -> bool:
        return True


@pytest.mark.parametrize(("n_envs", "n_episodes"), [(8, 8), (3, 8), (4, 2)])
def test_no_step_is_wasted_with_a_dummy_vec_env(n_envs, n_episodes):
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
    if n_episodes < n_envs:
        with pytest.warns(UserWarning, match="envs have no episode in any batch"):
            model = REINFORCE("MlpPolicy", env, n_episodes=n_episodes, seed=0)
    else:
        model = REINFORCE("MlpPolicy", env, n_episodes=n_episodes, seed=0)
    recorder = WasteRecorder()
    model.learn(3000, callback=recorder)
    assert len(recorder.waste) >= 5
    assert recorder.waste == [0.0] * len(recorder.waste)


def test_lockstep_vec_envs_run_unused_episodes():
    """A VecEnv wrapper sees all envs step together: the steps after a batch filled are unused (and logged)."""
    model = REINFORCE("MlpPolicy", VecCheckNan(make_vec_env("CartPole-v1", n_envs=8, seed=0)), n_episodes=8, seed=0)
    recorder = WasteRecorder()
    model.learn(3000, callback=recorder)
    assert len(recorder.waste) >= 5
    assert 0.1 < np.mean(recorder.waste) < 0.9
