"""reinforce_sb3.analysis.theorem: each identity of docs/theorem.md, checked independently.

The enumeration of trajectories is checked against gym_pgtoy.exact's dynamic programme, and gradients against
finite differences of gym_pgtoy.exact.expected_return (which knows nothing of scores or trajectories); the
batch estimates against the library's own loss, reinforce_sb3.estimator.reinforce_loss, through torch autograd.
"""

import itertools
import math
import re

import numpy as np
import pytest
import torch as th

from gym_pgtoy import exact
from gym_pgtoy.policies import WALKTHROUGH_GAUSSIAN, WALKTHROUGH_POLICY, gaussian_policy
from reinforce_sb3.analysis import theorem
from reinforce_sb3.estimator import EstimatorOptions, TensorBatch, reinforce_loss
from tests.doc_blocks import DOCS

GAMES = [("PGToy-v0", {}), ("SlipperyHill-v0", {"max_episode_steps": 6}), ("PGToy-v0", {"slip_prob": 0.35})]


def random_logits(game, seed):
    """Random logits for every (cell, diamond) where a decision can be due."""
    rng = np.random.default_rng(seed)
    return {(cell, diamond): rng.normal(size=2) for cell in range(1, game.hilltop + 1) for diamond in (0, 1)}


def exact_return_of_logits(game, horizon, logits, gamma=1.0):
    return exact.expected_return(game, theorem.softmax(logits), gamma=gamma, horizon=horizon)


def finite_difference_gradient(game, horizon, logits, states, gamma=1.0, h=1e-6):
    """dJ/dtheta by central differences of the exact expected return."""
    grad = np.zeros((len(states), 2))
    for i, state in enumerate(states):
        for a in range(2):
            plus = {s: np.array(v, dtype=float) for s, v in logits.items()}
            minus = {s: np.array(v, dtype=float) for s, v in logits.items()}
            plus[state][a] += h
            minus[state][a] -= h
            grad[i, a] = (
                exact_return_of_logits(game, horizon, plus, gamma) - exact_return_of_logits(game, horizon, minus, gamma)
            ) / (2 * h)
    return grad


@pytest.fixture(params=[(env_id, kwargs, seed) for (env_id, kwargs) in GAMES for seed in (0, 1)], ids=str)
def case(request):
    env_id, kwargs, seed = request.param
    game, horizon = theorem.make_game(env_id, **kwargs)
    logits = random_logits(game, seed)
    reached = exact.analyze(game, theorem.softmax(logits), horizon=horizon).gradient  # the decision states
    logits = {state: logits[state] for state in reached}
    policy = theorem.softmax(logits)
    states = sorted(policy)
    return game, horizon, logits, policy, states, theorem.trajectories(game, policy, horizon)


def test_trajectories_sum_to_one_and_give_the_exact_return(case):
    game, horizon, _, policy, _, found = case
    assert sum(t.probability for t in found) == pytest.approx(1.0, abs=1e-12)
    assert all(len(t.actions) <= horizon for t in found)
    for gamma in (1.0, 0.8):
        by_enumeration = float(theorem.expectation(found, lambda t, gamma=gamma: t.total(gamma)))
        assert by_enumeration == pytest.approx(exact.expected_return(game, policy, gamma=gamma, horizon=horizon))


def test_walkthrough_trajectories():
    game, horizon = theorem.make_game()
    found = theorem.trajectories(game, theorem.as_policy(WALKTHROUGH_POLICY), horizon)
    assert len(found) == 5  # R; L L; L R slipped; L R R; L R L cut by time
    for actions, rewards in theorem.WALKTHROUGH_EPISODES:
        trajectory = theorem.find(found, actions, rewards)
        assert trajectory.total() == sum(rewards)
    assert theorem.find(found, (0, 1, 1), (3, 0, 10)).dynamics_probability == pytest.approx(0.9)
    with pytest.raises(ValueError, match="no trajectory"):
        theorem.find(found, (1, 1), (10, 10))


