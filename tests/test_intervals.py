"""The statistics of the benchmark tables: the IQM and the median over seeds, with a bootstrap interval, by hand."""

import math

import numpy as np
import pytest

from benchmarks.intervals import describe, interval, iqm, median


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5.0], 5.0),
        ([1.0, 3.0], 2.0),  # fewer than 4 values: nothing is cut, the plain mean
        ([1.0, 2.0, 9.0], 4.0),
        ([10.0, 1.0, 3.0, 2.0], 2.5),  # n = 4: one cut from each end, mean of 2 and 3
        ([100.0, 1.0, 2.0, 3.0, -50.0], 2.0),  # n = 5: one cut from each end, mean of 1, 2, 3
        ([8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0], 4.5),  # n = 8: two cut from each end, mean of 3, 4, 5, 6
        ([2.0, 0.0, 1.0, 100.0, 1.0, 1.0, 2.0, 0.0, 2.0, 1.0], 8 / 6),  # n = 10: two cut each end: 1, 1, 1, 1, 2, 2
    ],
)
def test_iqm_of_known_arrays(values, expected):
    assert float(iqm(values)) == pytest.approx(expected)


def test_iqm_and_median_reduce_the_last_axis():
    values = np.array([[1.0, 2.0, 3.0, 40.0], [4.0, 4.0, 4.0, 4.0]])
    np.testing.assert_allclose(iqm(values), [2.5, 4.0])
    np.testing.assert_allclose(median(values), [2.5, 4.0])


def test_an_infinite_value_is_cut_by_the_iqm_and_counts_in_the_median():
    """An unsolved run counts as infinitely slow: the IQM of five runs cuts it, the median of two takes it."""
    assert float(iqm([1.0, 2.0, 3.0, 4.0, math.inf])) == pytest.approx(3.0)
    assert math.isinf(float(median([1.0, math.inf])))


def test_interval_contains_the_point_and_lies_within_the_values():
    values = np.random.default_rng(1).normal(10.0, 2.0, size=10)
    for statistic in (iqm, median):
        point, low, high = interval(values, statistic)
        assert point == pytest.approx(float(statistic(values)))
        assert values.min() <= low < point < high <= values.max()


def test_a_higher_confidence_gives_a_wider_interval():
    values = np.random.default_rng(2).normal(0.0, 1.0, size=12)
    _, low_80, high_80 = interval(values, confidence=0.8)
    _, low_99, high_99 = interval(values, confidence=0.99)
    assert low_99 < low_80 and high_80 < high_99


def test_interval_is_reproducible_with_a_seed_and_changes_without_it():
    values = np.random.default_rng(3).normal(0.0, 1.0, size=10)
    assert interval(values, seed=7) == interval(values, seed=7)
    assert interval(values, seed=7)[1:] != interval(values, seed=8)[1:]


def test_constant_values_give_a_degenerate_interval():
    assert interval([4.2] * 5) == (4.2, 4.2, 4.2)
    assert interval([4.2] * 5, median) == (4.2, 4.2, 4.2)


def test_infinite_values_give_infinite_bounds_not_nan():
    point, low, high = interval([1000.0, 2000.0, math.inf, math.inf], median)
    assert math.isinf(point) and math.isinf(high) and low == 1000.0


def test_two_values_bootstrap_to_their_resamples():
    """Resamples of (a, b) are (a, a), (a, b), (b, a) and (b, b): the interval spans a to b."""
    assert interval([1.0, 3.0]) == (2.0, 1.0, 3.0)


@pytest.mark.parametrize(
    ("values", "options", "message"),
    [
        ([1.0], {}, r"values must hold at least 2 number\(s\) per row, got 1"),
        ([], {}, "values must hold at least 2"),
        ([1.0, float("nan")], {}, "values must not be NaN"),
        (["a", "b"], {}, "values must be numbers"),
        ([[1.0, 2.0], [3.0, 4.0]], {}, "values must be one number per run"),
        ([1.0, 2.0], {"confidence": 1.0}, "confidence must be a number strictly between 0 and 1, got 1.0"),
        ([1.0, 2.0], {"confidence": 0}, "confidence must be a number strictly between 0 and 1"),
        ([1.0, 2.0], {"n_resamples": 0}, "n_resamples must be an integer of at least 1, got 0"),
        ([1.0, 2.0], {"statistic": np.sort}, "statistic must reduce the last axis"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(values, options, message):
    with pytest.raises(ValueError, match=message):
        interval(values, **options)


def test_describe_writes_the_cell_of_a_table():
    values = [2.0, 4.0, 6.0, 8.0]
    point, low, high = interval(values)
    assert describe(values) == f"{point:.1f} [{low:.1f}, {high:.1f}]"
    assert describe([3.0]) == "3.0"  # one seed: no interval
    assert describe([1.0, math.inf], "median", "{:,.0f}") == "∞ [1, ∞]"
    with pytest.raises(ValueError, match=r"statistic must be one of \['iqm', 'median'\], got 'mean'"):
        describe(values, "mean")
