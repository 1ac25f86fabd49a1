"""The tree game of the policy-gradient walk-through as Gymnasium environments, with exact analysis.

Importing this package registers ``PGToy-v0`` and ``SlipperyHill-v0``::

    import gymnasium as gym
    import gym_pgtoy

    gym.register_envs(gym_pgtoy)
    env = gym.make("PGToy-v0")
    envs = gym.make_vec("PGToy-v0", num_envs=1024)  # numpy-batched: gym_pgtoy.SlipperyHillVectorEnv

``gym_pgtoy.exact`` computes the exact expected return and policy gradient of any policy
(:mod:`gym_pgtoy.policies`: the forms a policy may take). ``python -m gym_pgtoy`` plays the
walk-through; :mod:`gym_pgtoy.cli` is the error contract every command-line tool of the project
shares (one line on stderr and exit status 2 for bad input, ``--debug`` for the traceback).

Size limits, each a ``ValueError`` beyond it: ``hill_length`` <= 10_000, ``max_episode_steps`` (the
exact analysis' horizon, the vector env's limit) <= 100_000, ``num_envs`` <= 1_000_000, and at most
1_000_000 (time, state) pairs in one exact analysis.
"""

from gymnasium.envs.registration import register

from gym_pgtoy.slippery_hill import LEFT, RIGHT, SlipperyHillEnv
from gym_pgtoy.vector import SlipperyHillVectorEnv

__all__ = ["LEFT", "RIGHT", "SlipperyHillEnv", "SlipperyHillVectorEnv"]

register(
    id="PGToy-v0",
    entry_point="gym_pgtoy.slippery_hill:SlipperyHillEnv",
    vector_entry_point="gym_pgtoy.vector:SlipperyHillVectorEnv",
    kwargs={"hill_length": 1, "slip_prob": 0.1},
    max_episode_steps=3,
    reward_threshold=10.9,  # optimum = 11 (left, right, right); "always right" earns 10
)

register(
    id="SlipperyHill-v0",
    entry_point="gym_pgtoy.slippery_hill:SlipperyHillEnv",
    vector_entry_point="gym_pgtoy.vector:SlipperyHillVectorEnv",
    kwargs={"hill_length": 3, "slip_prob": 0.1},
    max_episode_steps=20,
    reward_threshold=10.5,  # optimum = 10.78 (down for the diamond, back up); "always right" earns 10
)
