"""Wall-clock of one optuna study on PostgreSQL run by 1 worker process and by several, the same trials each time.

A throwaway PostgreSQL server on loopback (:mod:`reinforce_sb3.zoo.postgres`) holds one study per
worker count. Every study gets the same ``--trials`` trials enqueued beforehand (the same sampled
parameters, the shipped CartPole-v1 settings), so every run does the same work; then the workers
(``python -m reinforce_sb3.zoo.train -optimize`` processes with one torch thread each, ``--n-seeds``
seeds of ``-n`` steps per trial, no pruning) are started together and share the trials through the
database. Reported: the wall-clock from starting the workers to the last one's exit (their start-up
included), the span from the first trial's start to the last trial's end (from the database), and
the speed-up of each over one worker, and the cores the workers got (their CPU time over the wall
time): the cores are shared with whatever else the machine runs.

    python -m benchmarks.tune_workers --workers 1 2 --trials 8 --n-timesteps 10000
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import run_benchmark, table
from gym_pgtoy.cli import int_at_least

# The shipped CartPole-v1 entry in the sampler's terms (every trial of every study trains this setting); its
# baseline is the default, none (the mean baseline it was tuned with does nothing beside normalize_returns).
PARAMS = {
    "n_episodes": 2, "one_minus_gamma": 0.01, "learning_rate": 0.0025, "lr_schedule": "linear",
    "normalize_returns": True, "baseline": "none", "truncation": "bootstrap_mean", "ent_coef": 1.066e-08,
    "net_arch": "medium", "activation_fn": "relu", "adam_beta1": 0.5, "adam_beta2": 0.999,
}  # fmt: skip


def study_time(url: str, workers: int, trials: int, n_timesteps: int, n_seeds: int) -> tuple[float, float, float]:
    """
    Run one study of ``trials`` enqueued trials with ``workers`` processes.

    :return: wall seconds, trial span seconds, and the workers' CPU seconds (user + system)
    """
    import optuna

    name = f"workers-{workers}"
    study = optuna.create_study(study_name=name, storage=url, direction="maximize")
    for _ in range(trials):
        study.enqueue_trial(PARAMS)
    command = [
        sys.executable, "-m", "reinforce_sb3.zoo.train", "--algo", "reinforce", "--env", "CartPole-v1", "-optimize",
        "-n", str(n_timesteps), "--n-evaluations", "2", "--eval-episodes", "10", "--n-eval-envs", "10",
        "--n-seeds", str(n_seeds), "--pruner", "none", "--max-total-trials", str(trials), "--storage", url,
        "--study-name", name, "--no-optim-plots", "--num-threads", "1", "--verbose", "0",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        processes = [
            subprocess.Popen([*command, "--seed", str(index), "-f", str(Path(folder) / str(index))], cwd=folder,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for index in range(workers)
        ]  # fmt: skip
        for process in processes:
            _, errors = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"a worker failed ({process.returncode}): {errors[-2000:]}")
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    done = optuna.load_study(study_name=name, storage=url).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) != trials:
        raise RuntimeError(f"{name}: {len(done)} trials completed, expected {trials}")
    first = min(t.datetime_start for t in done if t.datetime_start is not None)
    last = max(t.datetime_complete for t in done if t.datetime_complete is not None)
    return wall, (last - first).total_seconds(), cpu


def tune_workers(workers: list[int], trials: int, n_timesteps: int, n_seeds: int) -> str:
    """The table of :func:`study_time` for every worker count, on one throwaway PostgreSQL server."""
    from reinforce_sb3.zoo.postgres import throwaway_server

    with throwaway_server() as url:
        times = {count: study_time(url, count, trials, n_timesteps, n_seeds) for count in workers}
    wall_1, span_1, _ = times.get(1, (None, None, None))
    rows = [
        [
            str(count),
            str(trials),
            f"{wall:.1f}",
            f"{span:.1f}",
            f"{wall_1 / wall:.2f}" if wall_1 else "n/a",
            f"{span_1 / span:.2f}" if span_1 else "n/a",
            f"{cpu / wall:.2f}",
        ]
        for count, (wall, span, cpu) in times.items()
    ]
    return (
        f"CartPole-v1, each trial {n_seeds} seeds x {n_timesteps:,} steps of the shipped settings, PostgreSQL on "
        "loopback; wall = start of the workers to the last exit (start-up included); span = first trial start to "
        "last trial end; cores used = the workers' CPU seconds / wall (what the machine gave them)\n\n"
        + table(["workers", "trials", "wall s", "trial span s", "wall speed-up", "span speed-up", "cores used"], rows)
    )


def main(argv: list[str] | None = None) -> None:
    """Print the machine and the table."""
    run_benchmark(
        __doc__,
        "tune_workers",
        tune_workers,
        argv,
        workers={"nargs": "+", "type": int_at_least(1), "default": [1, 2], "help": "worker counts to compare"},
        trials={"type": int_at_least(1), "default": 8, "help": "trials per study"},
        n_timesteps={"type": int_at_least(1), "default": 10_000, "help": "steps per seed of a trial"},
        n_seeds={"type": int_at_least(1), "default": 3, "help": "seeds per trial"},
    )


if __name__ == "__main__":
    main()
