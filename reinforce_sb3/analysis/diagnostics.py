"""Check REINFORCE's gradient estimate against the exact policy gradient on the tree game.

On ``PGToy-v0`` and ``SlipperyHill-v0``, :mod:`gym_pgtoy.exact` knows the true gradient of the
expected return. This module samples episodes with a policy, turns them into gradient estimates
exactly as REINFORCE's training does (:func:`reinforce_sb3.estimator.reinforce_loss`), in
batches, and compares them with the truth: the cosine similarity and relative error of the
average estimate (its bias, up to sampling noise, whose share the noise floor gives), and the
per-parameter variance of a single batch's estimate. :data:`ESTIMATORS` lists the variants people ask
about, the baselines among them: the batch mean (scaled down by about ``1 - 1/N``), leave-one-out and a learned
value network (fitted on episodes of its own, :func:`~reinforce_sb3.analysis.sampling.fit_value_baseline`).
Both game variants work: ``continuous=True`` (Gaussian policies, their log-std included).

    python -m reinforce_sb3.analysis.diagnostics --env PGToy-v0 --n-episodes 32 --n-batches 200 [--continuous]

From Python::

    from reinforce_sb3 import REINFORCE
    from reinforce_sb3.analysis.diagnostics import check_gradient, compare_estimators, format_table

    model = REINFORCE("MlpPolicy", "PGToy-v0")
    print(check_gradient(model, "PGToy-v0", n_episodes=32, n_batches=200).summary())
    print(format_table(compare_estimators(model, "PGToy-v0", n_episodes=32, n_batches=200)))

Limits, each a ``ValueError`` beyond it: at most 100_000 sampled episodes in all
(``n_episodes x n_batches``, :data:`MAX_EPISODES`) and 500_000 sampled steps
(:data:`MAX_SAMPLED_STEPS`, about 250 MB and 90 s at 170 us a step), and at most 50_000_000 stored
estimate values (``n_batches x parameters x estimators``, :data:`MAX_ESTIMATE_VALUES`, 200 MB).
The policy must have been made for the env's spaces (the same hill length and action space).
Sampling lives in :mod:`reinforce_sb3.analysis.sampling`, learning speed in :mod:`reinforce_sb3.analysis.learning`
(both re-exported here).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.policies import BasePolicy

from gym_pgtoy import exact
from gym_pgtoy.cli import add_debug_flag, int_at_least, run_cli
from gym_pgtoy.validation import check_integer
from reinforce_sb3.analysis.cli import add_env_arguments, env_from_args, load_model, torch_device
from reinforce_sb3.analysis.estimators import ESTIMATORS, Estimator
from reinforce_sb3.analysis.estimators import LEARNING_ESTIMATORS as LEARNING_ESTIMATORS
from reinforce_sb3.analysis.learning import ExactReturnCallback as ExactReturnCallback
from reinforce_sb3.analysis.learning import LearningResult as LearningResult
from reinforce_sb3.analysis.learning import format_learning_table, learning_speed
from reinforce_sb3.analysis.learning import learning_curves as learning_curves
from reinforce_sb3.analysis.sampling import MAX_SAMPLED_STEPS as MAX_SAMPLED_STEPS
from reinforce_sb3.analysis.sampling import Episode, episode_batch, fit_value_baseline, sample_episodes
from reinforce_sb3.episodic_algorithm import thread_count
from reinforce_sb3.estimator import reinforce_loss

PROG = "python -m reinforce_sb3.analysis.diagnostics"

MAX_EPISODES = 100_000
"""The most episodes one comparison may sample: ``n_episodes x n_batches``."""

VALUE_EPISODES = 1_000
"""The episodes a learned value baseline is fitted on (sampled with ``seed + 1``, apart from the batches)."""

MAX_ESTIMATE_VALUES = 50_000_000
"""The most float32 values of gradient estimates one comparison may keep: ``n_batches x parameters x estimators``."""


@dataclass(frozen=True)
class GradientCheck:
    """Sampled gradient estimates of one estimator beside the exact gradient (flattened over parameters).

    :param estimator: the estimator
    :param n_episodes: episodes per batch (per estimate)
    :param exact: the exact gradient of the expected return
    :param estimates: one estimate per batch, shape ``(n_batches, n_parameters)``
    """

    estimator: Estimator
    n_episodes: int
    exact: np.ndarray
    estimates: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """The average estimate over the batches."""
        return np.asarray(self.estimates.mean(axis=0))

    @property
    def cosine(self) -> float:
        """Cosine similarity between the average estimate and the exact gradient."""
        return _cosine(self.mean, self.exact)

    @property
    def relative_error(self) -> float:
        """``|mean - exact| / |exact|``: the bias of the estimator, plus the noise of averaging the batches."""
        return float(np.linalg.norm(self.mean - self.exact) / np.linalg.norm(self.exact))

    @property
    def noise_floor(self) -> float:
        """The relative error of the average that sampling noise alone gives: ``sqrt(total variance / n_batches) /
        |exact|``. An unbiased estimator's relative error is about this; a larger one is bias."""
        return float(np.sqrt(self.variance.sum() / len(self.estimates)) / np.linalg.norm(self.exact))

    @property
    def variance(self) -> np.ndarray:
        """The per-parameter variance of one batch's estimate."""
        return np.asarray(self.estimates.var(axis=0, ddof=1))

    @property
    def relative_variance(self) -> float:
        """Noise to signal: the total variance of one batch's estimate over ``|mean|^2`` (scale-free)."""
        return float(self.variance.sum() / np.dot(self.mean, self.mean))

    @property
    def scale(self) -> float:
        """``|mean| / |exact|``: 1 for an unbiased estimator; normalising returns or averaging over steps rescale it."""
        return float(np.linalg.norm(self.mean) / np.linalg.norm(self.exact))

    @property
    def batch_cosine(self) -> float:
        """The mean cosine similarity between one batch's estimate and the exact gradient (0 for a zero estimate)."""
        return float(np.mean([_cosine(estimate, self.exact) for estimate in self.estimates]))

    def summary(self) -> str:
        return format_table([self])


