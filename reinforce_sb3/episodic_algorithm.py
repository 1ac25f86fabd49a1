"""The episodic part of an on-policy algorithm: whole episodes in, one update out, SB3's contract kept.

:class:`EpisodicAlgorithm` is to :class:`~reinforce_sb3.reinforce.REINFORCE` what SB3's
``OnPolicyAlgorithm`` is to ``A2C``: the whole rollout (the collector, its batches and their
warnings), ``learn`` with its callbacks, the logs, and saving and loading. An algorithm built on
it adds its hyperparameters, its policy and the update (``train``).
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
import stable_baselines3
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import safe_mean
from stable_baselines3.common.vec_env import VecEnv

from reinforce_sb3 import saving
from reinforce_sb3.callbacks import StepCountingProgressBar
from reinforce_sb3.rollout import EpisodeCollector, can_pause
from reinforce_sb3.validation import UnsupportedSpaceError, check_learning_rate, check_spaces


@contextlib.contextmanager
def thread_count(n_threads: int | None) -> Iterator[None]:
    """
    Run the block with ``n_threads`` torch intra-op threads and at most ``n_threads`` threads in
    numpy's BLAS (None: both as set), then restore both settings.

    The rollout's numpy copy of the policy multiplies a row per env by each layer's weights; for
    a few rows and wide layers (8 rows of 256 by 256) OpenBLAS splits the product across one
    thread per core, which makes learning several times slower as soon as another process runs
    on the machine (``benchmarks.threads --n-envs 8 --net-arch 256 256``).
    """
    if n_threads is None:
        yield
        return
    from threadpoolctl import ThreadpoolController  # the field's way to set BLAS threads; a few ms per learn

    blas = ThreadpoolController().select(user_api="blas")
    previous = th.get_num_threads()
    th.set_num_threads(n_threads)
    try:
        # only the libraries above n_threads: never raise the user's setting of another one
        crowded = [library["filepath"] for library in blas.info() if library["num_threads"] > n_threads]
        if crowded:
            with blas.select(filepath=crowded).limit(limits=n_threads):
                yield
        else:
            yield
    finally:
        th.set_num_threads(previous)


_LIBRARY_DIRS = (str(pathlib.Path(__file__).parent), str(pathlib.Path(str(stable_baselines3.__file__)).parent))


def warn_user(message: str) -> None:
    """``warnings.warn(message)``, attributed to the first line outside this library and SB3: the user's call."""
    frame, stacklevel = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, stacklevel=stacklevel)


SelfEpisodicAlgorithm = TypeVar("SelfEpisodicAlgorithm", bound="EpisodicAlgorithm")


