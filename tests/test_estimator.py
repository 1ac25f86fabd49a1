"""The pure functions of reinforce_sb3.estimator, against values computed by hand (in the manner of SB3's
test_gae.py) and against naive per-episode loops on random input (hypothesis)."""

import dataclasses
import math
import typing
import warnings

import numpy as np
import pytest
import torch as th
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reinforce_sb3.estimator import (
    BASELINES,
    LOSS_REDUCTIONS,
    TRUNCATIONS,
    Baseline,
    EstimatorOptions,
    LossReduction,
    TensorBatch,
    Truncation,
    advantages,
    discounted_returns,
    episode_returns,
    latest_starts,
    leave_one_out_baseline,
    reinforce_loss,
    running_mean,
    standardize,
)
from reinforce_sb3.policies import REINFORCEPolicy
from tests.envs import ScriptedRewardEnv

# Two envs, time-major (row = step of the VecEnv, column = env), as the episode buffer stores them:
#   env 0 plays episodes paying [1, 2], [3], [0, 0, 5]; env 1 plays [2, 2, 2], [4], then [2, 2, ... (still running)
REWARDS = np.array([[1, 2], [2, 2], [3, 2], [0, 4], [0, 2], [5, 2]], dtype=np.float32)
DONES = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0], [1, 0]], dtype=bool)
STARTS = np.array([[1, 1], [0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=bool)
# gamma = 0.5, reward-to-go: [1, 2] -> [2, 2]; [3] -> [3]; [0, 0, 5] -> [1.25, 2.5, 5]; [2, 2, 2] -> [3.5, 3, 2];
# [4] -> [4]; the running [2, 2] -> [3, 2] (the part seen so far)
REWARD_TO_GO = [[2, 3.5], [2, 3], [3, 2], [1.25, 4], [2.5, 3], [5, 2]]
WHOLE_EPISODE = [[2, 3.5], [2, 3.5], [3, 3.5], [1.25, 4], [1.25, 3], [1.25, 3]]


def test_discounted_returns_by_hand():
    np.testing.assert_allclose(discounted_returns(REWARDS, DONES, 0.5), REWARD_TO_GO)
    # gamma = 1: sums to the end of the episode; gamma = 0: each step's own reward
    np.testing.assert_allclose(discounted_returns(REWARDS, DONES, 1.0)[:, 0], [3, 2, 3, 5, 5, 5])
    np.testing.assert_allclose(discounted_returns(REWARDS, DONES, 0.0), REWARDS)


def test_discounted_returns_are_float64_and_take_lists():
    returns = discounted_returns([[1.0], [2.0]], [[False], [True]], 0.9)
    assert returns.dtype == np.float64
    np.testing.assert_allclose(returns[:, 0], [1 + 0.9 * 2, 2])


def test_discounted_returns_take_dones_as_zeros_and_ones():
    """Flags stored as numbers (SB3's buffers keep ``episode_starts`` in float32) are read as booleans."""
    expected = discounted_returns(REWARDS, DONES, 0.5)
    np.testing.assert_allclose(discounted_returns(REWARDS, DONES.astype(np.float32), 0.5), expected)
    np.testing.assert_allclose(discounted_returns(REWARDS, DONES.astype(np.int64), 0.5), expected)


def test_discounted_returns_warn_nothing_on_non_finite_sums():
    """``-inf + 0.5 * inf`` (NaN) and ``1e308 + 1e308`` (inf) are the buffer's to report, by env and step, with
    a ValueError (tests/test_buffer.py): numpy warns nothing on the way."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        returns = discounted_returns(np.array([[-np.inf], [np.inf], [1.0]]), np.array([[0], [1], [1]], bool), 0.5)
        overflowed = discounted_returns(np.array([[1e308], [1e308]]), np.array([[0], [1]], bool), 1.0)
    assert np.isnan(returns[0, 0]) and returns[1, 0] == np.inf and returns[2, 0] == 1.0
    np.testing.assert_array_equal(overflowed[:, 0], [np.inf, 1e308])


def test_end_values_follow_the_steps_that_end_an_episode_only():
    """Env 0's first episode [1, 2] was cut by a time limit and bootstrapped with 10: with gamma = 0.5 its returns
    become [1 + 0.5 * 7, 2 + 0.5 * 10] = [4.5, 7]. The 100 after a step that did not end its episode is not read,
    and every other episode keeps its returns."""
    end_values = np.zeros(REWARDS.shape)
    end_values[1, 0] = 10.0
    end_values[0, 0] = 100.0
    expected = np.array(REWARD_TO_GO)
    expected[:2, 0] = [4.5, 7.0]
    np.testing.assert_allclose(discounted_returns(REWARDS, DONES, 0.5, end_values), expected)
    # gamma = 0: no step sees what follows it
    np.testing.assert_allclose(discounted_returns(REWARDS, DONES, 0.0, end_values), REWARDS)
    np.testing.assert_array_equal(discounted_returns(REWARDS, DONES, 0.5, np.zeros(REWARDS.shape)), REWARD_TO_GO)


def test_running_mean_by_hand():
    assert running_mean(0.0, 0, np.array([1.0, 2.0, 3.0])) == (2.0, 3)
    assert running_mean(2.0, 3, np.array([6.0])) == (3.0, 4)  # the mean of [1, 2, 3, 6]
    assert running_mean(3.0, 4, np.array([])) == (3.0, 4)


@settings(max_examples=100, deadline=None)
@given(st.lists(hnp.arrays(np.float64, st.integers(0, 5), elements=st.floats(-100, 100)), min_size=1, max_size=5))
def test_running_mean_is_the_mean_of_every_value_so_far(chunks):
    mean, count = 0.0, 0
    for chunk in chunks:
        mean, count = running_mean(mean, count, chunk)
    values = np.concatenate(chunks)
    assert count == len(values)
    assert mean == pytest.approx(values.mean() if len(values) else 0.0, abs=1e-9)


def test_latest_starts_and_episode_returns_by_hand():
    np.testing.assert_array_equal(latest_starts(STARTS), [[0, 0], [0, 0], [2, 0], [3, 3], [3, 4], [3, 4]])
    np.testing.assert_allclose(episode_returns(discounted_returns(REWARDS, DONES, 0.5), STARTS), WHOLE_EPISODE)
    # steps before an env's first episode start take the value of step 0
    np.testing.assert_array_equal(latest_starts([[False], [False], [True], [False]])[:, 0], [0, 0, 2, 2])


def test_an_infinite_reward_does_not_leak_into_the_next_episode():
    """``inf * 0`` is NaN: the discount must not multiply the previous episode's return by zero."""
    rewards = np.array([[np.inf, 1.0], [1.0, np.inf], [2.0, 3.0]])
    dones = np.array([[True, False], [False, True], [True, False]])
    returns = discounted_returns(rewards, dones, 0.5)
    assert np.isinf(returns[0, 0]) and np.isinf(returns[1, 1]) and np.isinf(returns[0, 1])
    np.testing.assert_allclose(returns[1:, 0], [2.0, 2.0])  # env 0's next episode
    np.testing.assert_allclose(returns[2:, 1], [3.0])  # env 1's next episode
    whole = episode_returns(returns, np.array([[True, True], [True, False], [False, True]]))
    np.testing.assert_allclose(whole[1:, 0], [2.0, 2.0])
    assert whole[2, 1] == 3.0


def naive_reward_to_go(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> np.ndarray:
    """Each step's discounted sum of the rewards from it to the end of its episode (or of the data), one by one."""
    n_steps, n_envs = rewards.shape
    returns = np.zeros((n_steps, n_envs))
    for env in range(n_envs):
        for t in range(n_steps):
            k = t
            while True:
                returns[t, env] += gamma ** (k - t) * float(rewards[k, env])
                if dones[k, env] or k == n_steps - 1:
                    break
                k += 1
    return returns


@st.composite
def episodes(draw, min_steps: int = 1):
    """Random (rewards, dones, episode_starts) over 1-3 envs, consistent: an episode starts after one ends."""
    shape = (draw(st.integers(min_steps, 12)), draw(st.integers(1, 3)))
    rewards = draw(hnp.arrays(np.float32, shape, elements=st.floats(-100, 100, width=32)))
    dones = draw(hnp.arrays(bool, shape))
    first = draw(hnp.arrays(bool, (1, shape[1])))  # an env may be mid-episode at step 0
    return rewards, dones, np.concatenate([first, dones[:-1]])


GAMMAS = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))


@settings(max_examples=150, deadline=None)
@given(episodes(), GAMMAS)
@example((np.array([[1.0], [2.0], [3.0]], np.float32), np.ones((3, 1), bool), np.ones((3, 1), bool)), 0.5)
def test_discounted_returns_match_a_per_episode_loop(batch, gamma):
    """One-step episodes (every step done), gamma 0 and 1 included."""
    rewards, dones, _ = batch
    returns = discounted_returns(rewards, dones, gamma)
    np.testing.assert_allclose(returns, naive_reward_to_go(rewards, dones, gamma), rtol=1e-9, atol=1e-9)
    assert returns.shape == rewards.shape and np.isfinite(returns).all()  # finite in, finite out


@settings(max_examples=150, deadline=None)
@given(episodes(), GAMMAS)
def test_episode_returns_are_the_return_of_the_episode_s_first_step(batch, gamma):
    rewards, dones, starts = batch
    reward_to_go = naive_reward_to_go(rewards, dones, gamma)
    expected = np.empty_like(reward_to_go)
    for env in range(rewards.shape[1]):
        first = 0
        for t in range(len(rewards)):
            first = t if starts[t, env] else first
            expected[t, env] = reward_to_go[first, env]
    whole = episode_returns(discounted_returns(rewards, dones, gamma), starts)
    np.testing.assert_allclose(whole, expected, rtol=1e-9, atol=1e-9)
    assert np.isfinite(whole).all()


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")  # inf * 0 in its episode
@settings(max_examples=100, deadline=None)
@given(episodes(min_steps=2), st.floats(0.0, 1.0), st.data())
def test_a_non_finite_reward_stays_in_its_own_episode(batch, gamma, data):
    """A NaN or infinite reward leaves every other episode's returns as they were."""
    rewards, dones, _ = batch
    row = data.draw(st.integers(0, len(rewards) - 1))
    env = data.draw(st.integers(0, rewards.shape[1] - 1))
    poisoned = rewards.copy()
    poisoned[row, env] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    clean, dirty = discounted_returns(rewards, dones, gamma), discounted_returns(poisoned, dones, gamma)
    # the episode of (row, env): from the step after the previous done, to the first done at or after row
    ends = np.flatnonzero(dones[:, env])
    first = (ends[ends < row].max() + 1) if (ends < row).any() else 0
    same = np.ones(rewards.shape, dtype=bool)
    same[first : row + 1, env] = False  # steps of that episode up to the bad one see it
    np.testing.assert_array_equal(dirty[same], clean[same])


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([5.0, 5.0, 5.0], [0.0, 0.0, 0.0]),  # all equal: zeros, not NaN
        ([1e9, 1e9], [0.0, 0.0]),  # all equal and large: rounding must not blow up
        ([0.1] * 7, [0.0] * 7),  # all equal, not exactly representable
        ([7.0], [0.0]),  # one step
        ([1.0, 3.0], [-1.0, 1.0]),
        ([0.0, 0.0, 3.0], [-math.sqrt(0.5), -math.sqrt(0.5), math.sqrt(2.0)]),  # population std: sqrt(2)
    ],
)
def test_standardize_by_hand(weights, expected):
    standardized = standardize(th.tensor(weights, dtype=th.float32))
    np.testing.assert_allclose(standardized.numpy(), expected, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 300), elements=st.floats(-1e6, 1e6, width=32)))
