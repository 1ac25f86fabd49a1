"""How fast REINFORCE trains, beside its peers and beside the physical limits, all measured in one run.

Sections (all by default, or pick some with ``--sections``), one torch thread, CPU:

- ``throughput``: CartPole-v1, default MlpPolicy, at 1 and 8 envs, median of interleaved repeats (``make_vec_env``'s
  DummyVecEnv with Monitor): steps/s of the env alone (random actions), of the plain loop
  (the same VecEnv stepped with actions sampled by the same network in torch, no learning),
  of ``REINFORCE.learn`` with its defaults, and of SB3's A2C and PPO with theirs, with the ratios.
- ``waste``: the share of env steps used in no gradient step, at 1, 8 and 32 envs with the
  default ``n_episodes`` (8), for a DummyVecEnv (waiting envs are paused) and for a VecEnv
  wrapper (all envs step together, as with VecNormalize or a SubprocVecEnv).
- ``scale``: steps/s and the peak memory a run adds, at 1, 8 and 32 envs by 8, 64 and 512
  episodes per batch, and at episode lengths 100, 1,000 and 10,000 (each in a fresh process).
- ``vector``: env-steps/s of the native vectorised tree game (``gym.make_vec``) at 1 to 4,096 envs.
- ``gpu``: with CUDA, learn() steps/s on the GPU and the host-to-device copies per update and per
  step (counted by the torch profiler); without CUDA it says so.
- ``solve``: steps and seconds to solve CartPole-v1 (``benchmarks.time_to_solve``, about 4 min).

    python -m benchmarks.performance
    python -m benchmarks.performance --sections throughput waste --steps 20000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecCheckNan, VecEnv

import gym_pgtoy
from benchmarks import time_to_solve
from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout.numpy_actor import NumpyActor

SECTIONS = ("throughput", "waste", "scale", "vector", "gpu", "solve")


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    return "\n".join([*lines, *(f"| {' | '.join(row)} |" for row in rows)])


def steps_per_second(run: Callable[[], int]) -> float:
    """Env steps per second of ``run`` (which returns the number of env steps it took)."""
    start = time.perf_counter()
    steps = run()
    return steps / (time.perf_counter() - start)


def env_alone(n_envs: int, n_steps: int) -> float:
    """Steps/s of the VecEnv with random actions and no policy: the physical limit."""
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
    env.reset()
    actions = np.random.default_rng(0).integers(0, 2, size=(n_steps // n_envs, n_envs))

    def run() -> int:
        for action in actions:
            env.step(action)
        return actions.size

    return steps_per_second(run)


def plain_loop(n_envs: int, n_steps: int, sampler: str = "torch") -> float:
    """Steps/s of the VecEnv stepped with actions from REINFORCE's default network, without learning."""
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
    policy = REINFORCE("MlpPolicy", env, seed=0, device="cpu").policy
    actor, rng = NumpyActor.from_policy(policy), np.random.default_rng(0)
    obs = env.reset()

    def run() -> int:
        nonlocal obs
        for _ in range(n_steps // n_envs):
            if sampler == "torch":
                with th.no_grad():
                    actions = policy(obs_as_tensor(obs, policy.device)).numpy()
            else:
                actions = actor.sample(obs, rng)  # type: ignore[union-attr, arg-type]
            obs, _, _, _ = env.step(actions)
        return (n_steps // n_envs) * n_envs

    return steps_per_second(run)


def learn_speed(algo: str, n_envs: int, n_steps: int) -> float:
    """Steps/s of ``algo.learn`` with its default hyperparameters (env steps actually taken)."""
    classes: dict[str, Any] = {"REINFORCE": REINFORCE, "A2C": A2C, "PPO": PPO}
    model = classes[algo]("MlpPolicy", make_vec_env("CartPole-v1", n_envs=n_envs, seed=0), seed=0, device="cpu")

    def run() -> int:
        model.learn(n_steps)
        return model.num_timesteps

    return steps_per_second(run)


def throughput(n_steps: int, repeats: int) -> str:
    """Section 1: REINFORCE.learn against A2C, PPO, the plain loop and the env alone (median of ``repeats``)."""
    rows = []
    for n_envs in (1, 8):
        loops: dict[str, Callable[[], float]] = {
            "env alone": lambda n_envs=n_envs: env_alone(n_envs, n_steps),
            "plain loop (torch sampling)": lambda n_envs=n_envs: plain_loop(n_envs, n_steps, "torch"),
            "plain loop (numpy actor)": lambda n_envs=n_envs: plain_loop(n_envs, n_steps, "numpy"),
            "REINFORCE.learn": lambda n_envs=n_envs: learn_speed("REINFORCE", n_envs, n_steps),
            "A2C.learn": lambda n_envs=n_envs: learn_speed("A2C", n_envs, n_steps),
            "PPO.learn": lambda n_envs=n_envs: learn_speed("PPO", n_envs, n_steps),
        }
        # interleaved repeats, so that a slow spell of the machine does not fall on one loop only
        measured: dict[str, list[float]] = {name: [] for name in loops}
        for _ in range(repeats):
            for name, measure in loops.items():
                measured[name].append(measure())
        speeds = {name: float(np.median(values)) for name, values in measured.items()}
        reinforce = speeds["REINFORCE.learn"]
        for name, speed in speeds.items():
            rows.append(
                [
                    str(n_envs),
                    name,
                    f"{speed:,.0f}",
                    f"{min(measured[name]):,.0f} to {max(measured[name]):,.0f}",
                    f"{reinforce / speed:.2f}",
                    f"{speed / speeds['plain loop (torch sampling)']:.0%}",
                    f"{speed / speeds['env alone']:.0%}",
                ]
            )
    header = ["n_envs", "loop", "steps/s (median)", "range", "REINFORCE ÷ this", "÷ plain loop (torch)", "÷ env alone"]
    return (
        f"CartPole-v1, defaults, {n_steps:,} env steps per measurement, median of {repeats} interleaved repeats\n\n"
        + table(header, rows)
    )


class BatchRecorder(BaseCallback):
    """The env steps taken and used (the batch's steps) up to the last update."""

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


def waste(n_steps: int) -> str:
    """Section 2: the share of env steps in no batch, with paused and with lockstep VecEnvs."""
    rows = []
    for n_envs in (1, 8, 32):
        for kind in ("DummyVecEnv (paused)", "VecEnv wrapper (lockstep)"):
            env: VecEnv = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
            if kind.startswith("VecEnv wrapper"):
                env = VecCheckNan(env)  # a wrapper that changes nothing: every env steps at every step
            with warnings.catch_warnings():  # 8 episodes on 32 envs: 24 envs idle, as the table shows
                warnings.simplefilter("ignore")
                model = REINFORCE("MlpPolicy", env, seed=0, device="cpu")
            recorder = BatchRecorder()
            start = time.perf_counter()
            model.learn(n_steps, callback=recorder)
            seconds = time.perf_counter() - start
            rows.append(
                [
                    str(n_envs),
                    kind,
                    str(recorder.updates),
                    f"{recorder.taken:,}",
                    f"{1 - recorder.used / recorder.taken:.1%}",
                    f"{recorder.used / seconds:,.0f}",
                ]
            )
    header = ["n_envs", "VecEnv", "updates", "steps taken", "waste", "used steps/s"]
    return (
        f"CartPole-v1, default n_episodes=8, {n_steps:,} steps from scratch (steps counted up to the last update; "
        "used steps/s: batch steps per second of learn(), one run)\n\n"
        f"{table(header, rows)}"
    )


def _scale_run(env_id: str, n_envs: int, n_episodes: int, n_updates: int, max_episode_steps: int | None) -> dict:
    """In a fresh process: ``n_updates`` updates; steps/s and the peak resident memory added by learn()."""
    th.set_num_threads(1)
    env = make_vec_env(env_id, n_envs=n_envs, seed=0, env_kwargs={"max_episode_steps": max_episode_steps})
    with warnings.catch_warnings():  # 8 episodes on 32 envs: 24 envs idle, as the table shows
        warnings.simplefilter("ignore")
        model = REINFORCE("MlpPolicy", env, n_episodes=n_episodes, seed=0, device="cpu", learning_rate=0.0)
    # a first update on one episode: torch's and numpy's first-use allocations are not the batch's
    warm_up = REINFORCE("MlpPolicy", env_id, n_episodes=1, seed=0, device="cpu")
    warm_up.learn(10**9, callback=_StopAfter(1))
    del warm_up
    _reset_peak_rss()
    before = _memory_kib("VmRSS")
    recorder = BatchRecorder()
    start = time.perf_counter()
    model.learn(10**9, callback=[recorder, _StopAfter(n_updates, min_steps=20_000)])
    seconds = time.perf_counter() - start
    peak = _memory_kib("VmHWM")
    return {
        "steps_per_second": model.num_timesteps / seconds,
        "batch_steps": recorder.used / max(recorder.updates, 1),
        "added_mib": (peak - before) / 1024,
    }


def _memory_kib(field: str) -> int:
    """``VmRSS`` (resident memory now) or ``VmHWM`` (its peak) from ``/proc/self/status``, in KiB (Linux).

    Not ``getrusage``'s ``ru_maxrss``: it survives ``exec``, so a spawned process would start with its
    parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    """Set ``VmHWM`` to the current resident memory (Linux 4.0+: write 5 to ``/proc/self/clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")


class _StopAfter(BaseCallback):
    """Stop after ``n_updates`` updates, or later if fewer than ``min_steps`` steps were taken by then."""

    def __init__(self, n_updates: int, min_steps: int = 0) -> None:
        super().__init__()
        self.n_updates = n_updates
        self.min_steps = min_steps

    def _on_step(self) -> bool:
        return self.model._n_updates < self.n_updates or self.num_timesteps < self.min_steps


def _in_fresh_process(*args: Any) -> dict:
    """``_scale_run(*args)`` in a new interpreter whose allocator returns large blocks to the system when freed.

    glibc raises its mmap threshold after large blocks are freed and then keeps later ones on the heap,
    so the peak RSS would depend on what ran before; a fixed threshold makes it track the live memory.
    """
    previous = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "131072"
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_scale_run, args)
    finally:
        if previous is None:
            del os.environ["MALLOC_MMAP_THRESHOLD_"]
        else:
            os.environ["MALLOC_MMAP_THRESHOLD_"] = previous


def scale() -> str:
    """Section 4: cost per step and memory as batches and episodes grow (learning rate 0: fixed episode lengths)."""
    rows = []
    for n_envs in (1, 8, 32):
        for n_episodes in (8, 64, 512):
            result = _in_fresh_process("CartPole-v1", n_envs, n_episodes, 3, None)
            rows.append(_scale_row("CartPole-v1", n_envs, n_episodes, result))
    for length in (100, 1_000, 10_000):
        result = _in_fresh_process("Pendulum-v1", 1, 8, 2, length)
        rows.append(_scale_row(f"Pendulum-v1, {length:,}-step episodes", 1, 8, result))
    header = ["env", "n_envs", "n_episodes", "steps per batch", "steps/s", "memory added (MiB)", "bytes per batch step"]
    return (
        "Fresh process per line, untrained policy (learning rate 0), at least 3 updates (CartPole) or 2 (Pendulum) "
        "and 20,000 steps; "
        "memory: peak resident memory during learn() minus the resident memory before it (Linux /proc)\n\n"
        + table(header, rows)
    )


def _scale_row(name: str, n_envs: int, n_episodes: int, result: dict) -> list[str]:
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


def vector(seconds: float = 1.0) -> str:
    """Section 5: the native vectorised tree game beside Gymnasium's SyncVectorEnv."""
    gym.register_envs(gym_pgtoy)
    rows = []
    for env_id in ("PGToy-v0", "SlipperyHill-v0"):
        for mode, n_envs in [("sync", 64), ("vector_entry_point", 1), ("vector_entry_point", 64)] + [
            ("vector_entry_point", n) for n in (1024, 4096)
        ]:
            envs = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode=mode)
            envs.reset(seed=0)
            actions = np.random.default_rng(0).integers(0, 2, size=(256, n_envs))
            steps, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                for action in actions:
                    envs.step(action)
                steps += actions.size
            rows.append([env_id, mode, str(n_envs), f"{steps / (time.perf_counter() - start):,.0f}"])
            envs.close()
    return table(["env", "vectorization_mode", "num_envs", "env steps/s"], rows)


def gpu(n_steps: int) -> str:
    """Section 6: on CUDA, learn() speed, and the host-to-device copies per update and per rollout step."""
    if not th.cuda.is_available():
        return "no CUDA: the GPU figures are not recorded on this machine"
    rows = []
    for n_envs in (1, 8):
        cpu_speed = learn_speed("REINFORCE", n_envs, n_steps)
        model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=n_envs, seed=0), seed=0, device="cuda")
        model.learn(2000)  # warm up

        def run(model: REINFORCE = model) -> int:
            model.learn(n_steps)
            return model.num_timesteps

        gpu_speed = steps_per_second(run)
        copies = _count_copies(model)
        rows.append(
            [str(n_envs), f"{cpu_speed:,.0f}", f"{gpu_speed:,.0f}", f"{copies['update']:.1f}", f"{copies['step']:.2f}"]
        )
    header = ["n_envs", "CPU steps/s", "CUDA steps/s", "host-to-device copies per update", "per rollout step"]
    return f"{th.cuda.get_device_name()}\n\n" + table(header, rows)