def estimate(
    policy: BasePolicy,
    episodes: Sequence[Episode],
    estimator: Estimator,
    gamma: float = 1.0,
    parameters: Sequence[th.Tensor] | None = None,
) -> np.ndarray:
    """The gradient estimate of one batch of episodes, flattened: ``-grad`` of REINFORCE's policy loss.

    :param policy: the policy that played the episodes (for ``baseline="value"``: with a value network)
    :param episodes: the batch, from :func:`~reinforce_sb3.analysis.sampling.sample_episodes`
    :param estimator: the variant of the estimator
    :param gamma: the discount of the returns
    :param parameters: the tensors to differentiate with respect to (default: all the policy's)
    """
    parameters = list(policy.parameters()) if parameters is None else list(parameters)
    options = estimator.options(gamma)
    batch = episode_batch(policy, episodes, gamma, estimator.reward_to_go).to_tensors(policy.device)
    losses = reinforce_loss(policy, batch, options)
    policy_loss = losses.policy_loss
    if estimator.weighting is not None:  # its own coefficient of each step's log pi, scale included
        policy_loss = -(losses.log_prob * estimator.weighting(batch)).sum()
    if estimator.ratio_form:  # the likelihood ratio pi / pi.detach(): its gradient is grad pi / pi = grad log pi
        ratio = th.exp(losses.log_prob - losses.log_prob.detach())
        policy_loss = -(ratio * losses.weights).sum() * losses.scale
    grads = th.autograd.grad(-policy_loss, parameters, allow_unused=True)
    return (
        th.cat([(th.zeros_like(p) if g is None else g).flatten() for p, g in zip(parameters, grads, strict=True)])
        .cpu()
        .numpy()
    )