def test_standardize_is_never_nan(weights):
    standardized = standardize(th.from_numpy(weights)).numpy()
    assert np.isfinite(standardized).all()
    spread = np.float64(weights).std()
    # well-conditioned: float32 rounding is small beside the spread, far above the floor of 1e-6 * max(|mean|, 1)
    if spread > 1e-3 * max(np.abs(weights).max(), 1.0):
        assert abs(standardized.mean()) < 1e-2
        assert standardized.std() == pytest.approx(1.0, abs=1e-2)


@settings(max_examples=100, deadline=None)
@given(st.floats(-1e9, 1e9, width=32), st.integers(1, 5000))
@example(0.3, 7)
@example(123456.7, 3)
def test_standardize_of_equal_weights_is_zero(value, n):
    standardized = standardize(th.full((n,), value, dtype=th.float32))
    assert (standardized == 0).all(), standardized.abs().max().item()


def test_standardize_treats_a_spread_at_float32_rounding_as_none():
    """Values one float32 step apart (0.0625 at 1e6) are equal up to rounding: zeros, not +-1 made of noise."""
    th.testing.assert_close(standardize(th.tensor([1e6, 1e6 + 0.0625])), th.zeros(2))
    th.testing.assert_close(standardize(th.tensor([-1e6, -1e6 - 0.0625, -1e6])), th.zeros(3))


