"""REINFORCE as LLM fine-tuning uses it (RLOO, GRPO, Dr. GRPO), measured against the exact gradient of the tree game.

In LLM fine-tuning an episode is a completion ``o_i`` of ``|o_i|`` tokens (steps), one reward ``R_i``
for the whole of it, and a *group* of ``G`` completions per prompt: here, one batch of ``G``
episodes of the tree game, ``R_i`` the (discounted) return of episode ``i``. The estimators differ in
the coefficient of each step's ``log pi(a_t|s_t)``:

- RLOO (Kool et al., 2019; Ahmadian et al., 2024): ``(R_i - mean_{j != i} R_j) / G``, which is the
  core's ``baseline="leave_one_out"`` on whole-episode returns with ``loss_reduction="episodes"``;
- GRPO (Shao et al., 2024): ``A_i / (G |o_i|)`` with ``A_i = (R_i - mean R) / (std R + eps)`` over the
  group (the sample std and ``eps = 1e-4``, as TRL's ``GRPOTrainer`` computes it): :func:`grpo_weights`;
- Dr. GRPO (Liu et al., 2025): ``(R_i - mean R) / G``, neither the std nor the length: :func:`dr_grpo_weights`.

Each is an :class:`~reinforce_sb3.analysis.estimators.Estimator` (:data:`LLM_ESTIMATORS`, beside the
textbook estimator and REINFORCE's defaults), measured by
:func:`~reinforce_sb3.analysis.diagnostics.compare_estimators`;
:func:`format_llm_table` adds to the diagnostics' columns the *direction* test: the sine of the angle
between the average estimate and the exact gradient beside what sampling noise alone gives it
(:func:`direction_error`, :func:`direction_noise_floor`), since an estimator whose expectation is a
positive multiple of the exact gradient ascends the expected return, whatever the multiple.
On PGToy-v0, whose five trajectories can be listed, :func:`exact_expectation` also gives each estimator's
expectation exactly (every group of trajectories with its probability, no sampling), and the table's verdict
on the objective is the exact one.

    python -m reinforce_sb3.analysis.llm_variants --env PGToy-v0 --n-episodes 16 --n-batches 1500 --seed 0
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.policies import BasePolicy

from gym_pgtoy import exact
from gym_pgtoy.cli import add_debug_flag, int_at_least, run_cli
from gym_pgtoy.slippery_hill import SlipperyHillEnv
from reinforce_sb3.analysis.cli import add_env_arguments, env_from_args
from reinforce_sb3.analysis.diagnostics import GradientCheck, compare_estimators
from reinforce_sb3.analysis.estimators import Estimator
from reinforce_sb3.analysis.policy_adapter import probability_fn
from reinforce_sb3.analysis.theorem import Trajectory, trajectories
from reinforce_sb3.episodic_algorithm import thread_count
from reinforce_sb3.estimator import TensorBatch, reinforce_loss

PROG = "python -m reinforce_sb3.analysis.llm_variants"

GRPO_EPSILON = 1e-4
"""Added to the group's std by GRPO (as TRL's ``GRPOTrainer`` does): a group of equal returns gets zero advantages."""

CHANGED = 3.0
"""An estimator changes the objective when the sine of its average's angle to the exact gradient is more than
this many times its noise floor (:func:`changes_objective`)."""


def episode_returns(batch: TensorBatch) -> th.Tensor:
    """``R_i``, the return of each episode ``0 .. n_episodes - 1``: the return at its first step (whole-episode
    return and reward-to-go agree there)."""
    firsts = batch.timesteps == 0
    returns = th.zeros(batch.n_episodes, dtype=batch.returns.dtype, device=batch.returns.device)
    return returns.index_copy(0, batch.episode_ids[firsts], batch.returns[firsts])


def episode_lengths(batch: TensorBatch) -> th.Tensor:
    """``|o_i|``, the number of steps of each episode ``0 .. n_episodes - 1``, in the returns' dtype."""
    return th.bincount(batch.episode_ids, minlength=batch.n_episodes).to(batch.returns.dtype)


