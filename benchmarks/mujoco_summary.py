"""The MuJoCo entries' scores in one table beside Tianshou's published REINFORCE, gathered from a page's results blocks.

Each MuJoCo entry of ``reinforce.yml`` has its own results block on ``docs/zoo.md``: what
``python -m benchmarks.zoo_table --envs <task> --algos reinforce ... --per-seed`` printed for the
shipped entry (no ``--conf-file``, no ``--budget-scale``), with its machine line and its command.
This reads those blocks (it measures nothing) and prints one row per task beside Tianshou's
REINFORCE after 3M steps: the column "Tianshou(3M steps)" of ``examples/mujoco/README.md`` in
thu-ml/tianshou, the maximum over training of the mean test return of 10 seeds. A task without a
block, with two, or whose block trained another budget than the entry's ``n_timesteps`` (a block
not re-run since the entry changed) is an error naming the task.

Beside them, SB3's A2C and PPO with rl_zoo3's own hyperparameters, where the page has a block of
``python -m benchmarks.zoo_table --envs <task> --algos a2c ppo ...`` for the task (the entry's
budget and the same seeds; "not run" where it has none). Such a block with another budget or other
seeds than the entry's block is an error naming the task, as is a second block of one algorithm.
Blocks of other experiments are not read: those with ``--budget-scale`` or ``--conf-file``, and
those that run REINFORCE beside A2C or PPO in one table.

    python -m benchmarks.mujoco_summary docs/zoo.md

``make figures`` re-runs the results blocks of a page in order and writes the page after each, so a
summary block placed after the tasks' blocks reads what they have just printed.
"""

from __future__ import annotations

import re
import shlex
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import yaml

from benchmarks.common import parser, table
from reinforce_sb3.zoo import HYPERPARAMS_FILE

TIANSHOU_STEPS = 3_000_000
TIANSHOU = {  # "Tianshou(3M steps)", REINFORCE, examples/mujoco/README.md of thu-ml/tianshou
    "InvertedPendulum-v5": 999.2,
    "InvertedDoublePendulum-v5": 1059.7,
    "Hopper-v5": 395.8,
    "Reacher-v5": -10.5,
    "Walker2d-v5": 412.0,
    "HalfCheetah-v5": 884.0,
    "Swimmer-v5": 35.3,
}
BLOCK = re.compile(r"<!-- results: (?P<command>.+?) -->\n(?P<output>.*?)<!-- /results -->", re.S)
FINAL, BEST, PER_SEED = "reinforce IQM [95% CI]", "reinforce best during training, IQM [95% CI]", "reinforce per seed"
BASELINES = ("a2c", "ppo")  # SB3's algorithms beside REINFORCE, with rl_zoo3's hyperparameters


def zoo_table_algos(command: str) -> list[str]:
    """
    The ``--algos`` of ``command`` if it runs ``benchmarks.zoo_table`` at the shipped budgets (no
    ``--budget-scale``) with REINFORCE's shipped entries (no ``--conf-file``), else ``[]``.
    """
    words = shlex.split(command)
    if words[:3] != ["python", "-m", "benchmarks.zoo_table"] or {"--conf-file", "--budget-scale"} & set(words):
        return []
    algos = words[words.index("--algos") + 1 :] if "--algos" in words else []
    return algos[: next((i for i, word in enumerate(algos) if word.startswith("-")), len(algos))]


def is_entry_run(command: str) -> bool:
    """Whether ``command`` runs ``benchmarks.zoo_table`` on REINFORCE alone with the shipped entries and budgets."""
    return zoo_table_algos(command) == ["reinforce"]


def table_rows(output: str) -> list[dict[str, str]]:
    """The rows of the markdown tables in ``output``, each as a dict from column name to cell."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for line in output.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(line) <= set("|-: "):
            rows.append(dict(zip(header, cells, strict=True)))
    return rows


def entry_rows(page_text: str) -> dict[str, dict[str, str]]:
    """Each MuJoCo task's row from the page's results blocks of the shipped entries (an error if not exactly one)."""
    found: dict[str, list[dict[str, str]]] = {task: [] for task in TIANSHOU}
    for block in BLOCK.finditer(page_text):
        if is_entry_run(block["command"]):
            for row in table_rows(block["output"]):
                if row.get("task") in found:
                    found[row["task"]].append(row)
    for task, rows in found.items():
        if len(rows) != 1:
            raise ValueError(f"{task}: {len(rows)} results blocks of its shipped entry on the page, expected 1")
    return {task: rows[0] for task, rows in found.items()}


def baseline_rows(page_text: str) -> dict[str, dict[str, dict[str, str]]]:
    """For each MuJoCo task, each of A2C's and PPO's rows from the page's blocks that run them (an error if two)."""
    found: dict[str, dict[str, dict[str, str]]] = {task: {} for task in TIANSHOU}
    for block in BLOCK.finditer(page_text):
        algos = zoo_table_algos(block["command"])
        if not algos or "reinforce" in algos or not set(algos) <= set(BASELINES):
            continue
        for row in table_rows(block["output"]):
            for algo in algos:
                if row.get("task") in found:
                    if algo in found[row["task"]]:
                        raise ValueError(f"{row['task']}: two results blocks of {algo} on the page, expected at most 1")
                    found[row["task"]][algo] = row
    return found


