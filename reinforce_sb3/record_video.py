"""Alias of :mod:`reinforce_sb3.zoo.record_video` (the README showed ``python -m reinforce_sb3.record_video``)."""

from reinforce_sb3.zoo import run

if __name__ == "__main__":
    run("record_video")