def group_advantages(returns: th.Tensor, scale_by_std: bool = True, epsilon: float = GRPO_EPSILON) -> th.Tensor:
    """
    GRPO's advantage of each episode of a group: ``(R_i - mean R) / (std R + epsilon)``, the std the
    sample one (divided by ``G - 1``); ``R_i - mean R`` without ``scale_by_std`` (Dr. GRPO).

    :param returns: ``R_i``, one per episode of the group
    :param scale_by_std: divide by the group's std (GRPO) or not (Dr. GRPO)
    :param epsilon: added to the std, so that equal returns give zeros, never NaN
    """
    centered = returns - returns.mean()
    if not scale_by_std:
        return centered
    std = returns.std() if len(returns) > 1 else th.zeros((), dtype=returns.dtype, device=returns.device)
    return centered / (std + epsilon)


def group_weights(batch: TensorBatch, scale_by_std: bool = True, length_normalization: bool = True) -> th.Tensor:
    """
    The coefficient of each step's ``log pi`` in the GRPO family's objective,
    ``(1/G) sum_i c_i sum_{t in o_i} A_i log pi(a_t|s_t)`` with ``A_i`` of :func:`group_advantages`
    and ``c_i = 1 / |o_i|`` (``length_normalization``) or 1, ``G`` the batch's episodes.

    :param batch: a batch of complete episodes (any step order; ``returns`` at each episode's first step is ``R_i``)
    :param scale_by_std: divide the advantages by the group's std
    :param length_normalization: divide each episode's terms by its length
    """
    per_episode = group_advantages(episode_returns(batch), scale_by_std) / batch.n_episodes
    if length_normalization:
        per_episode = per_episode / episode_lengths(batch)
    return per_episode[batch.episode_ids]


def grpo_weights(batch: TensorBatch) -> th.Tensor:
    """GRPO (Shao et al., 2024): group-standardised returns, each episode's terms averaged over its steps,
    ``A_i / (G |o_i|)`` at every step of episode ``i``."""
    return group_weights(batch, scale_by_std=True, length_normalization=True)


def dr_grpo_weights(batch: TensorBatch) -> th.Tensor:
    """Dr. GRPO (Liu et al., 2025): GRPO without the std and without the length, ``(R_i - mean R) / G`` at every
    step of episode ``i`` (TRL also divides by a constant, the longest completion allowed; that only rescales)."""
    return group_weights(batch, scale_by_std=False, length_normalization=False)


TEXTBOOK = Estimator("REINFORCE, textbook")
LIBRARY_DEFAULTS = Estimator("REINFORCE's defaults", normalize_returns=True, loss_reduction="mean")
RLOO = Estimator("RLOO", reward_to_go=False, baseline="leave_one_out")
GRPO = Estimator("GRPO", reward_to_go=False, weighting=grpo_weights)
GRPO_WITHOUT_LENGTH = Estimator(
    "GRPO, no length normalisation", reward_to_go=False, weighting=partial(group_weights, length_normalization=False)
)
GRPO_WITHOUT_STD = Estimator("GRPO, no std", reward_to_go=False, weighting=partial(group_weights, scale_by_std=False))
DR_GRPO = Estimator("Dr. GRPO", reward_to_go=False, weighting=dr_grpo_weights)

LLM_ESTIMATORS = (TEXTBOOK, LIBRARY_DEFAULTS, RLOO, GRPO, GRPO_WITHOUT_LENGTH, GRPO_WITHOUT_STD, DR_GRPO)
"""The reference estimators, then RLOO, GRPO, GRPO with one of its two changes undone each, and Dr. GRPO."""

