"""
Stepping only some of the envs of a VecEnv, so that envs with nothing to do wait for free.

Two VecEnvs can pause envs: SB3's ``DummyVecEnv`` (what ``make_vec_env`` builds by default) and
:class:`~reinforce_sb3.rollout.subproc.PausableSubprocVecEnv` (a ``SubprocVecEnv`` that can). Three
VecEnv wrappers can pass a pause through: ``VecNormalize`` (its running statistics are updated
from the envs that stepped only), ``VecMonitor`` and ``VecTransposeImage``. Any other VecEnv, or a
wrapper of another kind anywhere in the stack (``VecFrameStack``, ``VecCheckNan``, ...), steps all
its envs together. A subclass that overrides ``step_async`` or ``step_wait`` may step differently,
so it steps all its envs together too.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    VecEnv,
    VecEnvWrapper,
    VecMonitor,
    VecNormalize,
    VecTransposeImage,
)
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn
from stable_baselines3.common.vec_env.util import dict_to_obs

from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv

Stepper = Callable[[Any, np.ndarray, np.ndarray], VecEnvStepReturn]
Finisher = Callable[[Any, VecEnvStepReturn, np.ndarray], VecEnvStepReturn]


def _step_dummy(env: DummyVecEnv, actions: np.ndarray, active: np.ndarray) -> VecEnvStepReturn:
    """``DummyVecEnv.step_wait`` for the active envs only."""
    rewards = np.zeros((env.num_envs,), dtype=np.float32)
    dones = np.zeros((env.num_envs,), dtype=bool)
    infos: list[dict[str, Any]] = [{} for _ in range(env.num_envs)]
    for env_idx in np.flatnonzero(active).tolist():
        obs, rewards[env_idx], terminated, truncated, info = env.envs[env_idx].step(actions[env_idx])
        info["TimeLimit.truncated"] = truncated and not terminated
        infos[env_idx] = info
        if terminated or truncated:
            dones[env_idx] = True
            info["terminal_observation"] = obs
            obs, env.reset_infos[env_idx] = env.envs[env_idx].reset()
        env._save_obs(env_idx, obs)
    # DummyVecEnv._obs_from_buf, with a plain copy of each array instead of a deepcopy of the dict
    return (
        dict_to_obs(env.observation_space, {key: array.copy() for key, array in env.buf_obs.items()}),
        rewards,
        dones,
        infos,
    )


def _step_subproc(env: PausableSubprocVecEnv, actions: np.ndarray, active: np.ndarray) -> VecEnvStepReturn:
    return env.step_active(actions, active)


def update_running_stats(rms: RunningMeanStd, batch: np.ndarray) -> None:
    """
    ``rms.update(batch)``, bit for bit: the same sums, divisions and order as numpy's ``mean`` and
    ``var`` along the first axis, called as ufuncs, then ``rms.update_from_moments``'s arithmetic
    in its order. For the few rows of one step (one per env) numpy's dispatch and the calls cost
    more than the arithmetic, and ``VecNormalize`` updates two statistics at every step. Other
    dtypes than float32 and float64 go to ``rms.update``.
    """
    if batch.dtype not in (np.float32, np.float64) or batch.shape[0] == 0:
        rms.update(batch)
        return
    n = batch.shape[0]
    count = np.intp(n)  # numpy's mean and var divide by an intp
    mean = np.add.reduce(batch, axis=0, keepdims=True)
    np.true_divide(mean, count, out=mean, casting="unsafe")
    centred = np.subtract(batch, mean)
    np.square(centred, out=centred)
    var = np.add.reduce(centred, axis=0, keepdims=True)
    np.true_divide(var, count, out=var, casting="unsafe")
    # RunningMeanStd.update_from_moments(mean[0], var[0], n), each operation as it writes it
    batch_mean, batch_var = mean[0], var[0]
    delta = batch_mean - rms.mean
    tot_count = rms.count + n
    new_mean = delta * n
    new_mean = new_mean / tot_count
    new_mean = rms.mean + new_mean
    m_2 = np.square(delta)
    m_2 = m_2 * rms.count
    m_2 = m_2 * n
    m_2 = m_2 / (rms.count + n)
    m_2 = (rms.var * rms.count + batch_var * n) + m_2
    rms.var = m_2 / (rms.count + n)
    rms.mean = new_mean
    rms.count = n + rms.count


def _finish_vec_normalize(env: VecNormalize, step: VecEnvStepReturn, active: np.ndarray) -> VecEnvStepReturn:
    """
    ``VecNormalize.step_wait`` with the running statistics (``obs_rms``, ``ret_rms`` and the
    discounted ``returns``) updated from the active envs only: they are those of an unpaused run
    over the same transitions. All observations are normalised with the current statistics, as
    ``step_wait`` does; the rewards of paused envs stay 0.
    """
    obs, rewards, dones, infos = step
    assert isinstance(obs, (np.ndarray, dict))  # for mypy, as in VecNormalize.step_wait
    env.old_obs = obs
    env.old_reward = rewards
    # every env stepped (most steps): the whole arrays, as VecNormalize, without copying rows
    stepped: slice | np.ndarray = slice(None) if active.all() else np.flatnonzero(active)
    any_stepped = isinstance(stepped, slice) or len(stepped) > 0
    if env.training and env.norm_obs and any_stepped:
        if isinstance(obs, dict) and isinstance(env.obs_rms, dict):
            for key, rms in env.obs_rms.items():
                update_running_stats(rms, obs[key][stepped])
        else:
            assert isinstance(env.obs_rms, RunningMeanStd) and isinstance(obs, np.ndarray)  # as in VecNormalize
            update_running_stats(env.obs_rms, obs[stepped])
    normalized = _normalize_obs(env, obs)
    if env.training and any_stepped:
        env.returns[stepped] = env.returns[stepped] * env.gamma + rewards[stepped]
        update_running_stats(env.ret_rms, env.returns[stepped])
    if dones.any():
        for idx in np.flatnonzero(dones):
            if "terminal_observation" in infos[idx]:
                infos[idx]["terminal_observation"] = env.normalize_obs(infos[idx]["terminal_observation"])
        env.returns[dones] = 0
    return normalized, env.normalize_reward(rewards), dones, infos


def _normalize_obs(env: VecNormalize, obs: np.ndarray | dict[str, np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
    """
    ``env.normalize_obs(obs)``: for one array, its arithmetic without the deep copy (a new array either
    way), and ``np.clip`` as ``maximum`` then ``minimum`` (the same numbers, NaN included, for half the
    call's cost). A subclass that normalises otherwise normalises its own way.
    """
    own_way = type(env).normalize_obs is not VecNormalize.normalize_obs
    own_way = own_way or type(env)._normalize_obs is not VecNormalize._normalize_obs
    if own_way or not (env.norm_obs and isinstance(obs, np.ndarray) and isinstance(env.obs_rms, RunningMeanStd)):
        return env.normalize_obs(obs)
    scaled = (obs - env.obs_rms.mean) / np.sqrt(env.obs_rms.var + env.epsilon)
    np.maximum(scaled, -env.clip_obs, out=scaled)
    np.minimum(scaled, env.clip_obs, out=scaled)
    return scaled.astype(np.float32)


def _finish_vec_monitor(env: VecMonitor, step: VecEnvStepReturn, active: np.ndarray) -> VecEnvStepReturn:
    """``VecMonitor.step_wait``, with episode lengths counted for the active envs only."""
    obs, rewards, dones, infos = step
    env.episode_returns += rewards  # 0 for a paused env
    env.episode_lengths[active] += 1
    infos = list(infos)
    for i in np.flatnonzero(dones):
        info = infos[i].copy()
        episode_info = {
            "r": env.episode_returns[i],
            "l": env.episode_lengths[i],
            "t": round(time.time() - env.t_start, 6),
        }
        for key in env.info_keywords:
            episode_info[key] = info[key]
        info["episode"] = episode_info
        env.episode_count += 1
        env.episode_returns[i] = 0
        env.episode_lengths[i] = 0
        if env.results_writer:
            env.results_writer.write_row(episode_info)
        infos[i] = info
    return obs, rewards, dones, infos


def _finish_vec_transpose(env: VecTransposeImage, step: VecEnvStepReturn, active: np.ndarray) -> VecEnvStepReturn:
    """``VecTransposeImage.step_wait``: the observations of all envs, channel first."""
    obs, rewards, dones, infos = step
    for idx in np.flatnonzero(dones):
        if "terminal_observation" in infos[idx]:
            infos[idx]["terminal_observation"] = env.transpose_observations(infos[idx]["terminal_observation"])
    assert isinstance(obs, (np.ndarray, dict))  # for mypy, as in VecTransposeImage.step_wait
    return env.transpose_observations(obs), rewards, dones, infos


# The VecEnvs that can step some of their envs, and how
STEPPERS: dict[type[VecEnv], Stepper] = {DummyVecEnv: _step_dummy, PausableSubprocVecEnv: _step_subproc}

# The VecEnv wrappers that pass a pause through, and what they do to the step of the envs that stepped
FINISHERS: dict[type[VecEnv], Finisher] = {
    VecNormalize: _finish_vec_normalize,
    VecMonitor: _finish_vec_monitor,
    VecTransposeImage: _finish_vec_transpose,
}

# The wrappers whose finishing of an env's step does not depend on the other envs' steps, so that each env's
# steps may be finished as they come in (VecNormalize's statistics depend on the order of all the steps)
PER_ENV_FINISHERS = (VecMonitor, VecTransposeImage)


def _stepper(env: VecEnv) -> Stepper | None:
    """How to step some envs of ``env`` itself, if its class steps as one of :data:`STEPPERS` or
    :data:`FINISHERS` does."""
    return _stepper_of_class(type(env))


@functools.cache
def _stepper_of_class(env_class: type[VecEnv]) -> Stepper | None:
    for cls, stepper in STEPPERS.items():
        if _steps_as(env_class, cls):
            return stepper
    for cls, finisher in FINISHERS.items():
        if _steps_as(env_class, cls):
            return functools.partial(_step_wrapper, finisher)
    return None


def _steps_as(env_class: type[VecEnv], cls: type[VecEnv]) -> bool:
    """Whether ``env_class`` is ``cls`` or a subclass that steps as it does."""
    same_steps = env_class.step_async is cls.step_async and env_class.step_wait is cls.step_wait
    return issubclass(env_class, cls) and same_steps


def _step_wrapper(finisher: Finisher, env: VecEnvWrapper, actions: np.ndarray, active: np.ndarray) -> VecEnvStepReturn:
    return finisher(env, step_active(env.venv, actions, active), active)


def overlap_chain(env: VecEnv) -> tuple[PausableSubprocVecEnv, list[tuple[VecEnvWrapper, Finisher]]] | None:
    """
    For a :class:`~reinforce_sb3.rollout.subproc.PausableSubprocVecEnv`, bare or inside
    ``VecMonitor`` and ``VecTransposeImage`` only: the VecEnv and its wrappers (innermost first,
    each with what it does to a step), so that each env's step can be finished as it comes in.
    None for any other VecEnv (``VecNormalize`` among the wrappers: its statistics depend on the
    order of all steps).
    """
    wrappers: list[tuple[VecEnvWrapper, Finisher]] = []
    while isinstance(env, VecEnvWrapper):
        if not any(_steps_as(type(env), cls) for cls in PER_ENV_FINISHERS):
            return None
        wrappers.append((env, FINISHERS[next(cls for cls in PER_ENV_FINISHERS if isinstance(env, cls))]))
        env = env.venv
    if not _steps_as(type(env), PausableSubprocVecEnv):
        return None
    assert isinstance(env, PausableSubprocVecEnv)  # for mypy: _steps_as checked the class
    return env, wrappers[::-1]


def can_pause(env: VecEnv) -> bool:
    """
    Whether the envs of ``env`` can be stepped one by one (see the module docstring): true for a
    ``DummyVecEnv`` and a :class:`~reinforce_sb3.rollout.subproc.PausableSubprocVecEnv`, and for
    ``VecNormalize``, ``VecMonitor`` and ``VecTransposeImage`` over a VecEnv that can pause; false
    for any other VecEnv (SB3's plain ``SubprocVecEnv`` among them) and wrapper, which must see
    every env step together.
    """
    if _stepper(env) is None:
        return False
    return can_pause(env.venv) if isinstance(env, VecEnvWrapper) else True


def step_active(env: VecEnv, actions: np.ndarray, active: np.ndarray) -> VecEnvStepReturn:
    """
    ``env.step(actions)`` for the envs where ``active`` is True; the others are not stepped
    and report their last observation, reward 0, not done and an empty info dict.

    For the stepped envs it follows ``env.step`` exactly: ``dones`` is ``terminated or
    truncated``, ``infos`` carry ``TimeLimit.truncated`` and, at the end of an episode,
    ``terminal_observation``, and a finished env is reset (its Monitor records the episode).
    Wrappers see only the stepped envs: ``VecNormalize``'s statistics and ``VecMonitor``'s
    episode lengths count the steps taken.

    :param env: A VecEnv for which :func:`can_pause` is true
    :param actions: One action per env (those of inactive envs are not used)
    :param active: Boolean mask, one entry per env: which envs to step
    :return: observations, rewards, dones and infos of all envs
    """
    stepper = _stepper(env)
    if stepper is None:
        raise ValueError(
            f"env: a {type(env).__name__} cannot step some of its envs; use one for which can_pause(env) is true "
            f"(a DummyVecEnv or PausableSubprocVecEnv, possibly inside VecNormalize, VecMonitor or VecTransposeImage)"
        )
    active = np.asarray(active)
    if active.dtype != bool or active.shape != (env.num_envs,):
        raise ValueError(
            f"active: expected a boolean array of shape ({env.num_envs},), got dtype {active.dtype} "
            f"and shape {active.shape}"
        )
    return stepper(env, actions, active)


def time_limit_truncations(dones: np.ndarray, infos: list[dict[str, Any]]) -> np.ndarray | None:
    """Which envs' episodes a time limit ended at this step: SB3's ``info["TimeLimit.truncated"]``, True for an
    episode truncated and not terminated; None when no episode ended (most steps)."""
    if not dones.any():
        return None
    return np.array([bool(done and info.get("TimeLimit.truncated")) for done, info in zip(dones, infos, strict=True)])
