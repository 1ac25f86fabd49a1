"""Alias of :mod:`reinforce_sb3.zoo.record_video` (the README showed ``python -m reinforce_sb3.record_video``)."""

from reinforce_sb3.zoo import cli

if __name__ == "__main__":
    cli("record_video", prog="python -m reinforce_sb3.record_video")
