"""``python -m reinforce_sb3.zoo.train``: RL Baselines3 Zoo's ``train`` script, with ``--algo reinforce`` available.

Every flag of ``python -m rl_zoo3.train`` works the same, plus ``--debug``; see :mod:`reinforce_sb3.zoo.scripts`.
"""

from reinforce_sb3.zoo.scripts import cli

if __name__ == "__main__":
    cli("train")
