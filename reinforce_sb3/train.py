"""Alias of :mod:`reinforce_sb3.zoo.train` (``python -m reinforce_sb3.train``, as the README showed it)."""

from reinforce_sb3.zoo import cli

if __name__ == "__main__":
    cli("train", prog="python -m reinforce_sb3.train")
