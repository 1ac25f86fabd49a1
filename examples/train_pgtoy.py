"""The main job: train REINFORCE on the tree game (PGToy-v0) through the zoo and check it against the exact optimum.

Runs ``python -m reinforce_sb3.zoo.train --algo reinforce --env PGToy-v0`` (RL Baselines3 Zoo, with the
shipped hyperparameters and a progress bar), then prints the learned action probabilities at each
decision point and the exact expected return of the learned policy beside the exact optimum, and
draws the game tree of the learned policy (``tree.png`` beside the model).

    make train
    python examples/train_pgtoy.py [--seed S] [--folder DIR] [extra zoo flags, e.g. -n 5000] [--debug]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gym_pgtoy import exact
from gym_pgtoy.cli import run_cli
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis.plots import plot_tree
from reinforce_sb3.zoo import run

STATE_NAMES = {(2, 1): "hilltop, diamond there", (1, 0): "hillside, diamond taken", (2, 0): "hilltop, diamond taken"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--folder", type=Path, default=Path("logs"), help="the zoo's log folder (-f)")
    args, zoo_flags = parser.parse_known_args(argv)

    run(
        "train",
        [
            *("--algo", "reinforce", "--env", "PGToy-v0", "--seed", str(args.seed), "-f", str(args.folder)),
            *("--progress", "--verbose", "0", "--eval-freq", "-1", "--num-threads", "1", *zoo_flags),
        ],
    )
    run_dirs = sorted((args.folder / "reinforce").glob("PGToy-v0_*"), key=lambda p: int(p.name.rsplit("_", 1)[1]))
    model_path = run_dirs[-1] / "PGToy-v0.zip"
    model = REINFORCE.load(model_path, device="cpu")

    analysis = exact.analyze("PGToy-v0", model)
    optimum = exact.solve("PGToy-v0")
    print("\nLearned action probabilities at each decision point:")
    for state, name in STATE_NAMES.items():
        p_left, p_right = analysis.policy[state]
        print(f"  {state} {name:<24} left {p_left:.3f}  right {p_right:.3f}")
    print(f"\nExact expected return of the learned policy: {analysis.expected_return:.3f}")
    print(f"Exact optimum: {optimum.expected_return:.3f} (left, right, right); 'always right' earns 10")
    tree = run_dirs[-1] / "tree.png"
    plot_tree("PGToy-v0", model, tree, title=f"Learned policy: expected return {analysis.expected_return:.3f} (exact)")
    print(f"\nModel: {model_path}\nLogs (monitor, config): {run_dirs[-1]}\nGame tree of the learned policy: {tree}")


if __name__ == "__main__":
    run_cli(main, "python examples/train_pgtoy.py")  # bad flags: one line and exit status 2 (--debug: traceback)
