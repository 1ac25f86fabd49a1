"""``python -m reinforce_sb3.zoo.enjoy``: RL Baselines3 Zoo's ``enjoy`` script, with ``--algo reinforce`` available.

Every flag of ``python -m rl_zoo3.enjoy`` works the same, plus ``--debug``; see :mod:`reinforce_sb3.zoo.scripts`.
"""

from reinforce_sb3.zoo.scripts import cli

if __name__ == "__main__":
    cli("enjoy")