def per_seed_scores(cell: str) -> list[float]:
    """The per-seed final scores of a row (a run that failed counts as ``-inf``: below any figure)."""
    return [float(word) if word != "failed" else -np.inf for word in (w.strip() for w in cell.split(","))]


def mujoco_summary(page: Path) -> str:
    """The table of the MuJoCo entries' final scores beside Tianshou's, from the results blocks of ``page``."""
    entries = yaml.safe_load(HYPERPARAMS_FILE.read_text())
    header = [
        "task", "budget", "of Tianshou's 3M", "Tianshou", "final, IQM [95% CI]", "best during training, IQM [95% CI]",
        "seeds at or above Tianshou, final", *(f"{algo.upper()} (zoo), final IQM [95% CI]" for algo in BASELINES),
    ]  # fmt: skip
    measured = entry_rows(page.read_text())
    baselines = baseline_rows(page.read_text())
    rows, iqm_above, interval_above, every_seed = [], 0, 0, 0
    for task, row in measured.items():
        budget = int(row["budget"].replace(",", ""))
        if task not in entries or budget != int(float(entries[task]["n_timesteps"])):
            expected = "no entry" if task not in entries else f"{int(float(entries[task]['n_timesteps'])):,} steps"
            raise ValueError(f"{task}: its results block trained {budget:,} steps, the entry has {expected}: re-run it")
        figure = TIANSHOU[task]
        numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", row[FINAL])]  # IQM [low, high]; one seed: IQM
        iqm, low = (numbers[0], numbers[min(1, len(numbers) - 1)]) if numbers else (-np.inf, -np.inf)
        scores = per_seed_scores(row[PER_SEED])
        above = sum(score >= figure for score in scores)
        iqm_above += iqm >= figure
        interval_above += low >= figure
        every_seed += above == len(scores)
        share = Fraction(budget, TIANSHOU_STEPS)
        beside = []
        for algo, other in ((algo, baselines[task].get(algo)) for algo in BASELINES):
            if other is not None and (other["budget"], other["seeds"]) != (row["budget"], row["seeds"]):
                raise ValueError(
                    f"{task}: its {algo} block trained {other['budget']} steps on seeds {other['seeds']}, the entry's "
                    f"block {row['budget']} on seeds {row['seeds']}: re-run it"
                )
            beside.append("not run" if other is None else other[f"{algo} IQM [95% CI]"])
        rows.append(
            [task, f"{budget:,}", str(share), f"{figure}", row[FINAL], row[BEST], f"{above} of {len(scores)}", *beside]
        )
    seeds = {row["seeds"] for row in measured.values()}
    return (
        f"Final deterministic score of each MuJoCo entry of reinforce.yml (10 episodes per seed, seeds "
        f"{', '.join(sorted(seeds))}), from the results blocks of {page.name} above, beside Tianshou's REINFORCE after "
        f"3M steps (the maximum over training of the mean test return of 10 seeds, its examples/mujoco/README.md), "
        f"and SB3's A2C and PPO with rl_zoo3's hyperparameters at the entry's budget where the page has their block\n\n"
        f"{table(header, rows)}\n\n"
        f"At or above Tianshou's figure: the IQM on {iqm_above} of {len(rows)} tasks, the lower end of its "
        f"interval on {interval_above}, every seed on {every_seed}."
    )


def main(argv: list[str] | None = None) -> None:
    arguments = parser(__doc__)
    arguments.add_argument("page", type=Path, help="the page whose results blocks to read (docs/zoo.md)")
    args = arguments.parse_args(argv)
    if not args.page.is_file():
        sys.exit(f"benchmarks.mujoco_summary: page: no such file: {args.page}")
    try:
        print(mujoco_summary(args.page))
    except ValueError as error:
        sys.exit(f"benchmarks.mujoco_summary: {error}")


if __name__ == "__main__":
    main()
