"""The variants of REINFORCE's gradient estimator that the diagnostics compare and the learning runs time."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch as th

from reinforce_sb3.estimator import BASELINES, Baseline, EstimatorOptions, LossReduction, TensorBatch


@dataclass(frozen=True)
class Estimator:
    """
    One named variant of the REINFORCE gradient estimator, the textbook one by default (raw returns,
    sum over steps / episodes). :meth:`options` gives what :func:`~reinforce_sb3.estimator.reinforce_loss`
    takes; ``ratio_form`` is a teaching form of the same gradient, ``pi / pi.detach()`` in place of
    ``log pi`` (:func:`~reinforce_sb3.analysis.diagnostics.estimate`).

    ``weighting``, if given, replaces the loss's weights and scale: it maps the batch (its returns as
    the other fields say) to the whole coefficient of each step's ``log pi``, so that the estimate is
    ``sum_t weighting(batch)_t grad log pi(a_t|s_t)``. Estimators that REINFORCE has no option for are
    measured this way (GRPO and Dr. GRPO, :mod:`reinforce_sb3.analysis.llm_variants`).
    """

    name: str
    reward_to_go: bool = True
    normalize_returns: bool = False
    loss_reduction: LossReduction = "episodes"
    baseline: Baseline = "none"
    discounted_gradient: bool = False
    ratio_form: bool = False
    weighting: Callable[[TensorBatch], th.Tensor] | None = None

    def options(self, gamma: float) -> EstimatorOptions:
        """The estimator's options with the discount ``gamma``."""
        return EstimatorOptions(
            gamma=gamma,
            reward_to_go=self.reward_to_go,
            normalize_returns=self.normalize_returns,
            loss_reduction=self.loss_reduction,
            baseline=self.baseline,
            discounted_gradient=self.discounted_gradient,
        )

    def reinforce_kwargs(self) -> dict[str, Any]:
        """The REINFORCE arguments that train with this estimator (the ratio form trains as the log-prob form).

        :raises ValueError: the estimator has a ``weighting``, which REINFORCE has no argument for
        """
        if self.weighting is not None:
            raise ValueError(f"{self.name!r} weights the steps in its own way: REINFORCE has no arguments for it")
        kwargs = dataclasses.asdict(self.options(gamma=1.0))
        del kwargs["gamma"]
        return kwargs


ESTIMATORS = (
    Estimator("log-prob, reward-to-go, sum/episodes"),
    Estimator("likelihood ratio p / p.detach()", ratio_form=True),
    Estimator("whole-episode return", reward_to_go=False),
    Estimator("normalized returns", normalize_returns=True),
    Estimator("mean over steps", loss_reduction="mean"),
    Estimator("batch-mean baseline", baseline="mean"),
    Estimator("leave-one-out baseline", baseline="leave_one_out"),
    Estimator("learned value baseline", baseline="value"),
)
"""The textbook estimator first, then one change at a time."""

BASELINE_NAMES: dict[Baseline, str] = {
    "none": "no baseline",
    "mean": "batch-mean baseline",
    "leave_one_out": "leave-one-out baseline",
    "value": "learned value baseline",
}
"""The name of each of :data:`~reinforce_sb3.estimator.BASELINES` in tables and pictures."""

BASELINE_ESTIMATORS = tuple(
    Estimator(
        BASELINE_NAMES[baseline] if reward_to_go else f"{BASELINE_NAMES[baseline]}, whole-episode",
        reward_to_go=reward_to_go,
        baseline=baseline,
    )
    for reward_to_go in (True, False)
    for baseline in BASELINES
)
"""Every baseline with the textbook estimator (raw returns, sum / episodes), on the reward-to-go and on the
whole-episode return: the batch mean is biased by ``1 - 1/N``, leave-one-out and a learned value are not."""

LEARNING_ESTIMATORS = (ESTIMATORS[0], *ESTIMATORS[2:])
"""The variants whose learning speed differs (the ratio form has the log-prob form's gradient)."""
