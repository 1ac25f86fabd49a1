"""PausableSubprocVecEnv: SB3's SubprocVecEnv (same construction, same stepping), plus stepping some workers only."""

import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv
from tests.envs import DictObsEnv
from tests.helpers import FORK, assert_same_step


def make(n_envs: int, vec_env_cls: type = PausableSubprocVecEnv, env_id: str = "CartPole-v1", seed: int = 3):
    return make_vec_env(env_id, n_envs=n_envs, seed=seed, vec_env_cls=vec_env_cls, vec_env_kwargs=FORK)


def test_made_by_make_vec_env_it_steps_as_subproc_vec_env():
    """Same seeds, same actions: step and step_active (all active) return what SubprocVecEnv.step returns."""
    reference, paused = make(2, SubprocVecEnv), make(2)
    try:
        np.testing.assert_array_equal(reference.reset(), paused.reset())
        rng = np.random.default_rng(0)
        n_done = 0
        for t in range(120):
            actions = rng.integers(0, 2, size=2)
            step = reference.step(actions)
            step2 = paused.step(actions) if t % 2 else paused.step_active(actions, np.ones(2, dtype=bool))
            assert_same_step(step, step2)
            n_done += int(step[2].sum())
            assert list(reference.reset_infos) == list(paused.reset_infos)
        assert n_done > 4  # episodes ended, so the auto-reset path was compared too
    finally:
        reference.close()
        paused.close()


def test_paused_workers_get_no_command():
    env = make(3)
    try:
        first = env.reset()
        active = np.array([True, False, True])
        for _ in range(30):
            obs, rewards, dones, infos = env.step_active(np.ones(3, dtype=np.int64), active)
            np.testing.assert_array_equal(obs[1], first[1])
            assert rewards[1] == 0 and not dones[1] and infos[1] == {}
        assert env.get_attr("total_steps") == [30, 0, 30]  # each worker's Monitor
        # the paused env resumes where it was: its next observation follows ``first[1]``, not a reset
        obs, *_ = env.step_active(np.ones(3, dtype=np.int64), np.array([False, True, False]))
        assert env.get_attr("total_steps") == [30, 1, 30]
        np.testing.assert_allclose(obs[1][0], first[1][0] + 0.02 * first[1][1], rtol=1e-5)  # x += tau * x_dot
    finally:
        env.close()


def test_dict_observations_are_kept_per_key():
    env = PausableSubprocVecEnv([DictObsEnv, DictObsEnv], **FORK)
    try:
        first = env.reset()
        obs, *_ = env.step_active(np.zeros(2, dtype=np.int64), np.array([False, True]))
        assert set(obs) == {"vec", "discrete"}
        np.testing.assert_array_equal(obs["vec"][0], first["vec"][0])
        assert obs["discrete"].tolist() == [0, 1]
        obs["vec"][0] = 5.0  # the returned arrays are copies
        obs2, *_ = env.step_active(np.zeros(2, dtype=np.int64), np.array([False, False]))
        np.testing.assert_array_equal(obs2["vec"][0], first["vec"][0])
    finally:
        env.close()


def test_step_active_refuses_to_run_while_a_step_is_pending():
    env = make(2)
    try:
        env.reset()
        env.step_async(np.zeros(2, dtype=np.int64))
        with pytest.raises(RuntimeError, match="between step_async and step_wait"):
            env.step_active(np.zeros(2, dtype=np.int64), np.ones(2, dtype=bool))
        env.step_wait()
    finally:
        env.close()