def test_standardize_s_floor_on_the_spread():
    """The floor is 1e-6 times max(|mean|, 1), inclusive: a population std of exactly float32(1e-6) around a mean
    of 0 is no spread; 1.5e-6 around a mean below 1 is a spread, standardised."""
    floor = th.tensor(1e-6, dtype=th.float32)
    th.testing.assert_close(standardize(th.stack([-floor, floor])), th.zeros(2))  # std == floor
    th.testing.assert_close(standardize(th.tensor([0.0, 3e-6])), th.tensor([-1.0, 1.0]))  # std 1.5e-6, mean 1.5e-6


def test_advantages_by_hand():
    returns = th.tensor([1.0, 2.0, 6.0])
    th.testing.assert_close(advantages(returns, "none"), returns)
    th.testing.assert_close(advantages(returns, "mean"), th.tensor([-2.0, -1.0, 3.0]))
    values = th.tensor([0.5, 0.5, 1.0], requires_grad=True)
    weights = advantages(returns, "value", values=values)
    th.testing.assert_close(weights, th.tensor([0.5, 1.5, 5.0]))
    assert not weights.requires_grad  # the values are detached: the policy gradient never trains the critic
    th.testing.assert_close(advantages(returns, "leave_one_out", leave_one_out=th.ones(3)), returns - 1)
    with pytest.raises(ValueError, match=r"^baseline='value' needs values$"):
        advantages(returns, "value")
    with pytest.raises(ValueError, match=r"^baseline='leave_one_out' needs the leave-one-out baseline$"):
        advantages(returns, "leave_one_out")


