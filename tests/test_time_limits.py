"""Time limits on the tree game: truncation="end" is unbiased for the gradient of the time-limited objective J_H,
"bootstrap_mean" is not, and neither estimates the gradient without the limit (the figures of docs/reinforce.md's
"Time limits", with the same budget and seed)."""

import numpy as np
import pytest

from reinforce_sb3.analysis.time_limits import NO_LIMIT, compare_truncations, main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TIME_LIMIT = 5
# the command of docs/reinforce.md: python -m reinforce_sb3.analysis.time_limits --env SlipperyHill-v0
# --max-episode-steps 5 --n-batches 300 (16 episodes a batch, seed 0)
DOCS_BUDGET = {"env_id": "SlipperyHill-v0", "max_episode_steps": TIME_LIMIT, "n_batches": 300, "seed": 0}


@pytest.fixture(scope="module")
def results():
    return {result.truncation: result for result in compare_truncations(**DOCS_BUDGET)}


def test_end_is_unbiased_for_the_time_limited_objective(results):
    check = results["end"].checks[TIME_LIMIT]
    assert check.cosine > 0.999
    assert check.relative_error < 3 * check.noise_floor


def test_bootstrap_mean_is_biased_for_the_time_limited_objective(results):
    check = results["bootstrap_mean"].checks[TIME_LIMIT]
    assert check.relative_error > 5 * check.noise_floor


def test_neither_choice_estimates_the_gradient_without_the_limit(results):
    end, bootstrapped = (results[truncation].checks[NO_LIMIT] for truncation in ("end", "bootstrap_mean"))
    assert end.relative_error > 10 * end.noise_floor
    assert bootstrapped.relative_error > 10 * bootstrapped.noise_floor
    # a constant is no stand-in for the value of the state the limit cut: here it is the farther of the two
    assert bootstrapped.relative_error > end.relative_error


def test_both_choices_estimate_on_the_same_often_truncated_episodes(results):
    """Same seed, learning rate 0: the same episodes, whatever their returns; "end" keeps no bootstrap value."""
    end, bootstrapped = results["end"], results["bootstrap_mean"]
    assert end.truncated_share == bootstrapped.truncated_share > 0.2
    assert end.bootstrap_value == 0.0 and bootstrapped.bootstrap_value != 0.0


def test_no_limit_is_as_good_as_none_for_the_measured_policy():
    (result, _) = compare_truncations(**{**DOCS_BUDGET, "n_batches": 2}, horizons=[NO_LIMIT, 2 * NO_LIMIT])
    np.testing.assert_allclose(result.checks[NO_LIMIT].exact, result.checks[2 * NO_LIMIT].exact, rtol=1e-9)


def test_the_command_prints_a_row_per_choice_and_objective(capsys):
    main(["--env", "PGToy-v0", "--n-batches", "2", "--n-episodes", "4"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| end") or line.startswith("| bootstrap_mean")]
    assert len(rows) == 6 and "J_3 (time limit)" in rows[0] and "J_1000 (no limit)" in rows[2]
    assert "2 batches of 4 episodes each, time limit 3" in out


def test_an_env_outside_the_tree_game_is_refused_before_any_training():
    with pytest.raises(ValueError, match=r"env_id must be an id of the tree game .*, got 'CartPole-v1'"):
        compare_truncations("CartPole-v1", n_batches=2)
