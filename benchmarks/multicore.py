"""REINFORCE on several cores: wasted steps with subprocesses and VecNormalize, and the speed-up of a slow env.

One torch thread, CPU, workers started with ``fork`` (their start is not timed). Three sections:

- ``waste``: CartPole-v1 from scratch with the default ``n_episodes`` (8) at 8 and 32 envs: the share
  of env steps used in no batch, for :class:`~reinforce_sb3.PausableSubprocVecEnv` and ``VecNormalize``
  over a DummyVecEnv and over a PausableSubprocVecEnv (waiting envs are paused), beside SB3's
  ``SubprocVecEnv`` alone and under VecNormalize (every env steps at every step).
- ``speedup``: a CartPole-v1 whose every step also does a fixed amount of pure-Python work (about
  1 ms of CPU, calibrated at start), REINFORCE with its defaults: batch steps per second of
  ``learn()`` on a PausableSubprocVecEnv with 1, 2, 4 and 8 workers (one env each; REINFORCE acts
  while they step), on SB3's SubprocVecEnv (lockstep: only the used steps count) and on a DummyVecEnv
  with as many envs, and the speed-up over the DummyVecEnv beside the ideal one (``min(workers,
  cores)``), beside what the batch rule allows (``batch-rule ceiling``: the batch steps over the
  shortest time in which ``cores`` cores could take each env's steps of each batch in order, from the
  DummyVecEnv's batches), and beside two measures of what the machine gave: the same VecEnvs stepped
  with random actions and no policy (``env alone``), and how much faster ``cores`` processes burning
  together ran than one alone.
- ``overhead``: plain CartPole-v1 (a cheap env, where processes cost more than they save), 8 envs:
  env steps per second of REINFORCE (PausableSubprocVecEnv with its default of one worker per core,
  and with one per env), of A2C (SB3's SubprocVecEnv) and of random actions with no policy (SB3's
  SubprocVecEnv: what the processes cost alone), each beside the same loop on a DummyVecEnv.

Speeds are the median of ``--repeats`` measurements, interleaved so that a slow spell of the machine
(it is shared) does not fall on one configuration only; the load average is printed with the tables.

    python -m benchmarks.multicore
    python -m benchmarks.multicore --plot docs/multicore_speedup.png
    python -m benchmarks.multicore --sections speedup --updates 4 --repeats 1
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from stable_baselines3 import A2C
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

from benchmarks.common import BatchRecorder, parser, positive_float, report, table
from gym_pgtoy.cli import int_at_least
from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout.overlap import RUN_LENGTH
from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv
from reinforce_sb3.rollout.subproc import available_cores as cores

SECTIONS = ("waste", "speedup", "overhead")
WORKERS = (1, 2, 4, 8)
START = {"start_method": "fork"}  # workers start in a fraction of a second (the start is never timed)
CLASSES: dict[str, type[VecEnv]] = {
    "DummyVecEnv": DummyVecEnv,
    "SubprocVecEnv": SubprocVecEnv,
    "PausableSubprocVecEnv": PausableSubprocVecEnv,
}


def make_env(
    kind: str, n_envs: int, env_id: str | Callable[..., gym.Env] = "CartPole-v1", n_workers: int | None = None
) -> VecEnv:
    """``kind``: a key of :data:`CLASSES`, or ``VecNormalize(<key>)``; seed 0; ``n_workers``: a
    PausableSubprocVecEnv's worker processes (default: one per core, at most one per env)."""
    inner = kind.removeprefix("VecNormalize(").rstrip(")")
    kwargs = None if inner == "DummyVecEnv" else dict(START)
    if n_workers is not None and inner == "PausableSubprocVecEnv":
        kwargs = {**START, "n_workers": n_workers}
    env = make_vec_env(
        env_id,
        n_envs=n_envs,
        seed=0,
        vec_env_cls=CLASSES[inner],  # type: ignore[arg-type]  # make_vec_env's annotation lists SB3's two classes
        vec_env_kwargs=kwargs,
    )
    return VecNormalize(env) if kind.startswith("VecNormalize") else env


def reinforce(env: VecEnv) -> REINFORCE:
    """REINFORCE with its defaults (8 episodes per batch), seed 0, on the CPU."""
    with warnings.catch_warnings():  # 8 episodes on 32 envs: 24 envs idle, as the waste table shows
        warnings.simplefilter("ignore")
        return REINFORCE("MlpPolicy", env, seed=0, device="cpu")