# Three episodes, flattened: #0 of 2 steps (rewards-to-go 3, 1), #1 of 1 step (5), #2 of 3 steps (6, 4, 2)
LOO_RETURNS = th.tensor([3.0, 1.0, 5.0, 6.0, 4.0, 2.0])
LOO_EPISODES = th.tensor([0, 0, 1, 2, 2, 2])
LOO_TIMESTEPS = th.tensor([0, 1, 0, 0, 1, 2])


def test_leave_one_out_baseline_by_hand():
    # reward-to-go: the mean over the other two episodes of their return-to-go at the same time (0 once ended)
    # t=0: others of #0: (5 + 6) / 2; of #1: (3 + 6) / 2; of #2: (3 + 5) / 2; t=1: #0: (0 + 4) / 2; #2: (1 + 0) / 2
    expected = th.tensor([5.5, 2.0, 4.5, 4.0, 0.5, 0.0])
    th.testing.assert_close(leave_one_out_baseline(LOO_RETURNS, LOO_EPISODES, LOO_TIMESTEPS, 3), expected)
    # whole episodes (each step carries its episode's return 3, 5 or 6): the mean of the other two returns
    whole = th.tensor([3.0, 3.0, 5.0, 6.0, 6.0, 6.0])
    expected = th.tensor([5.5, 5.5, 4.5, 4.0, 4.0, 4.0])
    baseline = leave_one_out_baseline(whole, LOO_EPISODES, LOO_TIMESTEPS, 3, reward_to_go=False)
    th.testing.assert_close(baseline, expected)
    # one episode: no other episode, no baseline
    th.testing.assert_close(leave_one_out_baseline(th.tensor([1.0, 2.0]), th.zeros(2).long(), th.arange(2), 1),
                            th.zeros(2))  # fmt: skip