def test_the_score_has_expectation_zero_and_does_not_factor(case):
    game, horizon, logits, policy, states, found = case
    mean_score = theorem.expectation(found, lambda t: theorem.score(t, policy, states))
    np.testing.assert_allclose(mean_score, 0.0, atol=1e-12)
    weighted = theorem.expectation(found, lambda t: t.total() * theorem.score(t, policy, states))
    truth = finite_difference_gradient(game, horizon, logits, states)
    np.testing.assert_allclose(weighted, truth, atol=1e-6)
    assert np.abs(truth).max() > 0.05  # E[R] E[grad log P] = 0 is not the gradient


def test_logit_gradient_is_the_chain_rule_through_exact(case):
    game, horizon, logits, policy, states, _ = case
    analysis = exact.analyze(game, policy, horizon=horizon)
    np.testing.assert_allclose(
        theorem.logit_gradient(analysis, states), finite_difference_gradient(game, horizon, logits, states), atol=1e-6
    )


def test_the_score_is_grad_log_p_and_the_dynamics_drop_out(case):
    game, horizon, logits, policy, states, found = case
    h = 1e-6
    for index in (0, len(found) // 2, len(found) - 1):
        trajectory = found[index]
        numeric = np.zeros((len(states), 2))
        for i, state in enumerate(states):
            for a in range(2):
                shifted = []
                for sign in (1, -1):
                    moved = {s: np.array(v, dtype=float) for s, v in logits.items()}
                    moved[state][a] += sign * h
                    # the enumeration's order does not depend on the probabilities: the same path, moved logits
                    same = theorem.trajectories(game, theorem.softmax(moved), horizon)[index]
                    assert (same.states, same.actions) == (trajectory.states, trajectory.actions)
                    shifted.append(math.log(same.probability))  # the dynamics' factors included
                numeric[i, a] = (shifted[0] - shifted[1]) / (2 * h)
        np.testing.assert_allclose(theorem.score(trajectory, policy, states), numeric, atol=1e-6)


def test_the_slip_changes_the_gradient_not_the_score():
    policy = theorem.as_policy(WALKTHROUGH_POLICY)
    states = sorted(policy)
    scores, gradients = [], []
    for slip in (0.1, 0.3):
        game, horizon = theorem.make_game("PGToy-v0", slip_prob=slip)
        found = theorem.trajectories(game, policy, horizon)
        trajectory = theorem.find(found, (0, 1, 1), (3, 0, 10))
        assert trajectory.dynamics_probability == pytest.approx(1 - slip)
        scores.append(theorem.score(trajectory, policy, states))
        gradients.append(theorem.logit_gradient(exact.analyze(game, policy, horizon=horizon), states))
    np.testing.assert_array_equal(scores[0], scores[1])
    assert np.abs(gradients[0] - gradients[1]).max() > 0.1


def test_one_over_pi_cancels_the_sampling_frequency(case):
    game, horizon, _, policy, states, found = case
    analysis = exact.analyze(game, policy, horizon=horizon)
    for state in states:
        for action in range(2):

            def taken(t, state=state, action=action):
                returns = t.returns_to_go()
                return sum(g for s, a, g in zip(t.states, t.actions, returns, strict=True) if (s, a) == (state, action))

            earned = float(theorem.expectation(found, taken))
            reach_q = sum(
                layer[state] * q[state][action]
                for layer, q in zip(analysis.reach, analysis.q_values, strict=True)
                if state in layer
            )
            assert earned == pytest.approx(reach_q * policy[state][action], abs=1e-12)  # frequency x Q
            assert earned / policy[state][action] == pytest.approx(analysis.gradient[state][action], abs=1e-9)


@pytest.mark.parametrize("b", [-4.0, 5.0, 11.0])
def test_a_constant_baseline_keeps_the_expectation(case, b):
    game, horizon, logits, policy, states, found = case
    for state in states:
        p = policy[state]
        np.testing.assert_allclose((np.diag(p) - np.outer(p, p)).sum(axis=0), 0.0, atol=1e-15)
    expected = theorem.expectation(found, lambda t: theorem.estimate([t], policy, states, baseline=b))
    np.testing.assert_allclose(expected, finite_difference_gradient(game, horizon, logits, states), atol=1e-6)


def test_the_rate_along_the_simplex_is_a_finite_difference_of_j(case):
    game, horizon, _, policy, states, _ = case
    analysis = exact.analyze(game, policy, horizon=horizon)
    h = 1e-6
    for state in states:
        moved = [dict(policy), dict(policy)]
        moved[0][state] = policy[state] + np.array([-h, h])
        moved[1][state] = policy[state] + np.array([h, -h])
        numeric = (
            exact.expected_return(game, moved[0], horizon=horizon)
            - exact.expected_return(game, moved[1], horizon=horizon)
        ) / (2 * h)
        assert theorem.simplex_rate(analysis, state) == pytest.approx(numeric, abs=1e-6)


def test_walkthrough_start_rate_is_not_the_plus_ten_per_unit():
    """P(right) at the start: dJ/dpi(right) alone says 10, moving probability from left to right pays 10.52."""
    game, horizon = theorem.make_game()
    policy = theorem.as_policy(WALKTHROUGH_POLICY)
    h = 1e-6
    up = dict(policy)
    up[(2, 1)] = policy[(2, 1)] + np.array([-h, h])
    down = dict(policy)
    down[(2, 1)] = policy[(2, 1)] + np.array([h, -h])
    rate = (exact.expected_return(game, up, horizon=horizon) - exact.expected_return(game, down, horizon=horizon)) / (
        2 * h
    )
    assert rate == pytest.approx(10.52, abs=1e-6)
    assert "10.5200" in theorem.step_simplex()
    assert "10.5200" in theorem.step_softmax()


def test_one_logit_by_hand_is_the_finite_difference():
    game, horizon = theorem.make_game()
    logits = theorem.logits_of(WALKTHROUGH_POLICY)
    states = [(2, 1), (1, 0), (2, 0)]
    numeric = finite_difference_gradient(game, horizon, logits, states)
    text = theorem.step_softmax()
    assert f"= {numeric[0, 1]:.4f}\n" in text  # dJ/dtheta_right at the start, by the chain rule
    assert text.count(f"{numeric[0, 1]:.4f}") >= 3


class TabularPolicy:
    """A stand-in for an SB3 policy with tabular softmax logits, for reinforce_sb3.estimator.reinforce_loss."""

    def __init__(self, logits, states):
        self.states = list(states)
        self.theta = th.tensor(np.array([logits[s] for s in self.states]), dtype=th.float64, requires_grad=True)

    def get_distribution(self, observations):
        rows = [self.states.index(tuple(int(x) for x in obs)) for obs in observations]
        return th.distributions.Categorical(logits=self.theta[rows])


def library_gradient(logits, states, batch, gamma=1.0, ratio_form=False, **options):
    """The library's loss of ``batch`` under tabular softmax, and minus its gradient (the estimate), by autograd."""
    policy = TabularPolicy(logits, states)
    tensors = TensorBatch(
        observations=th.tensor([s for t in batch for s in t.states]),
        actions=th.tensor([a for t in batch for a in t.actions]),
        returns=th.tensor(np.concatenate([t.returns_to_go(gamma) for t in batch])),
        episode_ids=th.tensor([i for i, t in enumerate(batch) for _ in t.actions]),
        timesteps=th.tensor([step for t in batch for step in range(len(t.actions))]),
        n_episodes=len(batch),
    )
    options = {"normalize_returns": False, "loss_reduction": "episodes", **options}
    losses = reinforce_loss(policy, tensors, EstimatorOptions(gamma=gamma, **options))
    loss = losses.policy_loss
    if ratio_form:  # pi / pi.detach() in place of log pi
        loss = -(th.exp(losses.log_prob - losses.log_prob.detach()) * losses.weights).sum() * losses.scale
    loss.backward()
    return float(loss.detach()), -policy.theta.grad.numpy()


VARIANTS = [
    *theorem.REDUCTION_VARIANTS,
    ("discounted gradient", {"discounted_gradient": True}),
    ("everything", {"discounted_gradient": True, "normalize_returns": True, "baseline": "mean"}),
]


@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=lambda x: str(x))
def test_estimate_is_the_library_loss_gradient(case, name, options):
    _, _, logits, policy, states, found = case
    rng = np.random.default_rng(len(name))
    batch = [found[i] for i in rng.integers(len(found), size=5)]
    _, theirs = library_gradient(logits, states, batch, gamma=0.9, **options)
    ours = theorem.estimate(batch, policy, states, gamma=0.9, **options)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)