def waste(steps: int, envs: tuple[int, ...] = (8, 32)) -> str:
    """Section ``waste``: the share of env steps in no batch (one run each, steps counted to the last update)."""
    kinds = [
        ("PausableSubprocVecEnv", "paused"),
        ("VecNormalize(DummyVecEnv)", "paused"),
        ("VecNormalize(PausableSubprocVecEnv)", "paused"),
        ("SubprocVecEnv", "lockstep"),
        ("VecNormalize(SubprocVecEnv)", "lockstep"),
    ]
    rows = []
    for n_envs in envs:
        for kind, stepping in kinds:
            env = make_env(kind, n_envs)
            try:
                recorder = BatchRecorder()
                reinforce(env).learn(steps, callback=recorder)
            finally:
                env.close()
            rows.append(
                [
                    str(n_envs),
                    kind,
                    stepping,
                    str(recorder.updates),
                    f"{recorder.taken:,}",
                    f"{1 - recorder.used / max(recorder.taken, 1):.1%}",
                ]
            )
    header = ["n_envs", "VecEnv", "stepping", "updates", "steps taken", "waste"]
    return f"CartPole-v1, default n_episodes=8, {steps:,} steps from scratch\n\n{table(header, rows)}"


def burn(work: int) -> int:
    """A fixed amount of pure-Python work (``work`` steps of a linear congruential generator)."""
    x = 1
    for _ in range(work):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


class SlowStep(gym.Wrapper):
    """Burns ``work`` units of CPU (see :func:`burn`) at every step: a stand-in for an expensive simulator. Keeps
    each gap from the end of a step to the start of the next (``gaps``: when it began and ended, and whether the
    step before it ended its episode; in a worker, the time it waited for its next action), the time spent
    inside its steps (``busy``), and when each step began and ended (``spans``)."""

    def __init__(self, env: gym.Env, work: int) -> None:
        super().__init__(env)
        self.work = work
        self.gaps: list[tuple[float, float, bool]] = []
        self.spans: list[tuple[float, float]] = []
        self._end: float | None = None
        self._ended = False

    @property
    def busy(self) -> float:
        """The time spent inside its steps, seconds."""
        return sum(end - start for start, end in self.spans)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        start = time.perf_counter()
        if self._end is not None:
            self.gaps.append((self._end, start, self._ended))
        burn(self.work)
        result = self.env.step(action)
        self._end = time.perf_counter()
        self._ended = bool(result[2] or result[3])
        self.spans.append((start, self._end))
        return result


def slow_cartpole(work: int) -> gym.Env:
    """CartPole-v1 that burns ``work`` units of CPU per step."""
    return SlowStep(gym.make("CartPole-v1"), work)


def calibrate(milliseconds: float) -> int:
    """The work units that take ``milliseconds`` of CPU here (the fastest of several tries, to skip others' load)."""
    units = 20_000
    seconds = min(_cpu_seconds(lambda: burn(units)) for _ in range(7))
    return max(1, round(units * milliseconds / 1000 / seconds))


def _cpu_seconds(run: Callable[[], object]) -> float:
    start = time.thread_time()
    run()
    return time.thread_time() - start


class StopAfter(BaseCallback):
    """Stops learn() at the first step after ``updates`` updates; counts the steps of those batches, and the
    shortest time (in env steps) in which ``cores()`` cores could take each env's steps of each batch in order."""

    def __init__(self, updates: int) -> None:
        super().__init__()
        self.updates = updates
        self.used = 0
        self.shortest = 0.0
        self.env_steps: np.ndarray | None = None
        self.updating: list[tuple[float, float]] = []  # from the end of a collection to the start of the next
        self._collected: float | None = None

    def _on_rollout_start(self) -> None:
        if self._collected is not None:
            self.updating.append((self._collected, time.perf_counter()))

    def _on_rollout_end(self) -> None:
        assert isinstance(self.model, REINFORCE)
        self._collected = time.perf_counter()
        if self.model.collector.complete:  # about to be an update: its batch counts
            self.used += self.model.collector.n_batch_steps
            if self.env_steps is not None:
                self.shortest += max(self.env_steps.sum() / cores(), self.env_steps.max())
            self.env_steps = None

    def _on_step(self) -> bool:
        active = self.locals["active"]
        self.env_steps = active.astype(int) if self.env_steps is None else self.env_steps + active
        return self.model._n_updates < self.updates

    @property
    def ceiling(self) -> float:
        """The speed-up that the batches allow on ``cores()`` cores (steps of equal cost, no other cost)."""
        return self.used / self.shortest if self.shortest else float("nan")


