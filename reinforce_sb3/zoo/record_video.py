"""``python -m reinforce_sb3.zoo.record_video``: the zoo's ``record_video``, with ``--algo reinforce`` available.

Every flag of ``python -m rl_zoo3.record_video`` works the same, plus ``--debug``; see :mod:`reinforce_sb3.zoo.scripts`.
"""

from reinforce_sb3.zoo.scripts import cli

if __name__ == "__main__":
    cli("record_video")
