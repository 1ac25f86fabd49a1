"""Time limits: REINFORCE's two ways of ending a truncated return, against exact gradients on the tree game.

A time limit of ``H`` steps makes the objective ``J_H``, the expected return within ``H`` steps. With
``truncation="end"`` (the default) a truncated return ends where the limit cut it, and the textbook estimate
is unbiased for the gradient of ``J_H``. With ``truncation="bootstrap_mean"`` (Tianshou's way) it is continued
by the running mean return-to-go of the earlier batches. This module measures both estimates, at fixed
parameters, against the exact gradients of ``J_H`` and of longer horizons (:mod:`gym_pgtoy.exact`)::

    python -m reinforce_sb3.analysis.time_limits --env PGToy-v0 --n-batches 300

The estimates are REINFORCE's own updates (the textbook settings: gamma = 1, raw returns, sum over steps /
episodes) with a learning rate of 0, so every batch estimates the gradient of the same policy, and the
bootstrap value is the one REINFORCE keeps (0 for the first batch, then the running mean).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

from gym_pgtoy import exact
from gym_pgtoy.cli import add_debug_flag, int_at_least, run_cli
from gym_pgtoy.slippery_hill import SlipperyHillEnv
from gym_pgtoy.validation import check_integer
from reinforce_sb3.analysis.diagnostics import GradientCheck
from reinforce_sb3.analysis.estimators import Estimator
from reinforce_sb3.episodic_algorithm import thread_count
from reinforce_sb3.estimator import TRUNCATIONS, Truncation

PROG = "python -m reinforce_sb3.analysis.time_limits"

NO_LIMIT = 1000
"""The horizon that stands for no time limit: on the tree game an episode of a policy that moves both ways with
probabilities like the measured policy's ends long before (the tests check that doubling it changes nothing)."""

MAX_BATCHES = 10_000
"""The most batches one measurement may take."""


@dataclass(frozen=True)
class TimeLimitCheck:
    """The estimates of one ``truncation`` choice beside the exact gradients of several horizons.

    :param truncation: the choice
    :param time_limit: the env's ``max_episode_steps``, ``H``
    :param truncated_share: the share of the batches' episodes that the time limit cut
    :param bootstrap_value: ``running_return_mean`` after the last batch (0 for ``"end"``, which keeps none)
    :param checks: for each horizon, the estimates against the exact gradient of ``J_horizon``
    """

    truncation: Truncation
    time_limit: int
    truncated_share: float
    bootstrap_value: float
    checks: dict[int, GradientCheck]


class _Estimates(BaseCallback):
    """Each update's gradient estimate (``-grad`` of the loss, read before the next batch) and the share of the
    batches' episodes that were truncated; stops after ``n_batches`` updates."""

    def __init__(self, n_batches: int) -> None:
        super().__init__()
        self.n_batches = n_batches
        self.estimates: list[np.ndarray] = []
        self.n_truncated = 0
        self.n_episodes = 0

    def _on_rollout_start(self) -> None:
        if len(self.estimates) < self.model._n_updates:  # an update left its gradient in .grad
            grads = [-p.grad.flatten() for p in self.model.policy.parameters() if p.grad is not None]
            self.estimates.append(th.cat(grads).cpu().numpy())

    def _on_rollout_end(self) -> None:
        buffer = self.model.collector.buffer  # type: ignore[attr-defined]  # a REINFORCE model
        if self.model.collector.complete:  # type: ignore[attr-defined]  # as above
            self.n_truncated += int(buffer.arrays["truncated"][: buffer.pos][buffer.in_batch].sum())
            self.n_episodes += self.model.n_episodes  # type: ignore[attr-defined]  # as above

    def _on_step(self) -> bool:
        return len(self.estimates) < self.n_batches


def compare_truncations(
    env_id: str = "PGToy-v0",
    max_episode_steps: int | None = None,
    horizons: Sequence[int] | None = None,
    n_episodes: int = 16,
    n_envs: int = 4,
    n_batches: int = 300,
    seed: int = 0,
) -> list[TimeLimitCheck]:
    """Each ``truncation`` choice's average estimate against the exact gradients of ``J_h`` for each horizon.

    :param env_id: an id of the tree-game family, else a ``ValueError``
    :param max_episode_steps: the time limit ``H`` (default: the id's own)
    :param horizons: the objectives' horizons (default: ``H``, ``2 H`` and :data:`NO_LIMIT`)
    :param n_episodes: episodes per batch
    :param n_envs: parallel envs (a ``DummyVecEnv``)
    :param n_batches: batches (estimates) per choice
    :param seed: the model's and the envs' seed (the same policy and the same first episodes for both choices)
    """
    n_batches = check_integer("n_batches", n_batches, 2, MAX_BATCHES)
    if not isinstance(gym.make(env_id).unwrapped, SlipperyHillEnv):  # before any training: the exact analysis needs it
        raise ValueError(f"env_id must be an id of the tree game (PGToy-v0, SlipperyHill-v0), got {env_id!r}")
    time_limit = max_episode_steps if max_episode_steps is not None else gym.spec(env_id).max_episode_steps
    time_limit = check_integer("max_episode_steps", time_limit, 1, exact.MAX_EPISODE_STEPS)
    horizons = list(horizons) if horizons is not None else [time_limit, 2 * time_limit, NO_LIMIT]
    return [
        _measure(env_id, time_limit, horizons, truncation, n_episodes, n_envs, n_batches, seed)
        for truncation in TRUNCATIONS
    ]


