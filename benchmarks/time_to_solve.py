"""Time to solve CartPole-v1: REINFORCE with the shipped hyperparameters beside SB3's A2C and PPO with the zoo's.

For each algorithm and seed, the model is built by the zoo's own ``ExperimentManager`` from its
hyperparameter file (``reinforce_sb3/hyperparams/reinforce.yml`` for REINFORCE, the zoo's
``a2c.yml`` and ``ppo.yml`` for the others: n_envs, schedules such as ``lin_0.001``,
policy_kwargs and normalisation as ``python -m rl_zoo3.train`` sets them), then trained for the
yml's ``n_timesteps``. Every ``--eval-freq`` environment steps (summed over the envs) the policy
plays 100 episodes, one per env of Gymnasium's vectorised CartPole (500-step limit), with
sampled actions unless ``--deterministic``; training stops at the first evaluation whose mean
return is at least 475. Reported per algorithm: how many seeds solved, the median environment
steps and the median training wall-clock seconds (evaluations excluded) to solve, a run that
never solves counting as infinite, and both medians relative to REINFORCE's in the same run.

    python -m benchmarks.time_to_solve                       # seeds 0-4, reinforce a2c ppo
    python -m benchmarks.time_to_solve --seeds 0 --algos reinforce ppo --max-steps 20000 --eval-freq 5000

Runs go one after another in this process with one torch thread, so the seconds compare the
algorithms on one core; they still depend on the machine and on what else it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import set_random_seed

from reinforce_sb3.zoo import HYPERPARAMS_FILE

ENV_ID = "CartPole-v1"
THRESHOLD = 475.0  # CartPole-v1's reward_threshold
EVAL_EPISODES = 100
EVAL_SEED_KEY = 475  # mixed into the evaluation seeds, so that they differ from the training seeds
ALGOS = ("reinforce", "a2c", "ppo")


def evaluate(model: BaseAlgorithm, env: gym.vector.VectorEnv, seed: int, deterministic: bool) -> float:
    """
    Mean return of the first episode of every env of ``env``, played by ``model``.

    The envs reset with ``seed`` and sampled actions draw from a torch generator seeded with
    ``seed`` and forked from the global one, so an evaluation is reproducible and leaves the
    training's random stream untouched.

    :param model: the model; its ``VecNormalize`` statistics, if any, normalise the observations
    :param env: Gymnasium's vectorised CartPole, one episode per env
    :param seed: seed of the envs' initial states and of the action sampling
    :param deterministic: whether to play the most likely action instead of sampling
    :return: the mean return over the envs' first episodes
    """
    vec_normalize = model.get_vec_normalize_env()
    obs, _ = env.reset(seed=seed)
    returns = np.zeros(env.num_envs)
    running = np.ones(env.num_envs, dtype=bool)
    with th.random.fork_rng(devices=[]):
        th.manual_seed(seed)
        while running.any():
            if vec_normalize is not None:
                obs = vec_normalize.normalize_obs(obs)
            actions, _ = model.predict(obs, deterministic=deterministic)
            obs, rewards, terminated, truncated, _ = env.step(actions)
            # After its first episode an env autoresets and plays on: those steps do not count.
            returns += rewards * running
            running &= ~(terminated | truncated)
    return float(returns.mean())


class SolveCallback(BaseCallback):
    """
    Evaluate every ``eval_freq`` environment steps and stop training once CartPole is solved.

    Evaluations happen when ``num_timesteps`` (summed over the training envs) first reaches a
    multiple of ``eval_freq``, and when it reaches ``max_steps``, where training stops. The
    training wall-clock time is counted from the start of ``learn()``, without the time spent
    in evaluations.

    :param eval_freq: environment steps between evaluations
    :param max_steps: the step count at which training stops, solved or not
    :param seed: the training seed; an evaluation's seed is drawn from it and the step count, so the
        evaluation at a given step does not depend on ``eval_freq``
    :param deterministic: whether the evaluation plays the most likely actions
    """

    def __init__(self, eval_freq: int, max_steps: int, seed: int, deterministic: bool) -> None:
        super().__init__()
        self.eval_freq = eval_freq
        self.max_steps = max_steps
        self.seed = seed
        self.deterministic = deterministic
        self.eval_env = gym.make_vec(ENV_ID, num_envs=EVAL_EPISODES, vectorization_mode="vector_entry_point")
        if self.eval_env.unwrapped.max_episode_steps != 500:  # type: ignore[attr-defined]
            raise ValueError(f"the evaluation env must end episodes at 500 steps, not {self.eval_env.unwrapped}")
        self.next_eval = eval_freq
        self.evaluations: list[tuple[int, float]] = []
        self.solved_at: int | None = None
        self.train_seconds = 0.0
        self.eval_seconds = 0.0
        self.start = 0.0

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()

    def _on_step(self) -> bool:
        steps = self.num_timesteps
        if steps < self.next_eval and steps < self.max_steps:
            return True
        while self.next_eval <= steps:
            self.next_eval += self.eval_freq
        evaluation_start = time.perf_counter()
        eval_seed = int(np.random.SeedSequence([EVAL_SEED_KEY, self.seed, steps]).generate_state(1)[0])
        mean = evaluate(self.model, self.eval_env, eval_seed, self.deterministic)
        now = time.perf_counter()
        self.eval_seconds += now - evaluation_start
        self.train_seconds = now - self.start - self.eval_seconds
        self.evaluations.append((steps, mean))
        if mean >= THRESHOLD:
            self.solved_at = steps
            return False
        return steps < self.max_steps

    def _on_training_end(self) -> None:
        if self.solved_at is None:
            self.train_seconds = time.perf_counter() - self.start - self.eval_seconds
        self.eval_env.close()


def make_model(algo: str, seed: int, log_folder: str) -> tuple[BaseAlgorithm, int, str]:
    """
    The model as ``python -m rl_zoo3.train --algo ALGO --env CartPole-v1 --seed SEED`` builds it.

    The zoo's ``ExperimentManager`` reads the hyperparameters (the shipped ``reinforce.yml`` for
    REINFORCE, the zoo's own file otherwise), converts them (schedules, policy_kwargs, n_envs,
    normalize) and creates the envs and the model, on the CPU, without its evaluation callback,
    with its console output silenced; its logs go to ``log_folder``.

    :param algo: "reinforce", "a2c", "ppo" or another zoo algorithm
    :param seed: the training seed (the zoo seeds its envs with seed .. seed + n_envs - 1)
    :param log_folder: where the zoo writes its config and monitor files
    :return: the model, the yml's ``n_timesteps`` and the hyperparameter file used
    """
    import reinforce_sb3.zoo

    reinforce_sb3.zoo.register()
    from rl_zoo3.exp_manager import ExperimentManager

    config = str(HYPERPARAMS_FILE) if algo == "reinforce" else None
    args = argparse.Namespace(algo=algo, env=ENV_ID, seed=seed, conf_file=config)
    manager = ExperimentManager(
        args, algo, ENV_ID, log_folder, eval_freq=-1, seed=seed, verbose=0, device="cpu", config=config
    )
    set_random_seed(seed)  # as the zoo's train script does before building
    with contextlib.redirect_stdout(io.StringIO()):  # the zoo prints its hyperparameters whatever the verbosity
        setup = manager.setup_experiment()
    assert setup is not None, "no hyperparameter optimisation here"
    model = setup[0]
    if manager.env_wrapper is not None or manager.vec_env_wrapper is not None or manager.frame_stack is not None:
        # The evaluation plays the bare env (plus VecNormalize's observation statistics).
        raise ValueError(f"{algo}'s {ENV_ID} hyperparameters wrap the env, which the evaluation does not reproduce")
    return model, manager.n_timesteps, manager.config


def run(algo: str, seed: int, eval_freq: int, deterministic: bool, max_steps: int | None) -> dict[str, Any]:
    """
    Train one model until it solves CartPole-v1 or its budget is spent.

    ``learn()`` is always given the yml's ``n_timesteps`` (or ``max_steps`` if larger), so
    linear schedules decay as in the zoo; a smaller ``max_steps`` stops training early instead.

    :return: the run's figures; ``steps`` and ``seconds`` are None when it did not solve
    """
    from rl_zoo3.utils import SimpleLinearSchedule

    th.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        model, n_timesteps, config = make_model(algo, seed, folder)
        budget = n_timesteps if max_steps is None else max(n_timesteps, max_steps)
        schedules = (getattr(model, name, None) for name in ("learning_rate", "clip_range", "clip_range_vf"))
        if budget > n_timesteps and any(isinstance(schedule, SimpleLinearSchedule) for schedule in schedules):
            warnings.warn(f"{algo}: --max-steps beyond n_timesteps stretches the zoo's linear schedules", stacklevel=2)
        callback = SolveCallback(
            eval_freq,
            n_timesteps if max_steps is None else max_steps,
            seed,
            deterministic,
        )
        model.learn(budget, callback=callback)
        assert model.env is not None
        model.env.close()
    solved = callback.solved_at is not None
    return {
        "algo": algo,
        "seed": seed,
        "env": ENV_ID,
        "hyperparams": config,
        "n_envs": model.n_envs,
        "budget": min(budget, callback.max_steps),
        "eval_freq": eval_freq,
        "deterministic": deterministic,
        "solved": solved,
        "steps": callback.solved_at,
        "seconds": callback.train_seconds if solved else None,
        "steps_run": int(model.num_timesteps),
        "train_seconds": callback.train_seconds,
        "eval_seconds": callback.eval_seconds,
        "evaluations": callback.evaluations,
    }


def time_to_solve(
    algos: list[str], seeds: list[int], eval_freq: int = 2000, deterministic: bool = False, max_steps: int | None = None
) -> list[dict[str, Any]]:
    """
    Train every algorithm with every seed until it solves CartPole-v1, one run after another.

    :param algos: zoo algorithm names ("reinforce", "a2c", "ppo")
    :param seeds: training seeds
    :param eval_freq: environment steps (summed over the envs) between evaluations
    :param deterministic: whether evaluations play the most likely actions instead of sampling
    :param max_steps: stop a run at this many steps (default: the yml's ``n_timesteps``)
    :return: one dict per run (see :func:`run`)
    """
    if eval_freq <= 0:
        raise ValueError(f"eval_freq must be positive, got {eval_freq}")
    if max_steps is not None and max_steps <= 0:
        raise ValueError(f"max_steps must be positive, got {max_steps}")
    return [run(algo, seed, eval_freq, deterministic, max_steps) for algo in algos for seed in seeds]


def _median(values: list[float | None]) -> float:
    """Median with None (not solved) as infinity."""
    return float(np.median([math.inf if value is None else value for value in values]))


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

    Medians count an unsolved run as infinite ("∞"). The ratios divide an algorithm's medians by
    REINFORCE's from the same rows (below 1: faster than REINFORCE).
    """
    algos = list(dict.fromkeys(row["algo"] for row in rows))
    medians: dict[str, tuple[float, float]] = {}
    for algo in algos:
        runs = [row for row in rows if row["algo"] == algo]
        medians[algo] = (_median([r["steps"] for r in runs]), _median([r["seconds"] for r in runs]))
    steps_reference, seconds_reference = medians.get("reinforce", (None, None))
    lines = [
        "| algorithm | hyperparameters | n_envs | budget | solved | median steps | median seconds "
        "| steps per seed | steps ÷ REINFORCE | seconds ÷ REINFORCE |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for algo in algos:
        runs = [row for row in rows if row["algo"] == algo]
        steps, seconds = medians[algo]
        source = "shipped" if Path(runs[0]["hyperparams"]).resolve() == HYPERPARAMS_FILE.resolve() else "zoo"
        per_seed = ", ".join(f"{r['steps']:,}" if r["solved"] else "not solved" for r in runs)
        cells = [
            algo,
            f"{source} {Path(runs[0]['hyperparams']).name}",
            str(runs[0]["n_envs"]),
            f"{runs[0]['budget']:,}",
            f"{sum(r['solved'] for r in runs)}/{len(runs)}",
            "∞" if math.isinf(steps) else f"{steps:,.0f}",
            "∞" if math.isinf(seconds) else f"{seconds:.1f}",
            per_seed,
            _ratio(steps, steps_reference),
            _ratio(seconds, seconds_reference),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def machine_description() -> str:
    """One line: platform, CPU model, core count, torch version and threads."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.platform()}, {cpu}, {cores} cores, Python {platform.python_version()}, "
        f"torch {th.__version__} with {th.get_num_threads()} thread(s)"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the benchmark and print the machine and the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), help="zoo algorithm names")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(5)), help="training seeds")
    parser.add_argument("--eval-freq", type=int, default=2000, help="environment steps between evaluations")
    parser.add_argument("--deterministic", action="store_true", help="evaluate greedy actions (default: sampled)")
    parser.add_argument("--max-steps", type=int, default=None, help="step cap per run (default: the yml's n_timesteps)")
    parser.add_argument("--output", type=Path, default=None, help="also append the runs as JSON lines here")
    args = parser.parse_args(argv)

    th.set_num_threads(1)
    start = time.perf_counter()
    rows = time_to_solve(args.algos, args.seeds, args.eval_freq, args.deterministic, args.max_steps)
    if args.output:
        with args.output.open("a") as file:
            file.writelines(json.dumps(row) + "\n" for row in rows)
    evaluation = "deterministic" if args.deterministic else "stochastic (sampled actions)"
    print(f"Machine: {machine_description()}")
    print(
        f"{ENV_ID}, solved = mean return >= {THRESHOLD:g} over {EVAL_EPISODES} {evaluation} evaluation episodes, "
        f"evaluated every {args.eval_freq:,} steps; seconds are training wall-clock without evaluations; "
        f"total time {time.perf_counter() - start:.0f} s"
    )
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()
