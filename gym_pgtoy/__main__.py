"""``python -m gym_pgtoy``: play the tree game once and show its exact analysis.

Plays one episode of PGToy-v0 with the policy of the walk-through, then prints the
exact expected return of that policy, the partial derivatives of the expected return
with respect to each action probability, and the optimum. Bad input ends with a one-line
error and exit status 2 (``--debug`` shows the traceback; see :mod:`gym_pgtoy.cli`).
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import gym_pgtoy
from gym_pgtoy import exact
from gym_pgtoy.cli import add_debug_flag, int_at_least, run_cli
from gym_pgtoy.policies import WALKTHROUGH_POLICY

gym.register_envs(gym_pgtoy)

PROG = "python -m gym_pgtoy"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the episode played")
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    env = gym.make("PGToy-v0", render_mode="ansi")
    rng = np.random.default_rng(args.seed)
    obs, _ = env.reset(seed=args.seed)
    print("One episode of PGToy-v0 with P(left) = 0.7 at (2,1), 0.4 at (1,0), 0.8 at (2,0):\n")
    print(env.render())
    episode_return, done = 0.0, False
    while not done:
        cell, diamond = (int(x) for x in obs)
        action = int(rng.choice(2, p=WALKTHROUGH_POLICY[(cell, diamond)]))
        obs, reward, terminated, truncated, _ = env.step(action)
        episode_return += float(reward)
        done = terminated or truncated
        print(env.render())
    print(f"return {episode_return:+.0f}\n")

    analysis = exact.analyze(env, WALKTHROUGH_POLICY)
    print(f"exact expected return of this policy: {analysis.expected_return:.3f}")
    print("exact dJ/dpi(a|s) = P(reach s) * Q(s, a):")
    for state in WALKTHROUGH_POLICY:
        d_left, d_right = analysis.gradient[state]
        print(f"  at {state}: left {d_left:+.2f}, right {d_right:+.2f}")
    solution = exact.solve(env)
    print(f"optimal expected return: {solution.expected_return:.3f} with the policy {solution.policy}")


if __name__ == "__main__":
    run_cli(main, PROG)
