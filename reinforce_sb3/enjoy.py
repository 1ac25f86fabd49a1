"""Alias of :mod:`reinforce_sb3.zoo.enjoy`, deprecated (it warns, imported or run); removed in 0.3.0."""

from reinforce_sb3._deprecated import alias

alias("reinforce_sb3.enjoy", "reinforce_sb3.zoo.enjoy", main=__name__ == "__main__")
