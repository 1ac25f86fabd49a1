import math
import time

import gymnasium as gym
import numpy as np
import pytest
import torch

import gym_pgtoy
from gym_pgtoy import LEFT, RIGHT, SlipperyHillEnv, exact
from gym_pgtoy.exact import MAX_STATE_STEPS

gym.register_envs(gym_pgtoy)

# The policy of the walk-through: P(left) = 0.7 at (2,1), 0.4 at (1,0), 0.8 at (2,0).
WALKTHROUGH = {(2, 1): (0.7, 0.3), (1, 0): (0.4, 0.6), (2, 0): (0.8, 0.2)}
assert exact.WALKTHROUGH_POLICY == WALKTHROUGH
ALWAYS_RIGHT = {(2, 1): (0.0, 1.0), (1, 0): (0.0, 1.0), (2, 0): (0.0, 1.0)}


def random_policy(env, seed):
    """A random stochastic policy over every (cell, diamond) where a decision can be due."""
    rng = np.random.default_rng(seed)
    game = env.unwrapped
    return {
        (cell, diamond): tuple(rng.dirichlet([1.0, 1.0])) for cell in range(1, game.hilltop + 1) for diamond in (0, 1)
    }


def test_walkthrough_expected_return():
    assert exact.expected_return("PGToy-v0", WALKTHROUGH) == pytest.approx(2.636, abs=1e-12)


def test_walkthrough_action_probability_gradient():
    gradient = exact.action_probability_gradient("PGToy-v0", WALKTHROUGH)
    assert set(gradient) == set(WALKTHROUGH)
    np.testing.assert_allclose(gradient[(2, 1)], [-0.52, 10.0], atol=1e-12)
    np.testing.assert_allclose(gradient[(1, 0)], [-7.0, 0.56], atol=1e-12)
    np.testing.assert_allclose(gradient[(2, 0)], [0.0, 3.78], atol=1e-12)


def test_walkthrough_reach_and_q_values():
    """Each partial derivative is P(reach the node) times the expected return after the action."""
    analysis = exact.analyze("PGToy-v0", WALKTHROUGH)
    assert analysis.reach == [{(2, 1): 1.0}, {(1, 0): pytest.approx(0.7)}, {(2, 0): pytest.approx(0.7 * 0.6 * 0.9)}]
    np.testing.assert_allclose(analysis.q_values[0][(2, 1)], [-0.52, 10.0])
    np.testing.assert_allclose(analysis.q_values[1][(1, 0)], [-10.0, 0.1 * -10 + 0.9 * (0.2 * 10)])
    np.testing.assert_allclose(analysis.q_values[2][(2, 0)], [0.0, 10.0])  # left at the third step: truncated
    np.testing.assert_allclose(analysis.policy[(1, 0)], [0.4, 0.6])


def test_pgtoy_optimum_and_the_trap():
    solution = exact.solve("PGToy-v0")
    assert solution.expected_return == pytest.approx(11.0)
    assert exact.optimal_return("PGToy-v0") == pytest.approx(11.0)
    assert solution.policy == {(2, 1): (1.0, 0.0), (1, 0): (0.0, 1.0), (2, 0): (0.0, 1.0)}  # left, right, right
    assert solution.actions == [{(2, 1): LEFT}, {(1, 0): RIGHT}, {(2, 0): RIGHT}]
    assert exact.expected_return("PGToy-v0", ALWAYS_RIGHT) == 10.0
    assert exact.expected_return("PGToy-v0", solution.policy) == pytest.approx(11.0)


def test_discounted_optimal_path_by_hand():
    """gamma = 0.9 on left, right, right: 3 + 0.9 (0.1 * -10) + 0.81 (0.9 * 10) = 9.39."""
    optimal_path = {(2, 1): (1.0, 0.0), (1, 0): (0.0, 1.0), (2, 0): (0.0, 1.0)}
    assert exact.expected_return("PGToy-v0", optimal_path, gamma=0.9) == pytest.approx(9.39)
    assert exact.optimal_return("PGToy-v0", gamma=0.9) == pytest.approx(10.0)  # discounting makes the flag best