EPISODE_WEIGHTS = {
    TEXTBOOK.name: "G_it / G",
    LIBRARY_DEFAULTS.name: "standardise(G_it) / steps",
    RLOO.name: "(R_i - mean_{j!=i} R_j) / G",
    GRPO.name: "(R_i - mean R) / std R / (G T_i)",
    GRPO_WITHOUT_LENGTH.name: "(R_i - mean R) / std R / G",
    GRPO_WITHOUT_STD.name: "(R_i - mean R) / (G T_i)",
    DR_GRPO.name: "(R_i - mean R) / G",
}
"""Each estimator's coefficient of ``log pi(a_t|s_t)`` at step ``t`` of episode ``i``, as the table prints it
(``G_it`` the reward-to-go, ``T_i = |o_i|`` the episode's length: a table cell cannot hold a ``|``)."""


MAX_GROUPS = 200_000
"""The most groups :func:`exact_expectation` may list: ``k x C(G - 1 + k - 1, k - 1)`` for ``k`` trajectories
(PGToy-v0 has 5: G = 16 lists 5 x 3876)."""

MAX_EXACT_HORIZON = 6
"""The longest episodes :func:`exact_expectation` lists every trajectory of (at most ``4^horizon`` of them)."""

EXACT_SINE = 1e-4
"""An exact expectation whose sine to the exact gradient is above this is not a multiple of it (float32 gradients
agree to about 1e-6)."""


@dataclass(frozen=True)
class ExactExpectation:
    """The exact expectation of an estimator's estimate over groups of ``n_episodes`` episodes, beside the exact
    gradient (both flattened over parameters)."""

    estimator: Estimator
    n_episodes: int
    exact: np.ndarray
    expectation: np.ndarray

    @property
    def scale(self) -> float:
        """``|E[estimate]| / |exact|``."""
        return float(np.linalg.norm(self.expectation) / np.linalg.norm(self.exact))

    @property
    def cosine(self) -> float:
        """The cosine of the angle between the expectation and the exact gradient."""
        return float(
            np.dot(self.expectation, self.exact) / (np.linalg.norm(self.expectation) * np.linalg.norm(self.exact))
        )

    @property
    def sine(self) -> float:
        """The sine of that angle, from the part of the expectation at right angles to the exact gradient."""
        unit = self.exact / np.linalg.norm(self.exact)
        perpendicular = self.expectation - np.dot(self.expectation, unit) * unit
        return float(np.linalg.norm(perpendicular) / np.linalg.norm(self.expectation))

    @property
    def changes_objective(self) -> bool:
        """Whether the expectation is not a positive multiple of the exact gradient (beyond float32 rounding)."""
        return self.cosine <= 0 or self.sine > EXACT_SINE


def group_batch(group: Sequence[Trajectory], gamma: float = 1.0, reward_to_go: bool = False) -> TensorBatch:
    """The batch of a group of whole trajectories, one after another: each step with its episode's return or its
    reward-to-go, the states as observations, the actions taken."""
    returns = [
        tau.returns_to_go(gamma) if reward_to_go else np.full(len(tau.actions), tau.total(gamma)) for tau in group
    ]
    return TensorBatch(
        observations=th.tensor(np.array([s for tau in group for s in tau.states]), dtype=th.int64),
        actions=th.tensor([a for tau in group for a in tau.actions]),
        returns=th.tensor(np.concatenate(returns), dtype=th.float32),
        episode_ids=th.tensor([i for i, tau in enumerate(group) for _ in tau.actions]),
        timesteps=th.tensor([t for tau in group for t in range(len(tau.actions))]),
        n_episodes=len(group),
    )


