"""Storage for the steps of a batch of complete episodes collected from parallel environments."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.utils import obs_as_tensor

from reinforce_sb3.estimator import TensorBatch, discounted_returns, episode_returns, latest_starts


class EpisodeBatch(NamedTuple):
    """The steps of the batch's episodes, flattened in (time, env) order, in numpy (see :meth:`to_tensors`)."""

    observations: np.ndarray | dict[str, np.ndarray]
    actions: np.ndarray
    returns: np.ndarray
    episode_ids: np.ndarray
    """Each step's episode, numbered ``0 .. n_episodes - 1``."""
    timesteps: np.ndarray
    """Each step's time since the start of its episode."""
    n_episodes: int

    def to_tensors(self, device: th.device | str) -> TensorBatch:
        """The batch as tensors on ``device`` (returns in float32), as :func:`~reinforce_sb3.estimator.reinforce_loss`
        takes it."""
        return TensorBatch(
            observations=obs_as_tensor(self.observations, th.device(device)),
            actions=th.as_tensor(self.actions, device=device),
            returns=th.as_tensor(self.returns, dtype=th.float32, device=device),
            episode_ids=th.as_tensor(self.episode_ids, device=device),
            timesteps=th.as_tensor(self.timesteps, device=device),
            n_episodes=self.n_episodes,
        )


