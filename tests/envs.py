"""Small environments with known rewards and dynamics, for the tests."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn


class ScriptedRewardEnv(gym.Env):
    """Plays scripted episodes: the k-th episode (cycling) pays ``episodes[k][t]`` at its step t, whatever the action.

    The observation is ``[t, k]``; ``truncate=True`` ends episodes by truncation instead of termination.
    """

    def __init__(
        self, episodes: list[list[float]], truncate: bool = False, action_space: spaces.Space | None = None
    ) -> None:
        self.episodes = episodes
        self.truncate = truncate
        self.observation_space = spaces.Box(0.0, 1000.0, shape=(2,), dtype=np.float32)
        self.action_space = action_space if action_space is not None else spaces.Discrete(2)
        self.episode_index = -1
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.t, self.episode_index % len(self.episodes)], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.episode_index += 1
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        rewards = self.episodes[self.episode_index % len(self.episodes)]
        reward = float(rewards[self.t])
        self.t += 1
        done = self.t == len(rewards)
        return self._obs(), reward, done and not self.truncate, done and self.truncate, {}


class NeverEndingEnv(gym.Env):
    """An episode that never ends (no termination, no time limit)."""

    observation_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(1, dtype=np.float32), 0.0, False, False, {}


class TrackTargetEnv(gym.Env):
    """A small continuous-control task: match a random target in [-1, 1] with the action, 5 times per episode.

    The reward is ``-(action - target)^2``: the optimum is 0, a policy ignoring the target earns about -1.7.
    """

    observation_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        self.target = self.np_random.uniform(-1.0, 1.0, size=1).astype(np.float32)
        return self.target.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = -float(np.sum((np.asarray(action) - self.target) ** 2))
        self.t += 1
        self.target = self.np_random.uniform(-1.0, 1.0, size=1).astype(np.float32)
        return self.target.copy(), reward, self.t == 5, False, {}


class DictObsEnv(gym.Env):
    """Dict observations (a vector and a discrete part) for MultiInputPolicy, 4-step episodes."""

    observation_space = spaces.Dict(
        {"vec": spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32), "discrete": spaces.Discrete(4)}
    )

    def __init__(self, action_space: spaces.Space | None = None) -> None:
        self.action_space = action_space if action_space is not None else spaces.Discrete(2)

    def _obs(self) -> dict[str, Any]:
        return {"vec": self.np_random.uniform(-1, 1, size=3).astype(np.float32), "discrete": self.t}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        self.t += 1
        return self._obs(), float(np.sum(action)), self.t == 4, False, {}


class ImageObsEnv(gym.Env):
    """Image observations (36x36x1 uint8) for CnnPolicy, 3-step episodes."""

    observation_space = spaces.Box(0, 255, shape=(36, 36, 1), dtype=np.uint8)
    action_space = spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.integers(0, 256, size=(36, 36, 1), dtype=np.uint8), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        obs = self.np_random.integers(0, 256, size=(36, 36, 1), dtype=np.uint8)
        return obs, float(action == 1), self.t == 3, False, {}


class PoisonedEnv(gym.Env):
    """Episodes of ``length`` steps paying 1 per step, whose first episode has one bad number in it.

    At step ``step`` (0-based) of the first episode, the reward is ``value`` (``where="reward"``), or the
    observation it returns is (``where="observation"``: that observation is what the next action is chosen on);
    with ``where="reset"``, the first reset returns it. Observations are ``[t]``. ``acted_on_bad`` counts the
    actions received while the last observation returned was not finite: the proof that none was chosen on it.
    """

    observation_space = spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)

    def __init__(
        self,
        length: int = 3,
        step: int = 0,
        value: float = np.nan,
        where: str = "reward",
        action_space: spaces.Space | None = None,
    ) -> None:
        self.length, self.bad_step, self.value, self.where = length, step, value, where
        self.action_space = action_space if action_space is not None else spaces.Discrete(2)
        self.n_resets = 0
        self.t = 0
        self.acted_on_bad = 0
        self.last_obs = np.zeros(1, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.n_resets += 1
        self.t = 0
        poisoned = self.n_resets == 1 and self.where == "reset" and self.bad_step == 0
        self.last_obs = np.array([self.value if poisoned else 0.0], dtype=np.float32)
        return self.last_obs.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.acted_on_bad += int(not np.isfinite(self.last_obs).all())
        poisoned = self.n_resets == 1 and self.t == self.bad_step
        reward = self.value if poisoned and self.where == "reward" else 1.0
        self.t += 1
        self.last_obs = np.array([self.value if poisoned and self.where == "observation" else self.t], np.float32)
        return self.last_obs.copy(), float(reward), self.t == self.length, False, {}


class ResetProbe(gym.Wrapper):
    """Counts the resets of the env it wraps, and those that cut an episode short (after a step, before its end)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.n_resets = 0
        self.early_resets = 0
        self.mid_episode = False  # the episode has taken a step and not ended

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        self.n_resets += 1
        self.early_resets += int(self.mid_episode)
        self.mid_episode = False
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.mid_episode = not (terminated or truncated)
        return obs, reward, terminated, truncated, info


class BlasThreads(gym.Wrapper):
    """Reads and sets the thread count of numpy's BLAS in the process that runs the env (a worker's)."""

    def blas_threads(self) -> int:
        from threadpoolctl import threadpool_info

        return max(library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas")

    def set_blas_threads(self, n_threads: int) -> None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n_threads, user_api="blas")


class Lockstep(VecEnvWrapper):
    """A VecEnv wrapper that changes nothing, of a kind REINFORCE cannot pause: all its envs step together."""

    def reset(self) -> VecEnvObs:
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        return self.venv.step_wait()


VEC_ENV_KINDS = ["DummyVecEnv", "Lockstep", "VecNormalize"]
"""How :func:`strict_vec_env` steps its envs: paused (a DummyVecEnv), all together (a wrapper REINFORCE cannot
pause through), or through ``VecNormalize`` (for its statistics only: it normalises nothing)."""


def strict_vec_env(kind: str = "DummyVecEnv", env_id: str = "CartPole-v1", n_envs: int = 3, seed: int = 0) -> VecEnv:
    """
    A VecEnv of :data:`VEC_ENV_KINDS` whose envs raise ``RuntimeError`` if reset mid-episode (SB3's
    ``Monitor(allow_early_resets=False)``) and count their resets in a :class:`ResetProbe`
    (``env.get_attr("early_resets")``, ``env.get_attr("n_resets")``).
    """
    env = make_vec_env(
        env_id, n_envs=n_envs, seed=seed, wrapper_class=ResetProbe, monitor_kwargs={"allow_early_resets": False}
    )
    if kind == "Lockstep":
        return Lockstep(env)
    if kind == "VecNormalize":
        return VecNormalize(env, norm_obs=False, norm_reward=False)
    if kind != "DummyVecEnv":
        raise ValueError(f"kind must be one of {VEC_ENV_KINDS}, got {kind!r}")
    return env
