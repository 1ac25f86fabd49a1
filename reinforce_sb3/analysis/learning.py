"""How fast REINFORCE learns the tree game, measured on the exact expected return of its policy.

:class:`ExactReturnCallback` records ``gym_pgtoy.exact``'s expected return of the model's policy
after every update; :func:`learning_curves` trains once per seed with it, :func:`learning_speed`
times each estimator variant to a threshold and :func:`format_learning_table` prints the result.
The budget ``timesteps`` is a time budget, not a memory one: the callback keeps two numbers per update.

    python -m reinforce_sb3.analysis.diagnostics --learning --seeds 5 --timesteps 20000
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from gym_pgtoy import exact
from gym_pgtoy.validation import check_integer
from reinforce_sb3.analysis.estimators import LEARNING_ESTIMATORS, Estimator


class ExactReturnCallback(BaseCallback):
    """Record the exact expected return of the model's policy at the start and after every update.

    The model must have been made for the env's spaces (the same hill length): another variant is a
    ``ValueError`` from the exact analysis at the start of training.

    :param env: the tree-game env id or instance the model learns on
    :param gamma: the discount of the recorded return (1: the game's score)
    """

    def __init__(self, env: str | gym.Env = "PGToy-v0", gamma: float = 1.0) -> None:
        super().__init__()
        self.env = gym.make(env) if isinstance(env, str) else env  # made once, not at every update
        self.gamma = gamma
        self.timesteps: list[int] = []
        self.returns: list[float] = []

    def _on_rollout_start(self) -> None:
        # a rollout starts at the beginning and after every update
        self.timesteps.append(self.num_timesteps)
        self.returns.append(exact.expected_return(self.env, self.model, self.gamma))

    def _on_step(self) -> bool:
        return True


def learning_curves(
    env: str | gym.Env = "PGToy-v0",
    seeds: Sequence[int] = range(5),
    timesteps: int = 20_000,
    device: str = "cpu",
    **reinforce_kwargs: Any,
) -> dict[str, tuple[list[int], list[float]]]:
    """Train REINFORCE once per seed and return ``{"seed S": (timesteps, exact expected returns)}``.

    :param env: a tree-game env id, or an env made by ``gym.make`` (``gym.make("PGToy-v0", continuous=True)``):
        each run gets a fresh one made from its spec
    :param seeds: one run per seed (at least one)
    :param timesteps: environment steps per run, an integer >= 1
    :param device: the torch device of the models
    :param reinforce_kwargs: further arguments of :class:`~reinforce_sb3.REINFORCE`
    """
    from reinforce_sb3 import REINFORCE

    timesteps = check_integer("timesteps", timesteps)
    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one seed, got none")
    if not isinstance(env, str) and env.spec is None:
        raise ValueError("env must be an id or an env made by gym.make (whose spec makes a fresh one per seed)")
    curves = {}
    for seed in seeds:
        callback = ExactReturnCallback(env)
        run_env = env if isinstance(env, str) else gym.make(env.spec)  # type: ignore[arg-type]  # checked above
        model = REINFORCE("MlpPolicy", run_env, seed=seed, device=device, **reinforce_kwargs)
        model.learn(timesteps, callback=callback)
        curves[f"seed {seed}"] = (callback.timesteps, callback.returns)
    return curves


@dataclass(frozen=True)
class LearningResult:
    """How fast REINFORCE learns with one estimator: per seed, the steps until the exact expected
    return first reaches the threshold (None: not within the budget), and the final exact return."""

    estimator: Estimator
    steps_to_threshold: list[int | None]
    final_returns: list[float]


def learning_speed(
    env: str | gym.Env = "PGToy-v0",
    estimators: Sequence[Estimator] = LEARNING_ESTIMATORS,
    seeds: Sequence[int] = range(5),
    timesteps: int = 20_000,
    threshold: float = 10.9,
    device: str = "cpu",
    **reinforce_kwargs: Any,
) -> list[LearningResult]:
    """Train REINFORCE with each estimator and seed, and time how soon it reaches ``threshold`` (exactly measured)."""
    results = []
    for estimator in estimators:
        curves = learning_curves(env, seeds, timesteps, device, **estimator.reinforce_kwargs(), **reinforce_kwargs)
        steps: list[int | None] = []
        finals = []
        for timestamps, returns in curves.values():
            reached = [t for t, value in zip(timestamps, returns, strict=True) if value >= threshold]
            steps.append(reached[0] if reached else None)
            finals.append(returns[-1])
        results.append(LearningResult(estimator, steps, finals))
    return results


def format_learning_table(results: Sequence[LearningResult], threshold: float) -> str:
    """A markdown table: one row per estimator."""
    lines = [
        f"| estimator | seeds reaching {threshold:g} | median steps to {threshold:g} | final exact return (mean) |",
        "|---|---|---|---|",
    ]
    for result in results:
        reached = [s for s in result.steps_to_threshold if s is not None]
        median = f"{int(np.median(reached)):,}" if reached else "-"
        lines.append(
            f"| {result.estimator.name} | {len(reached)}/{len(result.steps_to_threshold)} | {median} | "
            f"{np.mean(result.final_returns):.3f} |"
        )
    return "\n".join(lines)
