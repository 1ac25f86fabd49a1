"""SB3's tests/test_monitor.py, adapted to REINFORCE: the Monitors are strict (``allow_early_resets=False``), so any
reset of an env mid-episode raises, and REINFORCE drives them instead of a random loop.

REINFORCE resets envs only where SB3 does (the first learn, ``reset_num_timesteps=True``, ``force_reset=True``):
test_never_reset_mid_episode runs every other way to go on learning, over VecEnv kinds and wrappers.

Left out: the Monitor-only checks (missing folders created, ``reset_keywords``, stepping before a reset), which
involve no algorithm.
"""

import json
import os
import uuid

import gymnasium as gym
import numpy as np
import pandas
import pytest
from stable_baselines3 import A2C
from stable_baselines3.common.envs import IdentityEnvBox
from stable_baselines3.common.monitor import LoadMonitorResultsError, Monitor, get_monitor_files, load_results
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    SubprocVecEnv,
    VecEnv,
    VecEnvWrapper,
    VecFrameStack,
    VecMonitor,
    VecNormalize,
)

from reinforce_sb3 import REINFORCE
from tests.sb3.helpers import CountingWrapper, StopAt, strict_monitor


# SB3 test_monitor.py::test_monitor
def test_monitor(tmp_path):
    env = gym.make("CartPole-v1")
    monitor_file = os.path.join(str(tmp_path), f"stable_baselines-test-{uuid.uuid4()}.monitor.csv")
    monitor_env = Monitor(env, monitor_file, allow_early_resets=False)
    model = REINFORCE("MlpPolicy", monitor_env, n_episodes=2, seed=0)
    model.learn(300)
    model.learn(200, reset_num_timesteps=False)
    monitor_env.close()

    assert monitor_env.get_total_steps() == model.num_timesteps == 500
    episode_lengths = monitor_env.get_episode_lengths()
    assert 0 < sum(episode_lengths) <= 500
    # the model's episode statistics come from the Monitor
    np.testing.assert_allclose([info["r"] for info in model.ep_info_buffer], monitor_env.get_episode_rewards())
    assert [info["l"] for info in model.ep_info_buffer] == episode_lengths
    _ = monitor_env.get_episode_times()

    with open(monitor_file) as file_handler:
        first_line = file_handler.readline()
        assert first_line.startswith("#")
        metadata = json.loads(first_line[1:])
        assert metadata["env_id"] == "CartPole-v1"
        assert set(metadata.keys()) == {"env_id", "t_start"}, "Incorrect keys in monitor metadata"
        last_logline = pandas.read_csv(file_handler, index_col=None)
        assert set(last_logline.keys()) == {"l", "t", "r"}, "Incorrect keys in monitor logline"
        assert list(last_logline["l"]) == episode_lengths


# SB3 test_monitor.py::test_monitor_load_results
def test_monitor_load_results(tmp_path):
    tmp_path = str(tmp_path)
    env1 = gym.make("CartPole-v1")
    with pytest.raises(LoadMonitorResultsError):
        load_results(tmp_path)

    monitor_file1 = os.path.join(tmp_path, f"stable_baselines-test-{uuid.uuid4()}.monitor.csv")
    monitor_env1 = Monitor(env1, monitor_file1, allow_early_resets=False)
    monitor_files = get_monitor_files(tmp_path)
    assert len(monitor_files) == 1
    assert monitor_file1 in monitor_files

    REINFORCE("MlpPolicy", monitor_env1, n_episodes=2, seed=0).learn(300)
    episode_count1 = len(monitor_env1.get_episode_lengths())
    results_size1 = len(load_results(tmp_path).index)
    assert results_size1 == episode_count1 > 0

    env2 = gym.make("CartPole-v1")
    monitor_file2 = os.path.join(tmp_path, f"stable_baselines-test-{uuid.uuid4()}.monitor.csv")
    monitor_env2 = Monitor(env2, monitor_file2, allow_early_resets=False)
    monitor_files = get_monitor_files(tmp_path)
    assert len(monitor_files) == 2
    assert monitor_file1 in monitor_files
    assert monitor_file2 in monitor_files

    model = REINFORCE("MlpPolicy", monitor_env2, n_episodes=2, seed=1)
    episode_count2 = 0
    for _ in range(2):
        # Appending to an existing file
        monitor_env2 = Monitor(env2, monitor_file2, override_existing=False, allow_early_resets=False)
        model.set_env(monitor_env2)
        model.learn(300)
        episode_count2 += len(monitor_env2.get_episode_lengths())

    results_size2 = len(load_results(tmp_path).index)
    assert results_size2 == (results_size1 + episode_count2)


EP_LENGTHS = (7, 9, 11)
"""Episode lengths of the envs (env i: EP_LENGTHS[i % 3]), different so that the envs are out of step."""


def make_counted_env(index: int) -> gym.Env:
    return strict_monitor(CountingWrapper(IdentityEnvBox(ep_length=EP_LENGTHS[index % 3])))


