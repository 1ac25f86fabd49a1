"""The diagnostics agree with gym_pgtoy.exact: the two forms give one gradient, the estimate converges to the truth."""

import time

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C

from gym_pgtoy import LEFT, RIGHT
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis import diagnostics, sampling
from reinforce_sb3.analysis.diagnostics import (
    ESTIMATORS,
    Estimator,
    check_gradient,
    compare_estimators,
    format_table,
    main,
)


@pytest.fixture(scope="module")
def model():
    return REINFORCE("MlpPolicy", "PGToy-v0", seed=0, device="cpu", policy_kwargs=dict(net_arch=[16], ortho_init=False))


def test_log_prob_and_ratio_forms_give_the_same_gradient(model):
    log_prob, ratio = compare_estimators(model, "PGToy-v0", n_episodes=16, n_batches=5, estimators=ESTIMATORS[:2])
    assert log_prob.estimator.ratio_form is False and ratio.estimator.ratio_form is True
    np.testing.assert_allclose(ratio.estimates, log_prob.estimates, rtol=1e-5, atol=1e-7)


def test_the_sampled_estimate_converges_to_the_exact_gradient(model):
    few = check_gradient(model, "PGToy-v0", n_episodes=20, n_batches=5, seed=1)
    many = check_gradient(model, "PGToy-v0", n_episodes=20, n_batches=300, seed=1)
    assert many.relative_error < few.relative_error
    assert many.relative_error < 0.05 and many.cosine > 0.99
    # the per-parameter variance of one batch's estimate is that of a mean of 20 episodes: it shrinks like 1/n
    larger = check_gradient(model, "PGToy-v0", n_episodes=80, n_batches=75, seed=2)
    ratio = many.relative_variance / larger.relative_variance
    assert 2 < ratio < 8  # 4 expected
    assert many.variance.shape == many.exact.shape


def test_variants_on_slippery_hill(model):
    """Unbiased variants land on the exact gradient; normalisation and the mean over steps rescale it."""
    slippery = REINFORCE("MlpPolicy", "SlipperyHill-v0", seed=0, policy_kwargs=dict(net_arch=[16], ortho_init=False))
    checks = {
        c.estimator.name: c for c in compare_estimators(slippery, "SlipperyHill-v0", n_episodes=16, n_batches=150)
    }
    for name in ("log-prob, reward-to-go, sum/episodes", "whole-episode return"):
        assert checks[name].relative_error < 0.1 and checks[name].cosine > 0.99
    for name in ("normalized returns", "mean over steps"):
        assert checks[name].cosine > 0.9  # about the same direction ...
        assert checks[name].relative_error > 0.2  # ... at another scale
    # reward-to-go drops the terms of rewards that came before each action: less variance
    assert (
        checks["log-prob, reward-to-go, sum/episodes"].relative_variance
        < checks["whole-episode return"].relative_variance
    )
    table = format_table(list(checks.values()))
    assert table.count("\n| ") == len(ESTIMATORS) + 1 - 1 and "150 batches of 16 episodes" in table