def test_the_loss_of_the_walkthrough_batch():
    """Log-prob and ratio forms: different values, the same gradient, the one step_loss prints."""
    game, horizon = theorem.make_game()
    policy = theorem.as_policy(WALKTHROUGH_POLICY)
    logits = theorem.logits_of(WALKTHROUGH_POLICY)
    states = [(2, 1), (1, 0), (2, 0)]
    found = theorem.trajectories(game, policy, horizon)
    batch = [theorem.find(found, a, r) for a, r in theorem.WALKTHROUGH_EPISODES]
    log_value, log_grad = library_gradient(logits, states, batch)
    ratio_value, ratio_grad = library_gradient(logits, states, batch, ratio_form=True)
    np.testing.assert_allclose(log_grad, ratio_grad, atol=1e-12)
    assert abs(log_value - ratio_value) > 1.0
    text = theorem.step_loss()
    assert f"log pi(a_t|s_t) G_t = {log_value:.4f}" in text
    assert f"G_t = {ratio_value:.4f}" in text
    assert "(" + ", ".join(f"{v:.4f}" for v in log_grad.ravel()) + ")" in text


def test_the_discount_twice(case):
    game, horizon, logits, policy, states, found = case
    gamma = 0.8
    truth = finite_difference_gradient(game, horizon, logits, states, gamma=gamma)
    with_power = theorem.expectation(
        found, lambda t: theorem.estimate([t], policy, states, gamma, discounted_gradient=True)
    )
    np.testing.assert_allclose(with_power, truth, atol=1e-6)
    without = theorem.expectation(found, lambda t: theorem.estimate([t], policy, states, gamma))
    assert np.abs(without - truth).max() > 1e-3  # dropping gamma^t: biased for grad J_gamma
    undiscounted = theorem.expectation(found, lambda t: theorem.estimate([t], policy, states, 1.0))
    np.testing.assert_allclose(undiscounted, finite_difference_gradient(game, horizon, logits, states), atol=1e-6)


