"""Stepping only some of the envs of a ``DummyVecEnv``, so that envs with nothing to do wait for free."""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn
from stable_baselines3.common.vec_env.util import dict_to_obs


def can_pause(env: VecEnv) -> bool:
    """
    Whether the envs of ``env`` can be stepped one by one: true for a ``DummyVecEnv`` itself
    (what ``make_vec_env`` builds by default), false for other VecEnvs and for VecEnv wrappers
    (VecNormalize, VecFrameStack, ...), which must see every env step together.
    """
    return isinstance(env, DummyVecEnv) and type(env).step_wait is DummyVecEnv.step_wait


def step_active(env: DummyVecEnv, actions: np.ndarray, active: np.ndarray) -> VecEnvStepReturn:
    """
    ``env.step(actions)`` for the envs where ``active`` is True; the others are not stepped
    and report reward 0, not done and an empty info dict.

    It follows ``DummyVecEnv.step_wait`` exactly for the stepped envs: ``dones`` is
    ``terminated or truncated``, ``infos`` carry ``TimeLimit.truncated`` and, at the end of an
    episode, ``terminal_observation``, and a finished env is reset (its Monitor records the episode).
    """
    rewards = np.zeros((env.num_envs,), dtype=np.float32)
    dones = np.zeros((env.num_envs,), dtype=bool)
    infos: list[dict] = [{} for _ in range(env.num_envs)]
    for env_idx in np.flatnonzero(active):
        obs, rewards[env_idx], terminated, truncated, infos[env_idx] = env.envs[env_idx].step(actions[env_idx])
        dones[env_idx] = terminated or truncated
        infos[env_idx]["TimeLimit.truncated"] = truncated and not terminated
        if dones[env_idx]:
            infos[env_idx]["terminal_observation"] = obs
            obs, env.reset_infos[env_idx] = env.envs[env_idx].reset()
        env._save_obs(env_idx, obs)
    # DummyVecEnv._obs_from_buf, with a plain copy of each array instead of a deepcopy of the dict
    return (
        dict_to_obs(env.observation_space, {key: array.copy() for key, array in env.buf_obs.items()}),
        rewards,
        dones,
        infos,
    )
