"""The episodic part of an on-policy algorithm: whole episodes in, one update out, SB3's contract kept.

:class:`EpisodicAlgorithm` is to :class:`~reinforce_sb3.reinforce.REINFORCE` what SB3's
``OnPolicyAlgorithm`` is to ``A2C``: the rollout loop with its callbacks, ``learn``, the logs,
and saving and loading. The algorithm itself adds the policy, the update (``train``) and its
hyperparameters.
"""

from __future__ import annotations

import contextlib
import copy
import io
import pathlib
import sys
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.utils import safe_mean
from stable_baselines3.common.vec_env import VecEnv

from reinforce_sb3 import saving
from reinforce_sb3.callbacks import StepCountingProgressBar
from reinforce_sb3.policies import REINFORCEPolicy
from reinforce_sb3.rollout import EpisodeCollector, can_pause
from reinforce_sb3.validation import CheckedSchedule


@contextlib.contextmanager
def torch_thread_count(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``n_threads`` torch intra-op threads (None: as set), then restore torch's setting."""
    if n_threads is None:
        yield
        return
    previous = th.get_num_threads()
    th.set_num_threads(n_threads)
    try:
        yield
    finally:
        th.set_num_threads(previous)


SelfEpisodicAlgorithm = TypeVar("SelfEpisodicAlgorithm", bound="EpisodicAlgorithm")


class EpisodicAlgorithm(BaseAlgorithm, ABC):
    """
    The base class of algorithms that learn from batches of ``n_episodes`` complete episodes.

    Envs are reset only where SB3's own algorithms reset them (the first ``learn``,
    ``reset_num_timesteps=True``, ``force_reset=True``); an episode running when the parameters
    change finishes unused (see :class:`~reinforce_sb3.rollout.EpisodeCollector`).
    Subclasses set ``n_episodes`` and ``collector`` in ``_setup_model`` and define ``train``.
    """

    policy: REINFORCEPolicy
    collector: EpisodeCollector
    n_episodes: int
    torch_threads: int | None = None

    def _get_policy_from_name(self, policy_name: str) -> type[BasePolicy]:
        if policy_name not in self.policy_aliases:
            raise ValueError(
                f"policy must be one of {list(self.policy_aliases)} or a policy class, got {policy_name!r}"
            )
        return self.policy_aliases[policy_name]

    def _setup_lr_schedule(self) -> None:
        self.lr_schedule = CheckedSchedule("learning_rate", self.learning_rate)

    def _start_batch(self) -> None:
        """A new, empty batch with the current parameters: envs mid-episode finish that episode unused."""
        starts = self._last_episode_starts
        if self._last_obs is None or starts is None:  # the envs will be reset
            starts = np.ones(self.n_envs, dtype=bool)
        self.collector.start_batch(self.policy, starts)

    def collect_episodes(self, env: VecEnv, callback: BaseCallback, total_timesteps: int) -> bool:
        """
        Step the envs with the current policy until the batch's ``n_episodes`` episodes are
        complete, or the timestep budget is spent.

        :param env: The training environment
        :param callback: Callback called at every step (and at the start and end of the collection)
        :param total_timesteps: The budget: collection stops when ``num_timesteps`` reaches it
        :return: False if a callback stopped training, True otherwise
        """
        obs, episode_starts = self._last_obs, self._last_episode_starts
        assert obs is not None and episode_starts is not None, "No previous observation was provided"
        # Switch to eval mode (this affects batch norm / dropout)
        self.policy.set_training_mode(False)
        collector = self.collector
        pausable = can_pause(env)  # decided once: the VecEnv does not change during a collection
        callback.on_rollout_start()
        while not collector.complete and self.num_timesteps < total_timesteps:
            active = collector.active(episode_starts, pausable)
            actions = collector.sample(self.policy, obs)
            # The log-probability is that of the Gaussian sample; the env receives it clipped.
            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)
            new_obs, rewards, dones, infos = collector.step(env, clipped_actions, active, pausable)
            self.num_timesteps += int(np.count_nonzero(active))
            self._update_info_buffer(infos, dones)
            collector.record(obs, actions, rewards, episode_starts, dones, active)
            # an env that did not step is still where it was
            obs = new_obs  # type: ignore[assignment]  # REINFORCE takes no Tuple observations
            episode_starts = np.where(active, dones, episode_starts)
            self._last_obs, self._last_episode_starts = obs, episode_starts

            # Give access to local variables; the step is recorded, so a stop leaves nothing half done
            callback.update_locals(locals())
            if not callback.on_step():
                return False
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    @abstractmethod
    def train(self) -> None:
        """Update the policy from the complete batch (``self.collector.buffer``)."""

    def dump_logs(self, iteration: int = 0) -> None:
        """Write the logs, with the keys of SB3's A2C and PPO (rollout/ep_rew_mean, time/fps, ...)."""
        assert self.ep_info_buffer is not None and self.ep_success_buffer is not None
        time_elapsed = max((time.time_ns() - self.start_time) / 1e9, sys.float_info.epsilon)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / time_elapsed)
        if iteration > 0:
            self.logger.record("time/iterations", iteration, exclude="tensorboard")
        if len(self.ep_info_buffer) > 0 and len(self.ep_info_buffer[0]) > 0:
            self.logger.record("rollout/ep_rew_mean", safe_mean([info["r"] for info in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([info["l"] for info in self.ep_info_buffer]))
        self.logger.record("time/fps", fps)
        self.logger.record("time/time_elapsed", int(time_elapsed), exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        if len(self.ep_success_buffer) > 0:
            self.logger.record("rollout/success_rate", safe_mean(self.ep_success_buffer))
        self.logger.dump(step=self.num_timesteps)

    def learn(
        self: SelfEpisodicAlgorithm,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfEpisodicAlgorithm:
        """
        Train for ``total_timesteps`` environment steps (summed over the envs).

        A batch that is not complete when the budget is spent (or a callback stops training) is
        kept, and continues on the next call with ``reset_num_timesteps=False``.

        :param total_timesteps: The total number of samples (env steps) to train on
        :param callback: callback(s) called at every step with state of the algorithm.
        :param log_interval: The number of gradient steps between logs (100 by default, as for A2C)
        :param tb_log_name: the name of the run for TensorBoard logging
        :param reset_num_timesteps: whether or not to reset the current timestep number (used in logging)
        :param progress_bar: Display a progress bar using tqdm and rich.
        :return: the trained model
        """
        with torch_thread_count(self.torch_threads if self.device.type == "cpu" else None):
            return self._learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)

    def _learn(
        self: SelfEpisodicAlgorithm,
        total_timesteps: int,
        callback: MaybeCallback,
        log_interval: int,
        tb_log_name: str,
        reset_num_timesteps: bool,
        progress_bar: bool,
    ) -> SelfEpisodicAlgorithm:
        iteration = 0
        fresh_start = reset_num_timesteps or self._last_obs is None
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        if fresh_start:  # _setup_learn has reset the envs
            self._start_batch()

        callback.on_training_start(locals(), globals())

        assert self.env is not None
        while self.num_timesteps < total_timesteps:
            if not self.collect_episodes(self.env, callback, total_timesteps):
                break
            if not self.collector.complete:
                break  # the budget ran out before the batch was complete

            iteration += 1
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)

            # Display training infos
            if log_interval is not None and iteration % log_interval == 0:
                self.dump_logs(iteration)

            try:
                self.train()
            finally:  # after an update, or an error that left the parameters as they were
                self._start_batch()

        if iteration == 0 and not self.collector.complete and self.num_timesteps >= total_timesteps:
            warnings.warn(
                f"REINFORCE made no gradient step: {self.num_timesteps - self._num_timesteps_at_start} steps ran "
                f"out before {self.n_episodes} episodes ended ({self.collector.n_done} did). REINFORCE learns from "
                "complete episodes only: give the env a time limit (gym.make(env_id, max_episode_steps=...)) or "
                "a larger total_timesteps. The batch so far is kept for learn(..., reset_num_timesteps=False).",
                stacklevel=4,  # the user's call of learn(): _learn <- EpisodicAlgorithm.learn <- the algorithm's learn
            )

        callback.on_training_end()
        return self

    def _init_callback(self, callback: MaybeCallback, progress_bar: bool = False) -> BaseCallback:
        # SB3's progress bar counts num_envs per step; paused envs do not step, so count the steps taken
        callback = super()._init_callback(callback, progress_bar=False)
        return StepCountingProgressBar.wrap(callback, self) if progress_bar else callback

    def set_parameters(self, *args: Any, **kwargs: Any) -> None:
        """
        Load parameters as SB3 does; the batch so far is dropped (it was sampled with the old parameters).

        Parameters that are not finite are refused with a ``ValueError``; the model keeps its own.
        """
        policy_state = copy.deepcopy(self.policy.state_dict())
        optimizer_state = copy.deepcopy(self.policy.optimizer.state_dict())
        super().set_parameters(*args, **kwargs)
        bad = [name for name, parameter in self.policy.named_parameters() if not th.isfinite(parameter).all()]
        if bad:
            self.policy.load_state_dict(policy_state)
            self.policy.optimizer.load_state_dict(optimizer_state)
            raise ValueError(f"set_parameters: the parameters {bad} are not finite; the model keeps its own")
        self._start_batch()

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "collector"]

    def save(self, path: str | pathlib.Path | io.BufferedIOBase, exclude: Any = None, include: Any = None) -> None:
        """Save as SB3 does, atomically: an existing model is never lost, and a symlink stays a symlink."""
        if isinstance(path, io.BufferedIOBase):
            super().save(path, exclude, include)
        else:
            saving.atomic_save(lambda temporary: super(EpisodicAlgorithm, self).save(temporary, exclude, include), path)

    @classmethod
    def load(
        cls: type[SelfEpisodicAlgorithm],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfEpisodicAlgorithm:
        """Load a saved model as SB3 does; a file that is not one, or an unknown keyword, is a ``ValueError``."""
        data = saving.read_model_data(path, custom_objects)
        policy_class = data["policy_class"]
        known = tuple(cls.policy_aliases.values())
        if not (isinstance(policy_class, type) and issubclass(policy_class, known)):
            raise ValueError(
                f"path {str(path)!r} holds a model with a {getattr(policy_class, '__name__', policy_class)}, "
                "saved by another algorithm: load it with that algorithm's class"
            )
        unknown = sorted(set(kwargs) - set(data) - {"policy_kwargs"})
        if unknown:
            raise ValueError(f"load() got unknown keyword arguments {unknown}; known: {sorted(data)}")
        return super().load(path, env, device, custom_objects, print_system_info, force_reset, **kwargs)
