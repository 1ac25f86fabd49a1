"""What every benchmark shares: the models it times, how it times them, and how it prints the result.

Each benchmark module (``throughput``, ``waste``, ``scale``, ``vector_env``, ``gpu``,
``time_to_solve``) returns a markdown table as text; :func:`report` runs them with one torch
thread and prints the machine line (which states that thread count) above the tables.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch as th
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout.subproc import available_cores

ALGORITHMS: dict[str, Callable[..., BaseAlgorithm]] = {"REINFORCE": REINFORCE, "A2C": A2C, "PPO": PPO}
TORCH_THREADS = 1  # every benchmark runs torch on one thread, so that the figures compare the algorithms on one core


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    return "\n".join([*lines, *(f"| {' | '.join(row)} |" for row in rows)])


def steps_per_second(run: Callable[[], int]) -> float:
    """Env steps per second of ``run`` (which returns the number of env steps it took)."""
    start = time.perf_counter()
    steps = run()
    return steps / (time.perf_counter() - start)


def cartpole(algo: str, n_envs: int, device: str = "cpu") -> BaseAlgorithm:
    """``algo`` (a key of :data:`ALGORITHMS`) with its defaults on ``n_envs`` CartPole-v1 envs, seed 0."""
    return ALGORITHMS[algo]("MlpPolicy", make_vec_env("CartPole-v1", n_envs=n_envs, seed=0), seed=0, device=device)


def learn_speed(model: BaseAlgorithm, n_steps: int, reset_num_timesteps: bool = True) -> float:
    """Steps/s of ``model.learn(n_steps, reset_num_timesteps=...)`` (counting the env steps this call took; with
    ``reset_num_timesteps=False``, a model that has learned before goes on from where it is)."""

    def run() -> int:
        before = 0 if reset_num_timesteps else model.num_timesteps
        model.learn(n_steps, reset_num_timesteps=reset_num_timesteps)
        return model.num_timesteps - before

    return steps_per_second(run)


class BatchRecorder(BaseCallback):
    """The env steps taken, and those used (the batches' steps), up to REINFORCE's last update."""

    def __init__(self) -> None:
        super().__init__()
        self.used = 0
        self.taken = 0
        self.updates = 0

    def _on_rollout_start(self) -> None:
        if self.model._n_updates > self.updates:  # an update was made: its batch is in the log
            self.updates = self.model._n_updates
            self.used += int(self.logger.name_to_value["train/batch_steps"])
            self.taken = self.model.num_timesteps

    def _on_step(self) -> bool:
        return True


def positive_float(text: str) -> float:
    """An argparse type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value}")
    return value


def parser(doc: str) -> argparse.ArgumentParser:
    """The command line of a benchmark module, described by the first line of its docstring."""
    return argparse.ArgumentParser(description=doc.splitlines()[0])


def run_benchmark(doc: str, section: str, measure: Callable[..., str], argv: list[str] | None, **options: Any) -> None:
    """
    The command line of a benchmark module that measures one section: parse ``argv`` and report ``measure``'s table.

    :param doc: the module's docstring (its first line describes the command)
    :param section: the section's name, as ``benchmarks.performance --sections`` knows it
    :param measure: returns the section's text; called with one keyword argument per option
    :param options: one ``--option-name`` per keyword ``option_name``, with its ``add_argument`` settings (a dict)
    """
    cli = parser(doc)
    for name, settings in options.items():
        cli.add_argument(f"--{name.replace('_', '-')}", **settings)
    args = cli.parse_args(argv)
    report({section: lambda: measure(**vars(args))})


def machine_description() -> str:
    """One line: platform, CPU model, core count, torch version and threads."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.platform()}, {cpu}, {available_cores()} cores, Python {platform.python_version()}, "
        f"torch {th.__version__} with {th.get_num_threads()} thread(s)"
    )


def report(sections: dict[str, Callable[[], str]]) -> None:
    """Run each section with one torch thread; print the machine, then each section's table and duration."""
    th.set_num_threads(TORCH_THREADS)
    print(f"Machine: {machine_description()}")
    for name, measure in sections.items():
        start = time.perf_counter()
        text = measure()
        print(f"\n## {name} ({time.perf_counter() - start:.0f} s)\n\n{text}", flush=True)
