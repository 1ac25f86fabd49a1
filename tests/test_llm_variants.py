"""RLOO, GRPO and Dr. GRPO: their weights by hand on a small batch, and their averages against the exact gradient."""

import math

import numpy as np
import pytest
import torch as th

from gym_pgtoy import exact as gym_pgtoy_exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis import llm_variants
from reinforce_sb3.analysis.diagnostics import GradientCheck, compare_estimators, estimate
from reinforce_sb3.analysis.estimators import Estimator
from reinforce_sb3.analysis.llm_variants import (
    DR_GRPO,
    GRPO,
    GRPO_EPSILON,
    GRPO_WITHOUT_LENGTH,
    GRPO_WITHOUT_STD,
    LLM_ESTIMATORS,
    RLOO,
    TEXTBOOK,
    changes_objective,
    direction_error,
    direction_noise_floor,
    dr_grpo_weights,
    episode_lengths,
    episode_returns,
    exact_expectation,
    group_advantages,
    group_batch,
    group_weights,
    grpo_weights,
)
from reinforce_sb3.analysis.sampling import sample_episodes
from reinforce_sb3.analysis.theorem import Trajectory
from reinforce_sb3.estimator import TensorBatch, advantages, leave_one_out_baseline


def hand_batch(returns: list[float] = [1.0, 3.0, -1.0]) -> TensorBatch:  # noqa: B006  # never mutated
    """Three episodes of 1, 3 and 2 steps, in (time, env) order as a batch of three envs stores them:
    episode 0's step, then the second steps of episodes 1 and 2, then episode 1's last step.
    Every step carries its episode's whole return."""
    episode_ids = th.tensor([0, 1, 2, 1, 2, 1])
    timesteps = th.tensor([0, 0, 0, 1, 1, 2])
    return TensorBatch(
        observations=th.zeros(6, 1),
        actions=th.zeros(6, dtype=th.long),
        returns=th.tensor(returns)[episode_ids],
        episode_ids=episode_ids,
        timesteps=timesteps,
        n_episodes=3,
    )


def test_episode_returns_and_lengths_by_hand():
    batch = hand_batch()
    assert episode_returns(batch).tolist() == [1.0, 3.0, -1.0]
    assert episode_lengths(batch).tolist() == [1.0, 3.0, 2.0]
    # reward-to-go in place of the whole return: the first step's still is the episode's return
    to_go = batch._replace(returns=th.tensor([1.0, 3.0, -1.0, 2.0, 0.5, 1.0]))
    assert episode_returns(to_go).tolist() == [1.0, 3.0, -1.0]


def test_group_advantages_by_hand():
    # R = (1, 3, -1): mean 1, deviations (0, 2, -2), sample std sqrt((0 + 4 + 4) / 2) = 2
    returns = th.tensor([1.0, 3.0, -1.0])
    np.testing.assert_allclose(group_advantages(returns), [0.0, 2 / (2 + GRPO_EPSILON), -2 / (2 + GRPO_EPSILON)])
    assert group_advantages(returns, scale_by_std=False).tolist() == [0.0, 2.0, -2.0]
    # a group of equal returns, or of one episode, has nothing to learn from: zeros, never NaN
    assert group_advantages(th.full((4,), 7.0)).tolist() == [0.0] * 4
    assert group_advantages(th.tensor([5.0])).tolist() == [0.0]


def test_grpo_weights_by_hand():
    # A = (0, 1, -1) (up to the epsilon), G = 3, lengths (1, 3, 2): A_i / (G |o_i|) at each step of episode i
    a = 2 / (2 + GRPO_EPSILON)
    per_episode = [0.0, a / (3 * 3), -a / (3 * 2)]
    np.testing.assert_allclose(grpo_weights(hand_batch()), [per_episode[i] for i in (0, 1, 2, 1, 2, 1)], rtol=1e-6)
    # each episode's weights sum to A_i / G, whatever its length
    sums = th.zeros(3).index_add(0, hand_batch().episode_ids, grpo_weights(hand_batch()))
    np.testing.assert_allclose(sums, [0.0, a / 3, -a / 3], rtol=1e-6)