def _count_copies(model: REINFORCE, n_steps: int = 3000) -> dict[str, float]:
    """Host-to-device memory copies (torch profiler) in each ``train()`` and each rollout step, on average."""
    from torch.profiler import ProfilerActivity, profile

    counts = {"update": 0, "updates": 0, "rollout": 0, "steps": 0}
    train, collect = model.train, model.collect_episodes

    def count(events: Any) -> int:
        return sum("HtoD" in event.name for event in events)

    def profiled_train() -> None:
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            train()
        counts["update"] += count(prof.events())
        counts["updates"] += 1

    def profiled_collect(env: VecEnv, callback: BaseCallback, total_timesteps: int) -> bool:
        calls = callback.n_calls
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            result = collect(env, callback, total_timesteps)
        counts["rollout"] += count(prof.events())
        counts["steps"] += callback.n_calls - calls
        return result

    model.train, model.collect_episodes = profiled_train, profiled_collect  # type: ignore[method-assign]
    try:
        model.learn(n_steps, reset_num_timesteps=False)
    finally:
        del model.train, model.collect_episodes
    return {"update": counts["update"] / max(counts["updates"], 1), "step": counts["rollout"] / max(counts["steps"], 1)}


def solve() -> str:
    """Section 3: steps and seconds to solve CartPole-v1, 5 seeds, beside the zoo's A2C and PPO."""
    rows = time_to_solve.time_to_solve(list(time_to_solve.ALGOS), list(range(5)))
    return time_to_solve.format_table(rows)


def main(argv: list[str] | None = None) -> None:
    """Run the chosen sections and print the machine and their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--steps", type=int, default=20_000, help="env steps per throughput measurement")
    parser.add_argument("--repeats", type=int, default=3, help="throughput measurements per loop (median)")
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    print(f"Machine: {time_to_solve.machine_description()}")
    sections: dict[str, Callable[[], str]] = {
        "throughput": lambda: throughput(args.steps, args.repeats),
        "waste": lambda: waste(30_000),
        "scale": scale,
        "vector": vector,
        "gpu": lambda: gpu(args.steps),
        "solve": solve,
    }
    for name in args.sections:
        start = time.perf_counter()
        text = sections[name]()
        print(f"\n## {name} ({time.perf_counter() - start:.0f} s)\n\n{text}", flush=True)


if __name__ == "__main__":
    main()
