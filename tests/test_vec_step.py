"""step_active steps some envs of a VecEnv exactly as env.step steps them, through the wrappers that can pause.

Each VecEnv kind is checked against itself: with every env active, step_active is env.step; with some envs
paused, the others step exactly as the same envs would in a VecEnv of their own (VecNormalize's statistics
included), and the paused envs neither move nor count.
"""

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    SubprocVecEnv,
    VecCheckNan,
    VecEnv,
    VecFrameStack,
    VecMonitor,
    VecNormalize,
    VecTransposeImage,
)

from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv
from reinforce_sb3.rollout.vec_step import can_pause, step_active, update_running_stats
from tests.envs import ImageObsEnv
from tests.helpers import FORK, assert_same_step


def seeded(make: Callable[[], gym.Env], seed: int) -> Callable[[], gym.Env]:
    """An env function whose env is seeded once (later resets continue its random stream)."""

    def make_seeded() -> gym.Env:
        env = make()
        env.reset(seed=seed)
        return env

    return make_seeded


def cartpole() -> gym.Env:
    return Monitor(gym.make("CartPole-v1"))


# name -> function of the seeds (one env each) that builds the VecEnv
KINDS: dict[str, Callable[[list[int]], VecEnv]] = {
    "DummyVecEnv": lambda seeds: DummyVecEnv([seeded(cartpole, s) for s in seeds]),
    "PausableSubprocVecEnv": lambda seeds: PausableSubprocVecEnv([seeded(cartpole, s) for s in seeds], **FORK),
    "VecNormalize(DummyVecEnv)": lambda seeds: VecNormalize(
        DummyVecEnv([seeded(cartpole, s) for s in seeds]), gamma=0.9
    ),
    "VecNormalize(PausableSubprocVecEnv)": lambda seeds: VecNormalize(
        PausableSubprocVecEnv([seeded(cartpole, s) for s in seeds], **FORK), gamma=0.9
    ),
    "VecMonitor(DummyVecEnv)": lambda seeds: VecMonitor(
        DummyVecEnv([seeded(lambda: gym.make("CartPole-v1"), s) for s in seeds])
    ),
    "VecTransposeImage(DummyVecEnv)": lambda seeds: VecTransposeImage(
        DummyVecEnv([seeded(lambda: Monitor(ImageObsEnv()), s) for s in seeds])
    ),
}


def raw_obs(env: VecEnv, obs: np.ndarray) -> np.ndarray:
    """The observations before VecNormalize (they are what a paused env keeps)."""
    return env.get_original_obs() if isinstance(env, VecNormalize) else obs


def test_which_vec_envs_can_pause():
    class SubclassedVecEnv(DummyVecEnv):
        def step_wait(self):
            return super().step_wait()

    class ClippedVecNormalize(VecNormalize):
        def step_async(self, actions):
            super().step_async(np.clip(actions, 0, 0))

    env = make_vec_env("CartPole-v1", n_envs=2)
    assert can_pause(env)
    assert can_pause(VecNormalize(env))
    unmonitored = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    assert can_pause(VecMonitor(unmonitored))
    assert can_pause(VecNormalize(VecMonitor(unmonitored)))
    assert not can_pause(VecCheckNan(env))
    assert not can_pause(VecFrameStack(env, 2))
    assert not can_pause(VecNormalize(VecCheckNan(env)))  # a wrapper anywhere in the stack that cannot pause
    assert not can_pause(SubclassedVecEnv([lambda: gym.make("CartPole-v1")]))
    assert not can_pause(ClippedVecNormalize(env))
    subproc = make_vec_env("CartPole-v1", n_envs=1, vec_env_cls=SubprocVecEnv, vec_env_kwargs=FORK)
    pausable = make_vec_env("CartPole-v1", n_envs=1, vec_env_cls=PausableSubprocVecEnv, vec_env_kwargs=FORK)
    try:
        assert not can_pause(subproc)
        assert can_pause(pausable)
        assert can_pause(VecNormalize(pausable))
    finally:
        subproc.close()
        pausable.close()