def test_dr_grpo_and_the_ablations_by_hand():
    batch = hand_batch()
    # (R_i - mean R) / G = (0, 2/3, -2/3) at every step of episode i
    np.testing.assert_allclose(dr_grpo_weights(batch), [0.0, 2 / 3, -2 / 3, 2 / 3, -2 / 3, 2 / 3], rtol=1e-6)
    a = 2 / (2 + GRPO_EPSILON)
    np.testing.assert_allclose(
        group_weights(batch, length_normalization=False), [0.0, a / 3, -a / 3, a / 3, -a / 3, a / 3], rtol=1e-6
    )
    np.testing.assert_allclose(
        group_weights(batch, scale_by_std=False), [0.0, 2 / 9, -2 / 6, 2 / 9, -2 / 6, 2 / 9], rtol=1e-6
    )
    for estimator, expected in [
        (GRPO, grpo_weights(batch)),
        (GRPO_WITHOUT_LENGTH, group_weights(batch, length_normalization=False)),
        (GRPO_WITHOUT_STD, group_weights(batch, scale_by_std=False)),
        (DR_GRPO, dr_grpo_weights(batch)),
    ]:
        assert estimator.weighting is not None and not estimator.reward_to_go
        np.testing.assert_array_equal(estimator.weighting(batch), expected)


def test_rloo_is_the_cores_leave_one_out_on_whole_episode_returns():
    batch = hand_batch()
    options = RLOO.options(gamma=1.0)
    assert (options.baseline, options.reward_to_go, options.loss_reduction) == ("leave_one_out", False, "episodes")
    assert not options.normalize_returns and RLOO.weighting is None
    baseline = leave_one_out_baseline(batch.returns, batch.episode_ids, batch.timesteps, 3, reward_to_go=False)
    weights = advantages(batch.returns, "leave_one_out", leave_one_out=baseline) / batch.n_episodes
    # R_i - mean of the others: 1 - (3 - 1)/2 = 0, 3 - (1 - 1)/2 = 3, -1 - (1 + 3)/2 = -3; over G = 3
    np.testing.assert_allclose(weights, [0.0, 1.0, -1.0, 1.0, -1.0, 1.0], rtol=1e-6)
    # and G / (G - 1) times Dr. GRPO's (Kool et al.'s identity): R_i - mean_{j!=i} R_j = G/(G-1) (R_i - mean R)
    np.testing.assert_allclose(weights, 3 / 2 * dr_grpo_weights(batch), rtol=1e-6)


def test_a_weighting_is_not_a_reinforce_argument():
    assert RLOO.reinforce_kwargs()["baseline"] == "leave_one_out"
    with pytest.raises(ValueError, match="GRPO"):
        GRPO.reinforce_kwargs()


@pytest.fixture(scope="module")
def model():
    return REINFORCE("MlpPolicy", "PGToy-v0", seed=0, device="cpu", policy_kwargs=dict(net_arch=[16], ortho_init=False))


def test_estimate_uses_the_weighting_as_the_whole_coefficient(model):
    """Through the whole pipeline: Dr. GRPO's estimate is (G - 1) / G times RLOO's (the core's leave-one-out)."""
    episodes = sample_episodes(model.policy, "PGToy-v0", 6, seed=3)
    assert len({len(rewards) for _, _, rewards in episodes}) > 1  # lengths differ: 1/|o_i| matters
    rloo = estimate(model.policy, episodes, RLOO)
    dr_grpo = estimate(model.policy, episodes, DR_GRPO)
    assert np.linalg.norm(rloo) > 0
    np.testing.assert_allclose(dr_grpo, 5 / 6 * rloo, rtol=1e-4, atol=1e-6 * np.linalg.norm(rloo))  # float32 sums
    # the length normalisation changes the estimate of a batch whose episodes differ in length
    no_length = estimate(model.policy, episodes, GRPO_WITHOUT_LENGTH)
    assert not np.allclose(estimate(model.policy, episodes, GRPO), no_length)


