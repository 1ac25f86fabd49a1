"""REINFORCE (vanilla policy gradient) as a Stable-Baselines3 algorithm.

Importing this package also registers the tree-game environments of ``gym_pgtoy``
(``PGToy-v0``, ``SlipperyHill-v0``), so their ids work wherever an env id does.
It imports neither matplotlib nor the zoo: those live in :mod:`reinforce_sb3.analysis`
and :mod:`reinforce_sb3.zoo`, behind their extras.
"""

import gym_pgtoy  # noqa: F401  (registers PGToy-v0 and SlipperyHill-v0)
from reinforce_sb3.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, REINFORCEPolicy
from reinforce_sb3.reinforce import REINFORCE
from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv

__all__ = ["REINFORCE", "CnnPolicy", "MlpPolicy", "MultiInputPolicy", "PausableSubprocVecEnv", "REINFORCEPolicy"]