class EpisodicAlgorithm(BaseAlgorithm, ABC):
    """
    The base class of algorithms that learn from batches of ``n_episodes`` complete episodes, with
    any policy that has SB3's ``BasePolicy`` interface.

    It owns the rollout: an :class:`~reinforce_sb3.rollout.EpisodeCollector` fills each batch
    (the first ``n_episodes`` episodes to start), and :meth:`_start_batch` starts a new one whenever
    the parameters change (setup, an update, ``set_parameters``) or the envs are reset. Envs are reset only where
    SB3's own algorithms reset them (the first ``learn``, ``reset_num_timesteps=True``,
    ``force_reset=True``); an episode running when the parameters change finishes unused.
    Subclasses pass ``n_episodes`` and define ``train`` (which reads ``self.collector.buffer``);
    they may override :meth:`_policy_arguments`.

    :param policy: The policy model to use, or its alias in ``policy_aliases``
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, a number or a function of the progress remaining
    :param n_episodes: The number of complete episodes per update, summed over all parallel envs
    :param torch_threads: torch's thread count while ``learn`` runs on the CPU, and the most threads numpy's
        BLAS uses then (None: leave both)
    :param kwargs: The other arguments of SB3's ``BaseAlgorithm``
    """

    collector: EpisodeCollector

    def __init__(
        self,
        policy: str | type[BasePolicy],
        env: GymEnv | str | None,
        learning_rate: float | Schedule,
        n_episodes: int,
        torch_threads: int | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            super().__init__(policy=policy, env=env, learning_rate=learning_rate, support_multi_env=True, **kwargs)
        except NotImplementedError as error:  # SB3's word for nested observation spaces
            raise UnsupportedSpaceError(f"observation_space: {error}") from error
        if self.env is not None:
            check_spaces(self.observation_space, self.action_space, on_error=self.env.close)
        self.n_episodes = n_episodes
        self.torch_threads = torch_threads
        if self.env is not None and n_episodes < self.n_envs:
            warn_user(
                f"n_episodes={n_episodes} is smaller than the number of envs ({self.n_envs}): "
                f"{self.n_envs - n_episodes} envs have no episode in any batch. Use n_episodes >= n_envs."
            )
        if self.env is not None and self.n_envs > 1 and not can_pause(self.env):
            warn_user(
                f"{type(self.env).__name__} steps every env together: envs waiting for the batch to end run "
                "episodes that no update uses (logged as rollout/waste). Use a DummyVecEnv or "
                "reinforce_sb3.PausableSubprocVecEnv (also inside VecNormalize) to let them wait."
            )

    def _get_policy_from_name(self, policy_name: str) -> type[BasePolicy]:
        if policy_name not in self.policy_aliases:
            raise ValueError(
                f"policy must be one of {list(self.policy_aliases)} or a policy class, got {policy_name!r}"
            )
        return self.policy_aliases[policy_name]

    def _policy_arguments(self) -> dict[str, Any]:
        """The keyword arguments of the policy's constructor, after its spaces and learning rate schedule."""
        return dict(self.policy_kwargs)

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(
            self.observation_space, self.action_space, self.lr_schedule, **self._policy_arguments()
        )
        self.policy = self.policy.to(self.device)
        self.collector = EpisodeCollector(self.observation_space, self.action_space, self.n_envs, self.n_episodes)
        self._start_batch()

    def _start_batch(self) -> None:
        """A new, empty batch with the current parameters: envs mid-episode finish that episode unused."""
        starts = self._last_episode_starts
        if self._last_obs is None or starts is None:  # the envs will be reset
            starts = np.ones(self.n_envs, dtype=bool)
        self.collector.start_batch(self.policy, starts)

    def _update_learning_rate(self, optimizers: list[th.optim.Optimizer] | th.optim.Optimizer) -> None:
        """SB3's update of the learning rate, after a ``ValueError`` if the schedule's value is not a number >= 0."""
        check_learning_rate(self.lr_schedule, self._current_progress_remaining)
        super()._update_learning_rate(optimizers)

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
        collector = self.collector
        # Switch to eval mode (this affects batch norm / dropout)
        self.policy.set_training_mode(False)
        callback.on_rollout_start()
        overlapped = collector.overlapped(env, obs, episode_starts, lambda: total_timesteps - self.num_timesteps)
        while overlapped is not None or (not collector.complete and self.num_timesteps < total_timesteps):
            if overlapped is None:
                step = collector.step(env, obs, episode_starts)
            else:  # acting while the workers step: the same steps, each once every env has passed it
                next_step = next(overlapped, None)
                if next_step is None:
                    break
                step = next_step
            actions, clipped_actions, new_obs, rewards, dones, infos, active, n_stepped = step
            self.num_timesteps += n_stepped
            self._update_info_buffer(infos, dones)
            # an env that did not step is still where it was
            obs = new_obs  # type: ignore[assignment]  # no Tuple observations
            episode_starts = np.where(active, dones, episode_starts)
            self._last_obs, self._last_episode_starts = obs, episode_starts

            # Give access to local variables; the step is recorded, so a stop leaves nothing half done
            callback.update_locals(locals())
            if not callback.on_step():
                if overlapped is not None:
                    overlapped.close()  # the steps still in flight are received and kept in the batch
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
        self.logger.record("rollout/waste", self.collector.waste)
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
        with thread_count(self.torch_threads if self.device.type == "cpu" else None):
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
            self.collector.forget_envs()
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
            name = type(self).__name__
            warn_user(
                f"{name} made no gradient step: {self.num_timesteps - self._num_timesteps_at_start} steps ran "
                f"out before {self.n_episodes} episodes ended ({self.collector.n_done} did). {name} learns from "
                "complete episodes only: give the env a time limit (gym.make(env_id, max_episode_steps=...)) or "
                "a larger total_timesteps. The batch so far is kept for learn(..., reset_num_timesteps=False)."
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

    @classmethod
    def _check_hyperparameters(cls, values: dict[str, Any]) -> None:
        """A ``ValueError`` naming the first invalid hyperparameter in ``values`` (those of a saved model, in
        :meth:`load`); the algorithm's constructor checks its arguments itself."""

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
        values = {**data, **kwargs}
        cls._check_hyperparameters(values)
        if "learning_rate" in values:
            check_learning_rate(values["learning_rate"])
        return super().load(path, env, device, custom_objects, print_system_info, force_reset, **kwargs)
