"""Point estimates over seeds with a bootstrap confidence interval, as rliable reports them.

Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice" (NeurIPS
2021), recommend the interquartile mean (IQM) or the median over runs, each with a stratified
bootstrap confidence interval, instead of a mean and standard deviation over a handful of seeds;
rliable implements it and the zoo's plots use it. Every table of this package has one task per
row, so the stratified bootstrap is the plain bootstrap over that row's seeds: resample the seeds
with replacement, compute the statistic of each resample, and take the percentiles of those
statistics (rliable's default, the percentile method).

Pure numpy (no scipy in the environment, and no new dependency): every statistic takes an array
of shape ``(..., n)`` and reduces its last axis, so that all resamples are computed at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]
"""A statistic over runs: reduces the last axis of an array of shape ``(..., n)``."""

N_RESAMPLES = 2000
"""Bootstrap resamples per interval: the bounds move by less than a tenth of the width between seeds."""


def iqm(values: np.ndarray | Sequence[float]) -> np.ndarray:
    """
    The interquartile mean along the last axis: the mean of the middle half of the sorted values.

    As rliable defines it (``scipy.stats.trim_mean(values, 0.25)``): ``k = floor(n / 4)`` values are
    cut from each end, so with fewer than 4 values it is the plain mean. Infinite values are
    allowed (an unsolved run counts as infinitely slow); NaN is not.

    :param values: shape ``(..., n)`` with ``n >= 1``
    :return: shape ``(...)`` (a 0-d array for one row of values)
    """
    array = _finite_or_infinite("values", values, minimum=1)
    n = array.shape[-1]
    cut = n // 4
    middle = np.sort(array, axis=-1)[..., cut : n - cut]
    return np.asarray(middle.mean(axis=-1))


def median(values: np.ndarray | Sequence[float]) -> np.ndarray:
    """The median along the last axis (of shape ``(..., n)``, ``n >= 1``); infinite values allowed, NaN not."""
    array = _finite_or_infinite("values", values, minimum=1)
    return np.asarray(np.median(array, axis=-1))


STATISTICS: dict[str, Statistic] = {"iqm": iqm, "median": median}


def interval(
    values: np.ndarray | Sequence[float],
    statistic: Statistic = iqm,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> tuple[float, float, float]:
    """
    The statistic of ``values`` and its percentile-bootstrap confidence interval.

    The interval's bounds are order statistics of the resampled statistics (no interpolation, so
    infinite values give infinite bounds rather than NaN).

    :param values: one number per run (seed), at least 2
    :param statistic: :func:`iqm`, :func:`median` or any function reducing the last axis
    :param confidence: the interval's coverage, strictly between 0 and 1
    :param seed: the seed of the resampling, so that a table is reproducible
    :param n_resamples: the number of bootstrap resamples, at least 1
    :return: ``(point, low, high)``
    :raises ValueError: fewer than 2 values, a NaN, a confidence outside (0, 1), or n_resamples below 1
    """
    array = _finite_or_infinite("values", values, minimum=2)
    if array.ndim != 1:
        raise ValueError(f"values must be one number per run (a flat sequence), got shape {array.shape}")
    if not isinstance(confidence, (int, float)) or isinstance(confidence, bool) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number strictly between 0 and 1, got {confidence!r}")
    if not isinstance(n_resamples, (int, np.integer)) or isinstance(n_resamples, bool) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an integer of at least 1, got {n_resamples!r}")
    point_array = np.asarray(statistic(array))
    if point_array.shape != ():
        raise ValueError(f"statistic must reduce the last axis: got shape {point_array.shape} from {array.shape}")
    point = float(point_array)
    rng = np.random.default_rng(seed)
    resamples = array[rng.integers(0, len(array), size=(int(n_resamples), len(array)))]
    estimates = np.sort(np.asarray(statistic(resamples), dtype=np.float64))
    if estimates.shape != (n_resamples,):
        raise ValueError(f"statistic must reduce the last axis: got shape {estimates.shape} from {resamples.shape}")
    tail = (1.0 - confidence) / 2.0
    low = float(estimates[math.floor(tail * n_resamples)])
    high = float(estimates[max(math.ceil((1.0 - tail) * n_resamples) - 1, 0)])
    return point, low, high


def describe(values: np.ndarray | Sequence[float], statistic: str = "iqm", fmt: str = "{:.1f}", seed: int = 0) -> str:
    """
    A table cell: the statistic and its 95% interval, "12.3 [11.0, 13.1]"; the statistic alone for one value.

    :param statistic: a key of :data:`STATISTICS` ("iqm" or "median")
    :param fmt: the format of each number (an infinite one is written "∞", "-∞")
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {sorted(STATISTICS)}, got {statistic!r}")
    function = STATISTICS[statistic]
    array = _finite_or_infinite("values", values, minimum=1)
    if array.size == 1:
        return _number(float(function(array)), fmt)
    point, low, high = interval(array, function, seed=seed)
    return f"{_number(point, fmt)} [{_number(low, fmt)}, {_number(high, fmt)}]"


def _number(value: float, fmt: str) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return fmt.format(value)


def _finite_or_infinite(name: str, values: np.ndarray | Sequence[float], minimum: int) -> np.ndarray:
    """``values`` as a float array with at least ``minimum`` entries on its last axis, and no NaN."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, got {values!r}") from None
    count = array.shape[-1] if array.ndim else 0
    if count < minimum:
        raise ValueError(f"{name} must hold at least {minimum} number(s) per row, got {count}: {values!r}")
    if np.isnan(array).any():
        raise ValueError(f"{name} must not be NaN, got {values!r}")
    return array
