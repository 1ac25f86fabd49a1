"""Steps per second of REINFORCE.learn beside A2C, PPO, the plain sampling loop and the env alone.

CartPole-v1, default ``MlpPolicy`` and each algorithm's defaults, at 1 and 8 envs
(``make_vec_env``'s DummyVecEnv with Monitor), one torch thread, CPU. Four references:

- ``env alone``: the VecEnv stepped with random actions drawn in advance, no policy (the physical limit);
- ``plain loop (torch sampling)``: the same VecEnv stepped with actions sampled by REINFORCE's
  default network in torch, no learning;
- ``plain loop (numpy actor)``: the same, sampling with the numpy copy of the network that
  ``learn()`` uses on the CPU;
- ``A2C.learn`` and ``PPO.learn``: SB3's peers with their defaults;
- ``REINFORCE.learn, observations unchecked``: REINFORCE with its check of the observations
  (no action is chosen on a NaN or infinite one) switched off: the cost of that check, which a
  line after the table also gives directly, as the share of ``learn()``'s time spent inside it
  (less noisy than the difference of two speeds).

Each figure is the median of ``--repeats`` measurements, interleaved so that a slow spell of the
machine does not fall on one loop only.

    python -m benchmarks.throughput
    python -m benchmarks.throughput --steps 2000 --repeats 1
"""

from __future__ import annotations

import time

import numpy as np
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.utils import obs_as_tensor

from benchmarks.common import cartpole, learn_speed, run_benchmark, steps_per_second, table
from gym_pgtoy.cli import int_at_least
from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout.numpy_actor import NumpyActor

LOOPS = (
    "env alone",
    "plain loop (torch sampling)",
    "plain loop (numpy actor)",
    "REINFORCE.learn",
    "A2C.learn",
    "PPO.learn",
    "REINFORCE.learn, observations unchecked",
)

STEPS, REPEATS = 20_000, 3  # env steps per measurement and measurements per loop, by default


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
    """Steps/s of the VecEnv stepped with actions from REINFORCE's default network (``sampler``: torch or numpy)."""
    model = cartpole("REINFORCE", n_envs)
    assert isinstance(model, REINFORCE) and model.env is not None
    env, policy = model.env, model.policy
    actor, rng = NumpyActor.from_policy(policy), np.random.default_rng(0)
    if actor is None:
        raise RuntimeError("no numpy actor for the default CartPole policy on the CPU")
    obs = env.reset()

    def run() -> int:
        nonlocal obs
        for _ in range(n_steps // n_envs):
            if sampler == "torch":
                with th.no_grad():
                    actions = policy(obs_as_tensor(obs, policy.device)).numpy()  # type: ignore[arg-type]  # an array
            else:
                actions = actor.sample(obs, rng)  # type: ignore[arg-type]  # CartPole's observations are an array
            obs, _, _, _ = env.step(actions)
        return (n_steps // n_envs) * n_envs

    return steps_per_second(run)


def measure(loop: str, n_envs: int, n_steps: int) -> float:
    """Steps/s of one of :data:`LOOPS`."""
    if loop == "env alone":
        return env_alone(n_envs, n_steps)
    if loop.startswith("plain loop"):
        return plain_loop(n_envs, n_steps, "torch" if "torch" in loop else "numpy")
    if loop == "REINFORCE.learn, observations unchecked":
        model = cartpole("REINFORCE", n_envs)
        assert isinstance(model, REINFORCE)
        model.collector._check_finite = lambda obs: None  # type: ignore[method-assign]  # the check, switched off
        return learn_speed(model, n_steps)
    return learn_speed(cartpole(loop.removesuffix(".learn"), n_envs), n_steps)


def observation_check_share(n_envs: int, n_steps: int) -> float:
    """The share of ``REINFORCE.learn``'s time spent checking the observations, timed inside the check."""
    model = cartpole("REINFORCE", n_envs)
    assert isinstance(model, REINFORCE)
    check, spent = model.collector._check_finite, [0.0]

    def timed(obs: object) -> None:
        start = time.perf_counter()
        check(obs)  # type: ignore[arg-type]  # the VecEnv's observations
        spent[0] += time.perf_counter() - start

    model.collector._check_finite = timed  # type: ignore[method-assign]  # the check, timed
    start = time.perf_counter()
    model.learn(n_steps)
    return spent[0] / (time.perf_counter() - start)


def throughput(steps: int = STEPS, repeats: int = REPEATS) -> str:
    """The table: every loop at 1 and 8 envs, median of ``repeats``, with the ratios to REINFORCE and the limits."""
    rows = []
    for n_envs in (1, 8):
        measured: dict[str, list[float]] = {loop: [] for loop in LOOPS}
        for _ in range(repeats):  # interleaved: one measurement of every loop per repeat
            for loop in LOOPS:
                measured[loop].append(measure(loop, n_envs, steps))
        speeds = {loop: float(np.median(values)) for loop, values in measured.items()}
        for loop, speed in speeds.items():
            rows.append(
                [
                    str(n_envs),
                    loop,
                    f"{speed:,.0f}",
                    f"{min(measured[loop]):,.0f} to {max(measured[loop]):,.0f}",
                    f"{speeds['REINFORCE.learn'] / speed:.2f}",
                    f"{speed / speeds['plain loop (torch sampling)']:.0%}",
                    f"{speed / speeds['env alone']:.0%}",
                ]
            )
    header = ["n_envs", "loop", "steps/s (median)", "range", "REINFORCE ÷ this", "÷ plain loop (torch)", "÷ env alone"]
    shares = {
        n_envs: float(np.median([observation_check_share(n_envs, steps) for _ in range(repeats)])) for n_envs in (1, 8)
    }
    return (
        f"CartPole-v1, defaults, {steps:,} env steps per measurement, median of {repeats} interleaved repeats\n\n"
        + table(header, rows)
        + "\n\nShare of REINFORCE.learn's time spent checking the observations (timed inside the check, median of "
        + f"{repeats}): {shares[1]:.1%} with 1 env, {shares[8]:.1%} with 8 envs"
    )


def main(argv: list[str] | None = None) -> None:
    """Print the machine and the throughput table."""
    run_benchmark(
        __doc__,
        "throughput",
        throughput,
        argv,
        steps={"type": int_at_least(1), "default": STEPS, "help": "env steps per measurement"},
        repeats={"type": int_at_least(1), "default": REPEATS, "help": "measurements per loop (median)"},
    )


if __name__ == "__main__":
    main()
