"""Every benchmark in one run: how fast REINFORCE trains, beside its peers and beside the physical limits.

Sections, in this order (all by default, or some with ``--sections``), each its own module that
also runs alone as ``python -m benchmarks.<module>``; one torch thread, CPU unless the section
says otherwise:

- ``throughput`` (:mod:`benchmarks.throughput`): steps/s of ``REINFORCE.learn`` beside A2C, PPO,
  the plain sampling loop and the env alone, CartPole-v1 at 1 and 8 envs;
- ``waste`` (:mod:`benchmarks.waste`): the share of env steps used in no gradient step, at 1, 8
  and 32 envs, paused (DummyVecEnv) and lockstep (VecEnv wrapper);
- ``scale`` (:mod:`benchmarks.scale`): steps/s and the memory a batch adds as batches and
  episodes grow, each line in a fresh process;
- ``vector`` (:mod:`benchmarks.vector_env`): env steps/s of the tree game's native vector env
  at 1 to 4,096 envs beside Gymnasium's SyncVectorEnv;
- ``threads`` (:mod:`benchmarks.threads`): learn() steps/s with the threads a user gets without
  asking, beside one thread set by hand and torch's default, alone and two trainings side by side;
- ``gpu`` (:mod:`benchmarks.gpu`): with CUDA, learn() steps/s on the GPU and the host-to-device
  copies per update and per step; without CUDA it says so;
- ``solve`` (:mod:`benchmarks.time_to_solve`): steps and seconds to solve CartPole-v1, 5 seeds,
  beside the zoo's A2C and PPO (about 4 minutes).

    python -m benchmarks.performance
    python -m benchmarks.performance --sections throughput waste --steps 20000
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks import time_to_solve
from benchmarks.common import parser, report
from benchmarks.gpu import gpu
from benchmarks.scale import scale
from benchmarks.threads import threads
from benchmarks.throughput import REPEATS, STEPS, throughput
from benchmarks.vector_env import vector_env
from benchmarks.waste import waste
from gym_pgtoy.cli import int_at_least

SECTIONS = ("throughput", "waste", "scale", "vector", "threads", "gpu", "solve")


def main(argv: list[str] | None = None) -> None:
    """Run the chosen sections with their default sizes and print the machine and their tables."""
    cli = parser(__doc__)
    cli.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    cli.add_argument("--steps", type=int_at_least(1), default=STEPS, help="env steps per throughput or gpu measurement")
    cli.add_argument(
        "--repeats", type=int_at_least(1), default=REPEATS, help="throughput measurements per loop (median)"
    )
    args = cli.parse_args(argv)
    sections: dict[str, Callable[[], str]] = {
        "throughput": lambda: throughput(args.steps, args.repeats),
        "waste": waste,
        "scale": scale,
        "vector": vector_env,
        "threads": lambda: threads(args.steps, args.repeats),
        "gpu": lambda: gpu(args.steps),
        "solve": lambda: time_to_solve.solve(list(time_to_solve.ALGOS), list(range(5))),
    }
    report({name: sections[name] for name in args.sections})


if __name__ == "__main__":
    main()
