"""REINFORCE with the shipped hyperparameters beside SB3's A2C with the zoo's own, same task and budget.

Each run is ``python -m reinforce_sb3.zoo.train --algo {reinforce,a2c} --env ENV -n BUDGET --seed S``
(the zoo's own script, with one torch thread), then the final model is evaluated on
``--eval-episodes`` episodes with deterministic actions, through the zoo's ``create_test_env``
(so VecNormalize statistics are used where the zoo's A2C hyperparameters normalize). Prints a
markdown table: per algorithm, the mean and standard deviation over seeds of the final evaluation
return, and beside it the interquartile mean (IQM) over seeds with its 95% percentile-bootstrap
interval (:mod:`benchmarks.intervals`, as rliable reports scores; one seed: no interval); on the
tree game both also of the exact expected return of the final (stochastic) policy.

    python -m benchmarks.zoo_table --envs PGToy-v0 CartPole-v1 --seeds 5 --jobs 2
    python -m benchmarks.zoo_table --envs CartPole-v1 --algos reinforce --seeds 10 --first-seed 100 --budget-scale 2
    python -m benchmarks.zoo_table --envs Acrobot-v1 --algos reinforce --conf-file candidate.yml --first-seed 50

``--conf-file`` measures REINFORCE with another hyperparameter file (a candidate from a study)
instead of the shipped one; budgets come from that file. A run whose training fails (the zoo's
one-line error: bad hyperparameters, a policy that diverged to non-finite values) does not stop the
others: the table's scores are over the runs that finished, its per-seed column says "failed", and
a note under the table gives the error.

The other algorithms (``--algos a2c ppo``) use the zoo's own hyperparameters for the task. Where the
zoo has none for this version of the env (its MuJoCo entries are for the v4 tasks), they use its
entry for the nearest older version of the same task (``Hopper-v4`` for ``Hopper-v5``), else the
zoo's ``default`` entry, as the zoo itself does; a note under the table says which.

    python -m benchmarks.zoo_table --envs Hopper-v5 --algos reinforce a2c ppo --seeds 5 --first-seed 200
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.common import parser, positive_float, report, table
from benchmarks.intervals import describe
from gym_pgtoy.cli import int_at_least
from reinforce_sb3.zoo import HYPERPARAMS_FILE


def zoo_hyperparams_folder() -> Path:
    """rl_zoo3's folder of hyperparameter files, one ``<algo>.yml`` per algorithm (the zoo extra)."""
    spec = importlib.util.find_spec("rl_zoo3")
    if spec is None or not spec.submodule_search_locations:
        sys.exit('benchmarks.zoo_table: the zoo is not installed: pip install "reinforce-sb3[zoo]"')
    return Path(spec.submodule_search_locations[0]) / "hyperparams"


def zoo_hyperparameters(algo: str, env_id: str) -> tuple[str, dict[str, Any] | None]:
    """
    Where the zoo's hyperparameters of ``algo`` (one of rl_zoo3's, not REINFORCE) for ``env_id`` come from.

    :return: ``("", None)`` when the zoo has an entry for ``env_id``; else a note saying what is used
        instead, and the entry of the nearest older version of the same task (``Hopper-v4`` for
        ``Hopper-v5``) to train with, or None where the zoo has none either and uses its ``default`` entry
    """
    entries = yaml.safe_load((zoo_hyperparams_folder() / f"{algo}.yml").read_text())
    if env_id in entries:
        return "", None
    versioned = re.fullmatch(r"(.+)-v(\d+)", env_id)
    if versioned:
        name, version = versioned.group(1), int(versioned.group(2))
        for older in range(version - 1, -1, -1):
            if f"{name}-v{older}" in entries:
                note = f"{algo} on {env_id}: the zoo's {name}-v{older} hyperparameters (it has none for {env_id})"
                return note, entries[f"{name}-v{older}"]
    return f"{algo} on {env_id}: the zoo's default hyperparameters (it has none for this task)", None