def test_any_sb3_policy():
    a2c = A2C("MlpPolicy", "PGToy-v0", seed=0, device="cpu")
    check = check_gradient(
        a2c, "PGToy-v0", n_episodes=10, n_batches=30, estimator=Estimator("value baseline", baseline="value")
    )
    assert check.cosine > 0.9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_episodes": 0}, r"n_episodes must be an integer in \[1, 100_000\], got 0"),
        ({"n_batches": 1}, r"n_batches must be an integer in \[2, 100_000\], got 1"),
        ({"n_batches": 2.5}, r"n_batches must be an integer in \[2, 100_000\], got 2.5"),
        ({"n_episodes": 1000, "n_batches": 101}, "n_episodes x n_batches = 1000 x 101 = 101,000 episodes, more than"),
        ({"estimators": []}, "estimators must hold at least one Estimator"),
        ({"gamma": 1.5}, r"gamma must be in \[0, 1\]"),
    ],
)
def test_bad_sizes_fail_fast(model, kwargs, message):
    """Each limit is a ValueError before any episode is sampled."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        compare_estimators(model, **{"env": "PGToy-v0", **kwargs})
    assert time.perf_counter() - start < 5.0


def test_the_stored_estimates_are_bounded(model):
    """n_batches x parameters x estimators may not exceed MAX_ESTIMATE_VALUES (checked before sampling)."""
    per_batch = sum(p.numel() for p in model.policy.parameters()) * len(ESTIMATORS)
    n_batches = diagnostics.MAX_ESTIMATE_VALUES // per_batch + 1
    assert n_batches <= diagnostics.MAX_EPISODES  # so that this limit, not the episodes', is the one hit
    with pytest.raises(ValueError, match=f"= {n_batches * per_batch:,} estimate values, more than the 50,000,000"):
        compare_estimators(model, "PGToy-v0", n_episodes=1, n_batches=n_batches)


def oscillating_policy(env):
    """A REINFORCE policy that goes left on the hilltop and right on the hillside (all but surely): without
    slips no episode ends before the time limit."""
    model = REINFORCE("MlpPolicy", env, seed=0, device="cpu", policy_kwargs={"net_arch": []})
    with torch.no_grad():  # the features are one-hot: cells 0..3, then the diamond
        model.policy.action_net.weight.zero_()
        model.policy.action_net.bias.zero_()
        model.policy.action_net.weight[RIGHT, 1] = 50.0
        model.policy.action_net.weight[LEFT, 2] = 50.0
    return model.policy


def test_the_sampled_steps_are_bounded(monkeypatch):
    """Episodes that run long (here: a time limit of 50 steps, a budget of 60) stop at MAX_SAMPLED_STEPS."""
    monkeypatch.setattr(sampling, "MAX_SAMPLED_STEPS", 60)
    env = gym.make("PGToy-v0", slip_prob=0.0, max_episode_steps=50)
    assert [len(r) for *_, r in diagnostics.sample_episodes(oscillating_policy(env), env, n_episodes=1)] == [50]
    with pytest.raises(ValueError, match="the sampled episodes reached 60 steps in all"):
        diagnostics.sample_episodes(oscillating_policy(env), env, n_episodes=2)


@pytest.mark.parametrize(
    ("trained_on", "analysed_on"), [("PGToy-v0", "SlipperyHill-v0"), ("SlipperyHill-v0", "PGToy-v0")]
)
def test_a_model_of_another_variant_is_refused(trained_on, analysed_on):
    other = REINFORCE("MlpPolicy", trained_on, seed=0, device="cpu")
    for call in (
        lambda: check_gradient(other, analysed_on, n_episodes=2, n_batches=2),
        lambda: diagnostics.sample_episodes(other.policy, analysed_on, n_episodes=1),
    ):
        with pytest.raises(ValueError, match=r"policy was made for observation_space=MultiDiscrete.*but the env has"):
            call()
    longer = gym.make("SlipperyHill-v0", hill_length=4)
    with pytest.raises(ValueError, match="analyse a policy on the game variant it was trained on"):
        check_gradient(other, longer, n_episodes=2, n_batches=2)


def test_a_policy_must_be_an_sb3_policy():
    with pytest.raises(TypeError, match="policy must be an SB3 model or policy, got dict"):
        compare_estimators({(2, 1): (0.5, 0.5)}, "PGToy-v0")


def test_command_line(capsys):
    main(["--env", "PGToy-v0", "--n-episodes", "4", "--n-batches", "3", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "against the exact gradient" in out
    for estimator in ESTIMATORS:
        assert f"| {estimator.name} |" in out


def test_command_line_on_the_continuous_variant(capsys):
    main(["--continuous", "--n-episodes", "3", "--n-batches", "2"])
    out = capsys.readouterr().out
    assert "on PGToy-v0 (continuous=True) against the exact gradient" in out
    assert out.count("| leave-one-out baseline |") == 1


def test_the_learning_tools_are_re_exported():
    """ExactReturnCallback moved to reinforce_sb3.analysis.learning and is still importable from the diagnostics."""
    from reinforce_sb3.analysis import learning
    from reinforce_sb3.analysis.diagnostics import ExactReturnCallback

    assert ExactReturnCallback is learning.ExactReturnCallback
