"""``python -m gym_pgtoy``: play the tree game once and show its exact analysis.

Plays one episode of PGToy-v0 with the policy of the walk-through, then prints the
exact expected return of that policy, the partial derivatives of the expected return
with respect to each action probability, and the optimum.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import gym_pgtoy
from gym_pgtoy import exact

gym.register_envs(gym_pgtoy)

WALKTHROUGH_POLICY = {(2, 1): (0.7, 0.3), (1, 0): (0.4, 0.6), (2, 0): (0.8, 0.2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gym_pgtoy", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the episode played")
    args = parser.parse_args(argv)

    env = gym.make("PGToy-v0", render_mode="ansi")
    rng = np.random.default_rng(args.seed)
    obs, _ = env.reset(seed=args.seed)
    print("One episode of PGToy-v0 with P(left) = 0.7 at (2,1), 0.4 at (1,0), 0.8 at (2,0):\n")
    print(env.render())
    episode_return, done = 0.0, False
    while not done:
        action = int(rng.choice(2, p=WALKTHROUGH_POLICY[tuple(int(x) for x in obs)]))
        obs, reward, terminated, truncated, _ = env.step(action)
        episode_return += reward
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
    main()