def train_and_evaluate(
    algo: str,
    env_id: str,
    budget: int,
    seed: int,
    eval_episodes: int,
    folder: Path,
    conf_file: Path | None = None,
    evaluations: int = 0,
) -> dict[str, Any]:
    """One zoo training run in its own process, then the evaluation of its final model.

    :param conf_file: the hyperparameter file for the zoo's ``--conf-file`` (default: REINFORCE's shipped one,
        and the zoo's own for the other algorithms)
    :param evaluations: also evaluate this many times during training (the zoo's ``--eval-freq``, with
        ``eval_episodes`` deterministic episodes each) and give the best of those means, ``max_over_training``
        (Tianshou's metric); 0: no evaluation during training
    """
    log_folder = folder / f"{algo}-{env_id}-{seed}"
    eval_freq = str(max(budget // evaluations, 1)) if evaluations else "-1"
    command = [
        sys.executable, "-m", "reinforce_sb3.zoo.train", "--algo", algo, "--env", env_id, "-n", str(budget),
        "--seed", str(seed), "-f", str(log_folder), "--eval-freq", eval_freq, "--eval-episodes", str(eval_episodes),
        "--num-threads", "1", "--verbose", "0",
    ]  # fmt: skip
    if conf_file is not None:
        command += ["--conf-file", str(conf_file)]
    run = {"algo": algo, "env": env_id, "budget": budget, "seed": seed}
    trained = subprocess.run(command, capture_output=True, text=True)
    if trained.returncode != 0:  # the zoo's train prints one line (diverged, bad hyperparameters, ...)
        lines = trained.stderr.strip().splitlines() or [f"exit status {trained.returncode}"]
        return {**run, "failed": lines[-1]}
    evaluate = [sys.executable, "-m", "benchmarks.zoo_table", "--evaluate", algo, env_id, str(log_folder), str(seed)]
    result = subprocess.run([*evaluate, str(eval_episodes)], check=True, capture_output=True, text=True)
    scores = json.loads(result.stdout.splitlines()[-1])
    if evaluations:
        during = np.load(log_folder / algo / f"{env_id}_1" / "evaluations.npz")["results"].mean(axis=1)
        scores["max_over_training"] = float(max(during.max(), scores["mean"]))
    return {**run, **scores}


def evaluate(algo: str, env_id: str, log_folder: str, seed: int, eval_episodes: int) -> None:
    """Evaluate the final model of a zoo run, as the zoo's enjoy script builds its env; print JSON."""
    import reinforce_sb3.zoo

    reinforce_sb3.zoo.register()
    from rl_zoo3 import ALGOS, create_test_env, get_saved_hyperparams
    from stable_baselines3.common.evaluation import evaluate_policy

    run = Path(log_folder) / algo / f"{env_id}_1"
    hyperparams, stats_path = get_saved_hyperparams(str(run / env_id))
    env = create_test_env(
        env_id, n_envs=1, stats_path=stats_path, seed=seed + 1000, should_render=False, hyperparams=hyperparams
    )
    model = ALGOS[algo].load(run / f"{env_id}.zip", device="cpu")
    returns, _ = evaluate_policy(model, env, eval_episodes, deterministic=True, return_episode_rewards=True)
    result = {"mean": float(np.mean(returns)), "std": float(np.std(returns)), "timesteps": int(model.num_timesteps)}
    if env_id in ("PGToy-v0", "SlipperyHill-v0"):
        # a few episodes measure the slips more than the policy: the tree game knows the exact value
        from gym_pgtoy import exact

        result["exact"] = exact.expected_return(env_id, model)
    print(json.dumps(result))


def zoo_table(
    envs: list[str] | None,
    seeds: int,
    jobs: int,
    eval_episodes: int,
    algos: list[str],
    output: Path | None,
    first_seed: int = 0,
    budget_scale: float = 1.0,
    conf_file: Path | None = None,
    per_seed: bool = False,
    evaluations: int = 0,
) -> str:
    """
    Train and evaluate every (env, algorithm, seed), ``jobs`` runs at a time; the table of their returns.

    :param seeds: how many seeds: ``first_seed .. first_seed + seeds - 1``
    :param budget_scale: train for this multiple of the entry's ``n_timesteps`` (2: does the policy stay good?)
    :param conf_file: REINFORCE's hyperparameter file and the budgets (default: the shipped ``reinforce.yml``)
    :param per_seed: also give each algorithm's score per seed, in seed order
    :param evaluations: also evaluate each run this many times during training, and give the IQM of each run's
        best evaluation (the final one included): Tianshou's "max average return" (see :func:`train_and_evaluate`)
    :return: the markdown table; each algorithm's mean ± std, then its IQM [95% bootstrap interval] over seeds
    """
    hyperparams = yaml.safe_load((conf_file or HYPERPARAMS_FILE).read_text())
    envs = envs or list(hyperparams)
    notes = []
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(jobs) as pool:
        conf_files: dict[tuple[str, str], Path | None] = {}
        for env_id in envs:
            for algo in algos:
                conf_files[algo, env_id] = conf_file if algo == "reinforce" else None
                if algo == "reinforce":
                    continue
                note, entry = zoo_hyperparameters(algo, env_id)
                notes += [note] if note else []
                if entry is not None:  # the older version's entry, under this env id
                    path = conf_files[algo, env_id] = Path(folder) / f"{algo}-{env_id}.yml"
                    path.write_text(yaml.safe_dump({env_id: entry}))
        runs = [
            pool.submit(
                train_and_evaluate,
                algo,
                env_id,
                budget,
                seed,
                eval_episodes,
                Path(folder),
                conf_files[algo, env_id],
                evaluations,
            )
            for env_id in envs
            for budget in [int(budget_scale * float(hyperparams[env_id]["n_timesteps"]))]
            for algo in algos
            for seed in range(first_seed, first_seed + seeds)
        ]
        results = [run.result() for run in runs]
    if output:
        with output.open("a") as file:
            file.writelines(json.dumps(result) + "\n" for result in results)
    rows = []
    for env_id in envs:
        cells = []
        for algo in algos:
            all_runs = [r for r in results if r["env"] == env_id and r["algo"] == algo]
            env_runs = [r for r in all_runs if "failed" not in r]
            for failed in (r for r in all_runs if "failed" in r):
                notes.append(
                    f"{algo} on {env_id}, seed {failed['seed']}: training failed ({failed['failed']}); "
                    f"its scores are over the other {len(env_runs)} runs"
                )
            if not env_runs:
                cells += ["every run failed"] * (2 + bool(evaluations) + per_seed)
                continue
            means = np.array([r["mean"] for r in env_runs])
            cell = f"{means.mean():.1f} ± {means.std():.1f}"
            iqm_cell = describe(means)
            if "exact" in env_runs[0]:
                exacts = np.array([r["exact"] for r in env_runs])
                cell += f" (exact {exacts.mean():.3f} ± {exacts.std():.3f})"
                iqm_cell += f" (exact {describe(exacts, fmt='{:.3f}')})"
            cells += [cell, iqm_cell]
            if evaluations:
                cells.append(describe(np.array([r["max_over_training"] for r in env_runs])))
            if per_seed:
                cells.append(", ".join("failed" if "failed" in r else f"{r['mean']:.1f}" for r in all_runs))
        budget = next(r["budget"] for r in results if r["env"] == env_id)
        rows.append([env_id, f"{budget:,}", f"{first_seed}-{first_seed + seeds - 1}", *cells])
    columns = [
        column
        for algo in algos
        for column in [
            f"{algo} mean ± std",
            f"{algo} IQM [95% CI]",
            *([f"{algo} best during training, IQM [95% CI]"] if evaluations else []),
            *([f"{algo} per seed"] if per_seed else []),
        ]
    ]
    # a blank line ends the table: Markdown reads a line right under it as one more row
    return (
        table(["task", "budget", "seeds", *columns], rows)
        + "\n" * bool(notes)
        + "".join(f"\n- {note}" for note in notes)
    )


def main(argv: list[str] | None = None) -> None:
    """Print the machine and the table (or, with the hidden ``--evaluate``, one run's evaluation as JSON)."""
    cli = parser(__doc__)
    cli.add_argument("--envs", nargs="+", default=None, help="env ids (default: every entry of reinforce.yml)")
    cli.add_argument("--seeds", type=int_at_least(1), default=5, help="N seeds for every (env, algorithm)")
    cli.add_argument("--first-seed", type=int_at_least(0), default=0, help="the seeds are FIRST .. FIRST + N - 1")
    cli.add_argument(
        "--budget-scale", type=positive_float, default=1.0, help="train for this multiple of the entry's n_timesteps"
    )
    cli.add_argument("--jobs", type=int_at_least(1), default=2, help="runs at a time")
    cli.add_argument("--eval-episodes", type=int_at_least(1), default=20)
    cli.add_argument("--algos", nargs="+", default=["reinforce", "a2c"])
    cli.add_argument("--output", type=Path, default=None, help="also append the results as JSON lines here")
    cli.add_argument(
        "--conf-file", type=Path, default=None, help="REINFORCE's hyperparameter file (default: the shipped one)"
    )
    cli.add_argument("--per-seed", action="store_true", help="also give every seed's score")
    cli.add_argument(
        "--evaluations",
        type=int_at_least(0),
        default=0,
        help="also evaluate N times during training and report each run's best (Tianshou's metric); 0: not",
    )
    cli.add_argument("--evaluate", nargs=5, help=argparse.SUPPRESS)
    args = cli.parse_args(argv)
    if args.evaluate:
        algo, env_id, log_folder, seed, episodes = args.evaluate
        evaluate(algo, env_id, log_folder, int(seed), int(episodes))
        return
    conf_file = args.conf_file or HYPERPARAMS_FILE
    try:
        entries = yaml.safe_load(conf_file.read_text())
    except (OSError, yaml.YAMLError) as error:
        cli.error(f"argument --conf-file: cannot read {conf_file}: {' '.join(str(error).split())}")
    if not isinstance(entries, dict):
        cli.error(f"argument --conf-file: {conf_file} does not map env ids to hyperparameters")
    known = sorted(["reinforce", *(path.stem for path in zoo_hyperparams_folder().glob("*.yml"))])
    unknown = [algo for algo in args.algos if algo not in known]
    if unknown:
        cli.error(f"argument --algos: {', '.join(unknown)} not one of the zoo's algorithms ({', '.join(known)})")
    missing = [env_id for env_id in args.envs or () if env_id not in entries]
    if missing:
        cli.error(f"argument --envs: {', '.join(missing)} not in {conf_file} (entries: {', '.join(entries)})")
    names = ("first_seed", "budget_scale", "conf_file", "per_seed", "evaluations")
    options = {name: getattr(args, name) for name in names}
    report(
        {
            "zoo": lambda: zoo_table(
                args.envs, args.seeds, args.jobs, args.eval_episodes, args.algos, args.output, **options
            )
        }
    )


if __name__ == "__main__":
    main()