def test_step_active_rejects_what_cannot_pause_and_bad_masks():
    env = make_vec_env("CartPole-v1", n_envs=2)
    env.reset()
    with pytest.raises(ValueError, match="env: a VecCheckNan cannot step some of its envs"):
        step_active(VecCheckNan(env), np.zeros(2, dtype=np.int64), np.ones(2, dtype=bool))
    with pytest.raises(ValueError, match="env: a VecCheckNan"):  # found below VecNormalize too
        step_active(VecNormalize(VecCheckNan(env)), np.zeros(2, dtype=np.int64), np.ones(2, dtype=bool))
    for mask in (np.ones(3, dtype=bool), np.ones(2, dtype=np.int64)):
        with pytest.raises(ValueError, match=r"active: expected a boolean array of shape \(2,\)"):
            step_active(env, np.zeros(2, dtype=np.int64), mask)


@pytest.mark.parametrize("kind", list(KINDS))
def test_all_active_is_env_step(kind):
    """Two copies with the same seeds: step_active with every env active returns what env.step returns."""
    reference, paused = KINDS[kind]([5, 6, 7]), KINDS[kind]([5, 6, 7])
    try:
        np.testing.assert_array_equal(reference.reset(), paused.reset())
        rng = np.random.default_rng(0)
        n_done = 0
        for _ in range(100):
            actions = rng.integers(0, reference.action_space.n, size=3)
            step = reference.step(actions)
            assert_same_step(step, step_active(paused, actions, np.ones(3, dtype=bool)))
            n_done += int(step[2].sum())
        assert n_done > 3
        if isinstance(reference, VecNormalize):
            assert_same_statistics(reference, paused)
    finally:
        reference.close()
        paused.close()


def assert_same_statistics(env: VecNormalize, env2: VecNormalize, envs2: list[int] | None = None) -> None:
    """Bit for bit the same VecNormalize statistics (``envs2``: the envs of ``env2`` that match those of ``env``)."""
    for rms, rms2 in ((env.obs_rms, env2.obs_rms), (env.ret_rms, env2.ret_rms)):
        np.testing.assert_array_equal(rms.mean, rms2.mean)
        np.testing.assert_array_equal(rms.var, rms2.var)
        assert rms.count == rms2.count
    np.testing.assert_array_equal(env.returns, env2.returns[envs2 if envs2 is not None else slice(None)])


@pytest.mark.parametrize("kind", list(KINDS))
def test_stepped_envs_step_as_alone_and_paused_envs_stay(kind):
    """Envs 0 and 2 of three step, env 1 waits: 0 and 2 step exactly as in a VecEnv of their own (same seeds),
    VecNormalize statistics included; env 1 keeps its observation, gets reward 0 and no info, and never counts."""
    paused, alone = KINDS[kind]([10, 11, 12]), KINDS[kind]([10, 12])
    stepped = [0, 2]
    active = np.array([True, False, True])
    try:
        first_raw, first_alone = raw_obs(paused, paused.reset()), raw_obs(alone, alone.reset())
        np.testing.assert_array_equal(first_raw[stepped], first_alone)
        if isinstance(paused, VecNormalize):  # reset() counted the three envs: start both from no statistics
            for env in (paused, alone):
                env.obs_rms, env.ret_rms = RunningMeanStd(shape=env.obs_rms.mean.shape), RunningMeanStd(shape=())
        rng = np.random.default_rng(1)
        n_done = 0
        for _ in range(60):
            actions = rng.integers(0, paused.action_space.n, size=3)
            obs, rewards, dones, infos = step_active(paused, actions, active)
            step_alone = alone.step(actions[stepped])
            assert_same_step((obs[stepped], rewards[stepped], dones[stepped], [infos[i] for i in stepped]), step_alone)
            np.testing.assert_array_equal(raw_obs(paused, obs)[1], first_raw[1])
            assert rewards[1] == 0 and not dones[1] and infos[1] == {}
            n_done += int(dones.sum())
        assert n_done > 2
        if isinstance(paused, VecNormalize):
            assert_same_statistics(alone, paused, stepped)
            assert paused.returns[1] == 0.0
        if isinstance(paused, VecMonitor):
            assert paused.episode_lengths[1] == 0
        else:  # each env's Monitor
            counts = alone.get_attr("total_steps")
            assert paused.get_attr("total_steps") == [counts[0], 0, counts[1]]
    finally:
        paused.close()
        alone.close()