def test_leave_one_out_baseline_of_two_episodes_is_the_other_episode_s_return():
    """N = 2: each step's baseline is the other episode's return-to-go at the same time (0 once it has ended)."""
    returns, episodes, timesteps = th.tensor([3.0, 1.0, 5.0]), th.tensor([0, 0, 1]), th.tensor([0, 1, 0])
    th.testing.assert_close(leave_one_out_baseline(returns, episodes, timesteps, 2), th.tensor([5.0, 0.0, 3.0]))
    whole = th.tensor([3.0, 3.0, 5.0])
    baseline = leave_one_out_baseline(whole, episodes, timesteps, 2, reward_to_go=False)
    th.testing.assert_close(baseline, th.tensor([5.0, 5.0, 3.0]))


@pytest.mark.parametrize("reward_to_go", [True, False])
def test_leave_one_out_baseline_keeps_the_dtype_of_the_returns(reward_to_go):
    """In float64 the sums are float64 too (same values as the float32 case of the test by hand)."""
    returns = LOO_RETURNS.double() if reward_to_go else th.tensor([3.0, 3.0, 5.0, 6.0, 6.0, 6.0], dtype=th.float64)
    expected = [5.5, 2.0, 4.5, 4.0, 0.5, 0.0] if reward_to_go else [5.5, 5.5, 4.5, 4.0, 4.0, 4.0]
    baseline = leave_one_out_baseline(returns, LOO_EPISODES, LOO_TIMESTEPS, 3, reward_to_go=reward_to_go)
    th.testing.assert_close(baseline, th.tensor(expected, dtype=th.float64))


def tiny_policy(action_space=None, **kwargs) -> REINFORCEPolicy:
    env = ScriptedRewardEnv([[1.0]], action_space=action_space)
    th.manual_seed(0)
    return REINFORCEPolicy(env.observation_space, env.action_space, lambda _: 1e-3, net_arch=[4], **kwargs)


BATCH_OBS = th.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [0.0, 0.0]])
BATCH_ACTIONS = th.tensor([1, 0, 1, 1])
BATCH_RETURNS = th.tensor([3.0, 2.0, 1.0, -1.0])


def batch_of(actions=BATCH_ACTIONS) -> TensorBatch:
    """Two episodes of two steps: returns-to-go (3, 2) and (1, -1)."""
    return TensorBatch(BATCH_OBS, actions, BATCH_RETURNS, th.tensor([0, 0, 1, 1]), th.tensor([0, 1, 0, 1]), 2)


def log_pi_of(policy) -> th.Tensor:
    return th.log_softmax(policy.action_parameters(BATCH_OBS), dim=1)[th.arange(4), BATCH_ACTIONS]


@pytest.mark.parametrize("loss_reduction", ["mean", "episodes"])
@pytest.mark.parametrize("normalize_returns", [False, True])
def test_reinforce_loss_by_hand(loss_reduction, normalize_returns):
    """``-sum_t log pi(a_t|s_t) w_t * scale`` with log pi from the logits directly, and the entropy term."""
    policy = tiny_policy()
    options = EstimatorOptions(normalize_returns=normalize_returns, loss_reduction=loss_reduction)
    losses = reinforce_loss(policy, batch_of(), options)
    logits = policy.action_parameters(BATCH_OBS)
    log_probs = th.log_softmax(logits, dim=1)
    log_pi = log_probs[th.arange(4), BATCH_ACTIONS]
    weights = BATCH_RETURNS
    if normalize_returns:
        weights = (weights - weights.mean()) / weights.std(correction=0)
    scale = 1 / 4 if loss_reduction == "mean" else 1 / 2
    th.testing.assert_close(losses.policy_loss, -(log_pi * weights).sum() * scale)
    th.testing.assert_close(losses.log_prob, log_pi)
    th.testing.assert_close(losses.weights, weights)
    assert losses.scale == scale
    entropy = -(log_probs.exp() * log_probs).sum(dim=1)
    th.testing.assert_close(losses.entropy_loss, -entropy.sum() * scale)
    assert losses.value_loss is None and losses.values is None


