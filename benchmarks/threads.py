"""How fast REINFORCE learns with the threads a user gets without asking, alone and two trainings side by side.

CartPole-v1 with the defaults, on the CPU. Each line trains in fresh processes (one, or two
started together as users and optuna workers do), so torch's and numpy's BLAS thread pools start
as a user's would. Three settings:

- ``defaults``: ``REINFORCE("MlpPolicy", "CartPole-v1").learn(n)``; ``learn`` runs torch on
  ``torch_threads=1`` thread, and numpy's BLAS on at most as many, and restores both afterwards;
- ``torch.set_num_threads(1)``: the user sets torch's threads by hand (``torch_threads=None``:
  numpy's BLAS keeps its own count, one thread per core);
- ``torch's default``: torch's own thread count, one per core (``torch_threads=None``), what
  REINFORCE did before ``torch_threads``.

The thread counts are read inside ``learn`` (a callback, at the first step). The ratio is each
line's steps/s over the ``torch.set_num_threads(1)`` line of the same layout. ``--n-envs`` and
``--net-arch`` train wider policies on more envs: the rollout's numpy copy of the policy then
multiplies a row per env by each layer's weights, a product OpenBLAS spreads over its threads.

    python -m benchmarks.threads
    python -m benchmarks.threads --n-envs 8 --net-arch 256 256
    python -m benchmarks.threads --steps 5000 --repeats 1
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from benchmarks.common import run_benchmark, table
from gym_pgtoy.cli import int_at_least

MODEL = "REINFORCE('MlpPolicy', env, seed=seed, policy_kwargs=policy_kwargs{})"
SETTINGS = {
    "defaults": "model = " + MODEL.format(""),
    "torch.set_num_threads(1)": "torch.set_num_threads(1)\nmodel = " + MODEL.format(", torch_threads=None"),
    "torch's default": "model = " + MODEL.format(", torch_threads=None"),
}

SCRIPT = """
import json, sys, time, torch
from stable_baselines3.common.env_util import make_vec_env
from threadpoolctl import threadpool_info
from reinforce_sb3 import REINFORCE
seed, steps, n_envs, net_arch = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
policy_kwargs = None if net_arch is None else dict(net_arch=net_arch)
{setting}
threads = []
def read_threads(_locals, _globals):
    if not threads:
        blas = max(library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas")
        threads.extend([torch.get_num_threads(), blas])
    return True
start = time.perf_counter()
model.learn(steps, callback=read_threads)
speed = model.num_timesteps / (time.perf_counter() - start)
print(json.dumps({{"steps_per_second": speed, "threads": threads[0], "blas_threads": threads[1]}}))
"""


def _run_together(
    setting: str, n_processes: int, steps: int, n_envs: int = 1, net_arch: list[int] | None = None
) -> tuple[float, int, int]:
    """Total steps/s of ``n_processes`` trainings started together, and torch's and BLAS's thread counts in them."""
    code = SCRIPT.format(setting=SETTINGS[setting])
    arguments = [str(steps), str(n_envs), json.dumps(net_arch)]
    processes = [
        subprocess.Popen([sys.executable, "-c", code, str(seed), *arguments], stdout=subprocess.PIPE, text=True)
        for seed in range(n_processes)
    ]
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"the {setting!r} training exited with status {process.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    speed = sum(result["steps_per_second"] for result in results)
    return speed, results[0]["threads"], results[0]["blas_threads"]


def threads(steps: int = 20_000, repeats: int = 3, n_envs: int = 1, net_arch: list[int] | None = None) -> str:
    """The table: steps/s per setting, alone and two side by side (median of ``repeats``, interleaved)."""
    rows = []
    for n_processes in (1, 2):
        speeds: dict[str, list[float]] = {setting: [] for setting in SETTINGS}
        counts: dict[str, tuple[int, int]] = {}
        for _ in range(repeats):  # interleaved, so that a change of load hits every setting alike
            for setting in SETTINGS:
                speed, *thread_counts = _run_together(setting, n_processes, steps, n_envs, net_arch)
                counts[setting] = (thread_counts[0], thread_counts[1])
                speeds[setting].append(speed)
        medians = {setting: statistics.median(values) for setting, values in speeds.items()}
        for setting, values in speeds.items():
            rows.append(
                [
                    "alone" if n_processes == 1 else "two side by side",
                    setting,
                    str(counts[setting][0]),
                    str(counts[setting][1]),
                    f"{medians[setting]:,.0f}",
                    f"{min(values):,.0f}-{max(values):,.0f}",
                    f"{medians[setting] / medians['torch.set_num_threads(1)']:.2f}",
                ]
            )
    header = [
        "layout", "setting", "torch threads in learn()", "BLAS threads in learn()", "steps/s (sum)", "range",
        "vs torch.set_num_threads(1)",
    ]  # fmt: skip
    policy = "the default policy" if net_arch is None else f"net_arch={net_arch}"
    return (
        f"CartPole-v1, {n_envs} env(s), REINFORCE defaults with {policy}, {steps:,} steps per training, median of "
        f"{repeats} interleaved runs.\n\n" + table(header, rows)
    )


def main(argv: list[str] | None = None) -> None:
    run_benchmark(
        __doc__,
        "threads",
        threads,
        argv,
        steps=dict(type=int_at_least(1), default=20_000, help="env steps per training"),
        repeats=dict(type=int_at_least(1), default=3, help="runs per line (median)"),
        n_envs=dict(type=int_at_least(1), default=1, help="envs per training"),
        net_arch=dict(type=int_at_least(1), nargs="+", default=None, help="the policy's hidden layers"),
    )


if __name__ == "__main__":
    main()