def test_discounted_gradient_by_hand():
    """gamma = 0.5: dJ/dpi(a|s) = gamma^t P(s_t = s) Q_t(s, a), with Q_t discounted to time t."""
    gradient = exact.action_probability_gradient("PGToy-v0", WALKTHROUGH, gamma=0.5)
    # Q_2(2,0) = [0, 10], reached with 0.378 at t = 2
    np.testing.assert_allclose(gradient[(2, 0)], [0.0, 0.25 * 0.378 * 10])
    # Q_1(1,0) = [-10, 0.1 * -10 + 0.9 * 0.5 * (0.2 * 10)], reached with 0.7 at t = 1
    np.testing.assert_allclose(gradient[(1, 0)], [0.5 * 0.7 * -10, 0.5 * 0.7 * -0.1])


def test_short_horizon_by_hand():
    """Horizon 2 cuts the walk-through game after two steps: 0.3 * 10 + 0.7 * (3 - 4 - 0.6) = 1.88."""
    assert exact.expected_return("PGToy-v0", WALKTHROUGH, horizon=2) == pytest.approx(1.88)
    assert exact.expected_return(gym.make("PGToy-v0", max_episode_steps=2), WALKTHROUGH) == pytest.approx(1.88)
    assert exact.optimal_return("PGToy-v0", horizon=1) == 10.0
    assert exact.optimal_return("PGToy-v0", horizon=2) == 10.0


def test_longer_hill_by_hand():
    """H = 2, slip 0.2: down for the diamond (+3), then climb. From (1,0), V1 = 0.8 V2 - 2 and
    V2 = 8 + 0.2 V1, so V1 = 4.4 / 0.84; a horizon of 200 steps leaves a negligible tail."""
    env = gym.make("SlipperyHill-v0", hill_length=2, slip_prob=0.2, max_episode_steps=200)
    policy = {(3, 1): (1, 0), (2, 1): (1, 0), (1, 0): (0, 1), (2, 0): (0, 1), (3, 0): (0, 1)}
    assert exact.expected_return(env, policy) == pytest.approx(3 + 4.4 / 0.84, abs=1e-12)


def test_always_left_on_a_longer_hill():
    env = gym.make("SlipperyHill-v0", hill_length=4, slip_prob=0.5)
    always_left = {state: (1.0, 0.0) for state in random_policy(env, 0)}
    assert exact.expected_return(env, always_left) == pytest.approx(3 - 10)


def test_custom_rewards():
    env = gym.make("PGToy-v0", diamond_reward=5.0, flag_reward=1.0, pit_reward=-2.0)
    optimal_path = {(2, 1): (1.0, 0.0), (1, 0): (0.0, 1.0), (2, 0): (0.0, 1.0)}
    assert exact.expected_return(env, optimal_path) == pytest.approx(5 + 0.1 * -2 + 0.9 * 1)


def test_slippery_hill_optimum_needs_the_risky_path():
    solution = exact.solve("SlipperyHill-v0")
    assert solution.expected_return == pytest.approx(10.7804, abs=1e-4)
    always_right = {state: (0.0, 1.0) for state in solution.policy}
    assert exact.expected_return("SlipperyHill-v0", always_right) == 10.0
    # the stationary optimum: down to the diamond, then always up
    assert solution.policy == {(c, d): (1.0, 0.0) if d else (0.0, 1.0) for c, d in solution.policy}
    assert exact.expected_return("SlipperyHill-v0", solution.policy) == pytest.approx(solution.expected_return)
    # near the end of the episode there is no time left for the diamond: the best action depends on the time
    assert solution.actions[0][(4, 1)] == LEFT
    assert solution.actions[18][(4, 1)] == RIGHT


@pytest.mark.parametrize(("hill_length", "slip_prob", "horizon", "gamma"), [(1, 0.1, 3, 1.0), (3, 0.25, 12, 0.95)])
def test_gradient_matches_finite_differences(hill_length, slip_prob, horizon, gamma):
    """Moving probability from right to left changes J at the rate dJ/dpi(left|s) - dJ/dpi(right|s)."""
    env = gym.make("SlipperyHill-v0", hill_length=hill_length, slip_prob=slip_prob, max_episode_steps=horizon)
    policy = random_policy(env, seed=hill_length)
    gradient = exact.action_probability_gradient(env, policy, gamma=gamma)
    eps = 1e-6
    for state in gradient:
        p_left = policy[state][0]
        plus = {**policy, state: (p_left + eps, 1 - p_left - eps)}
        minus = {**policy, state: (p_left - eps, 1 - p_left + eps)}
        slope = (exact.expected_return(env, plus, gamma) - exact.expected_return(env, minus, gamma)) / (2 * eps)
        assert slope == pytest.approx(gradient[state][LEFT] - gradient[state][RIGHT], abs=1e-6)


