"""Callbacks of REINFORCE's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ProgressBarCallback

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm


class StepCountingProgressBar(ProgressBarCallback):
    """
    SB3's progress bar, advanced by the env steps actually taken.

    SB3's bar adds ``num_envs`` per call to ``env.step``; REINFORCE leaves waiting envs
    unstepped, so the bar follows ``model.num_timesteps`` instead and ends at the budget.
    """

    def _on_training_start(self) -> None:
        super()._on_training_start()
        self._counted = self.model.num_timesteps

    def _on_step(self) -> bool:
        self.pbar.update(self.model.num_timesteps - self._counted)
        self._counted = self.model.num_timesteps
        return True

    @classmethod
    def wrap(cls, callback: BaseCallback, model: BaseAlgorithm) -> BaseCallback:
        """``callback`` and a progress bar, ready for ``model`` (as SB3's ``_init_callback`` does it)."""
        combined = CallbackList([callback, cls()])
        combined.init_callback(model)
        return combined
