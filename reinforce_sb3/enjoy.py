"""Alias of :mod:`reinforce_sb3.zoo.enjoy` (``python -m reinforce_sb3.enjoy``, as the README showed it)."""

from reinforce_sb3.zoo import cli

if __name__ == "__main__":
    cli("enjoy", prog="python -m reinforce_sb3.enjoy")
