"""Env steps per second of the tree game's native vector env beside Gymnasium's SyncVectorEnv.

PGToy-v0 and SlipperyHill-v0 through ``gym.make_vec``: ``vectorization_mode="sync"`` (a
``SyncVectorEnv`` of 64 single envs) and the native ``vector_entry_point`` at 1, 64, 1,024 and
4,096 envs, stepped with random actions drawn in advance for about ``--seconds`` each. No torch.

    python -m benchmarks.vector_env
    python -m benchmarks.vector_env --seconds 0.1
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

import gym_pgtoy
from benchmarks.common import positive_float, run_benchmark, table

# (vectorization_mode, num_envs): Gymnasium's SyncVectorEnv of single envs, then the native vector env
SETTINGS = [("sync", 64)] + [("vector_entry_point", n_envs) for n_envs in (1, 64, 1024, 4096)]


def env_steps_per_second(env_id: str, mode: str, n_envs: int, seconds: float) -> float:
    """Env steps/s of ``gym.make_vec(env_id, n_envs, mode)``, stepped for ``seconds`` (in blocks of 256 steps)."""
    envs = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode=mode)
    envs.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 2, size=(256, n_envs))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for action in actions:
            envs.step(action)
        steps += actions.size
    speed = steps / (time.perf_counter() - start)
    envs.close()
    return speed


def vector_env(seconds: float = 1.0) -> str:
    """The table: env steps/s of every env id and setting of :data:`SETTINGS`."""
    gym.register_envs(gym_pgtoy)
    rows = [
        [env_id, mode, str(n_envs), f"{env_steps_per_second(env_id, mode, n_envs, seconds):,.0f}"]
        for env_id in ("PGToy-v0", "SlipperyHill-v0")
        for mode, n_envs in SETTINGS
    ]
    return table(["env", "vectorization_mode", "num_envs", "env steps/s"], rows)


def main(argv: list[str] | None = None) -> None:
    """Print the machine and the vector env table."""
    run_benchmark(
        __doc__, "vector", vector_env, argv, seconds={"type": positive_float, "default": 1.0, "help": "per line"}
    )


if __name__ == "__main__":
    main()