@pytest.mark.parametrize(
    ("env_id", "kwargs", "policy_seed"),
    [("PGToy-v0", {}, None), ("SlipperyHill-v0", {"slip_prob": 0.3}, 3)],
)
def test_monte_carlo_agrees_with_expected_return(env_id, kwargs, policy_seed):
    """The mean return of sampled episodes lies within 4 standard errors of the exact value."""
    env = gym.make(env_id, **kwargs)
    policy = WALKTHROUGH if policy_seed is None else random_policy(env, policy_seed)
    rng = np.random.default_rng(0)
    returns = []
    for episode in range(10_000):
        obs, _ = env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(rng.random() >= policy[tuple(obs.tolist())][0]))
            total += reward
            done = terminated or truncated
        returns.append(total)
    standard_error = np.std(returns) / math.sqrt(len(returns))
    assert abs(np.mean(returns) - exact.expected_return(env, policy)) < 4 * standard_error


def test_policy_as_callable_and_env_as_instance():
    env = gym.make("PGToy-v0")

    def as_list(obs):
        return list(WALKTHROUGH[tuple(int(x) for x in obs)])

    def as_tensor(obs):
        return torch.tensor(WALKTHROUGH[tuple(int(x) for x in obs)])

    for policy in (as_list, as_tensor):
        assert exact.expected_return(env, policy) == pytest.approx(2.636)
    bare = SlipperyHillEnv(hill_length=1)
    assert exact.expected_return(bare, WALKTHROUGH, horizon=3) == pytest.approx(2.636)