def test_direction_error_is_zero_for_any_positive_multiple_and_sees_a_turn():
    exact = np.array([3.0, 4.0])
    rng = np.random.default_rng(0)
    noise = rng.normal(scale=0.1, size=(400, 2))
    along = GradientCheck(TEXTBOOK, 8, exact, 0.2 * exact + noise - noise.mean(axis=0))
    assert along.scale == pytest.approx(0.2) and direction_error(along) == pytest.approx(0.0, abs=1e-12)
    assert not changes_objective(along)
    # turned by 0.1 rad: its sine is 0.0998, far above sqrt(0.01 / 400) / |0.2 exact| = 0.005
    c, s = math.cos(0.1), math.sin(0.1)
    turned = GradientCheck(TEXTBOOK, 8, exact, 0.2 * np.array([c * 3 - s * 4, s * 3 + c * 4]) + noise)
    assert direction_error(turned) == pytest.approx(math.sin(0.1), abs=0.01)
    assert direction_noise_floor(turned) == pytest.approx(math.sqrt(0.01 / 400) / 1.0, rel=0.2)
    assert changes_objective(turned)
    # pointing backwards is a change, whatever the sine
    backwards = GradientCheck(TEXTBOOK, 8, exact, -exact + noise)
    assert changes_objective(backwards)


@pytest.fixture(scope="module")
def checks(model):
    """Every estimator of the table on the same episodes: 800 groups of G = 8 (6400 episodes)."""
    found = compare_estimators(model, "PGToy-v0", n_episodes=8, n_batches=800, estimators=LLM_ESTIMATORS, seed=0)
    return {check.estimator.name: check for check in found}


def test_rloo_and_the_textbook_estimator_average_to_the_exact_gradient(checks):
    for name in (TEXTBOOK.name, RLOO.name):
        check = checks[name]
        assert check.relative_error < 3 * check.noise_floor, name
        assert not changes_objective(check), name


def test_dr_grpo_averages_to_one_minus_one_over_g_times_the_exact_gradient(checks):
    """Its group mean includes the episode's own return: E[-(R_i / G) grad log P(tau_i)] = -grad J / G."""
    check = checks[DR_GRPO.name]
    error = np.linalg.norm(check.mean - (1 - 1 / 8) * check.exact) / np.linalg.norm(check.exact)
    assert error < 3 * check.noise_floor
    assert not changes_objective(check)


def test_length_normalisation_turns_the_average_away_from_the_exact_gradient(checks):
    for estimator in (GRPO, GRPO_WITHOUT_STD):
        check = checks[estimator.name]
        assert check.cosine > 0.9, estimator.name  # still an ascent direction, but another one
        assert direction_error(check) > 10 * direction_noise_floor(check), estimator.name
        assert changes_objective(check)


def test_group_batch_by_hand():
    long = Trajectory(((3, 1), (2, 1), (1, 0)), (0, 1, 1), (3.0, 0.0, 10.0), 0.5, 0.9)
    short = Trajectory(((3, 1),), (1,), (10.0,), 0.5, 1.0)
    batch = group_batch([long, short], gamma=0.5)
    assert batch.episode_ids.tolist() == [0, 0, 0, 1] and batch.timesteps.tolist() == [0, 1, 2, 0]
    assert batch.actions.tolist() == [0, 1, 1, 1] and batch.observations.tolist() == [
        [3, 1],
        [2, 1],
        [1, 0],
        [3, 1],
    ]
    # whole-episode returns 3 + 0.5 * 0 + 0.25 * 10 = 5.5 and 10; reward-to-go 5.5, 5, 10 and 10
    assert batch.returns.tolist() == [5.5, 5.5, 5.5, 10.0]
    assert group_batch([long, short], gamma=0.5, reward_to_go=True).returns.tolist() == [5.5, 5.0, 10.0, 10.0]


@pytest.fixture(scope="module")
def expectations(model):
    """The exact expectation of every estimator of the table over groups of 8 (no sampling)."""
    return {e.name: exact_expectation(model, "PGToy-v0", e, 8) for e in LLM_ESTIMATORS}


def test_the_exact_expectation_of_unbiased_estimators_is_the_exact_gradient(expectations):
    """The listing of every group agrees with gym_pgtoy.exact's dynamic programming, to float32 rounding."""
    for name in (TEXTBOOK.name, RLOO.name):
        expected = expectations[name]
        np.testing.assert_allclose(
            expected.expectation, expected.exact, rtol=1e-4, atol=1e-5 * np.abs(expected.exact).max()
        )
        assert not expected.changes_objective