def step_coefficients(policy: BasePolicy, estimator: Estimator, batch: TensorBatch, gamma: float = 1.0) -> th.Tensor:
    """The coefficient of each step's ``log pi`` in the estimator's estimate of ``batch``: its ``weighting``, or the
    weights times the scale of REINFORCE's loss (:func:`~reinforce_sb3.estimator.reinforce_loss`)."""
    if estimator.weighting is not None:
        return estimator.weighting(batch)
    if estimator.baseline == "value":
        raise ValueError(f"{estimator.name!r}: a learned value baseline has no exact expectation here")
    with th.no_grad():
        losses = reinforce_loss(policy, batch, estimator.options(gamma))
    return losses.weights * losses.scale


def trajectory_coefficients(
    policy: BasePolicy, estimator: Estimator, found: Sequence[Trajectory], n_episodes: int, gamma: float = 1.0
) -> list[np.ndarray]:
    """
    ``h_t(tau) = G E[c_{1,t} | tau_1 = tau]`` for each trajectory ``tau`` of ``found`` and each of its steps: the
    coefficient of that step's ``log pi`` when the first episode of a group plays ``tau``, averaged over the other
    ``G - 1`` episodes (every multiset of them, with its multinomial probability), times ``G``. By symmetry,
    ``E[estimate] = sum_tau P(tau) sum_t h_t(tau) grad log pi(a_t|s_t)``.
    """
    n_groups = len(found) * math.comb(n_episodes - 1 + len(found) - 1, len(found) - 1)
    if n_groups > MAX_GROUPS:
        raise ValueError(f"{n_groups:,} groups to list, more than the {MAX_GROUPS:,} allowed: use a smaller G")
    others = []
    for combination in itertools.combinations_with_replacement(range(len(found)), n_episodes - 1):
        counts = np.bincount(np.array(combination, dtype=np.int64), minlength=len(found))
        ways = math.factorial(n_episodes - 1) / math.prod(math.factorial(int(c)) for c in counts)
        others.append((combination, ways * math.prod(found[i].probability for i in combination)))
    coefficients = [np.zeros(len(tau.actions)) for tau in found]
    for k, tau in enumerate(found):
        for combination, probability in others:
            if probability > 0.0:
                batch = group_batch([tau, *(found[i] for i in combination)], gamma, estimator.reward_to_go)
                weights = step_coefficients(policy, estimator, batch, gamma)
                coefficients[k] += probability * weights[batch.episode_ids == 0].double().cpu().numpy()
    return [n_episodes * c for c in coefficients]


