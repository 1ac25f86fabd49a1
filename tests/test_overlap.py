"""Acting while the workers step (PausableSubprocVecEnv): the batches, the callbacks' steps and the budget are those
of a DummyVecEnv, bit for bit, however the workers are timed; a dead worker ends learn() with its env's name."""

import os
import signal
import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout import overlap
from reinforce_sb3.rollout.overlap import RUN_LENGTH
from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv, WorkerError
from tests.helpers import FORK, flat
from tests.sb3.helpers import StopAt


class Jitter(gym.Wrapper):
    """Sleeps a random 0-2 ms before each step, from an unseeded generator: the workers finish in any order."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.clock = np.random.default_rng()

    def step(self, action: Any) -> Any:
        time.sleep(self.clock.uniform(0.0, 0.002))
        return self.env.step(action)


def jittery(env_id: str, **kwargs: Any):
    return lambda: Jitter(gym.make(env_id, **kwargs))


def make(env_fn: Any, n_envs: int, vec_env: str, seed: int = 0, **vec_env_kwargs: Any):
    """``n_envs`` envs in Monitors that refuse a reset mid-episode, as a DummyVecEnv or a PausableSubprocVecEnv."""
    subproc = vec_env != "DummyVecEnv"
    env = make_vec_env(
        env_fn,
        n_envs=n_envs,
        seed=seed,
        vec_env_cls=PausableSubprocVecEnv if subproc else DummyVecEnv,
        vec_env_kwargs={**FORK, **vec_env_kwargs} if subproc else None,
        monitor_kwargs={"allow_early_resets": False},
    )
    return VecMonitor(env) if "VecMonitor" in vec_env else env


class StepLog(BaseCallback):
    """Every on_step as the callback sees it, until ``updates`` updates."""

    def __init__(self, updates: int) -> None:
        super().__init__()
        self.updates = updates
        self.steps: list[tuple] = []

    def _on_step(self) -> bool:
        loc = self.locals
        episodes = [info.get("episode", {}).get("l") for info in loc["infos"]]
        self.steps.append(
            (self.num_timesteps, loc["active"].tolist(), loc["dones"].tolist(), loc["rewards"].tolist(), episodes,
             np.asarray(loc["new_obs"]).tolist())
        )  # fmt: skip
        return self.model._n_updates < self.updates


def learn(env: Any, updates: int, **kwargs: Any) -> tuple[REINFORCE, StepLog]:
    model = REINFORCE("MlpPolicy", env, seed=3, device="cpu", **kwargs)
    log = StepLog(updates)
    try:
        model.learn(10**6, callback=log)
    finally:
        env.close()
    return model, log


@pytest.mark.parametrize(
    "vec_env, n_workers, run_length",
    [
        ("PausableSubprocVecEnv", None, RUN_LENGTH),
        ("PausableSubprocVecEnv", 2, RUN_LENGTH),
        ("PausableSubprocVecEnv", 2, 1),  # a run is a single step
        ("PausableSubprocVecEnv", 3, 5),  # most episodes take several runs
        ("VecMonitor(PausableSubprocVecEnv)", 3, RUN_LENGTH),
    ],
)
def test_batches_and_callbacks_are_those_of_a_dummy_vec_env_however_the_workers_are_timed(
    vec_env, n_workers, run_length, monkeypatch
):
    """4 envs, 6 episodes per batch (envs start several episodes, the batch's end waits for a late one), workers
    that finish in random order and choose their envs' actions themselves, in runs of any length: the parameters
    after 12 updates and every step the callbacks saw are the DummyVecEnv's, bit for bit."""
    monkeypatch.setattr(overlap, "RUN_LENGTH", run_length)
    env_fn = jittery("CartPole-v1")
    reference, reference_log = learn(make(env_fn, 4, "DummyVecEnv"), 12, n_episodes=6)
    model, log = learn(make(env_fn, 4, vec_env, n_workers=n_workers), 12, n_episodes=6)
    assert model.collector._overlap is not None and model.collector._overlap.runs  # the workers acted
    assert th.equal(flat(model.policy.parameters()), flat(reference.policy.parameters()))
    assert log.steps == reference_log.steps
    assert model.num_timesteps == reference.num_timesteps


def test_box_actions_and_a_squashed_gaussian_are_drawn_as_a_dummy_vec_env_draws_them():
    parameters = []
    for vec_env in ("DummyVecEnv", "PausableSubprocVecEnv"):
        env = make(jittery("PGToy-v0", continuous=True), 3, vec_env, seed=1)
        model, _ = learn(env, 10, n_episodes=5, policy_kwargs={"squash_output": True})
        parameters.append(flat(model.policy.parameters()))
    assert th.equal(*parameters)


def test_learn_stopped_by_its_budget_or_a_callback_goes_on_with_every_step_counted():
    """learn() stopped by its budget takes no step beyond it; stopped by a callback mid-batch, the steps the
    workers had begun stay in the batch and are counted by the next call. The envs' Monitors count every step."""
    env = make(jittery("CartPole-v1"), 4, "PausableSubprocVecEnv", n_workers=2)
    model = REINFORCE("MlpPolicy", env, n_episodes=6, seed=0, device="cpu")
    try:
        model.learn(1003)
        assert 1003 <= model.num_timesteps < 1003 + 4
        assert sum(env.get_attr("total_steps")) == model.num_timesteps
        model.learn(10**6, callback=StopAt(57), reset_num_timesteps=False)
        assert sum(env.get_attr("total_steps")) >= model.num_timesteps  # some steps were in flight
        model.learn(2000, reset_num_timesteps=False)
        assert sum(env.get_attr("total_steps")) == model.num_timesteps
        assert model.collector.waste == 0.0
    finally:
        env.close()


class Explodes(gym.Wrapper):
    """Raises at its ``at``-th step."""

    def __init__(self, env: gym.Env, at: int) -> None:
        super().__init__(env)
        self.at, self.steps = at, 0

    def step(self, action: Any) -> Any:
        self.steps += 1
        if self.steps == self.at:
            raise ValueError("the simulator exploded")
        return self.env.step(action)


def shared_memory_segments() -> set[str]:
    return {name for name in os.listdir("/dev/shm") if name.startswith("psm_")}


def test_an_env_that_raises_ends_learn_with_its_name_and_close_leaves_nothing_behind():
    before = shared_memory_segments()
    fns = [lambda: gym.make("CartPole-v1")] * 2 + [lambda: Explodes(gym.make("CartPole-v1"), at=40)]
    env = PausableSubprocVecEnv(fns, n_workers=2, **FORK)
    processes = list(env.processes)
    model = REINFORCE("MlpPolicy", env, n_episodes=6, seed=0, device="cpu")
    raised = r"env 2 raised in its worker process during 'step': ValueError: the simulator exploded"
    with pytest.raises(WorkerError, match=raised):
        model.learn(10_000)
    env.close()
    assert not any(process.is_alive() for process in processes)
    assert shared_memory_segments() == before


class KillWorker(BaseCallback):
    """Kills the worker process of the last env at the ``at``-th step."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        if self.n_calls == self.at:
            os.kill(self.training_env.processes[-1].pid, signal.SIGKILL)
        return True


def test_a_killed_worker_ends_learn_with_an_error_naming_its_envs():
    before = shared_memory_segments()
    env = make("CartPole-v1", 4, "PausableSubprocVecEnv", n_workers=2)
    processes = list(env.processes)
    model = REINFORCE("MlpPolicy", env, n_episodes=6, seed=0, device="cpu")
    with pytest.raises(WorkerError, match=r"the worker process of env\(s\) 2, 3 died \(exit code -9\)"):
        model.learn(100_000, callback=KillWorker(at=30))
    env.close()
    assert not any(process.is_alive() for process in processes)
    assert shared_memory_segments() == before


def test_close_after_steps_in_flight_leaves_no_process_and_no_shared_memory():
    before = shared_memory_segments()
    for n_workers in (1, 3):
        env = make("CartPole-v1", 3, "PausableSubprocVecEnv", n_workers=n_workers)
        env.reset()
        env.send(np.zeros(3, dtype=np.int64), np.arange(3))  # never received
        processes = list(env.processes)
        assert len(shared_memory_segments() - before) == 1
        env.close()
        env.close()  # twice is fine, as for SB3's VecEnvs
        assert not any(process.is_alive() for process in processes)
    assert shared_memory_segments() == before


def test_time_limits_reach_the_batch_as_with_a_dummy_vec_env():
    """truncation='bootstrap_mean' reads which episodes a time limit ended: the same on both routes."""
    parameters = []
    for vec_env in ("DummyVecEnv", "PausableSubprocVecEnv"):
        env = make(jittery("CartPole-v1", max_episode_steps=15), 3, vec_env, seed=2)
        model, _ = learn(env, 10, n_episodes=5, truncation="bootstrap_mean")
        assert model.running_return_count > 0
        parameters.append(flat(model.policy.parameters()))
    assert th.equal(*parameters)