def cores_idle(spans: list[tuple[float, float]], start: float, end: float, capacity: int) -> float:
    """The share of ``capacity`` cores' time from ``start`` to ``end`` with no env step on them: at each moment,
    ``capacity`` less the number of steps under way (``spans``: when each began and ended), or none when as many
    steps as cores, or more, are under way. The spans are timed in the workers and ``start`` and ``end`` in the
    main process, on the same monotonic clock (``time.perf_counter``, machine-wide on Linux)."""
    inside = [(max(a, start), min(b, end)) for a, b in spans if b > start and a < end]
    events = sorted([(a, 1) for a, _ in inside] + [(b, -1) for _, b in inside])
    idle, stepping, last = 0.0, 0, start
    for moment, change in events:
        idle += max(0, capacity - stepping) * (moment - last)
        stepping, last = stepping + change, moment
    idle += max(0, capacity - stepping) * (end - last)
    return idle / (capacity * (end - start))


class SpeedRun(NamedTuple):
    """One timed ``learn()`` on the slow CartPole (:func:`used_steps_per_second`)."""

    speed: float
    """batch steps per second"""
    ceiling: float
    """the batch rule's ceiling of its batches (:class:`StopAfter`)"""
    wait: float
    """the median time an env waited between two of its steps (:class:`SlowStep`), seconds"""
    shares: tuple[float, float, float, float, float, float, float]
    """shares of the wall time, mean over the envs: inside an env's steps; gaps between two of its steps shorter
    than half a step; the longer gaps inside an episode, after an episode's end, and across an update; the
    main process's time between two collections (the updates); and the share of the ``min(envs, cores())``
    cores' time with no env step on them (:func:`cores_idle`)"""


def used_steps_per_second(kind: str, n_envs: int, work: int, updates: int, step_seconds: float) -> SpeedRun:
    """REINFORCE.learn on the slow CartPole (``step_seconds`` of CPU a step), over ``updates`` batches from
    scratch: see :class:`SpeedRun`."""
    env = make_env(kind, n_envs, functools.partial(slow_cartpole, work), n_workers=n_envs)  # one env a worker
    try:
        model, stop = reinforce(env), StopAfter(updates)
        start = time.perf_counter()
        model.learn(10**9, callback=stop)
        end = time.perf_counter()
        wall = end - start
        gaps = [gap for env_gaps in env.get_attr("gaps") for gap in env_gaps]
        spans = [span for env_spans in env.get_attr("spans") for span in env_spans]
        short = in_episode = at_start = at_batch_end = 0.0  # seconds, all envs together
        for gap_start, gap_end, ended in gaps:
            seconds = gap_end - gap_start
            if seconds < step_seconds / 2:
                short += seconds
            elif not ended:
                in_episode += seconds
            elif any(gap_start <= a and b <= gap_end for a, b in stop.updating):  # every env waits for an update
                at_batch_end += seconds
            else:
                at_start += seconds
        per_env = env.num_envs * wall
        shares = (
            float(np.mean(env.get_attr("busy"))) / wall,
            short / per_env,
            in_episode / per_env,
            at_start / per_env,
            at_batch_end / per_env,
            sum(b - a for a, b in stop.updating) / wall,
            cores_idle(spans, start, end, min(n_envs, cores())),
        )
        wait = float(np.median([gap_end - gap_start for gap_start, gap_end, _ in gaps]))
        return SpeedRun(stop.used / wall, stop.ceiling, wait, shares)
    finally:
        env.close()