@pytest.mark.parametrize("kind", ["VecNormalize(DummyVecEnv)", "VecNormalize(PausableSubprocVecEnv)"])
def test_vec_normalize_statistics_count_each_step_taken_once(kind):
    """Envs paused and resumed at random, mid-episode too: the statistics are those of all transitions taken
    (plus the reset), as one update over them all would give, whatever the order; the discounted returns
    of each env run over its own steps only (a paused env's return does not decay)."""
    env = KINDS[kind]([20, 21, 22])
    try:
        env.reset()
        taken_obs = [env.get_original_obs()]  # reset() counts every env
        own_returns = np.zeros(3)
        taken_returns = []
        rng = np.random.default_rng(2)
        for _ in range(300):
            active = rng.random(3) < 0.5
            _, _, dones, _ = step_active(env, rng.integers(0, 2, size=3), active)
            taken_obs.append(env.get_original_obs()[active])
            for i in np.flatnonzero(active):
                own_returns[i] = own_returns[i] * env.gamma + env.get_original_reward()[i]
                taken_returns.append(own_returns[i])
            own_returns[dones] = 0
        assert sum(len(x) for x in taken_obs[1:]) < 0.6 * 900  # about half the env steps were paused
        np.testing.assert_array_equal(env.returns, own_returns)
        for rms, samples in ((env.obs_rms, np.concatenate(taken_obs)), (env.ret_rms, np.array(taken_returns))):
            at_once = RunningMeanStd(shape=rms.mean.shape)
            at_once.update(samples)
            assert rms.count == pytest.approx(at_once.count, rel=1e-12)  # 1e-4 + the number of samples
            # equal up to rounding: CartPole's observations are float32, and each update averages its own in float32
            np.testing.assert_allclose(rms.mean, at_once.mean, rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(rms.var, at_once.var, rtol=1e-5)
    finally:
        env.close()


@settings(max_examples=300, deadline=None)
@given(
    batches=st.lists(
        hnp.arrays(np.float64, st.tuples(st.integers(1, 9), st.integers(1, 5)), elements=st.floats(-1e6, 1e6)),
        min_size=1,
        max_size=4,
    ),
    dtype=st.sampled_from([np.float32, np.float64, np.int64]),
    vector=st.booleans(),
)
def test_update_running_stats_is_running_mean_std_update_bit_for_bit(batches, dtype, vector):
    """The statistics VecNormalize keeps while pausing are those of SB3's update, to the last bit, for
    observations (2-D) and returns (1-D), float32, float64 and integers."""
    width = batches[0].shape[1]
    ours, sb3 = (RunningMeanStd(shape=() if vector else (width,)) for _ in range(2))
    for batch in batches:
        batch = (batch[:, 0] if vector else np.resize(batch, (batch.shape[0], width))).astype(dtype)
        update_running_stats(ours, batch)
        sb3.update(batch)
        assert ours.count == sb3.count
        assert np.asarray(ours.mean).tobytes() == np.asarray(sb3.mean).tobytes()
        assert np.asarray(ours.var).tobytes() == np.asarray(sb3.var).tobytes()
        assert np.asarray(ours.mean).dtype == np.asarray(sb3.mean).dtype
