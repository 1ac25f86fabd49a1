"""Steps per second and the memory a batch adds, as batches and episodes grow.

Each line runs in a fresh process (one torch thread, CPU) with an untrained policy at learning
rate 0, so episode lengths stay put: CartPole-v1 at 1, 8 and 32 envs by 8, 64 and 512 episodes
per batch (at least 3 updates), and Pendulum-v1 with one env, 8 episodes per batch and episodes
of 100, 1,000 and 10,000 steps (at least 2 updates); every line runs at least ``--min-steps``
steps. The memory is the peak resident memory during ``learn()`` minus the resident memory
before it (Linux ``/proc``), after a warm-up update so that torch's and numpy's first-use
allocations are not counted as the batch's.

    python -m benchmarks.scale
    python -m benchmarks.scale --n-envs 1 --n-episodes 8 64 --lengths 100 --min-steps 0
"""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from benchmarks.common import TORCH_THREADS, BatchRecorder, run_benchmark, table
from gym_pgtoy.cli import int_at_least
from reinforce_sb3 import REINFORCE

N_ENVS, N_EPISODES = (1, 8, 32), (8, 64, 512)  # CartPole-v1: every number of envs by every batch size
LENGTHS = (100, 1_000, 10_000)  # Pendulum-v1: episode lengths, with one env and 8 episodes per batch
MIN_STEPS = 20_000  # env steps of every line, at least


class StopAfter(BaseCallback):
    """Stop after ``n_updates`` updates, or later if fewer than ``min_steps`` steps were taken by then."""

    def __init__(self, n_updates: int, min_steps: int = 0) -> None:
        super().__init__()
        self.n_updates = n_updates
        self.min_steps = min_steps

    def _on_step(self) -> bool:
        return self.model._n_updates < self.n_updates or self.num_timesteps < self.min_steps


def memory_kib(field: str) -> int:
    """
    ``VmRSS`` (resident memory now) or ``VmHWM`` (its peak) from ``/proc/self/status``, in KiB (Linux).

    Not ``getrusage``'s ``ru_maxrss``: it survives ``exec``, so a spawned process would start with its
    parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_memory() -> None:
    """Set ``VmHWM`` to the current resident memory (Linux 4.0+: write 5 to ``/proc/self/clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")


def measure(
    env_id: str, n_envs: int, n_episodes: int, n_updates: int, length: int | None, min_steps: int
) -> dict[str, float]:
    """``n_updates`` updates (``min_steps`` steps at least) of ``length``-step episodes; steps/s and memory added."""
    th.set_num_threads(TORCH_THREADS)
    env = make_vec_env(env_id, n_envs=n_envs, seed=0, env_kwargs={"max_episode_steps": length})
    with warnings.catch_warnings():  # 8 episodes on 32 envs: 24 envs idle, as the table shows
        warnings.simplefilter("ignore")
        model = REINFORCE("MlpPolicy", env, n_episodes=n_episodes, seed=0, device="cpu", learning_rate=0.0)
    # a first update on one episode: torch's and numpy's first-use allocations are not the batch's
    warm_up = REINFORCE("MlpPolicy", env_id, n_episodes=1, seed=0, device="cpu")
    warm_up.learn(10**9, callback=StopAfter(1))
    del warm_up
    reset_peak_memory()
    before = memory_kib("VmRSS")
    recorder = BatchRecorder()
    start = time.perf_counter()
    model.learn(10**9, callback=[recorder, StopAfter(n_updates, min_steps)])
    seconds = time.perf_counter() - start
    return {
        "steps_per_second": model.num_timesteps / seconds,
        "batch_steps": recorder.used / max(recorder.updates, 1),
        "added_mib": (memory_kib("VmHWM") - before) / 1024,
    }


def measure_in_fresh_process(*args: Any) -> dict[str, float]:
    """
    ``measure(*args)`` in a new interpreter whose allocator returns large blocks to the system when freed.

    glibc raises its mmap threshold after large blocks are freed and then keeps later ones on the heap,
    so the peak RSS would depend on what ran before; a fixed threshold makes it track the live memory.
    """
    previous = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "131072"
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(measure, args)
    finally:
        if previous is None:
            del os.environ["MALLOC_MMAP_THRESHOLD_"]
        else:
            os.environ["MALLOC_MMAP_THRESHOLD_"] = previous


def row(name: str, n_envs: int, n_episodes: int, result: dict[str, float]) -> list[str]:
    """A line of the table from :func:`measure`'s result."""
    per_step = result["added_mib"] * 2**20 / result["batch_steps"]
    return [
        name,
        str(n_envs),
        str(n_episodes),
        f"{result['batch_steps']:,.0f}",
        f"{result['steps_per_second']:,.0f}",
        f"{result['added_mib']:.1f}",
        f"{per_step:,.0f}",
    ]


def scale(
    n_envs: Sequence[int] = N_ENVS,
    n_episodes: Sequence[int] = N_EPISODES,
    lengths: Sequence[int] = LENGTHS,
    min_steps: int = MIN_STEPS,
) -> str:
    """The table: CartPole-v1 for every ``n_envs`` by ``n_episodes``, then Pendulum-v1 for every episode length."""
    rows = []
    for envs in n_envs:
        for episodes in n_episodes:
            result = measure_in_fresh_process("CartPole-v1", envs, episodes, 3, None, min_steps)
            rows.append(row("CartPole-v1", envs, episodes, result))
    for length in lengths:
        result = measure_in_fresh_process("Pendulum-v1", 1, 8, 2, length, min_steps)
        rows.append(row(f"Pendulum-v1, {length:,}-step episodes", 1, 8, result))
    header = ["env", "n_envs", "n_episodes", "steps per batch", "steps/s", "memory added (MiB)", "bytes per batch step"]
    return (
        "Fresh process per line, untrained policy (learning rate 0), at least 3 updates (CartPole) or 2 (Pendulum) "
        f"and {min_steps:,} steps; "
        "memory: peak resident memory during learn() minus the resident memory before it (Linux /proc)\n\n"
        + table(header, rows)
    )


def main(argv: list[str] | None = None) -> None:
    """Print the machine and the scale table."""
    whole_numbers = {"nargs": "*", "type": int_at_least(1)}
    run_benchmark(
        __doc__,
        "scale",
        scale,
        argv,
        n_envs={**whole_numbers, "default": N_ENVS, "help": "CartPole-v1: numbers of envs"},
        n_episodes={**whole_numbers, "default": N_EPISODES, "help": "CartPole-v1: episodes per batch"},
        lengths={**whole_numbers, "default": LENGTHS, "help": "Pendulum-v1: episode lengths"},
        min_steps={"type": int_at_least(0), "default": MIN_STEPS, "help": "env steps of every line, at least"},
    )


if __name__ == "__main__":
    main()
