"""Train REINFORCE on the tree game (PGToy-v0) and check the learned policy against the exact optimum.

Run with ``make train`` or ``python examples/train_pgtoy.py [--timesteps N] [--seed S] [--folder DIR]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch as th

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE

STATE_NAMES = {(2, 1): "hilltop, diamond there", (1, 0): "hillside, diamond taken", (2, 0): "hilltop, diamond taken"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=20_000, help="environment steps to train for")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--folder", type=Path, default=Path("logs") / "pgtoy", help="where the model and logs go")
    args = parser.parse_args(argv)

    th.set_num_threads(1)  # a small MLP: one thread is fastest
    model = REINFORCE("MlpPolicy", "PGToy-v0", seed=args.seed, device="cpu", tensorboard_log=str(args.folder))
    model.learn(args.timesteps, progress_bar=True)

    analysis = exact.analyze("PGToy-v0", model)
    optimum = exact.solve("PGToy-v0")
    print("\nLearned action probabilities at each decision point:")
    for state, name in STATE_NAMES.items():
        p_left, p_right = analysis.policy[state]
        print(f"  {state} {name:<24} left {p_left:.3f}  right {p_right:.3f}")
    print(f"\nExact expected return of the learned policy: {analysis.expected_return:.3f}")
    print(f"Exact optimum: {optimum.expected_return:.3f} (left, right, right); 'always right' earns 10")
    model_path = args.folder / "reinforce_pgtoy.zip"
    model.save(model_path)
    print(f"\nModel saved to {model_path}; TensorBoard logs in {args.folder}")


if __name__ == "__main__":
    main()