def compare_estimators(
    policy: Any,
    env: str | gym.Env = "PGToy-v0",
    n_episodes: int = 32,
    n_batches: int = 100,
    estimators: Sequence[Estimator] = ESTIMATORS,
    gamma: float = 1.0,
    seed: int = 0,
) -> list[GradientCheck]:
    """Every estimator on the same sampled episodes, each beside the exact gradient.

    :param policy: a REINFORCE model or any SB3 policy (or model) made for the env's spaces; for an estimator
        with ``baseline="value"``, a copy with a value network fitted on :data:`VALUE_EPISODES` other episodes
        (sampled with ``seed + 1``) plays the baseline's part
    :param env: an env id or instance of the tree-game family (either variant, ``continuous=True`` too)
    :param n_episodes: episodes per batch
    :param n_batches: batches (independent estimates) per estimator
    :param estimators: the variants to compare
    :param gamma: discount factor of the returns and of the exact gradient
    :param seed: seed of the sampled episodes
    """
    n_episodes = check_integer("n_episodes", n_episodes, 1, MAX_EPISODES)
    n_batches = check_integer("n_batches", n_batches, 2, MAX_EPISODES)
    if n_episodes * n_batches > MAX_EPISODES:
        raise ValueError(
            f"n_episodes x n_batches = {n_episodes} x {n_batches} = {n_episodes * n_batches:,} episodes, more than "
            f"the {MAX_EPISODES:,} the diagnostics sample at most"
        )
    if len(estimators) == 0:
        raise ValueError("estimators must hold at least one Estimator, got none")
    policy = getattr(policy, "policy", policy)
    if not isinstance(policy, BasePolicy):
        raise TypeError(f"policy must be an SB3 model or policy, got {type(policy).__name__}")
    parameters = list(policy.parameters())
    n_values = n_batches * sum(p.numel() for p in parameters) * len(estimators)
    if n_values > MAX_ESTIMATE_VALUES:
        raise ValueError(
            f"n_batches x parameters x estimators = {n_values:,} estimate values, more than the "
            f"{MAX_ESTIMATE_VALUES:,} the diagnostics keep: use fewer batches, estimators or a smaller network"
        )
    # the diagnostics' tensors are tiny: one thread is many times faster than one per core on a busy machine
    with thread_count(1):
        return _compare(policy, parameters, env, n_episodes, n_batches, estimators, gamma, seed)


def _compare(
    policy: BasePolicy,
    parameters: Sequence[th.Tensor],
    env: str | gym.Env,
    n_episodes: int,
    n_batches: int,
    estimators: Sequence[Estimator],
    gamma: float,
    seed: int,
) -> list[GradientCheck]:
    """:func:`compare_estimators` once its arguments are checked."""
    truth = exact.parameter_gradient(env, policy, parameters, gamma=gamma)
    exact_gradient = th.cat([g.flatten() for g in truth]).detach().cpu().numpy()
    episodes = sample_episodes(policy, env, n_episodes * n_batches, seed)
    batches = [episodes[i * n_episodes : (i + 1) * n_episodes] for i in range(n_batches)]
    value_episodes = None
    checks = []
    for estimator in estimators:
        estimating_policy, estimating_parameters = policy, parameters
        if estimator.baseline == "value":
            if value_episodes is None:
                value_episodes = sample_episodes(policy, env, VALUE_EPISODES, seed + 1)
            estimating_policy = fit_value_baseline(policy, value_episodes, gamma, estimator.reward_to_go)
            # the copy's parameters in the policy's order (the copy may have a value network more)
            named = dict(estimating_policy.named_parameters())
            estimating_parameters = [named[name] for name, _ in policy.named_parameters()]
        estimates = [estimate(estimating_policy, batch, estimator, gamma, estimating_parameters) for batch in batches]
        checks.append(GradientCheck(estimator, n_episodes, exact_gradient, np.stack(estimates)))
    return checks