class EpisodeBuffer:
    """
    Steps of ``n_envs`` parallel environments, stored time-major as ``(step, env)`` in numpy
    arrays that grow by doubling and are reused from batch to batch.

    Every env step is recorded with a flag saying whether it belongs to an episode of the batch;
    steps of other episodes (begun after the batch was full) are kept out of the batch by that
    flag. Returns are computed once per batch by one reverse scan over time, vectorised over
    the envs, so the cost per step does not grow with episode length or batch size.

    :param observation_space: Observation space
    :param action_space: Action space
    :param n_envs: Number of parallel environments
    :param capacity: Initial number of time steps to allocate
    """

    def __init__(
        self, observation_space: spaces.Space[Any], action_space: spaces.Space[Any], n_envs: int, capacity: int = 64
    ) -> None:
        self.observation_space = observation_space
        self.action_space = action_space
        self.n_envs = n_envs
        action_dtype = np.int64 if isinstance(action_space, (spaces.Discrete, spaces.MultiDiscrete)) else np.float32
        self._fields: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {
            "actions": (action_space.shape or (), np.dtype(action_dtype)),
            "rewards": ((), np.dtype(np.float32)),
            "episode_starts": ((), np.dtype(bool)),
            "dones": ((), np.dtype(bool)),
            "truncated": ((), np.dtype(bool)),
            "in_batch": ((), np.dtype(bool)),
        }
        if isinstance(observation_space, spaces.Dict):
            obs_spaces = {f"obs:{key}": space for key, space in observation_space.spaces.items()}
        else:
            obs_spaces = {"obs": observation_space}
        self._fields.update({name: (space.shape or (), np.dtype(space.dtype)) for name, space in obs_spaces.items()})
        self.arrays: dict[str, np.ndarray] = {}
        self.pos = 0
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        """(Re)allocate every array for ``capacity`` time steps, keeping the first ``pos`` rows."""
        old = self.arrays
        self.arrays = {
            name: np.zeros((capacity, self.n_envs, *shape), dtype=dtype)
            for name, (shape, dtype) in self._fields.items()
        }
        for name, array in old.items():
            self.arrays[name][: self.pos] = array[: self.pos]
        self.capacity = capacity

    def reset(self) -> None:
        """Empty the buffer, keeping its memory."""
        self.pos = 0
        self.arrays["in_batch"][:] = False

    def add(
        self,
        obs: np.ndarray | dict[str, np.ndarray],
        actions: np.ndarray,
        rewards: np.ndarray,
        episode_starts: np.ndarray,
        dones: np.ndarray,
        in_batch: np.ndarray,
        truncated: np.ndarray | None = None,
    ) -> None:
        """
        Record one step of every env: ``obs`` is the observation the actions were chosen on; ``truncated``:
        which episodes a time limit ended (``done`` and not terminated; None: none of them).
        """
        if self.pos == self.capacity:
            self._allocate(2 * self.capacity)
        row = self.pos
        if isinstance(obs, dict):
            for key, value in obs.items():
                self.arrays[f"obs:{key}"][row] = value
        else:
            self.arrays["obs"][row] = obs
        self.arrays["actions"][row] = actions.reshape(self.arrays["actions"].shape[1:])
        self.arrays["rewards"][row] = rewards
        self.arrays["episode_starts"][row] = episode_starts
        self.arrays["dones"][row] = dones
        self.arrays["in_batch"][row] = in_batch
        self.arrays["truncated"][row] = False if truncated is None else truncated
        self.pos += 1

    def add_at(
        self,
        rows: np.ndarray,
        envs: np.ndarray,
        obs: np.ndarray | dict[str, np.ndarray],
        actions: np.ndarray,
        rewards: np.ndarray,
        episode_starts: np.ndarray,
        dones: np.ndarray,
        in_batch: np.ndarray,
        truncated: np.ndarray,
    ) -> None:
        """Record one step of each env in ``envs``, at its own row (its own count of steps in the batch),
        whatever the other envs have recorded: ``obs`` holds the observations the actions were chosen on
        (``truncated`` as in :meth:`add`)."""
        top = int(rows.max())
        while top >= self.capacity:
            self._allocate(2 * self.capacity)
        if top >= self.pos:
            self._clear(slice(self.pos, top + 1))
            self.pos = top + 1
        if isinstance(obs, dict):
            for key, value in obs.items():
                self.arrays[f"obs:{key}"][rows, envs] = value
        else:
            self.arrays["obs"][rows, envs] = obs
        self.arrays["actions"][rows, envs] = actions
        self.arrays["rewards"][rows, envs] = rewards
        self.arrays["episode_starts"][rows, envs] = episode_starts
        self.arrays["dones"][rows, envs] = dones
        self.arrays["in_batch"][rows, envs] = in_batch
        self.arrays["truncated"][rows, envs] = truncated

    def _clear(self, rows: slice) -> None:
        """Rows that an env may never record (it waits for the next batch): no reward, no end, not in the batch."""
        for name in ("rewards", "dones", "truncated", "in_batch"):
            self.arrays[name][rows] = 0

    def returns(self, gamma: float, reward_to_go: bool = True, truncation_value: float | None = None) -> np.ndarray:
        """
        The return weighting each recorded step, shaped ``(pos, n_envs)``, in float64: the
        reward-to-go (:func:`~reinforce_sb3.estimator.discounted_returns`) or the whole episode's
        return (:func:`~reinforce_sb3.estimator.episode_returns`). Steps of episodes still running
        at the end of the buffer are not in the batch, and their values here are meaningless.

        :param truncation_value: None: every return ends with its episode; a number: the return of
            the last step of a truncated episode is ``r + gamma * truncation_value`` (and each earlier
            step's return-to-go has it discounted)
        """
        rows = slice(0, self.pos)
        end_values = None
        if truncation_value is not None:  # read at the steps that end an episode only
            end_values = np.where(self.arrays["truncated"][rows], truncation_value, 0.0)
        returns = discounted_returns(self.arrays["rewards"][rows], self.arrays["dones"][rows], gamma, end_values)
        return returns if reward_to_go else episode_returns(returns, self.arrays["episode_starts"][rows])

    def episode_batch(
        self, gamma: float, reward_to_go: bool = True, truncation_value: float | None = None
    ) -> EpisodeBatch:
        """
        The batch's steps with their returns (see :meth:`returns`), flattened in (time, env) order.

        :raises ValueError: if a reward of the batch is not finite, or a return overflows float32;
            the message names the env and the step (observations are checked before the policy acts
            on them, by the collector)
        """
        mask = self.arrays["in_batch"][: self.pos]
        returns = self.returns(gamma, reward_to_go, truncation_value)
        self._check_finite(mask, returns)
        if isinstance(self.observation_space, spaces.Dict):
            observations: np.ndarray | dict[str, np.ndarray] = {
                key: self.arrays[f"obs:{key}"][: self.pos][mask] for key in self.observation_space.spaces
            }
        else:
            observations = self.arrays["obs"][: self.pos][mask]
        first_steps = latest_starts(self.arrays["episode_starts"][: self.pos])
        episode_keys = first_steps * self.n_envs + np.arange(self.n_envs)
        episodes, episode_ids = np.unique(episode_keys[mask], return_inverse=True)
        return EpisodeBatch(
            observations=observations,
            actions=self.arrays["actions"][: self.pos][mask],
            returns=returns[mask],
            episode_ids=episode_ids.astype(np.int64),
            timesteps=(np.arange(self.pos)[:, None] - first_steps)[mask].astype(np.int64),
            n_episodes=len(episodes),
        )

    def _check_finite(self, mask: np.ndarray, returns: np.ndarray) -> None:
        """A ``ValueError`` for the first non-finite reward or float32 return of the batch."""
        with np.errstate(over="ignore"):  # an overflow is what this looks for
            returns32 = returns.astype(np.float32)
        for what, values in (("reward", self.arrays["rewards"][: self.pos]), ("return", returns32)):
            bad = np.argwhere(mask & ~np.isfinite(values))
            if len(bad):
                step, env = (int(i) for i in bad[0])
                hint = " (the sum of rewards overflows float32: scale the rewards down)" if what == "return" else ""
                raise ValueError(
                    f"non-finite {what} in the batch at env {env}, step {step} of the batch: "
                    f"{values[step, env].tolist()!r}{hint}. No parameter was changed."
                )

    @property
    def in_batch(self) -> np.ndarray:
        """Whether each recorded step belongs to the batch, shaped ``(pos, n_envs)``."""
        return self.arrays["in_batch"][: self.pos]

    @property
    def n_batch_steps(self) -> int:
        """The number of recorded steps that belong to the batch."""
        return int(self.arrays["in_batch"][: self.pos].sum())
