"""The rollout path: the batch rule, paused stepping of VecEnvs (``PausableSubprocVecEnv`` among them), acting while
its workers step, and the numpy sampler and actor."""

from reinforce_sb3.rollout.collector import EpisodeCollector
from reinforce_sb3.rollout.numpy_actor import ActionSampler, NumpyActor
from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv, WorkerError
from reinforce_sb3.rollout.vec_step import can_pause, step_active

__all__ = [
    "ActionSampler",
    "EpisodeCollector",
    "NumpyActor",
    "PausableSubprocVecEnv",
    "WorkerError",
    "can_pause",
    "step_active",
]
