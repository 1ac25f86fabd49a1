"""The diagnostics agree with gym_pgtoy.exact: the two forms give one gradient, the estimate converges to the truth."""

import numpy as np
import pytest
from stable_baselines3 import A2C

from reinforce_sb3 import REINFORCE
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


def test_bad_sizes():
    with pytest.raises(ValueError, match="n_batches >= 2"):
        compare_estimators(REINFORCE("MlpPolicy", "PGToy-v0"), n_batches=1)


def test_command_line(capsys):
    main(["--env", "PGToy-v0", "--n-episodes", "4", "--n-batches", "3"])
    out = capsys.readouterr().out
    assert "against the exact gradient" in out
    for estimator in ESTIMATORS:
        assert f"| {estimator.name} |" in out


def test_learning_speed_table():
    from reinforce_sb3.analysis.diagnostics import LEARNING_ESTIMATORS, format_learning_table, learning_speed

    results = learning_speed("PGToy-v0", LEARNING_ESTIMATORS[:2], seeds=[0, 1], timesteps=3000, threshold=10.5)
    assert [r.estimator for r in results] == list(LEARNING_ESTIMATORS[:2])
    for result in results:
        assert len(result.steps_to_threshold) == 2 and len(result.final_returns) == 2
        for steps, final in zip(result.steps_to_threshold, result.final_returns, strict=True):
            assert steps is None or 0 < steps <= 3000
            assert 0 < final <= 11.0
    table = format_learning_table(results, 10.5)
    assert "| log-prob, reward-to-go, sum/episodes | " in table and "seeds reaching 10.5" in table