def exact_expectation(
    policy: Any, env: str | gym.Env, estimator: Estimator, n_episodes: int, gamma: float = 1.0
) -> ExactExpectation:
    """
    The expectation of ``estimator``'s estimate over groups of ``n_episodes`` episodes, exactly: the trajectories
    of the game listed with their probabilities (:func:`~reinforce_sb3.analysis.theorem.trajectories`), every
    group of them weighted by its probability (:func:`trajectory_coefficients`), and autograd through
    ``sum_tau P(tau) sum_t h_t(tau) log pi(a_t|s_t)`` with ``h`` held fixed. No sampling, no seed.

    :param policy: an SB3 model or policy made for the env's spaces (discrete actions)
    :param env: an env id or instance of the tree-game family with few trajectories (PGToy-v0 has 5)
    :param estimator: any estimator but the learned value baseline
    :param n_episodes: ``G``, the episodes of a group
    :param gamma: discount of the returns and of the exact gradient
    """
    policy = getattr(policy, "policy", policy)
    if not isinstance(policy, BasePolicy):
        raise TypeError(f"policy must be an SB3 model or policy, got {type(policy).__name__}")
    game_env = gym.make(env) if isinstance(env, str) else env
    game = game_env.unwrapped
    horizon = game_env.spec.max_episode_steps if game_env.spec is not None else None
    if horizon is None or not isinstance(game, SlipperyHillEnv):
        raise ValueError("exact_expectation needs an env of the tree-game family with a time limit")
    if horizon > MAX_EXACT_HORIZON:
        raise ValueError(
            f"the exact expectation lists every trajectory: at most {MAX_EXACT_HORIZON} steps, got {horizon} "
            "(PGToy-v0 has 3; the command line skips it with --no-exact)"
        )
    probabilities = probability_fn(policy, game.observation_space, game.action_space)
    if probabilities is None:
        raise TypeError(f"policy must be an SB3 model or policy, got {type(policy).__name__}")
    table = {state: probabilities(np.array(state)) for state in game.P}
    found = [tau for tau in trajectories(game, table, horizon) if tau.probability > 0.0]
    # one coefficient computation per group, on tiny tensors: one thread is many times faster than one per core
    with thread_count(1):
        coefficients = trajectory_coefficients(policy, estimator, found, n_episodes, gamma)
    parameters = list(policy.parameters())
    states = th.as_tensor(np.array([s for tau in found for s in tau.states]), device=policy.device)
    actions = th.as_tensor([a for tau in found for a in tau.actions], device=policy.device)
    weights = np.concatenate([tau.probability * c for tau, c in zip(found, coefficients, strict=True)])
    with th.enable_grad():
        distribution = policy.get_distribution(states)  # type: ignore[operator]  # every SB3 policy has it
        log_prob = distribution.log_prob(actions)
        surrogate = (log_prob * th.as_tensor(weights).to(log_prob)).sum()
        grads = th.autograd.grad(surrogate, parameters, allow_unused=True)
    expectation = th.cat(
        [(th.zeros_like(p) if g is None else g).flatten() for p, g in zip(parameters, grads, strict=True)]
    )
    truth = exact.parameter_gradient(env, policy, parameters, gamma=gamma)
    exact_gradient = th.cat([g.flatten() for g in truth]).detach().cpu().numpy()
    return ExactExpectation(estimator, n_episodes, exact_gradient, expectation.detach().cpu().numpy())


def _perpendicular(check: GradientCheck, vectors: np.ndarray) -> np.ndarray:
    """The part of ``vectors`` (rows) at right angles to the exact gradient."""
    unit = check.exact / np.linalg.norm(check.exact)
    return vectors - np.outer(vectors @ unit, unit)


def direction_error(check: GradientCheck) -> float:
    """The sine of the angle between the average estimate and the exact gradient: ``|mean_perp| / |mean|``, the part
    of the average at right angles to the exact gradient, relative to the average (0 for a positive or negative
    multiple of it, whatever the multiple)."""
    perpendicular = _perpendicular(check, check.mean[None])[0]
    return float(np.linalg.norm(perpendicular) / np.linalg.norm(check.mean))


def direction_noise_floor(check: GradientCheck) -> float:
    """What sampling noise alone gives :func:`direction_error`: ``sqrt(tr Var_perp / n_batches) / |mean|``, with
    ``Var_perp`` the variance of one batch's estimate at right angles to the exact gradient. An estimator whose
    expectation is a multiple of the exact gradient has a direction error of about this; a larger one is bias."""
    perpendicular = _perpendicular(check, check.estimates)
    total = perpendicular.var(axis=0, ddof=1).sum()
    return float(np.sqrt(total / len(check.estimates)) / np.linalg.norm(check.mean))


def changes_objective(check: GradientCheck) -> bool:
    """Whether the estimator's expectation is *not* a positive multiple of the exact gradient, beyond sampling
    noise: its average points away from the exact gradient (negative cosine), or its direction error is more than
    :data:`CHANGED` times its noise floor."""
    return check.cosine <= 0 or direction_error(check) > CHANGED * direction_noise_floor(check)