def _measure(
    env_id: str,
    time_limit: int,
    horizons: Sequence[int],
    truncation: Truncation,
    n_episodes: int,
    n_envs: int,
    n_batches: int,
    seed: int,
) -> TimeLimitCheck:
    from reinforce_sb3 import REINFORCE

    env = DummyVecEnv([lambda: gym.make(env_id, max_episode_steps=time_limit) for _ in range(n_envs)])
    model = REINFORCE(
        "MlpPolicy",
        env,
        learning_rate=0.0,  # the parameters stay put: every batch estimates the same gradient
        n_episodes=n_episodes,
        gamma=1.0,
        normalize_returns=False,
        loss_reduction="episodes",
        truncation=truncation,
        seed=seed,
        device="cpu",
        # PyTorch's default initialisation: a policy far from uniform, as in the diagnostics
        policy_kwargs={"net_arch": [16], "ortho_init": False, "optimizer_class": th.optim.SGD},
    )
    callback = _Estimates(n_batches)
    model.learn(10**9, callback=callback)
    estimates = np.stack(callback.estimates)
    estimator = Estimator(f"truncation={truncation!r}")
    checks = {}
    with thread_count(1):
        for horizon in horizons:
            truth = exact.parameter_gradient(env_id, model, gamma=1.0, horizon=horizon)
            exact_gradient = th.cat([g.flatten() for g in truth]).detach().cpu().numpy()
            checks[horizon] = GradientCheck(estimator, n_episodes, exact_gradient, estimates)
    share = callback.n_truncated / max(callback.n_episodes, 1)
    return TimeLimitCheck(truncation, time_limit, share, model.running_return_mean, checks)


def format_time_limit_table(results: Sequence[TimeLimitCheck]) -> str:
    """A markdown table: one row per choice and horizon."""
    header = ["truncation", "objective", "cosine (average)", "relative error (average)", "noise floor"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        for horizon, check in result.checks.items():
            objective = f"J_{horizon}" + (" (time limit)" if horizon == result.time_limit else "")
            objective += " (no limit)" if horizon == NO_LIMIT else ""
            lines.append(
                f"| {result.truncation} | {objective} | {check.cosine:.4f} | {check.relative_error:.4f} | "
                f"{check.noise_floor:.4f} |"
            )
    if results:
        first = results[0]
        check = next(iter(first.checks.values()))
        bootstrapped = [r for r in results if r.truncation == "bootstrap_mean"]
        value = f"; the bootstrap value ended at {bootstrapped[0].bootstrap_value:.3f}" if bootstrapped else ""
        lines.append(
            f"\n{len(check.estimates)} batches of {check.n_episodes} episodes each, time limit {first.time_limit}: "
            f"{first.truncated_share:.1%} of the episodes were truncated{value}. Relative error: "
            "|average - exact| / |exact|; noise floor: what sampling noise alone gives it (more is bias)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = PROG) -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--env", default="PGToy-v0", help="PGToy-v0, SlipperyHill-v0 (or another id of the family)")
    parser.add_argument("--max-episode-steps", type=int_at_least(1), default=None, help="the time limit H")
    parser.add_argument("--n-episodes", type=int_at_least(1), default=16, help="episodes per batch")
    parser.add_argument("--n-batches", type=int_at_least(2), default=300, help="batches (estimates) per choice")
    parser.add_argument("--seed", type=int_at_least(0), default=0)
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    results = compare_truncations(
        args.env, args.max_episode_steps, n_episodes=args.n_episodes, n_batches=args.n_batches, seed=args.seed
    )
    print(
        f"REINFORCE's truncation choices on {args.env} with a time limit of {results[0].time_limit} steps against "
        f"the exact gradients of J_h, the expected return within h steps (textbook settings, gamma = 1, "
        f"seed {args.seed}):\n"
    )
    print(format_time_limit_table(results))


def cli(argv: list[str] | None = None, prog: str = PROG) -> None:
    """``main`` as a command-line tool: bad input is one line on stderr and exit status 2 (see :mod:`gym_pgtoy.cli`)."""
    run_cli(lambda args: main(args, prog), prog, argv)


if __name__ == "__main__":
    cli()
