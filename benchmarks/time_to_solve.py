"""Time to solve CartPole-v1: REINFORCE with the shipped hyperparameters beside SB3's A2C and PPO with the zoo's.

Each model is built by the zoo's own ``ExperimentManager`` from its hyperparameter file
(``reinforce_sb3/zoo/hyperparams/reinforce.yml`` for REINFORCE, the zoo's ``a2c.yml`` and
``ppo.yml`` for the others: n_envs, schedules such as ``lin_0.001``, policy_kwargs and
normalisation as ``python -m rl_zoo3.train`` sets them) and trained for the yml's
``n_timesteps``, stopping at the first evaluation that counts as solved
(:mod:`benchmarks.cartpole_zoo`: every ``--eval-freq`` env steps, summed over the envs, 100
episodes with sampled actions unless ``--deterministic``, mean return at least 475). Reported
per algorithm: the seeds solved, the median env steps and training seconds (evaluations
excluded) to solve, an unsolved run counting as infinite, each with its 95% percentile-bootstrap
interval over the seeds (:mod:`benchmarks.intervals`, as rliable reports scores; one seed: no
interval), and both medians relative to REINFORCE's. Runs go one after another with one torch
thread, so the seconds compare the algorithms on one core; they still depend on the machine and
on what else it runs.

Peers (:mod:`benchmarks.peers`) run in their own loops under the same judge: ``pytorch_example``,
PyTorch's example REINFORCE re-implemented from its published algorithm, and ``tianshou``,
Tianshou's REINFORCE with its test's settings, in its own environment (``make peers`` first).

``--full-budget`` trains on after the first solve, to the budget, evaluating every ``--eval-freq``
steps as before (zoo algorithms only): the table then also says how many seeds still score 475 at
the budget (the last evaluation, on the same judge), the median of that score with its interval,
and how many of the evaluations after each seed's first solve fell below 475 (the "late wobble"; in
all, and the median share per seed with its interval).
The steps and seconds to solve are still those of the first solve.

    python -m benchmarks.time_to_solve                       # seeds 0-4, reinforce a2c ppo
    python -m benchmarks.time_to_solve --seeds 100 101 --algos reinforce ppo pytorch_example tianshou
    python -m benchmarks.time_to_solve --seeds 0 --algos reinforce ppo --max-steps 20000 --eval-freq 5000
    python -m benchmarks.time_to_solve --seeds 100 101 --algos reinforce ppo --full-budget
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

from benchmarks.cartpole_zoo import ENV_ID, EVAL_EPISODES, THRESHOLD, Predictor, SolveCallback, SolveJudge, make_model
from benchmarks.common import TORCH_THREADS, run_benchmark, table
from benchmarks.intervals import describe
from benchmarks.peers import PEERS, check_environments, run_peer
from gym_pgtoy.cli import int_at_least, run_cli
from reinforce_sb3.zoo import HYPERPARAMS_FILE

ALGOS = ("reinforce", "a2c", "ppo")
PEER_BUDGET = 100_000  # steps for a peer without a zoo file (unless --max-steps)


class FullBudgetJudge(SolveJudge):
    """
    :class:`~benchmarks.cartpole_zoo.SolveJudge` that trains on after the first solve, to ``max_steps``.

    ``solved_at`` stays the step count of the first pass and ``solve_seconds`` the training seconds
    to it; the evaluations go on every ``eval_freq`` steps, the last at ``max_steps``.
    """

    def __init__(self, eval_freq: int, max_steps: int, seed: int, deterministic: bool) -> None:
        super().__init__(eval_freq, max_steps, seed, deterministic)
        self.solve_seconds: float | None = None

    def keep_training(self, learner: Predictor, steps: int) -> bool:
        """After ``steps`` training steps: evaluate if one is due; training goes on until ``max_steps``."""
        first_solve = self.solved_at
        super().keep_training(learner, steps)
        if first_solve is not None:
            self.solved_at = first_solve
        elif self.solved_at is not None:
            self.solve_seconds = self.train_seconds
        return steps < self.max_steps


class FullBudgetCallback(SolveCallback):
    """:class:`~benchmarks.cartpole_zoo.SolveCallback` with a :class:`FullBudgetJudge` (same parameters)."""

    def __init__(self, eval_freq: int, max_steps: int, seed: int, deterministic: bool) -> None:
        BaseCallback.__init__(self)  # not SolveCallback's, whose judge would stop at the first solve
        self.judge = FullBudgetJudge(eval_freq, max_steps, seed, deterministic)


def run(
    algo: str,
    seed: int,
    eval_freq: int,
    deterministic: bool,
    max_steps: int | None,
    conf_file: Path | None = None,
    full_budget: bool = False,
) -> dict[str, Any]:
    """
    Train one model until it solves CartPole-v1 or its budget is spent.

    ``learn()`` is always given the yml's ``n_timesteps`` (or ``max_steps`` if larger), so
    linear schedules decay as in the zoo; a smaller ``max_steps`` stops training early instead.

    A peer of :mod:`benchmarks.peers` (``pytorch_example``, ``tianshou``) trains in its own loop,
    judged the same way, for ``max_steps`` (default 100k).

    :param full_budget: train on after the first solve, to the budget (zoo algorithms only); the row's
        ``final`` is then the last evaluation's mean return, at the budget
    :return: the run's figures; ``steps`` and ``seconds`` are None when it did not solve
    """
    from rl_zoo3.utils import SimpleLinearSchedule

    if algo in PEERS:
        if full_budget:
            raise ValueError(f"full_budget: the peers stop at the first solve, {algo} cannot train on")
        return run_peer(algo, seed, eval_freq, deterministic, max_steps or PEER_BUDGET)

    th.set_num_threads(TORCH_THREADS)
    with tempfile.TemporaryDirectory() as folder:
        model, n_timesteps, config = make_model(algo, seed, folder, conf_file)
        budget = n_timesteps if max_steps is None else max(n_timesteps, max_steps)
        schedules = (getattr(model, name, None) for name in ("learning_rate", "clip_range", "clip_range_vf"))
        if budget > n_timesteps and any(isinstance(schedule, SimpleLinearSchedule) for schedule in schedules):
            warnings.warn(f"{algo}: --max-steps beyond n_timesteps stretches the zoo's linear schedules", stacklevel=2)
        judged = FullBudgetCallback if full_budget else SolveCallback
        callback = judged(eval_freq, n_timesteps if max_steps is None else max_steps, seed, deterministic)
        model.learn(budget, callback=callback)
        assert model.env is not None
        model.env.close()
    judge = callback.judge
    solved = judge.solved_at is not None
    shipped = Path(config).resolve() == HYPERPARAMS_FILE.resolve()
    source = "shipped" if shipped else "candidate" if algo == "reinforce" else "zoo"
    seconds = judge.solve_seconds if isinstance(judge, FullBudgetJudge) else judge.train_seconds
    full = {"final": judge.evaluations[-1][1]} if full_budget else {}
    return {
        "algo": algo,
        "seed": seed,
        "env": ENV_ID,
        "hyperparams": f"{source} {Path(config).name}",
        "n_envs": model.n_envs,
        "budget": min(budget, judge.max_steps),
        "eval_freq": eval_freq,
        "deterministic": deterministic,
        "solved": solved,
        "steps": judge.solved_at,
        "seconds": seconds if solved else None,
        "steps_run": int(model.num_timesteps),
        "train_seconds": judge.train_seconds,
        "eval_seconds": judge.eval_seconds,
        "evaluations": judge.evaluations,
        **full,
    }


def time_to_solve(
    algos: list[str],
    seeds: list[int],
    eval_freq: int = 2000,
    deterministic: bool = False,
    max_steps: int | None = None,
    conf_file: Path | None = None,
    full_budget: bool = False,
) -> list[dict[str, Any]]:
    """
    Train every algorithm with every seed until it solves CartPole-v1, one run after another.

    :param algos: zoo algorithm names ("reinforce", "a2c", "ppo") or peers ("pytorch_example", "tianshou")
    :param seeds: training seeds
    :param eval_freq: environment steps (summed over the envs) between evaluations
    :param deterministic: whether evaluations play the most likely actions instead of sampling
    :param max_steps: stop a run at this many steps (default: the yml's ``n_timesteps``)
    :param conf_file: REINFORCE's hyperparameter file (default: the shipped ``reinforce.yml``)
    :param full_budget: train on after the first solve, to the budget (zoo algorithms only; see :func:`run`)
    :return: one dict per run (see :func:`run`)
    """
    if eval_freq <= 0:
        raise ValueError(f"eval_freq must be positive, got {eval_freq}")
    if max_steps is not None and max_steps <= 0:
        raise ValueError(f"max_steps must be positive, got {max_steps}")
    peers = [algo for algo in algos if algo in PEERS]
    if full_budget and peers:
        raise ValueError(f"full_budget: the peers stop at the first solve, {', '.join(peers)} cannot train on")
    check_environments(algos)
    return [
        run(algo, seed, eval_freq, deterministic, max_steps, conf_file, full_budget) for algo in algos for seed in seeds
    ]


def _unsolved_as_infinite(values: list[float | None]) -> list[float]:
    """The values with None (not solved) as infinity."""
    return [math.inf if value is None else value for value in values]


def _median(values: list[float | None]) -> float:
    """Median with None (not solved) as infinity."""
    return float(np.median(_unsolved_as_infinite(values)))


def _ratio(value: float, reference: float | None) -> str:
    """``value / reference`` for the table: "n/a" without a finite reference."""
    if reference is None or math.isinf(reference):
        return "n/a"
    if math.isinf(value):
        return "∞"
    return f"{value / reference:.2f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """
    A markdown table of :func:`time_to_solve`'s runs, one line per algorithm.

    Medians count an unsolved run as infinite ("∞"); beside each, in brackets, its 95% bootstrap
    interval over the seeds (an infinite bound when enough resamples are mostly unsolved runs). The
    ratios divide an algorithm's medians by REINFORCE's from the same rows (below 1: faster than
    REINFORCE). Runs trained to the full budget (``final`` in every row) add three columns: the seeds
    at 475 or more at the budget, the median score there with its interval, and the evaluations after
    each seed's first solve that fell below 475: their count over all the seeds, then the median over
    the seeds of each seed's share with its interval.
    """
    by_algo = {algo: [row for row in rows if row["algo"] == algo] for algo in dict.fromkeys(r["algo"] for r in rows)}
    medians = {
        algo: (_median([run["steps"] for run in runs]), _median([run["seconds"] for run in runs]))
        for algo, runs in by_algo.items()
    }
    steps_reference, seconds_reference = medians.get("reinforce", (None, None))
    full_budget = bool(rows) and all("final" in row for row in rows)
    lines = []
    for algo, runs in by_algo.items():
        steps, seconds = medians[algo]
        lines.append(
            [
                algo,
                runs[0]["hyperparams"],
                str(runs[0]["n_envs"]),
                f"{runs[0]['budget']:,}",
                f"{sum(run['solved'] for run in runs)}/{len(runs)}",
                describe(_unsolved_as_infinite([run["steps"] for run in runs]), "median", "{:,.0f}"),
                describe(_unsolved_as_infinite([run["seconds"] for run in runs]), "median", "{:.1f}"),
                ", ".join(f"{run['steps']:,}" if run["solved"] else "not solved" for run in runs),
                _ratio(steps, steps_reference),
                _ratio(seconds, seconds_reference),
                *(_after_the_solve(runs) if full_budget else []),
            ]
        )
    header = ["algorithm", "hyperparameters", "n_envs", "budget", "solved"]
    header += ["median steps [95% CI]", "median seconds [95% CI]", "steps per seed"]
    header += ["steps ÷ REINFORCE", "seconds ÷ REINFORCE"]
    if full_budget:
        header += [f"≥ {THRESHOLD:g} at the budget", "score at the budget [95% CI]"]
        header.append(f"evaluations after the solve < {THRESHOLD:g}")
    return table(header, lines)


def _after_the_solve(runs: list[dict[str, Any]]) -> list[str]:
    """The full-budget cells of one algorithm's runs: seeds good at the budget, their median score, the dips."""
    finals = [run["final"] for run in runs]
    after = [[mean for step, mean in run["evaluations"] if step > run["steps"]] for run in runs if run["solved"]]
    dips = [sum(mean < THRESHOLD for mean in means) for means in after]
    shares = [dip / len(means) for dip, means in zip(dips, after, strict=True) if means]
    per_seed = f"; per seed {describe(shares, 'median', '{:.2f}')}" if shares else ""
    return [
        f"{sum(final >= THRESHOLD for final in finals)}/{len(runs)}",
        describe(finals, "median", "{:.1f}"),
        f"{sum(dips)}/{sum(map(len, after))}{per_seed}",
    ]


def solve(
    algos: list[str],
    seeds: list[int],
    eval_freq: int = 2000,
    deterministic: bool = False,
    max_steps: int | None = None,
    output: Path | None = None,
    conf_file: Path | None = None,
    full_budget: bool = False,
) -> str:
    """
    Run :func:`time_to_solve` and describe its runs: what solved means, then :func:`format_table`.

    :param output: if given, also append the runs to this file as JSON lines
    """
    rows = time_to_solve(algos, seeds, eval_freq, deterministic, max_steps, conf_file, full_budget)
    if output:
        with output.open("a") as file:
            file.writelines(json.dumps(row) + "\n" for row in rows)
    evaluation = "deterministic" if deterministic else "stochastic (sampled actions)"
    on = "; trained on after the first solve to the budget (steps, seconds: to the first solve)" if full_budget else ""
    return (
        f"{ENV_ID}, solved = mean return >= {THRESHOLD:g} over {EVAL_EPISODES} {evaluation} evaluation episodes, "
        f"evaluated every {eval_freq:,} steps{on}; seconds are training wall-clock without evaluations; "
        "[low, high]: 95% percentile-bootstrap interval over the seeds\n\n" + format_table(rows)
    )


def main(argv: list[str] | None = None) -> None:
    """Print the machine and the time-to-solve table."""
    run_benchmark(
        __doc__,
        "solve",
        solve,
        argv,
        algos={"nargs": "+", "default": list(ALGOS), "help": f"zoo algorithm names or peers ({', '.join(PEERS)})"},
        seeds={"nargs": "+", "type": int_at_least(0), "default": list(range(5)), "help": "training seeds"},
        eval_freq={"type": int_at_least(1), "default": 2000, "help": "environment steps between evaluations"},
        deterministic={"action": "store_true", "help": "evaluate greedy actions (default: sampled)"},
        max_steps={"type": int_at_least(1), "default": None, "help": "step cap per run (default: yml n_timesteps)"},
        output={"type": Path, "default": None, "help": "also append the runs as JSON lines here"},
        conf_file={"type": Path, "default": None, "help": "REINFORCE's hyperparameter file (default: the shipped one)"},
        full_budget={"action": "store_true", "help": "train on after the first solve, to the budget (zoo algorithms)"},
    )


if __name__ == "__main__":
    run_cli(main, "python -m benchmarks.time_to_solve")  # an error (a peer's missing environment): one line
