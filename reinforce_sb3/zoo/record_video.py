"""``python -m reinforce_sb3.zoo.record_video``: the zoo's ``record_video``, with ``--algo reinforce`` available.

Every flag of ``python -m rl_zoo3.record_video`` works the same; see :mod:`reinforce_sb3.zoo`.
"""

from reinforce_sb3.zoo import run

if __name__ == "__main__":
    run("record_video")