def env_alone_steps_per_second(kind: str, n_envs: int, work: int, steps: int = 1000) -> float:
    """Env steps per second of the slow CartPole VecEnv stepped with random actions, every env at every step."""
    env = make_env(kind, n_envs, functools.partial(slow_cartpole, work), n_workers=n_envs)
    try:
        env.reset()
        actions = np.random.default_rng(0).integers(0, 2, size=(max(1, steps // n_envs), n_envs))
        start = time.perf_counter()
        for action in actions:
            env.step(action)
        return actions.size / (time.perf_counter() - start)
    finally:
        env.close()


def _timed_burn(work: int) -> float:
    start = time.perf_counter()
    burn(work)
    return time.perf_counter() - start


def parallel_capacity(work: int) -> float:
    """How many times as fast ``cores()`` processes burn ``work`` units each, together, as one process burns it
    alone: what the machine gives to parallel work right now (the cores may be shared with other programs)."""
    with multiprocessing.get_context("fork").Pool(cores()) as pool:
        pool.map(_timed_burn, [1] * cores())  # started
        alone = _timed_burn(work)
        start = time.perf_counter()
        pool.map(_timed_burn, [work] * cores())
        together = time.perf_counter() - start
    return cores() * alone / together


def speedup(
    updates: int,
    repeats: int,
    milliseconds: float = 1.0,
    workers: tuple[int, ...] = WORKERS,
    plot: Path | None = None,
) -> str:
    """Section ``speedup``: the table (and, with ``plot``, the figure) of used steps/s per number of workers."""
    work = calibrate(milliseconds)
    step_ms = 1000 * min(_cpu_seconds(lambda: burn(work)) for _ in range(7))
    kinds = ("DummyVecEnv", "PausableSubprocVecEnv", "SubprocVecEnv")
    speeds: dict[tuple[str, int], list[float]] = {(kind, n): [] for kind in kinds for n in workers}
    alone: dict[tuple[str, int], list[float]] = {(kind, n): [] for kind in kinds[:2] for n in workers}
    ceiling: dict[int, float] = {}
    waits: dict[int, list[float]] = {n: [] for n in workers}
    shares: dict[int, list[tuple[float, float, float, float, float, float, float]]] = {n: [] for n in workers}
    capacity = []
    for _ in range(repeats):
        capacity.append(parallel_capacity(300 * work))
        for n in workers:
            for kind in kinds:
                run = used_steps_per_second(kind, n, work, updates, step_ms / 1000)
                speeds[kind, n].append(run.speed)
                if kind == "DummyVecEnv":  # the same batches every time (those of a PausableSubprocVecEnv too)
                    ceiling[n] = run.ceiling
                if kind == "PausableSubprocVecEnv":
                    waits[n].append(run.wait)
                    shares[n].append(run.shares)
            for kind in kinds[:2]:
                alone[kind, n].append(env_alone_steps_per_second(kind, n, work))
    median = {key: float(np.median(values)) for key, values in speeds.items()}
    alone_speedup = {
        n: float(np.median(alone["PausableSubprocVecEnv", n]) / np.median(alone["DummyVecEnv", n])) for n in workers
    }
    rows = []
    for n in workers:
        dummy = median["DummyVecEnv", n]
        rows.append(
            [
                str(n),
                f"{dummy:,.0f}",
                f"{median['PausableSubprocVecEnv', n]:,.0f}",
                f"{median['SubprocVecEnv', n]:,.0f}",
                f"{median['PausableSubprocVecEnv', n] / dummy:.2f}",
                f"{median['SubprocVecEnv', n] / dummy:.2f}",
                f"{alone_speedup[n]:.2f}",
                f"{ceiling[n]:.2f}",
                f"{min(n, cores()):.2f}",
                f"{1e6 * np.median(waits[n]):,.0f}",
            ]
        )
    header = [
        "workers (= envs)",
        "DummyVecEnv",
        "PausableSubprocVecEnv",
        "SubprocVecEnv (lockstep)",
        "speed-up paused",
        "speed-up lockstep",
        "speed-up, env alone",
        "batch-rule ceiling",
        "ideal",
        "worker's wait per step (µs)",
    ]
    text = (
        f"CartPole-v1 + {work:,} units of pure-Python work per step ({step_ms:.2f} ms of CPU), REINFORCE defaults "
        f"(n_episodes=8), {updates} updates from scratch; batch steps per second of learn(), median of {repeats}; "
        f"speed-up over the DummyVecEnv with as many envs; env alone: the same for the VecEnv stepped with random "
        f"actions and no policy (every env at every step); batch-rule ceiling: the most that the batches allow "
        f"(each env's steps of a batch in order, on {cores()} cores, at no other cost); "
        f"ideal: min(workers, {cores()} cores); worker's wait per step: the median time from the end of an env's "
        f"step to the start of its next in PausableSubprocVecEnv's workers (the reply, the main process's turn, "
        f"the next action's way back). "
        f"The machine meanwhile: {cores()} processes burning in parallel ran {np.median(capacity):.2f} times as fast "
        "as one (the most any VecEnv could reach; less than the cores when other programs use them)\n\n"
        f"{table(header, rows)}"
    )
    share_rows = [[str(n), *(f"{value:.0%}" for value in np.median(shares[n], axis=0))] for n in workers]
    share_header = [
        "workers (= envs)",
        "in its steps",
        "gaps < half a step",
        "longer, in an episode",
        "longer, at an episode's start",
        "at a batch's end",
        "updates",
        "cores without an env step",
    ]
    text += (
        f"\n\nWhere the time of PausableSubprocVecEnv's envs went: shares of learn()'s wall time, mean over the "
        f"envs, median of {repeats}. In its steps: inside the env's step; gaps < half a step: from the end of a step "
        f"to the start of the next, when shorter than {step_ms / 2:.2f} ms (the worker's own forward pass, sampling "
        f"and bookkeeping between two steps of a run); the longer gaps, in an episode (the end of a run of "
        f"{RUN_LENGTH} steps: the report and the next run's message), at an episode's start (the report, the main "
        f"process's decision on the next episode, which may wait for another env to get as far, and the next run's "
        f"message), and at a batch's end (across an update: the other envs' last episodes, then the update); "
        f"updates: the main process's time from the end of one collection to the start of the next, during which "
        f"every env waits; cores without an env step: the share of the time of min(workers, {cores()}) cores with no "
        f"env step on them (at each moment, the cores beyond the number of envs in a step: at a batch's end while "
        f"its last episodes run on fewer cores, during the updates, while messages are under way, and the workers' "
        f"own work between two steps)\n\n"
        f"{table(share_header, share_rows)}"
    )
    if plot is not None:
        plot_speedup(median, alone_speedup, ceiling, workers, step_ms, float(np.median(capacity)), plot)
        text += f"\n\nFigure: {plot}"
    return text


def plot_speedup(
    median: dict[tuple[str, int], float],
    alone_speedup: dict[int, float],
    ceiling: dict[int, float],
    workers: tuple[int, ...],
    step_ms: float,
    capacity: float,
    path: Path,
) -> None:
    """Speed-up over the DummyVecEnv against the number of workers, with the ideal line and the machine's capacity."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 3.5), layout="constrained")
    axes = figure.add_subplot()
    for kind, label in (
        ("PausableSubprocVecEnv", "PausableSubprocVecEnv (acting while stepping)"),
        ("SubprocVecEnv", "SubprocVecEnv (lockstep)"),
    ):
        axes.plot(workers, [median[kind, n] / median["DummyVecEnv", n] for n in workers], "o-", label=label)
    axes.plot(workers, [alone_speedup[n] for n in workers], "s:", label="PausableSubprocVecEnv, env alone")
    axes.plot(workers, [ceiling[n] for n in workers], "^-.", color="grey", label="batch-rule ceiling")
    axes.plot(workers, [min(n, cores()) for n in workers], "k--", label=f"ideal (min(workers, {cores()} cores))")
    axes.axhline(capacity, color="grey", linestyle=":", label=f"what the machine gave ({capacity:.2f})")
    axes.axhline(1.0, color="grey", linewidth=0.8)
    axes.set(
        xscale="log",
        xticks=list(workers),
        xticklabels=[str(n) for n in workers],
        xlabel="workers (envs)",
        ylabel="used steps/s vs DummyVecEnv",
        title=f"REINFORCE, CartPole with {step_ms:.2f} ms of CPU per step",
    )
    axes.minorticks_off()
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the plot: no line hidden
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


class RandomActions:
    """Stands in for an algorithm: steps its VecEnv with random actions drawn in advance (no policy, no learning)."""

    def __init__(self, env: VecEnv) -> None:
        self.env = env
        self.num_timesteps = 0

    def learn(self, steps: int) -> None:
        actions = np.random.default_rng(0).integers(0, 2, size=(steps // self.env.num_envs, self.env.num_envs))
        self.env.reset()
        for action in actions:
            self.env.step(action)
        self.num_timesteps = actions.size

    def get_env(self) -> VecEnv:
        return self.env


def overhead(steps: int, repeats: int) -> str:
    """Section ``overhead``: env steps/s on cheap CartPole, 8 envs, REINFORCE and A2C, in process vs subprocesses."""
    runs: dict[str, Callable[[], BaseAlgorithm | RandomActions]] = {
        "random actions, DummyVecEnv": lambda: RandomActions(make_env("DummyVecEnv", 8)),
        "random actions, SubprocVecEnv": lambda: RandomActions(make_env("SubprocVecEnv", 8)),
        "REINFORCE, DummyVecEnv": lambda: reinforce(make_env("DummyVecEnv", 8)),
        f"REINFORCE, PausableSubprocVecEnv ({min(8, cores())} workers)": lambda: reinforce(
            make_env("PausableSubprocVecEnv", 8)
        ),
        "REINFORCE, PausableSubprocVecEnv(n_workers=8)": lambda: reinforce(
            make_env("PausableSubprocVecEnv", 8, n_workers=8)
        ),
        "A2C, DummyVecEnv": lambda: A2C("MlpPolicy", make_env("DummyVecEnv", 8), seed=0, device="cpu"),
        "A2C, SubprocVecEnv": lambda: A2C("MlpPolicy", make_env("SubprocVecEnv", 8), seed=0, device="cpu"),
    }
    speeds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, build in runs.items():
            model = build()
            try:
                start = time.perf_counter()
                model.learn(steps)
                speeds[name].append(model.num_timesteps / (time.perf_counter() - start))
            finally:
                env = model.get_env()
                assert env is not None  # built with one
                env.close()
    median = {name: float(np.median(values)) for name, values in speeds.items()}
    rows = []
    for name, speed in median.items():
        algo = name.split(",")[0]
        rows.append([name, f"{speed:,.0f}", f"{speed / median[f'{algo}, DummyVecEnv']:.2f}"])
    header = ["loop, VecEnv", "env steps/s", "vs the same loop on DummyVecEnv", "vs random actions on SubprocVecEnv"]
    for row, speed in zip(rows, median.values(), strict=True):
        row.append(f"{speed / median['random actions, SubprocVecEnv']:.2f}")
    return (
        f"CartPole-v1 (cheap), 8 envs, default hyperparameters, {steps:,} steps from scratch, median of {repeats}\n\n"
        f"{table(header, rows)}"
    )


def main(argv: list[str] | None = None) -> None:
    """Print the machine, the load, and the chosen sections' tables."""
    cli = parser(__doc__)
    cli.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    cli.add_argument("--waste-steps", type=int_at_least(1), default=20_000, help="env steps per waste run")
    cli.add_argument("--waste-envs", type=int_at_least(1), nargs="+", default=[8, 32], help="waste: numbers of envs")
    cli.add_argument("--updates", type=int_at_least(1), default=20, help="REINFORCE updates per speed-up run")
    cli.add_argument("--workers", type=int_at_least(1), nargs="+", default=list(WORKERS), help="speed-up: workers")
    cli.add_argument("--step-ms", type=positive_float, default=1.0, help="speed-up: CPU milliseconds per env step")
    cli.add_argument("--overhead-steps", type=int_at_least(1), default=20_000, help="env steps per overhead run")
    cli.add_argument("--repeats", type=int_at_least(1), default=3, help="measurements per speed (median)")
    cli.add_argument("--plot", type=Path, default=None, help="where to save the speed-up figure (PNG, PDF, SVG)")
    args = cli.parse_args(argv)
    sections: dict[str, Callable[[], str]] = {
        "waste": lambda: waste(args.waste_steps, tuple(args.waste_envs)),
        "speedup": lambda: speedup(args.updates, args.repeats, args.step_ms, tuple(args.workers), args.plot),
        "overhead": lambda: overhead(args.overhead_steps, args.repeats),
    }
    report({name: _with_load(sections[name]) for name in args.sections})


def _with_load(measure: Callable[[], str]) -> Callable[[], str]:
    """``measure``, with the machine's load average (1 min) before and after under its table."""

    def measured() -> str:
        before = os.getloadavg()[0]
        text = measure()
        return f"{text}\n\nLoad average (1 min): {before:.1f} before, {os.getloadavg()[0]:.1f} after"

    return measured


if __name__ == "__main__":
    main()
