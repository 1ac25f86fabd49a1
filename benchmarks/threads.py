"""How fast REINFORCE learns with the threads a user gets without asking, alone and two trainings side by side.

CartPole-v1 with the defaults, on the CPU. Each line trains in fresh processes (one, or two
started together as users and optuna workers do), so torch's thread pool starts as a user's
would. Three settings:

- ``defaults``: ``REINFORCE("MlpPolicy", "CartPole-v1").learn(n)``; ``learn`` runs torch on
  ``torch_threads=1`` thread and restores torch's setting afterwards;
- ``torch.set_num_threads(1)``: the user sets one thread by hand (``torch_threads=None``);
- ``torch's default``: torch's own thread count, one per core (``torch_threads=None``), what
  REINFORCE did before ``torch_threads``.

The ratio is each line's steps/s over the ``torch.set_num_threads(1)`` line of the same layout.

    python -m benchmarks.threads
    python -m benchmarks.threads --steps 5000 --repeats 1
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from benchmarks.common import run_benchmark, table
from gym_pgtoy.cli import int_at_least

SETTINGS = {
    "defaults": "model = REINFORCE('MlpPolicy', 'CartPole-v1', seed=seed)",
    "torch.set_num_threads(1)": (
        "torch.set_num_threads(1)\nmodel = REINFORCE('MlpPolicy', 'CartPole-v1', seed=seed, torch_threads=None)"
    ),
    "torch's default": "model = REINFORCE('MlpPolicy', 'CartPole-v1', seed=seed, torch_threads=None)",
}

SCRIPT = """
import json, sys, time, torch
from reinforce_sb3 import REINFORCE
seed, steps = int(sys.argv[1]), int(sys.argv[2])
{setting}
threads = model.torch_threads or torch.get_num_threads()
start = time.perf_counter()
model.learn(steps)
print(json.dumps({{"steps_per_second": model.num_timesteps / (time.perf_counter() - start), "threads": threads}}))
"""


def _run_together(setting: str, n_processes: int, steps: int) -> tuple[float, int]:
    """Total steps/s of ``n_processes`` trainings started together, and torch's thread count in them."""
    code = SCRIPT.format(setting=SETTINGS[setting])
    processes = [
        subprocess.Popen([sys.executable, "-c", code, str(seed), str(steps)], stdout=subprocess.PIPE, text=True)
        for seed in range(n_processes)
    ]
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"the {setting!r} training exited with status {process.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return sum(result["steps_per_second"] for result in results), results[0]["threads"]


def threads(steps: int = 20_000, repeats: int = 3) -> str:
    """The table: steps/s per setting, alone and two side by side (median of ``repeats``, interleaved)."""
    rows = []
    for n_processes in (1, 2):
        speeds: dict[str, list[float]] = {setting: [] for setting in SETTINGS}
        counts: dict[str, int] = {}
        for _ in range(repeats):  # interleaved, so that a change of load hits every setting alike
            for setting in SETTINGS:
                speed, counts[setting] = _run_together(setting, n_processes, steps)
                speeds[setting].append(speed)
        medians = {setting: statistics.median(values) for setting, values in speeds.items()}
        for setting, values in speeds.items():
            rows.append(
                [
                    "alone" if n_processes == 1 else "two side by side",
                    setting,
                    str(counts[setting]),
                    f"{medians[setting]:,.0f}",
                    f"{min(values):,.0f}-{max(values):,.0f}",
                    f"{medians[setting] / medians['torch.set_num_threads(1)']:.2f}",
                ]
            )
    header = ["layout", "setting", "torch threads in learn()", "steps/s (sum)", "range", "vs one thread"]
    return (
        f"CartPole-v1, REINFORCE defaults, {steps:,} steps per training, median of {repeats} interleaved runs.\n\n"
        + table(header, rows)
    )


def main(argv: list[str] | None = None) -> None:
    run_benchmark(
        __doc__,
        "threads",
        threads,
        argv,
        steps=dict(type=int_at_least(1), default=20_000, help="env steps per training"),
        repeats=dict(type=int_at_least(1), default=3, help="runs per line (median)"),
    )


if __name__ == "__main__":
    main()