@pytest.mark.parametrize("normalize_returns", [False, True])
def test_discounted_gradient_weights_each_step_by_gamma_to_the_t(normalize_returns):
    """Steps at t = 1 of each episode get gamma^1 = 0.5 of their (standardised or raw) weight, those at t = 0 all."""
    policy = tiny_policy()
    options = EstimatorOptions(gamma=0.5, normalize_returns=normalize_returns, loss_reduction="episodes")
    plain = reinforce_loss(policy, batch_of(), options)
    discounted = reinforce_loss(policy, batch_of(), dataclasses.replace(options, discounted_gradient=True))
    th.testing.assert_close(discounted.weights, plain.weights * th.tensor([1.0, 0.5, 1.0, 0.5]))
    th.testing.assert_close(discounted.policy_loss, -(log_pi_of(policy) * discounted.weights).sum() / 2)


def test_value_baseline_loss_is_the_regression_on_the_returns():
    policy = tiny_policy(value_baseline=True)
    losses = reinforce_loss(policy, batch_of(), EstimatorOptions(baseline="value"))
    values = policy.predict_values(BATCH_OBS)
    th.testing.assert_close(losses.values, values)
    th.testing.assert_close(losses.value_loss, ((values - BATCH_RETURNS) ** 2).mean())


def test_leave_one_out_loss_by_hand():
    policy = tiny_policy()
    losses = reinforce_loss(policy, batch_of(), EstimatorOptions(normalize_returns=False, baseline="leave_one_out"))
    # episode 0 has returns-to-go (3, 2), episode 1 (1, -1): each step's baseline is the other's at the same time
    weights = BATCH_RETURNS - th.tensor([1.0, -1.0, 3.0, 2.0])
    th.testing.assert_close(losses.policy_loss, -(log_pi_of(policy) * weights).sum() / 4)


def test_leave_one_out_loss_of_whole_episode_returns_by_hand():
    """Whole-episode returns (``reward_to_go=False``), episodes of 3 and 1 steps returning 4 and 2: each step's
    baseline is the other episode's return (2 for episode 0, 4 for episode 1), not a per-time-step mean."""
    policy = tiny_policy()
    episodes, timesteps = th.tensor([0, 0, 0, 1]), th.tensor([0, 1, 2, 0])
    batch = TensorBatch(BATCH_OBS, BATCH_ACTIONS, th.tensor([4.0, 4.0, 4.0, 2.0]), episodes, timesteps, 2)
    options = EstimatorOptions(normalize_returns=False, reward_to_go=False, baseline="leave_one_out")
    losses = reinforce_loss(policy, batch, options)
    th.testing.assert_close(losses.weights, th.tensor([2.0, 2.0, 2.0, -2.0]))
    th.testing.assert_close(losses.policy_loss, -(log_pi_of(policy) * losses.weights).sum() / 4)


def test_a_distribution_without_entropy_gives_an_entropy_loss_of_zero():
    """The tanh-squashed Gaussian has no closed-form entropy (SB3 returns None): the entropy term is 0."""
    from gymnasium import spaces

    policy = tiny_policy(spaces.Box(-1.0, 1.0, shape=(2,)), squash_output=True)
    losses = reinforce_loss(policy, batch_of(th.zeros(4, 2)), EstimatorOptions())
    assert policy.get_distribution(BATCH_OBS).entropy() is None
    assert losses.entropy_loss.shape == () and losses.entropy_loss.item() == 0.0


def test_multidimensional_box_actions_are_flattened_for_the_log_prob():
    """SB3's Gaussian takes one flat action vector per step: a (2, 2) Box gives 4 numbers."""
    from gymnasium import spaces

    policy = tiny_policy(spaces.Box(-1.0, 1.0, shape=(2, 2)))
    actions = th.zeros(4, 2, 2)
    losses = reinforce_loss(policy, batch_of(actions), EstimatorOptions(normalize_returns=False))
    means = policy.action_parameters(BATCH_OBS)
    log_pi = th.distributions.Normal(means, policy.log_std.exp()).log_prob(actions.reshape(4, 4)).sum(dim=1)
    th.testing.assert_close(losses.policy_loss, -(log_pi * BATCH_RETURNS).sum() / 4)


def test_the_option_names_are_defined_once():
    assert BASELINES == typing.get_args(Baseline) == ("none", "mean", "leave_one_out", "value")
    assert typing.get_args(LossReduction) == LOSS_REDUCTIONS
    assert TRUNCATIONS == typing.get_args(Truncation) == ("end", "bootstrap_mean")
