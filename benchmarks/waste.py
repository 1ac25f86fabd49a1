"""The share of env steps that REINFORCE takes but uses in no gradient step, with paused and lockstep VecEnvs.

CartPole-v1 from scratch, default ``n_episodes`` (8), at 1, 8 and 32 envs, one torch thread, CPU.
A batch is the first ``n_episodes`` episodes to *start*; envs whose batch episode has ended have
nothing to do until the update. A ``DummyVecEnv`` lets them wait (``paused``: no step wasted);
a VecEnv wrapper (here ``VecCheckNan``, which changes nothing; likewise ``VecNormalize`` or a
``SubprocVecEnv``) steps every env at every step (``lockstep``), into episodes that are not used.
Steps are counted up to the last update; "used steps/s" is batch steps per second of ``learn()``.

    python -m benchmarks.waste
    python -m benchmarks.waste --steps 2000
"""

from __future__ import annotations

import time
import warnings

from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecCheckNan, VecEnv

from benchmarks.common import BatchRecorder, run_benchmark, table
from gym_pgtoy.cli import int_at_least
from reinforce_sb3 import REINFORCE

KINDS = ("DummyVecEnv (paused)", "VecEnv wrapper (lockstep)")
STEPS = 30_000  # env steps of each run, by default


def waste(steps: int = STEPS) -> str:
    """The table: updates, steps taken and the share wasted, per number of envs and kind of VecEnv (one run each)."""
    rows = []
    for n_envs in (1, 8, 32):
        for kind in KINDS:
            env: VecEnv = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
            if kind.startswith("VecEnv wrapper"):
                env = VecCheckNan(env)  # a wrapper that changes nothing: every env steps at every step
            with warnings.catch_warnings():  # 8 episodes on 32 envs: 24 envs idle, as the table shows
                warnings.simplefilter("ignore")
                model = REINFORCE("MlpPolicy", env, seed=0, device="cpu")
            recorder = BatchRecorder()
            start = time.perf_counter()
            model.learn(steps, callback=recorder)
            seconds = time.perf_counter() - start
            rows.append(
                [
                    str(n_envs),
                    kind,
                    str(recorder.updates),
                    f"{recorder.taken:,}",
                    f"{1 - recorder.used / max(recorder.taken, 1):.1%}",
                    f"{recorder.used / seconds:,.0f}",
                ]
            )
    header = ["n_envs", "VecEnv", "updates", "steps taken", "waste", "used steps/s"]
    return (
        f"CartPole-v1, default n_episodes=8, {steps:,} steps from scratch (steps counted up to the last update; "
        "used steps/s: batch steps per second of learn(), one run)\n\n"
        f"{table(header, rows)}"
    )


def main(argv: list[str] | None = None) -> None:
    """Print the machine and the waste table."""
    run_benchmark(
        __doc__, "waste", waste, argv, steps={"type": int_at_least(1), "default": STEPS, "help": "env steps per run"}
    )


if __name__ == "__main__":
    main()
