"""Learning speed on the exact expected return: ExactReturnCallback, learning_curves, learning_speed."""

import pytest

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis.learning import (
    LEARNING_ESTIMATORS,
    ExactReturnCallback,
    format_learning_table,
    learning_curves,
    learning_speed,
)


def test_the_callback_records_the_exact_return_after_every_update():
    model = REINFORCE("MlpPolicy", "PGToy-v0", n_episodes=4, seed=0, device="cpu")
    callback = ExactReturnCallback("PGToy-v0")
    model.learn(200, callback=callback)
    assert callback.timesteps[0] == 0 and callback.timesteps == sorted(callback.timesteps)
    assert len(callback.returns) == len(callback.timesteps) == model._n_updates + 1
    assert callback.returns[-1] == pytest.approx(exact.expected_return("PGToy-v0", model))


def test_the_callback_refuses_a_model_of_another_variant():
    model = REINFORCE("MlpPolicy", "SlipperyHill-v0", seed=0, device="cpu")
    with pytest.raises(ValueError, match="analyse a policy on the game variant it was trained on"):
        model.learn(100, callback=ExactReturnCallback("PGToy-v0"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timesteps": -5}, "timesteps must be an integer >= 1, got -5"),
        ({"timesteps": 0}, "timesteps must be an integer >= 1, got 0"),
        ({"seeds": []}, "seeds must hold at least one seed"),
    ],
)
def test_bad_budgets(kwargs, message):
    with pytest.raises(ValueError, match=message):
        learning_curves("PGToy-v0", **kwargs)


def test_learning_speed_table():
    results = learning_speed("PGToy-v0", LEARNING_ESTIMATORS[:2], seeds=[0, 1], timesteps=1500, threshold=10.5)
    assert [r.estimator for r in results] == list(LEARNING_ESTIMATORS[:2])
    for result in results:
        assert len(result.steps_to_threshold) == 2 and len(result.final_returns) == 2
        for steps, final in zip(result.steps_to_threshold, result.final_returns, strict=True):
            assert steps is None or 0 < steps <= 1500
            assert 0 < final <= 11.0
    table = format_learning_table(results, 10.5)
    assert "| log-prob, reward-to-go, sum/episodes | " in table and "seeds reaching 10.5" in table
    assert table.count("\n") == 1 + len(results)
