"""A ``SubprocVecEnv`` whose workers can be stepped one by one, so that envs with nothing to do wait for free."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import SubprocVecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn
from stable_baselines3.common.vec_env.util import dict_to_obs, obs_space_info


class PausableSubprocVecEnv(SubprocVecEnv):
    """
    SB3's :class:`~stable_baselines3.common.vec_env.SubprocVecEnv` (one env per process), plus
    :meth:`step_active`, which steps only some of the envs.

    Use it wherever a ``SubprocVecEnv`` goes, for example
    ``make_vec_env("CartPole-v1", n_envs=4, vec_env_cls=PausableSubprocVecEnv)``: ``reset``,
    ``step``, ``env_method``, ``get_attr``, ``close`` and the worker processes (SB3's own worker
    function and its commands) are those of ``SubprocVecEnv``. The only additions are a copy of the
    last observation of each env, kept in this process, and :meth:`step_active`, which sends the
    ``"step"`` command to the active workers only. REINFORCE uses it (through
    :func:`~reinforce_sb3.rollout.vec_step.step_active`) to leave the envs that wait for the next
    batch idle, instead of running them into episodes that no batch uses.

    :param env_fns: Functions that each make one env (run in its own process)
    :param start_method: The ``multiprocessing`` start method of the workers: ``"fork"``,
        ``"forkserver"`` or ``"spawn"`` (default: ``"forkserver"`` where available, else ``"spawn"``)
    """

    def __init__(self, env_fns: list[Callable[[], gym.Env]], start_method: str | None = None) -> None:
        super().__init__(env_fns, start_method)
        self._keys, shapes, dtypes = obs_space_info(self.observation_space)
        self._buf_obs = {key: np.zeros((self.num_envs, *shapes[key]), dtype=dtypes[key]) for key in self._keys}

    def _save_stacked(self, obs: VecEnvObs) -> None:
        """Keep a copy of the observations of all envs (stacked as ``reset`` and ``step`` return them)."""
        for key in self._keys:
            self._buf_obs[key][:] = obs if key is None else obs[key]  # type: ignore[call-overload]  # dict or tuple

    def _last_obs(self) -> VecEnvObs:
        """The last observation of every env, as a fresh stacked copy."""
        return dict_to_obs(self.observation_space, {key: array.copy() for key, array in self._buf_obs.items()})

    def reset(self) -> VecEnvObs:
        obs = super().reset()
        self._save_stacked(obs)
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = super().step_wait()
        self._save_stacked(obs)
        return obs, rewards, dones, infos

    def step_active(self, actions: np.ndarray, active: np.ndarray) -> VecEnvStepReturn:
        """
        ``step(actions)`` for the envs where ``active`` is True; the other workers receive no
        command, and their envs report their last observation, reward 0, not done and an empty
        info dict.

        The stepped envs return what ``step`` returns for them (the worker is SB3's): ``dones`` is
        ``terminated or truncated``, ``infos`` carry ``TimeLimit.truncated`` and, at the end of an
        episode, ``terminal_observation``, and a finished env is reset in its worker.

        :param actions: One action per env (those of inactive envs are not used)
        :param active: Boolean mask, one entry per env: which envs to step
        :return: observations, rewards, dones and infos of all envs
        """
        if self.waiting:
            raise RuntimeError("step_active was called between step_async and step_wait")
        indices = np.flatnonzero(active)
        # all commands first, so that the workers step in parallel
        for env_idx in indices:
            self.remotes[env_idx].send(("step", actions[env_idx]))
        results = [self.remotes[env_idx].recv() for env_idx in indices]
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        reset_infos = list(self.reset_infos)
        stepped_rewards, stepped_dones = [], []
        for env_idx, (obs, reward, done, info, reset_info) in zip(indices, results, strict=True):
            for key in self._keys:
                self._buf_obs[key][env_idx] = obs if key is None else obs[key]
            stepped_rewards.append(reward)
            stepped_dones.append(done)
            infos[env_idx] = info
            reset_infos[env_idx] = reset_info
        self.reset_infos = reset_infos
        # the dtypes of SubprocVecEnv.step_wait's np.stack
        rewards = np.zeros(self.num_envs, dtype=np.stack(stepped_rewards).dtype if len(indices) else np.float64)
        dones = np.zeros(self.num_envs, dtype=bool)
        rewards[indices] = stepped_rewards
        dones[indices] = stepped_dones
        return self._last_obs(), rewards, dones, infos
