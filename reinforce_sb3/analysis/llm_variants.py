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

    python -m reinforce_sb3.analysis.llm_variants --env PGToy-v0 --n-episodes 16 --n-batches 1000 --seed 0
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import torch as th

from gym_pgtoy.cli import add_debug_flag, int_at_least, run_cli
from reinforce_sb3.analysis.cli import add_env_arguments, env_from_args
from reinforce_sb3.analysis.diagnostics import GradientCheck, compare_estimators
from reinforce_sb3.analysis.estimators import ESTIMATORS, Estimator
from reinforce_sb3.estimator import TensorBatch

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


TEXTBOOK = ESTIMATORS[0]
LIBRARY_DEFAULTS = Estimator("REINFORCE's defaults", normalize_returns=True, loss_reduction="mean")
RLOO = Estimator("RLOO", reward_to_go=False, baseline="leave_one_out")
GRPO = Estimator("GRPO", reward_to_go=False, weighting=grpo_weights)
GRPO_WITHOUT_LENGTH = Estimator(
    "GRPO without 1/|o_i|", reward_to_go=False, weighting=partial(group_weights, length_normalization=False)
)
GRPO_WITHOUT_STD = Estimator(
    "GRPO without std", reward_to_go=False, weighting=partial(group_weights, scale_by_std=False)
)
DR_GRPO = Estimator("Dr. GRPO", reward_to_go=False, weighting=dr_grpo_weights)

LLM_ESTIMATORS = (TEXTBOOK, LIBRARY_DEFAULTS, RLOO, GRPO, GRPO_WITHOUT_LENGTH, GRPO_WITHOUT_STD, DR_GRPO)
"""The reference estimators, then RLOO, GRPO, GRPO with one of its two changes undone each, and Dr. GRPO."""

EPISODE_WEIGHTS = {
    TEXTBOOK.name: "G_t / G (reward-to-go)",
    LIBRARY_DEFAULTS.name: "standardise(G_t) / steps",
    RLOO.name: "(R_i - mean_{j!=i} R_j) / G",
    GRPO.name: "(R_i - mean R) / (std R) / (G |o_i|)",
    GRPO_WITHOUT_LENGTH.name: "(R_i - mean R) / (std R) / G",
    GRPO_WITHOUT_STD.name: "(R_i - mean R) / (G |o_i|)",
    DR_GRPO.name: "(R_i - mean R) / G",
}
"""Each estimator's coefficient of ``log pi(a_t|s_t)`` at step ``t`` of episode ``i``, as the table prints it."""


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


def format_llm_table(checks: list[GradientCheck]) -> str:
    """A markdown table: one row per estimator, with the direction test beside the diagnostics' columns."""
    header = [
        "estimator",
        "weight of log pi(a_t|s_t)",
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
    for check in checks:
        verdict = "changed" if changes_objective(check) else "kept"
        weight = EPISODE_WEIGHTS.get(check.estimator.name, "")
        lines.append(
            f"| {check.estimator.name} | `{weight}` | {check.scale:.3f} | {check.cosine:.4f} | "
            f"{check.relative_error:.4f} | {check.noise_floor:.4f} | {direction_error(check):.4f} | "
            f"{direction_noise_floor(check):.4f} | {check.relative_variance:.3f} | {verdict} |"
        )
    lines.append(
        "\nScale: |average| / |exact|. Relative error: |average - exact| / |exact|, beside its noise floor (what "
        "sampling noise alone gives it). Sine: of the angle between the average and the exact gradient, beside its "
        "noise floor. Noise: the variance of one batch's estimate (summed over parameters) / |average|^2. Objective: "
        f"'changed' where the average points away from the exact gradient or its sine is over {CHANGED:g} times "
        "its noise floor (the expectation is not a positive multiple of the gradient of the expected return)."
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
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    from reinforce_sb3 import REINFORCE

    env = env_from_args(args)
    # PyTorch's default initialisation: a policy far from uniform, with a gradient worth checking
    model = REINFORCE("MlpPolicy", env, seed=args.seed, device="cpu", policy_kwargs={"ortho_init": False})
    checks = compare_estimators(
        model, env, args.n_episodes, args.n_batches, LLM_ESTIMATORS, gamma=args.gamma, seed=args.seed
    )
    variant = " (continuous=True)" if args.continuous else ""
    print(
        f"REINFORCE's LLM fine-tuning variants on {args.env}{variant} against the exact gradient (gym_pgtoy.exact): "
        f"groups (batches) of G = {args.n_episodes} episodes, {args.n_batches} batches, seed {args.seed}, "
        f"gamma {args.gamma:g}, a fresh REINFORCE MlpPolicy.\n"
    )
    print(format_llm_table(checks))


def cli(argv: list[str] | None = None, prog: str = PROG) -> None:
    """``main`` as a command-line tool: bad input is one line on stderr and exit status 2 (see :mod:`gym_pgtoy.cli`)."""
    run_cli(lambda args: main(args, prog), prog, argv)


if __name__ == "__main__":
    cli()