def test_the_exact_expectation_is_what_the_sampled_batches_average_to(checks, expectations):
    """Two independent routes, sampled episodes and listed groups, agree within sampling noise for every estimator."""
    for name, check in checks.items():
        gap = np.linalg.norm(check.mean - expectations[name].expectation) / np.linalg.norm(check.exact)
        assert gap < 3 * check.noise_floor, name


def test_dr_grpo_and_grpo_by_their_exact_expectations(model, expectations):
    # Dr. GRPO: exactly (1 - 1/G) grad J, whatever G
    assert expectations[DR_GRPO.name].scale == pytest.approx(1 - 1 / 8, rel=1e-5)
    assert not expectations[DR_GRPO.name].changes_objective
    # GRPO, its length normalisation alone and its std alone all turn the expectation away from grad J
    for estimator in (GRPO, GRPO_WITHOUT_STD, GRPO_WITHOUT_LENGTH):
        expected = expectations[estimator.name]
        assert expected.changes_objective and expected.cosine > 0.9, estimator.name
    # the std's turn is small beside the length's, and shrinks as the group grows (the std of G returns settles)
    assert expectations[GRPO_WITHOUT_LENGTH.name].sine < expectations[GRPO_WITHOUT_STD.name].sine / 5
    small_group = exact_expectation(model, "PGToy-v0", GRPO_WITHOUT_LENGTH, 3)
    assert small_group.sine > 2 * expectations[GRPO_WITHOUT_LENGTH.name].sine


def test_the_length_normalised_expectation_is_the_gradient_of_another_objective(model):
    """Without the std, GRPO's expectation is (1 - 1/G) (grad E[R/|o|] - J grad E[1/|o|]): its direction does not
    depend on G, its size grows as 1 - 1/G."""
    three, six = (exact_expectation(model, "PGToy-v0", GRPO_WITHOUT_STD, g) for g in (3, 6))
    np.testing.assert_allclose(three.expectation / (1 - 1 / 3), six.expectation / (1 - 1 / 6), rtol=1e-4, atol=1e-7)

    # grad E[f(tau)] for a function of the trajectory alone is the expectation of sum_i f(tau_i) / G grad log P(tau_i)
    def per_episode(f):
        def weighting(batch):
            lengths = episode_lengths(batch)
            return (f(episode_returns(batch), lengths) / lengths.new_tensor(batch.n_episodes))[batch.episode_ids]

        return Estimator("f", reward_to_go=False, weighting=weighting)

    per_step = exact_expectation(model, "PGToy-v0", per_episode(lambda r, n: r / n), 3).expectation
    inverse_length = exact_expectation(model, "PGToy-v0", per_episode(lambda r, n: 1 / n), 3).expectation
    j = gym_pgtoy_exact.expected_return("PGToy-v0", model)
    formula = (1 - 1 / 3) * (per_step - j * inverse_length)
    np.testing.assert_allclose(three.expectation, formula, rtol=1e-4, atol=1e-6 * np.abs(formula).max())


def test_exact_expectation_refuses_long_episodes(model):
    with pytest.raises(ValueError, match="at most 6 steps, got 20"):
        exact_expectation(model, "SlipperyHill-v0", DR_GRPO, 4)


def test_the_table_names_every_estimator_and_the_budget(capsys):
    llm_variants.main(["--n-episodes", "4", "--n-batches", "3", "--seed", "2"])
    out = capsys.readouterr().out
    assert "G = 4 episodes, 3 batches, seed 2" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [row.split(" | ")[0][2:] for row in rows] == [e.name for e in LLM_ESTIMATORS]
    verdicts = [row.rstrip(" |").rsplit("| ", 1)[1] for row in rows]
    # with the exact expectations, the verdicts do not depend on these 3 batches
    assert verdicts == ["kept", "changed", "kept", "changed", "changed", "changed", "kept"]


def test_without_the_exact_columns_the_verdict_is_the_sampled_one(capsys):
    llm_variants.main(["--n-episodes", "4", "--n-batches", "3", "--seed", "2", "--no-exact"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(LLM_ESTIMATORS)
    assert all(row.split(" | ")[2:4] == ["-", "-"] for row in rows)
    assert all(row.rstrip(" |").endswith(("changed", "within noise")) for row in rows)
