"""REINFORCE.learn on CUDA: steps per second beside the CPU, and the host-to-device copies it makes.

CartPole-v1 with the default ``MlpPolicy`` at 1 and 8 envs, one torch thread. The copies are
counted by the torch profiler, separately in each ``train()`` (the batch's observations, actions
and returns: one copy of each array is the target) and in each rollout step (the observations
only). Without CUDA it prints that no GPU figures are recorded.

    python -m benchmarks.gpu
    python -m benchmarks.gpu --steps 2000
"""

from __future__ import annotations

from typing import Any

import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from benchmarks.common import cartpole, learn_speed, run_benchmark, table
from benchmarks.throughput import STEPS
from gym_pgtoy.cli import int_at_least
from reinforce_sb3 import REINFORCE


def count_copies(model: REINFORCE, n_steps: int = 3000) -> dict[str, float]:
    """Host-to-device memory copies per ``train()`` ("update") and per rollout step ("step"), over ``n_steps``."""
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

    # instance attributes shadow the methods for this learn() only
    model.train, model.collect_episodes = profiled_train, profiled_collect  # type: ignore[method-assign]
    try:
        model.learn(n_steps, reset_num_timesteps=False)
    finally:
        del model.train, model.collect_episodes
    return {"update": counts["update"] / max(counts["updates"], 1), "step": counts["rollout"] / max(counts["steps"], 1)}


def gpu(steps: int = STEPS) -> str:
    """The table: CPU and CUDA steps/s of ``learn(steps)``, and the copies per update and per rollout step."""
    if not th.cuda.is_available():
        return "no CUDA: the GPU figures are not recorded on this machine"
    rows = []
    for n_envs in (1, 8):
        cpu_speed = learn_speed(cartpole("REINFORCE", n_envs), steps)
        model = cartpole("REINFORCE", n_envs, device="cuda")
        assert isinstance(model, REINFORCE)
        model.learn(2000)  # warm up: CUDA's first-use costs are not the loop's
        gpu_speed = learn_speed(model, steps)
        copies = count_copies(model)
        rows.append(
            [str(n_envs), f"{cpu_speed:,.0f}", f"{gpu_speed:,.0f}", f"{copies['update']:.1f}", f"{copies['step']:.2f}"]
        )
    header = ["n_envs", "CPU steps/s", "CUDA steps/s", "host-to-device copies per update", "per rollout step"]
    return f"{th.cuda.get_device_name()}\n\n" + table(header, rows)


def main(argv: list[str] | None = None) -> None:
    """Print the machine and the GPU table."""
    run_benchmark(
        __doc__, "gpu", gpu, argv, steps={"type": int_at_least(1), "default": STEPS, "help": "env steps per speed"}
    )


if __name__ == "__main__":
    main()