def test_batch_expectation_is_exact():
    game, horizon = theorem.make_game()
    policy = theorem.as_policy(WALKTHROUGH_POLICY)
    states = sorted(policy)
    found = theorem.trajectories(game, policy, horizon)
    # by brute force over ordered batches of 3
    for options in ({}, {"loss_reduction": "mean", "normalize_returns": True}):
        brute = sum(
            math.prod(found[i].probability for i in batch)
            * theorem.estimate([found[i] for i in batch], policy, states, **options)
            for batch in itertools.product(range(len(found)), repeat=3)
        )
        np.testing.assert_allclose(
            theorem.batch_expectation(found, 3, lambda b, o=options: theorem.estimate(b, policy, states, **o)),
            brute,
            atol=1e-12,
        )
    assert float(theorem.batch_expectation(found, 8, lambda b: np.array(1.0))) == pytest.approx(1.0)
    single = theorem.expectation(found, lambda t: theorem.estimate([t], policy, states))
    np.testing.assert_allclose(
        theorem.batch_expectation(found, 8, lambda b: theorem.estimate(b, policy, states)), single, atol=1e-12
    )


def test_mean_over_steps_is_a_scale_per_batch(case):
    _, _, _, policy, states, found = case
    batch = found[: min(4, len(found))]
    steps = sum(len(t.actions) for t in batch)
    np.testing.assert_allclose(
        theorem.estimate(batch, policy, states, loss_reduction="mean"),
        theorem.estimate(batch, policy, states) * len(batch) / steps,
    )


