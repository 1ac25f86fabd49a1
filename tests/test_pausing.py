"""REINFORCE over every VecEnv kind: no env reset mid-episode, waste counted from the envs' own step counts,
no waste where envs pause, and an unbiased gradient with more episodes per batch than envs."""

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv, VecCheckNan, VecEnv, VecNormalize

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv
from reinforce_sb3.rollout.vec_step import can_pause
from tests.helpers import FORK, AverageGradient, cosine, flat, relative_error, textbook_model

# the kinds that pause, then those in lockstep
PAUSED = ["DummyVecEnv", "PausableSubprocVecEnv", "VecNormalize(DummyVecEnv)", "VecNormalize(PausableSubprocVecEnv)"]
LOCKSTEP = ["SubprocVecEnv", "VecNormalize(SubprocVecEnv)", "VecCheckNan(DummyVecEnv)"]


def make_env(kind: str, env_id: str, n_envs: int, seed: int = 0, **vec_normalize_kwargs) -> VecEnv:
    """``kind`` over ``n_envs`` envs, each in a Monitor that refuses to reset mid-episode."""
    inner = kind.removeprefix("VecNormalize(").removeprefix("VecCheckNan(").rstrip(")")
    classes = {"DummyVecEnv": None, "SubprocVecEnv": SubprocVecEnv, "PausableSubprocVecEnv": PausableSubprocVecEnv}
    env = make_vec_env(
        env_id,
        n_envs=n_envs,
        seed=seed,
        vec_env_cls=classes[inner],
        vec_env_kwargs=FORK if classes[inner] else None,
        monitor_kwargs={"allow_early_resets": False},
    )
    if kind.startswith("VecNormalize"):
        return VecNormalize(env, **vec_normalize_kwargs)
    return VecCheckNan(env) if kind.startswith("VecCheckNan") else env


class CountSteps(BaseCallback):
    """For each batch: the env steps the envs' Monitors counted while it was collected (over one or more
    collections, when a learn() call ends mid-batch), the steps the collector says it took, the batch's steps,
    and the waste that dump_logs logs for it (tests/test_collector.py checks that the two are the same)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[dict[str, float]] = []
        self.start: int | None = None  # the Monitors' count when the batch being collected began

    def _monitor_steps(self) -> int:
        return sum(self.training_env.get_attr("total_steps"))

    def _on_rollout_start(self) -> None:
        if self.start is None:
            self.start = self._monitor_steps()

    def _on_rollout_end(self) -> None:
        collector = self.model.collector
        if collector.complete:
            counted = self._monitor_steps() - self.start
            self.batches.append(
                {"counted": counted, "taken": collector.steps_taken, "used": collector.n_batch_steps,
                 "logged_waste": collector.waste}
            )  # fmt: skip
            self.start = None

    def _on_step(self) -> bool:
        return True


@pytest.mark.parametrize("kind", PAUSED + LOCKSTEP)
def test_envs_are_never_reset_mid_episode_and_waste_is_counted_by_the_envs(kind):
    """Monitors with allow_early_resets=False raise at any mid-episode reset (in the worker for subprocesses,
    which then fails the run); 4 envs, batches of 6 episodes, and a second learn() that continues."""
    env = make_env(kind, "CartPole-v1", n_envs=4)
    try:
        assert can_pause(env) == (kind in PAUSED)
        model = REINFORCE("MlpPolicy", env, n_episodes=6, seed=0, device="cpu")
        counter = CountSteps()
        model.learn(1500, callback=counter)
        model.learn(1500, callback=counter, reset_num_timesteps=False)
        assert sum(env.get_attr("total_steps")) == model.num_timesteps  # nothing stepped behind the counter's back
        batches = [batch for batch in counter.batches if "logged_waste" in batch]
        assert len(batches) >= 8
        for batch in batches:
            assert batch["taken"] == batch["counted"]
            assert batch["logged_waste"] == pytest.approx(1 - batch["used"] / batch["counted"])
        waste = [batch["logged_waste"] for batch in batches]
        if kind in PAUSED:
            assert waste == [0.0] * len(waste)
        else:
            assert np.mean(waste) > 0.1
        if not kind.startswith(("VecNormalize(Subproc", "VecNormalize(Pausable", "Subproc", "Pausable")):
            # the guard is armed: an env is mid-episode, and resetting it is refused
            with pytest.raises(RuntimeError, match="Tried to reset an environment before done"):
                env.reset()
    finally:
        env.close()


def unbiased_gradient_check(kind: str, n_envs: int, n_episodes: int) -> None:
    """As tests/test_gradient.py: 1000 batches at fixed parameters average to the exact gradient."""
    model = textbook_model(make_vec_env("PGToy-v0", n_envs=n_envs, seed=1), n_episodes, learning_rate=0.0, seed=1)
    # norm_obs and norm_reward off: the policy and its returns are those of the exact analysis,
    # while VecNormalize still pauses, counts its statistics and passes the steps through
    model.set_env(make_env(kind, "PGToy-v0", n_envs=n_envs, seed=1, norm_obs=False, norm_reward=False))
    assert can_pause(model.env) == (kind in PAUSED)
    truth = flat(exact.parameter_gradient("PGToy-v0", model))
    n_batches = 1000
    callback = AverageGradient(n_batches)
    try:
        model.learn(10**9, callback=callback)
    finally:
        model.env.close()
    average = callback.average
    assert cosine(average, truth) > 0.99
    assert relative_error(average, truth) < 0.05


@pytest.mark.parametrize("kind", PAUSED[1:])
def test_every_paused_kind_collects_the_batches_of_a_dummy_vec_env(kind):
    """Same seeds, same learning: the parameters after 15 updates are those a DummyVecEnv gives, bit for bit
    (VecNormalize without normalisation): the kinds differ in how they step, not in which steps they take."""
    parameters = {}
    for name in ("DummyVecEnv", kind):
        env = make_env(name, "CartPole-v1", n_envs=3, seed=4, norm_obs=False, norm_reward=False)
        try:
            model = REINFORCE("MlpPolicy", env, n_episodes=5, seed=4, device="cpu")
            model.learn(10**6, callback=lambda _locals, _globals, model=model: model._n_updates < 15)
        finally:
            env.close()
        parameters[name] = flat(p.detach() for p in model.policy.parameters())
    assert th.equal(parameters["DummyVecEnv"], parameters[kind])


@pytest.mark.parametrize("kind", ["PausableSubprocVecEnv", "VecNormalize(DummyVecEnv)"])
def test_paused_batches_are_unbiased(kind):
    """Envs that finish their episodes sooner start more of them: 3 envs, 8 episodes per batch
    (tests/test_gradient.py checks a DummyVecEnv)."""
    unbiased_gradient_check(kind, n_envs=3, n_episodes=8)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["VecNormalize(PausableSubprocVecEnv)", "SubprocVecEnv"])
def test_more_batches_over_subprocesses_are_unbiased(kind):
    """Paused through VecNormalize, and SB3's SubprocVecEnv in lockstep (envs run into unused episodes)."""
    unbiased_gradient_check(kind, n_envs=3, n_episodes=8)