class PassThrough(VecEnvWrapper):
    """A VecEnvWrapper of the user's that changes nothing."""

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        return self.venv.step_wait()


VEC_ENV_KINDS = ("dummy1", "dummy3", "subproc", "vec_normalize", "vec_frame_stack", "vec_monitor", "pass_through")


def make_vec_env_kind(kind: str) -> VecEnv:
    fns = [lambda i=i: make_counted_env(i) for i in range(3 if kind == "dummy3" else 2)]
    if kind == "subproc":
        return SubprocVecEnv(fns, start_method="fork")  # fork: SB3's default forkserver takes seconds to start
    env = DummyVecEnv(fns[:1] if kind == "dummy1" else fns)
    wrappers = {
        "vec_normalize": VecNormalize,
        "vec_frame_stack": lambda venv: VecFrameStack(venv, n_stack=2),
        "vec_monitor": VecMonitor,
        "pass_through": PassThrough,
    }
    return wrappers[kind](env) if kind in wrappers else env


def check_no_reset_mid_episode(env: VecEnv, num_timesteps: int) -> None:
    """Every env ran whole episodes (no reset but the first and those after an episode end); the model counted
    the steps the envs took."""
    lengths = env.env_method("get_episode_lengths")
    resets = env.get_attr("n_resets")
    steps = env.get_attr("n_steps")
    for index, (env_lengths, n_resets) in enumerate(zip(lengths, resets, strict=True)):
        assert env_lengths == [EP_LENGTHS[index % 3]] * len(env_lengths)
        assert n_resets == 1 + len(env_lengths)
    assert sum(steps) == num_timesteps


# Ours, with SB3 test_monitor.py::test_monitor_error_cases' early-reset check as the probe: learning goes on
# without a reset mid-episode after a budget runs out, after a callback stop, after load(force_reset=False), after
# set_parameters and after set_env(force_reset=False), for every VecEnv and wrapper; A2C beside it on a DummyVecEnv
@pytest.mark.parametrize(
    ("model_class", "kind"),
    [
        *[(REINFORCE, kind) for kind in VEC_ENV_KINDS],
        (A2C, "dummy3"),
    ],
)
@pytest.mark.filterwarnings("ignore:REINFORCE made no gradient step")
@pytest.mark.filterwarnings("ignore:The environment is already wrapped with a `Monitor`")
def test_never_reset_mid_episode(tmp_path, model_class, kind):
    env = make_vec_env_kind(kind)
    kwargs = dict(n_episodes=3) if model_class is REINFORCE else dict(n_steps=2)
    model = model_class("MlpPolicy", env, seed=0, policy_kwargs=dict(net_arch=[8]), **kwargs)
    other = model_class("MlpPolicy", env, seed=1, policy_kwargs=dict(net_arch=[8]), **kwargs)
    try:
        model.learn(23)  # the first learn resets the envs
        model.learn(17, reset_num_timesteps=False)  # budgets end mid-episode
        model.learn(1000, reset_num_timesteps=False, callback=StopAt(6))  # a callback stops training
        model.learn(5, reset_num_timesteps=False)
        model.save(tmp_path / "model.zip")
        model = model_class.load(tmp_path / "model.zip", env=env, force_reset=False)
        model.learn(19, reset_num_timesteps=False)
        model.set_parameters(other.get_parameters())
        model.learn(13, reset_num_timesteps=False)
        model.set_env(env, force_reset=False)
        model.learn(40, reset_num_timesteps=False)
        if model_class is REINFORCE:
            assert model._n_updates > 0
        check_no_reset_mid_episode(env, model.num_timesteps)
    finally:
        env.close()


# SB3 test_monitor.py::test_monitor_error_cases, "Tried to reset an environment before done": where SB3 resets the
# envs (reset_num_timesteps=True, force_reset=True), REINFORCE resets them too, and the strict Monitor raises
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
@pytest.mark.parametrize("how", ["reset_num_timesteps", "load_force_reset", "set_env_force_reset"])
@pytest.mark.filterwarnings("ignore:REINFORCE made no gradient step")
def test_reset_where_sb3_resets(tmp_path, model_class, how):
    env = DummyVecEnv([lambda: make_counted_env(0)])
    kwargs = dict(n_episodes=1) if model_class is REINFORCE else dict(n_steps=1)
    model = model_class("MlpPolicy", env, seed=0, policy_kwargs=dict(net_arch=[8]), **kwargs)
    model.learn(EP_LENGTHS[0] + 3)  # mid-episode
    if how == "load_force_reset":
        model.save(tmp_path / "model.zip")
        model = model_class.load(tmp_path / "model.zip", env=env, force_reset=True)
    elif how == "set_env_force_reset":
        model.set_env(env, force_reset=True)
    with pytest.raises(RuntimeError, match="Tried to reset an environment before done"):
        model.learn(5, reset_num_timesteps=how == "reset_num_timesteps")