def test_gaussian_gradient_is_the_finite_difference_of_j():
    game, horizon = theorem.make_game("PGToy-v0", continuous=True)
    states = [(2, 1), (1, 0), (2, 0)]
    means = {s: mu for s, (mu, _) in WALKTHROUGH_GAUSSIAN.items()}
    sigma = 0.7

    def j(means, log_sigma):
        return exact.expected_return(
            game, gaussian_policy({s: (means[s], math.exp(log_sigma)) for s in states}), horizon=horizon
        )

    p_right = {s: 0.5 * math.erfc(-means[s] / sigma / math.sqrt(2)) for s in states}
    analysis = exact.analyze(game, {s: (1 - p, p) for s, p in p_right.items()}, horizon=horizon)
    d_means, d_log_sigma = theorem.gaussian_gradient(analysis, means, sigma, states)
    h = 1e-6
    for i, state in enumerate(states):
        up, down = dict(means), dict(means)
        up[state] += h
        down[state] -= h
        numeric = (j(up, math.log(sigma)) - j(down, math.log(sigma))) / (2 * h)
        assert d_means[i] == pytest.approx(numeric, abs=1e-6)
    numeric = (j(means, math.log(sigma) + h) - j(means, math.log(sigma) - h)) / (2 * h)
    assert d_log_sigma == pytest.approx(numeric, abs=1e-6)

    e_means, e_log_sigma = theorem.gaussian_score_expectation(analysis, means, sigma, states)
    np.testing.assert_allclose(e_means, d_means, atol=1e-6)
    assert e_log_sigma == pytest.approx(d_log_sigma, abs=1e-6)
    c_means, _ = theorem.gaussian_score_expectation(analysis, means, sigma, states, clipped=True)
    assert np.abs(c_means - d_means).max() > 0.05  # the clipped action's score is biased


def test_every_step_prints_and_the_cli_names_bad_steps(capsys):
    theorem.main([])
    out = capsys.readouterr().out
    assert "J = sum of P(tau) R(tau) = 2.6360" in out
    theorem.main(["return"])
    assert capsys.readouterr().out.strip() == theorem.step_return()
    with pytest.raises(SystemExit) as raised:
        theorem.cli(["bogus"])
    assert raised.value.code == 2
    assert "unknown step 'bogus'" in capsys.readouterr().err


def test_the_page_shows_what_the_steps_print():
    """Every results block of docs/theorem.md is the current output of its command (exact numbers, no sampling)."""
    text = (DOCS / "theorem.md").read_text()
    blocks = re.findall(
        r"<!-- results: python -m reinforce_sb3\.analysis\.theorem (.*?) -->\n(.*?)<!-- /results -->", text, re.S
    )
    assert {name for args, _ in blocks for name in args.split()} == set(theorem.STEPS)
    for args, output in blocks:
        expected = "\n\n".join(theorem.STEPS[name]() for name in args.split())
        assert output.strip() == expected.strip(), f"the block of {args!r} is out of date: run make figures"


def test_measured_defaults_and_the_mean_baseline_that_does_nothing(capsys):
    """--measured samples every estimator of MEASURED_ESTIMATORS; with normalized returns, baseline="mean" gives
    exactly the rows of normalized returns alone (standardising subtracts the mean again)."""
    theorem.main(["--measured", "--n-episodes", "4", "--n-batches", "3", "--seed", "1"])
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in capsys.readouterr().out.splitlines()}
    for name, _ in (*theorem.MEASURED_ESTIMATORS, *theorem.MEASURED_DISCOUNT):
        assert name in rows, name
    assert rows["batch-mean baseline and normalized returns"] == rows["normalized returns"]
    assert rows["batch-mean baseline"] != rows["textbook: raw returns, sum / episodes"]
    with pytest.raises(SystemExit):
        theorem.cli(["--measured", "loss"])
    assert "name no step with it" in capsys.readouterr().err
