"""The variants of REINFORCE's gradient estimator that the diagnostics compare and the learning runs time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reinforce_sb3.estimator import Baseline, LossReduction


@dataclass(frozen=True)
class Estimator:
    """One variant of the REINFORCE gradient estimator (see :func:`~reinforce_sb3.estimator.reinforce_loss`)."""

    name: str
    reward_to_go: bool = True
    normalize_returns: bool = False
    loss_reduction: LossReduction = "episodes"
    baseline: Baseline = "none"
    ratio_form: bool = False

    def reinforce_kwargs(self) -> dict[str, Any]:
        """The REINFORCE arguments that train with this estimator (the ratio form trains as the log-prob form)."""
        return {
            "reward_to_go": self.reward_to_go,
            "normalize_returns": self.normalize_returns,
            "loss_reduction": self.loss_reduction,
            "baseline": self.baseline,
        }


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

BASELINE_ESTIMATORS = tuple(
    Estimator(name if reward_to_go else f"{name}, whole-episode", reward_to_go=reward_to_go, baseline=baseline)
    for reward_to_go in (True, False)
    for baseline, name in BASELINE_NAMES.items()
)
"""Every baseline with the textbook estimator (raw returns, sum / episodes), on the reward-to-go and on the
whole-episode return: the batch mean is biased by ``1 - 1/N``, leave-one-out and a learned value are not."""

LEARNING_ESTIMATORS = (ESTIMATORS[0], *ESTIMATORS[2:])
"""The variants whose learning speed differs (the ratio form has the log-prob form's gradient)."""