def tabular_softmax(env, seed):
    """A torch policy with one pair of logits per (cell, diamond)."""
    n_cells = env.unwrapped.flag + 1
    logits = torch.nn.Parameter(
        torch.randn(n_cells, 2, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    )

    def probabilities(obs):
        return torch.softmax(logits[int(obs[0]), int(obs[1])], dim=-1)

    return logits, probabilities


def test_parameter_gradient_of_a_softmax_table():
    """For softmax logits, dJ/dlogit(s, a) = pi(a|s) (dJ/dpi(a|s) - sum_b pi(b|s) dJ/dpi(b|s))."""
    env = gym.make("SlipperyHill-v0", slip_prob=0.2, max_episode_steps=15)
    logits, probabilities = tabular_softmax(env, seed=0)
    (grad,) = exact.parameter_gradient(env, probabilities, [logits], gamma=0.97)
    analysis = exact.analyze(env, probabilities, gamma=0.97)
    expected = torch.zeros_like(logits)
    for (cell, diamond), g in analysis.gradient.items():
        pi = analysis.policy[(cell, diamond)]
        expected[cell, diamond] = torch.as_tensor(pi * (g - pi @ g))
    torch.testing.assert_close(grad, expected)
    assert grad.abs().sum() > 0
    assert grad[1, 1].abs().sum() == 0  # (1, 1) is never a decision state: J does not depend on it


def test_parameter_gradient_matches_finite_differences():
    env = gym.make("PGToy-v0")
    logits, probabilities = tabular_softmax(env, seed=1)
    (grad,) = exact.parameter_gradient(env, probabilities, [logits])
    eps = 1e-4
    with torch.no_grad():
        for index in [(2, 1, 0), (2, 1, 1), (1, 0, 0), (2, 0, 1)]:
            logits[index] += eps
            plus = exact.expected_return(env, probabilities)
            logits[index] -= 2 * eps
            minus = exact.expected_return(env, probabilities)
            logits[index] += eps
            assert (plus - minus) / (2 * eps) == pytest.approx(grad[index].item(), abs=1e-7)


def test_surrogate_gradient_for_any_callable_needs_parameters():
    _, probabilities = tabular_softmax(gym.make("PGToy-v0"), seed=0)
    with pytest.raises(ValueError, match="parameters must be given"):
        exact.parameter_gradient("PGToy-v0", probabilities)


@pytest.mark.parametrize(
    ("env", "kwargs", "error", "message"),
    [
        ("CartPole-v1", {}, TypeError, "env must be PGToy-v0, SlipperyHill-v0 or a SlipperyHillEnv"),
        (42, {}, TypeError, "env must be"),
        (SlipperyHillEnv(), {}, ValueError, "horizon is unknown"),
        ("PGToy-v0", {"horizon": 0}, ValueError, r"horizon must be an integer in \[1, 100_000\]"),
        ("PGToy-v0", {"horizon": 2.0}, ValueError, r"horizon must be an integer in \[1, 100_000\]"),
        ("PGToy-v0", {"horizon": 100_001}, ValueError, r"horizon must be an integer in \[1, 100_000\]"),
        (gym.make("PGToy-v0", max_episode_steps=10**9), {}, ValueError, r"by default the env's max_episode_steps"),
        (SlipperyHillEnv(hill_length=49), {"horizon": 10_001}, ValueError, r"10001 x 100 = 1,000,100 \(time, state\)"),
        (
            SlipperyHillEnv(hill_length=10_000),
            {"horizon": 50},
            ValueError,
            r"more than the 1,000,000 the exact analysis",
        ),
        ("NoSuchGame-v0", {}, gym.error.NameNotFound, "NoSuchGame"),
        ("PGToy-v0", {"gamma": 1.5}, ValueError, r"gamma must be in \[0, 1\]"),
        ("PGToy-v0", {"gamma": -0.1}, ValueError, r"gamma must be in \[0, 1\]"),
    ],
)
def test_bad_env_or_arguments(env, kwargs, error, message):
    with pytest.raises(error, match=message):
        exact.expected_return(env, WALKTHROUGH, **kwargs)


@pytest.mark.parametrize(
    ("policy", "error", "message"),
    [
        ({(2, 1): (0.5, 0.5)}, ValueError, r"no action probabilities for the decision states \[\(1, 0\), \(2, 0\)\]"),
        ({**WALKTHROUGH, (1, 0): (0.5, 0.6)}, ValueError, r"at state \(1, 0\)"),
        ({**WALKTHROUGH, (2, 0): (1.2, -0.2)}, ValueError, r"at state \(2, 0\)"),
        ({**WALKTHROUGH, (2, 0): (float("nan"), 1.0)}, ValueError, r"at state \(2, 0\)"),
        ({**WALKTHROUGH, (2, 1): (1.0,)}, ValueError, r"summing to 1; at state \(2, 1\)"),
        (lambda obs: 0.5, ValueError, r"summing to 1; at state"),
        (3.0, TypeError, "policy must be a dict, a callable or a policy an adapter knows"),
    ],
)
def test_bad_policies_are_clear_errors(policy, error, message):
    with pytest.raises(error, match=message):
        exact.expected_return("PGToy-v0", policy)


def test_demo_prints_the_walkthrough_numbers(capsys):
    from gym_pgtoy.__main__ import main

    main(["--seed", "0"])
    out = capsys.readouterr().out
    assert "exact expected return of this policy: 2.636" in out
    assert "at (2, 1): left -0.52, right +10.00" in out
    assert "at (1, 0): left -7.00, right +0.56" in out
    assert "at (2, 0): left +0.00, right +3.78" in out
    assert "optimal expected return: 11.000" in out


@pytest.mark.slow
def test_the_largest_analysis_allowed_is_fast():
    """At the limit of (time, state) pairs the analysis still finishes in seconds (about 5 s on one core)."""
    hill_length = MAX_STATE_STEPS // (2 * 10_000) - 1  # 49 cells: horizon 10_000 x 100 states
    start = time.perf_counter()
    value = exact.expected_return(
        SlipperyHillEnv(hill_length=hill_length), exact.uniform_policy(hill_length), horizon=10_000
    )
    assert time.perf_counter() - start < 60
    assert -10.0 < value < 10.0


def test_uniform_policy_by_hand():
    """Uniform on PGToy-v0: 0.5 * 10 + 0.5 * (3 + 0.5 * -10 + 0.5 * (0.1 * -10 + 0.9 * 0.5 * 10)) = 4.875."""
    policy = exact.uniform_policy(1)
    assert set(policy) == {(1, 0), (1, 1), (2, 0), (2, 1)}
    assert exact.expected_return("PGToy-v0", policy) == pytest.approx(4.875)