def format_llm_table(checks: Sequence[GradientCheck], expectations: Sequence[ExactExpectation] | None = None) -> str:
    """A markdown table: one row per estimator, its exact expectation (if given, in the same order) beside the
    diagnostics' columns and the direction test. The verdict on the objective is the exact one where the exact
    expectation is given, else the sampled one (:func:`changes_objective`)."""
    header = [
        "estimator",
        "weight of grad log pi",
        "scale (exact)",
        "sine (exact)",
        "scale",
        "cosine (average)",
        "relative error",
        "noise floor",
        "sine (average)",
        "noise floor of sine",
        "noise (one batch)",
        "objective",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for k, check in enumerate(checks):
        expected = expectations[k] if expectations is not None else None
        if expected is None:
            verdict = "changed" if changes_objective(check) else "within noise"
        else:
            verdict = "changed" if expected.changes_objective else "kept"
        exact_columns = "- | -" if expected is None else f"{expected.scale:.4f} | {expected.sine:.4f}"
        lines.append(
            f"| {check.estimator.name} | `{EPISODE_WEIGHTS.get(check.estimator.name, '')}` | {exact_columns} | "
            f"{check.scale:.3f} | {check.cosine:.4f} | {check.relative_error:.4f} | {check.noise_floor:.4f} | "
            f"{direction_error(check):.4f} | {direction_noise_floor(check):.4f} | {check.relative_variance:.3f} | "
            f"{verdict} |"
        )
    lines.append(
        "\nExact: the expectation of one group's estimate, every group of the game's trajectories listed with its "
        "probability (no sampling); its scale |E| / |exact| and the sine of its angle to the exact gradient. Then "
        "the sampled batches: scale |average| / |exact|; relative error |average - exact| / |exact| beside its "
        "noise floor (what sampling noise alone gives it); the sine of the average's angle to the exact gradient "
        "beside its noise floor; noise, the variance of one batch's estimate (summed over parameters) / "
        "|average|^2. Objective: 'changed' where the expectation is not a positive multiple of the exact "
        f"gradient: its exact sine is over {EXACT_SINE:g} (float32 rounding); without the exact columns, the "
        f"average's sine is over {CHANGED:g} times its noise floor ('within noise': the batches cannot tell)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = PROG) -> None:
    """The command line (see the module docstring); bad input raises, and :func:`cli` makes it one line."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_env_arguments(parser)
    parser.add_argument("--n-episodes", type=int_at_least(2), default=16, help="episodes per batch: the group size G")
    parser.add_argument("--n-batches", type=int_at_least(2), default=1000, help="batches (estimates) per estimator")
    parser.add_argument("--gamma", type=float, default=1.0, help="discount factor, in [0, 1]")
    parser.add_argument("--seed", type=int_at_least(0), default=0)
    parser.add_argument("--no-exact", action="store_true", help="skip the exact expectations (for long episodes)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    from reinforce_sb3 import REINFORCE

    env = env_from_args(args)
    # PyTorch's default initialisation: a policy far from uniform, with a gradient worth checking
    model = REINFORCE("MlpPolicy", env, seed=args.seed, device="cpu", policy_kwargs={"ortho_init": False})
    expectations = None
    if not args.no_exact:  # first: a game too long to list fails before the sampling
        expectations = [exact_expectation(model, env, e, args.n_episodes, args.gamma) for e in LLM_ESTIMATORS]
    checks = compare_estimators(
        model, env, args.n_episodes, args.n_batches, LLM_ESTIMATORS, gamma=args.gamma, seed=args.seed
    )
    variant = " (continuous=True)" if args.continuous else ""
    print(
        f"REINFORCE's LLM fine-tuning variants on {args.env}{variant} against the exact gradient (gym_pgtoy.exact): "
        f"groups (batches) of G = {args.n_episodes} episodes, {args.n_batches} batches, seed {args.seed}, "
        f"gamma {args.gamma:g}, a fresh REINFORCE MlpPolicy.\n"
    )
    print(format_llm_table(checks, expectations))


def cli(argv: list[str] | None = None, prog: str = PROG) -> None:
    """``main`` as a command-line tool: bad input is one line on stderr and exit status 2 (see :mod:`gym_pgtoy.cli`)."""
    run_cli(lambda args: main(args, prog), prog, argv)


if __name__ == "__main__":
    cli()
