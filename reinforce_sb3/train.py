"""Alias of :mod:`reinforce_sb3.zoo.train`, deprecated (it warns, imported or run); removed in 0.3.0."""

from reinforce_sb3._deprecated import alias

alias("reinforce_sb3.train", "reinforce_sb3.zoo.train", main=__name__ == "__main__")
