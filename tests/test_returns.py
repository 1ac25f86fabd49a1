"""Monte-Carlo returns checked against values computed by hand (in the manner of SB3's test_gae.py)."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

from reinforce_sb3 import REINFORCE
from reinforce_sb3.buffer import EpisodeBuffer
from reinforce_sb3.estimator import standardize as _standardize
from tests.envs import ScriptedRewardEnv

GAMMA = 0.5


class CaptureBatch(BaseCallback):
    """Record the first batch (its returns and step mask) when its collection ends, then stop."""

    def __init__(self, gamma: float, reward_to_go: bool) -> None:
        super().__init__()
        self.gamma = gamma
        self.reward_to_go = reward_to_go
        self.batch = None

    def _on_rollout_end(self) -> None:
        if self.batch is None:
            buffer = self.model.collector.buffer
            self.batch = buffer.episode_batch(self.gamma, self.reward_to_go)
            self.rows = buffer.pos
            self.in_batch = buffer.arrays["in_batch"][: buffer.pos].copy()

    def _on_step(self) -> bool:
        return self.batch is None


def two_scripted_envs(truncate: bool = False) -> DummyVecEnv:
    # env 0 plays episodes paying [1, 2], [3], [0, 0, 5] in turn; env 1 plays [2, 2, 2], [4]
    return DummyVecEnv(
        [
            lambda: ScriptedRewardEnv([[1, 2], [3], [0, 0, 5]], truncate=truncate),
            lambda: ScriptedRewardEnv([[2, 2, 2], [4]], truncate=truncate),
        ]
    )


def first_batch(reward_to_go: bool, truncate: bool = False, gamma: float = GAMMA) -> CaptureBatch:
    model = REINFORCE("MlpPolicy", two_scripted_envs(truncate), n_episodes=4, gamma=gamma, reward_to_go=reward_to_go)
    callback = CaptureBatch(gamma, reward_to_go)
    model.learn(100, callback=callback)
    return callback


# The batch is the first 4 episodes to start (ties by env index):
#   row:    0     1     2     3     4     5
#   env 0: [1     2]   [3]   [0     0     5]      episodes #1, #3, #4
#   env 1: [2     2     2]   (4)   (2     2 ...    episode #2; then unused episodes (the batch was full)
# With gamma = 0.5, reward-to-go: [1, 2] -> [2, 2]; [3] -> [3]; [0, 0, 5] -> [1.25, 2.5, 5]; [2, 2, 2] -> [3.5, 3, 2].
# Flattened in (row, env) order over the batch's steps:
REWARD_TO_GO = [2.0, 3.5, 2.0, 3.0, 3.0, 2.0, 1.25, 2.5, 5.0]
WHOLE_EPISODE = [2.0, 3.5, 2.0, 3.5, 3.0, 3.5, 1.25, 1.25, 1.25]


@pytest.mark.parametrize("truncate", [False, True])
def test_reward_to_go_across_episodes_and_envs(truncate):
    """Truncation ends the return exactly as termination does: no bootstrapping."""
    capture = first_batch(reward_to_go=True, truncate=truncate)
    assert capture.rows == 6
    np.testing.assert_array_equal(
        capture.in_batch, [[True, True], [True, True], [True, True], [True, False], [True, False], [True, False]]
    )
    np.testing.assert_allclose(capture.batch.returns, REWARD_TO_GO)
    # the observations are [t, k]: the step within the episode and the episode's script
    np.testing.assert_array_equal(capture.batch.observations[:, 0], [0, 0, 1, 1, 0, 2, 0, 1, 2])


def test_whole_episode_returns_across_episodes_and_envs():
    capture = first_batch(reward_to_go=False)
    np.testing.assert_allclose(capture.batch.returns, WHOLE_EPISODE)


def test_buffer_returns_by_hand_and_growth():
    """The buffer alone, from a small capacity that must grow: one env, episodes [1, 1, 1] and [2, 0]."""
    buffer = EpisodeBuffer(spaces.Box(-1, 1, (1,)), spaces.Discrete(2), n_envs=1, capacity=2)
    rewards = [1, 1, 1, 2, 0]
    dones = [False, False, True, False, True]
    starts = [True, False, False, True, False]
    for t in range(5):
        buffer.add(np.zeros((1, 1)), np.array([t % 2]), np.array([rewards[t]]), np.array([starts[t]]),
                   np.array([dones[t]]), np.array([True]))  # fmt: skip
    assert buffer.capacity >= 5 and buffer.pos == 5
    gamma = 0.9
    np.testing.assert_allclose(buffer.returns(gamma)[:, 0], [1 + 0.9 + 0.81, 1 + 0.9, 1, 2, 0])
    np.testing.assert_allclose(buffer.returns(gamma, reward_to_go=False)[:, 0], [2.71, 2.71, 2.71, 2, 2])
    np.testing.assert_array_equal(buffer.episode_batch(gamma).actions, [0, 1, 0, 1, 0])
    buffer.reset()
    assert buffer.pos == 0 and buffer.n_batch_steps == 0


def test_undiscounted_returns():
    # gamma = 1: [1, 2] -> [3, 2]; [3] -> [3]; [0, 0, 5] -> [5, 5, 5]; [2, 2, 2] -> [6, 4, 2]
    capture = first_batch(reward_to_go=True, gamma=1.0)
    np.testing.assert_allclose(capture.batch.returns, [3, 6, 2, 4, 3, 2, 5, 5, 5])
    capture = first_batch(reward_to_go=False, gamma=1.0)
    np.testing.assert_allclose(capture.batch.returns, [3, 6, 3, 6, 3, 6, 5, 5, 5])


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        ([5.0, 5.0, 5.0], [0.0, 0.0, 0.0]),  # all equal: zeros, not NaN
        ([1e9, 1e9], [0.0, 0.0]),  # all equal and large: rounding must not blow up
        ([0.1] * 7, [0.0] * 7),  # all equal, not exactly representable
        ([7.0], [0.0]),  # one step
        ([1.0, 3.0], [-1.0, 1.0]),
    ],
)
def test_standardize(returns, expected):
    standardized = _standardize(th.tensor(returns, dtype=th.float32))
    np.testing.assert_allclose(standardized.numpy(), expected, atol=1e-6)
    assert th.isfinite(standardized).all()


def test_normalized_returns_on_equal_returns_give_a_finite_update():
    """Every episode pays the same: normalised weights are all zero, the update is a no-op, nothing is NaN."""
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1.0]])])
    model = REINFORCE("MlpPolicy", env, n_episodes=4, normalize_returns=True, seed=0)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(40)
    for old, new in zip(before, model.policy.parameters(), strict=True):
        assert th_all_finite(new)
        np.testing.assert_allclose(old.numpy(), new.detach().numpy())


def th_all_finite(tensor):
    return bool(np.all(np.isfinite(tensor.detach().numpy())))
