"""Check REINFORCE's gradient estimate against the exact policy gradient on the tree game.

On ``PGToy-v0`` and ``SlipperyHill-v0``, :mod:`gym_pgtoy.exact` knows the true gradient of the
expected return. This module samples episodes with a policy, turns them into gradient estimates
exactly as REINFORCE's training does (:func:`reinforce_sb3.estimator.reinforce_loss`), in
batches, and compares them with the truth: the cosine similarity and relative error of the
average estimate (its bias, up to sampling noise), and the per-parameter variance of a single
batch's estimate. :data:`ESTIMATORS` lists the variants people ask about.

    python -m reinforce_sb3.analysis.diagnostics --env PGToy-v0 --n-episodes 32 --n-batches 200

From Python::

    from reinforce_sb3 import REINFORCE
    from reinforce_sb3.analysis.diagnostics import check_gradient, compare_estimators, format_table

    model = REINFORCE("MlpPolicy", "PGToy-v0")
    print(check_gradient(model, "PGToy-v0", n_episodes=32, n_batches=200).summary())
    print(format_table(compare_estimators(model, "PGToy-v0", n_episodes=32, n_batches=200)))
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.utils import obs_as_tensor

from gym_pgtoy import exact
from reinforce_sb3.buffer import EpisodeBuffer
from reinforce_sb3.estimator import Baseline, LossReduction, reinforce_loss


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
)
"""The textbook estimator first, then one change at a time."""

LEARNING_ESTIMATORS = (
    ESTIMATORS[0],
    *ESTIMATORS[2:],
    Estimator("learned value baseline", baseline="value"),
)
"""The variants whose learning speed differs (the ratio form has the log-prob form's gradient)."""


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
        return self.estimates.mean(axis=0)

    @property
    def cosine(self) -> float:
        """Cosine similarity between the average estimate and the exact gradient."""
        return _cosine(self.mean, self.exact)

    @property
    def relative_error(self) -> float:
        """``|mean - exact| / |exact|``: the bias of the estimator, plus the noise of averaging the batches."""
        return float(np.linalg.norm(self.mean - self.exact) / np.linalg.norm(self.exact))

    @property
    def variance(self) -> np.ndarray:
        """The per-parameter variance of one batch's estimate."""
        return self.estimates.var(axis=0, ddof=1)

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
        """The mean cosine similarity between one batch's estimate and the exact gradient."""
        return float(np.mean([_cosine(estimate, self.exact) for estimate in self.estimates]))

    def summary(self) -> str:
        return format_table([self])


def sample_episodes(
    policy: BasePolicy, env: str | gym.Env, n_episodes: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``n_episodes`` episodes ``(observations, actions, rewards)`` played with the policy's sampled actions."""
    env = gym.make(env) if isinstance(env, str) else env
    episodes = []
    obs, _ = env.reset(seed=seed)
    with th.random.fork_rng(devices=[]):  # seed the policy's sampling without touching the caller's generator
        th.manual_seed(seed)
        for _ in range(n_episodes):
            episodes.append(_play_episode(policy, env, obs))
            obs, _ = env.reset()
    return episodes


def _play_episode(policy: BasePolicy, env: gym.Env, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One episode from ``obs`` with the policy's sampled actions."""
    observations, actions, rewards = [], [], []
    done = False
    while not done:
        action, _ = policy.predict(obs, deterministic=False)
        observations.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        done = terminated or truncated
    return np.array(observations), np.array(actions), np.array(rewards, dtype=np.float32)


def estimate(
    policy: BasePolicy,
    episodes: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    estimator: Estimator,
    gamma: float = 1.0,
    parameters: Sequence[th.Tensor] | None = None,
) -> np.ndarray:
    """The gradient estimate of one batch of episodes, flattened: ``-grad`` of REINFORCE's policy loss."""
    parameters = list(policy.parameters()) if parameters is None else list(parameters)
    buffer = EpisodeBuffer(policy.observation_space, policy.action_space, n_envs=1)
    for observations, actions, rewards in episodes:
        last = len(rewards) - 1
        for t in range(len(rewards)):
            buffer.add(observations[t][None], np.asarray(actions[t])[None], rewards[t : t + 1],
                       np.array([t == 0]), np.array([t == last]), np.array([True]))  # fmt: skip
    batch = buffer.episode_batch(gamma, estimator.reward_to_go)
    device = policy.device
    losses = reinforce_loss(
        policy,
        obs_as_tensor(batch.observations, device),  # type: ignore[arg-type]
        th.as_tensor(batch.actions, device=device),
        th.as_tensor(batch.returns, dtype=th.float32, device=device),
        n_episodes=len(episodes),
        normalize_returns=estimator.normalize_returns,
        loss_reduction=estimator.loss_reduction,
        baseline=estimator.baseline,
        ratio_form=estimator.ratio_form,
    )
    grads = th.autograd.grad(-losses.policy_loss, parameters, allow_unused=True)
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

    :param policy: a REINFORCE model or any SB3 policy (or model) with discrete actions
    :param env: an env id or instance of the tree-game family
    :param n_episodes: episodes per batch
    :param n_batches: batches (independent estimates) per estimator
    :param estimators: the variants to compare
    :param gamma: discount factor of the returns and of the exact gradient
    :param seed: seed of the sampled episodes
    """
    if n_episodes < 1 or n_batches < 2:
        raise ValueError(f"n_episodes must be >= 1 and n_batches >= 2, got {n_episodes} and {n_batches}")
    policy = getattr(policy, "policy", policy)
    parameters = list(policy.parameters())
    truth = exact.parameter_gradient(env, policy, parameters, gamma=gamma)
    exact_gradient = th.cat([g.flatten() for g in truth]).detach().cpu().numpy()
    episodes = sample_episodes(policy, env, n_episodes * n_batches, seed)
    batches = [episodes[i * n_episodes : (i + 1) * n_episodes] for i in range(n_batches)]
    return [
        GradientCheck(
            estimator=estimator,
            n_episodes=n_episodes,
            exact=exact_gradient,
            estimates=np.stack([estimate(policy, batch, estimator, gamma, parameters) for batch in batches]),
        )
        for estimator in estimators
    ]


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
        "noise (one batch)",
        "cosine (one batch)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|---|---|---|"]
    for check in checks:
        lines.append(
            f"| {check.estimator.name} | {check.scale:.3f} | {check.cosine:.4f} | {check.relative_error:.4f} | "
            f"{check.relative_variance:.4f} | {check.batch_cosine:.3f} |"
        )
    n_batches = len(checks[0].estimates) if checks else 0
    lines.append(
        f"\n{n_batches} batches of {checks[0].n_episodes if checks else 0} episodes each. Scale: |average| / |exact|. "
        "Noise: the variance of one batch's estimate (summed over parameters) / |average|^2."
    )
    return "\n".join(lines)


class ExactReturnCallback(BaseCallback):
    """Record the exact expected return of the model's policy at the start and after every update.

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
    env: str = "PGToy-v0", seeds: Sequence[int] = range(5), timesteps: int = 20_000, **reinforce_kwargs: Any
) -> dict[str, tuple[list[int], list[float]]]:
    """Train REINFORCE once per seed and return ``{"seed S": (timesteps, exact expected returns)}``."""
    from reinforce_sb3 import REINFORCE

    curves = {}
    for seed in seeds:
        callback = ExactReturnCallback(env)
        REINFORCE("MlpPolicy", env, seed=seed, device="cpu", **reinforce_kwargs).learn(timesteps, callback=callback)
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
    env: str = "PGToy-v0",
    estimators: Sequence[Estimator] = LEARNING_ESTIMATORS,
    seeds: Sequence[int] = range(5),
    timesteps: int = 20_000,
    threshold: float = 10.9,
    **reinforce_kwargs: Any,
) -> list[LearningResult]:
    """Train REINFORCE with each estimator and seed, and time how soon it reaches ``threshold`` (exactly measured)."""
    results = []
    for estimator in estimators:
        curves = learning_curves(env, seeds, timesteps, **estimator.reinforce_kwargs(), **reinforce_kwargs)
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


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m reinforce_sb3.analysis.diagnostics", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--env", default="PGToy-v0", help="PGToy-v0, SlipperyHill-v0 (or another id of the family)")
    parser.add_argument("--model", default=None, help="a saved REINFORCE model (default: a fresh, untrained policy)")
    parser.add_argument("--n-episodes", type=int, default=32, help="episodes per batch")
    parser.add_argument("--n-batches", type=int, default=100, help="batches (estimates) per estimator")
    parser.add_argument("--gamma", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning", action="store_true", help="also train with each estimator and time it")
    parser.add_argument("--seeds", type=int, default=5, help="--learning: seeds per estimator")
    parser.add_argument("--timesteps", type=int, default=20_000, help="--learning: steps per run")
    parser.add_argument("--threshold", type=float, default=10.9, help="--learning: exact return to reach")
    args = parser.parse_args(argv)

    from reinforce_sb3 import REINFORCE

    if args.model:
        model = REINFORCE.load(args.model, device="cpu")
    else:  # PyTorch's default initialisation: a policy far from uniform, with a gradient worth checking
        model = REINFORCE("MlpPolicy", args.env, seed=args.seed, device="cpu", policy_kwargs=dict(ortho_init=False))
    checks = compare_estimators(model, args.env, args.n_episodes, args.n_batches, gamma=args.gamma, seed=args.seed)
    print(f"Policy-gradient estimators on {args.env} against the exact gradient (gym_pgtoy.exact):\n")
    print(format_table(checks))
    if args.learning:
        results = learning_speed(args.env, seeds=range(args.seeds), timesteps=args.timesteps, threshold=args.threshold)
        print(f"\nLearning with each estimator ({args.seeds} seeds, {args.timesteps:,} steps each, exact returns):\n")
        print(format_learning_table(results, args.threshold))


if __name__ == "__main__":
    main()