def check_gradient(
    policy: Any,
    env: str | gym.Env = "PGToy-v0",
    n_episodes: int = 32,
    n_batches: int = 100,
    estimator: Estimator = ESTIMATORS[0],
    gamma: float = 1.0,
    seed: int = 0,
) -> GradientCheck:
    """One estimator beside the exact gradient (see :func:`compare_estimators`)."""
    return compare_estimators(policy, env, n_episodes, n_batches, [estimator], gamma, seed)[0]


def format_table(checks: Sequence[GradientCheck]) -> str:
    """A markdown table: one row per estimator."""
    header = [
        "estimator",
        "scale",
        "cosine (average)",
        "relative error (average)",
        "noise floor",
        "noise (one batch)",
        "cosine (one batch)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for check in checks:
        lines.append(
            f"| {check.estimator.name} | {check.scale:.3f} | {check.cosine:.4f} | {check.relative_error:.4f} | "
            f"{check.noise_floor:.4f} | {check.relative_variance:.4f} | {check.batch_cosine:.3f} |"
        )
    n_batches = len(checks[0].estimates) if checks else 0
    lines.append(
        f"\n{n_batches} batches of {checks[0].n_episodes if checks else 0} episodes each. Scale: |average| / |exact|. "
        "Relative error: |average - exact| / |exact|; noise floor: what sampling noise alone gives it (more is "
        "bias). Noise: the variance of one batch's estimate (summed over parameters) / |average|^2."
    )
    return "\n".join(lines)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The cosine similarity of ``a`` and ``b``; 0 where either is zero (a baseline that cancels every return)."""
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norms if norms > 0 else 0.0


def main(argv: list[str] | None = None, prog: str = PROG) -> None:
    """The command line (see the module docstring); bad input raises, and :func:`cli` makes it one line."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_env_arguments(parser)
    parser.add_argument("--model", default=None, help="a saved REINFORCE model (default: a fresh, untrained policy)")
    parser.add_argument("--n-episodes", type=int_at_least(1), default=32, help="episodes per batch")
    parser.add_argument("--n-batches", type=int_at_least(2), default=100, help="batches (estimates) per estimator")
    parser.add_argument("--gamma", type=float, default=1.0, help="discount factor, in [0, 1]")
    parser.add_argument("--seed", type=int_at_least(0), default=0)
    parser.add_argument("--device", type=torch_device, default="cpu", help="torch device of the model (default: cpu)")
    parser.add_argument("--learning", action="store_true", help="also train with each estimator and time it")
    parser.add_argument("--seeds", type=int_at_least(1), default=5, help="--learning: seeds per estimator")
    parser.add_argument("--timesteps", type=int_at_least(1), default=20_000, help="--learning: steps per run")
    parser.add_argument("--threshold", type=float, default=10.9, help="--learning: exact return to reach")
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    from reinforce_sb3 import REINFORCE

    env = env_from_args(args)
    if args.model:
        model = load_model(args.model, env, args.device)
    else:  # PyTorch's default initialisation: a policy far from uniform, with a gradient worth checking
        kwargs = {"seed": args.seed, "device": args.device, "policy_kwargs": {"ortho_init": False}}
        model = REINFORCE("MlpPolicy", env, **kwargs)
    checks = compare_estimators(model, env, args.n_episodes, args.n_batches, gamma=args.gamma, seed=args.seed)
    variant = " (continuous=True)" if args.continuous else ""
    print(f"Policy-gradient estimators on {args.env}{variant} against the exact gradient (gym_pgtoy.exact):\n")
    print(format_table(checks))
    if args.learning:
        results = learning_speed(
            env, seeds=range(args.seeds), timesteps=args.timesteps, threshold=args.threshold, device=args.device
        )
        print(f"\nLearning with each estimator ({args.seeds} seeds, {args.timesteps:,} steps each, exact returns):\n")
        print(format_learning_table(results, args.threshold))


def cli(argv: list[str] | None = None, prog: str = PROG) -> None:
    """``main`` as a command-line tool: bad input is one line on stderr and exit status 2 (see :mod:`gym_pgtoy.cli`)."""
    run_cli(lambda args: main(args, prog), prog, argv)


if __name__ == "__main__":
    cli()
