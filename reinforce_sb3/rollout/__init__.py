"""The rollout path: the batch rule, paused stepping of a ``DummyVecEnv``, and a numpy copy of the actor."""

from reinforce_sb3.rollout.collector import EpisodeCollector
from reinforce_sb3.rollout.numpy_actor import NumpyActor
from reinforce_sb3.rollout.vec_step import can_pause, step_active

__all__ = ["EpisodeCollector", "NumpyActor", "can_pause", "step_active"]
