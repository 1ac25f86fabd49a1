"""One step of the rollout at a time: act, step the envs that have something to do, record the batch."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs

from reinforce_sb3.buffer import EpisodeBuffer
from reinforce_sb3.policies import REINFORCEPolicy
from reinforce_sb3.rollout.numpy_actor import ActionSampler, EnvActions, NumpyActor
from reinforce_sb3.rollout.overlap import OverlappedRollout
from reinforce_sb3.rollout.vec_step import can_pause, overlap_chain, step_active, time_limit_truncations


class RolloutStep(NamedTuple):
    """What one step of the rollout did (the names are those of SB3's ``collect_rollouts``)."""

    actions: np.ndarray
    """The actions drawn (for Box actions, the Gaussian samples whose log-probability the estimator weights;
    with ``squash_output``, their tanh, in (-1, 1))."""
    clipped_actions: np.ndarray
    """The actions the envs received (Box actions clipped to the action space; squashed ones rescaled to it)."""
    new_obs: VecEnvObs
    rewards: np.ndarray
    dones: np.ndarray
    infos: list[dict[str, Any]]
    active: np.ndarray
    """Which envs stepped; the others waited."""
    n_stepped: int


class EpisodeCollector:
    """
    The batch rule of REINFORCE, its episode buffer, and the whole of one rollout step.

    The batch is the first ``n_episodes`` episodes to *start* after the batch began (ties by
    env index). Whether an episode is in the batch is decided when it starts, before anything
    happens in it, so no episode length is favoured (taking the first episodes to *finish*
    would favour short ones). An episode that was already running when the batch began (it
    started under older parameters, or after the previous batch was full) is never cut short:
    it runs to its end unused, and its env then starts an episode that may join. Steps not in
    the batch are counted in :attr:`waste`.

    With a VecEnv that can pause (a ``DummyVecEnv``, a
    :class:`~reinforce_sb3.rollout.subproc.PausableSubprocVecEnv`, either of them inside
    ``VecNormalize`` / ``VecMonitor`` / ``VecTransposeImage``; see
    :func:`~reinforce_sb3.rollout.vec_step.can_pause`) only the envs with something to do step:
    those running a batch episode, and those finishing an unused one while the batch still has
    places. The others wait, so nothing is wasted. Other VecEnvs step every env together.

    Actions are drawn in numpy, by one sampler per distribution, from a generator seeded from
    torch's; on the CPU, a numpy copy of an MLP actor computes the distribution's parameters too
    (a fraction of torch's per-call cost at rollout sizes). Other policies compute them in torch,
    and a distribution the sampler does not know is sampled by SB3.

    :param observation_space: Observation space
    :param action_space: Action space
    :param n_envs: Number of parallel environments
    :param n_episodes: Number of episodes per batch
    """

    def __init__(
        self, observation_space: spaces.Space[Any], action_space: spaces.Space[Any], n_envs: int, n_episodes: int
    ) -> None:
        self.buffer = EpisodeBuffer(observation_space, action_space, n_envs)
        self.n_envs = n_envs
        self.n_episodes = n_episodes
        self.action_space = action_space
        self.env_actions = EnvActions(action_space, squash=False)
        self.in_batch = np.zeros(n_envs, dtype=bool)
        self.n_started = 0
        self.n_done = 0
        self.steps_taken = 0
        self.policy: BasePolicy | None = None
        self.actor: NumpyActor | None = None
        self.sampler: ActionSampler | None = None
        self.rng = np.random.default_rng()
        self._float_observations = _float_keys(observation_space)
        self._flat_float_observations = self._float_observations == [None]
        self._env: VecEnv | None = None
        self._pausable = False
        self._overlap: OverlappedRollout | None = None

    def start_batch(self, policy: BasePolicy, episode_starts: np.ndarray) -> None:
        """
        Begin a new, empty batch with the policy as it is now.

        :param policy: the policy whose actions the batch's episodes take
        :param episode_starts: for each env, whether it is at the start of an episode (its next
            step begins one); the others are mid-episode and finish that episode unused
        """
        if self._overlap is not None:  # the envs may have gone on after the caller's last view of them
            episode_starts = self._overlap.at_start
        self.buffer.reset()
        self.in_batch[:] = False
        self.n_started = self.n_done = self.steps_taken = 0
        self._join(np.flatnonzero(episode_starts))
        self.policy = policy
        self.env_actions = EnvActions(self.action_space, squash=policy.squash_output)
        self.sampler = self.actor = None
        if isinstance(policy, REINFORCEPolicy):
            self.sampler = ActionSampler.from_policy(policy)
            self.actor = NumpyActor.from_policy(policy, self.sampler)
        self.rng = np.random.default_rng(int(th.randint(2**62, ()).item()))
        if self._overlap is not None:
            self._overlap.begin()

    def _join(self, envs: np.ndarray) -> None:
        """``envs`` (in index order) start an episode now: the first ones take the places left."""
        joining = envs[: self.n_episodes - self.n_started]
        self.in_batch[joining] = True
        self.n_started += len(joining)

    @property
    def complete(self) -> bool:
        """Whether all ``n_episodes`` episodes of the batch have ended."""
        return self.n_done >= self.n_episodes

    @property
    def n_batch_steps(self) -> int:
        """The number of env steps recorded so far that belong to the batch (all of its steps, once complete)."""
        return self.buffer.n_batch_steps

    @property
    def waste(self) -> float:
        """The fraction of the env steps taken for this batch that are not in it."""
        return 1.0 - self.n_batch_steps / max(self.steps_taken, 1)

    def active(self, episode_starts: np.ndarray, pausable: bool) -> np.ndarray:
        """The envs to step now: every env of a VecEnv that cannot pause; else those with something to do."""
        if not pausable:
            return np.ones(self.n_envs, dtype=bool)
        return self.in_batch | (~episode_starts & (self.n_started < self.n_episodes))

    def step(self, env: VecEnv, obs: VecEnvObs, episode_starts: np.ndarray) -> RolloutStep:
        """
        One step of the rollout: check the observations, draw an action per env, step the envs with
        something to do (every env of a VecEnv that cannot pause), and record the step in the batch.

        :param env: the VecEnv (whether it can pause is looked up once per VecEnv)
        :param obs: the observation of every env, which the actions are chosen on
        :param episode_starts: for each env, whether its next step begins an episode
        :raises ValueError: an observation is not finite (before any action is chosen on it)
        """
        if env is not self._env:
            self._env, self._pausable = env, can_pause(env)
        self._check_finite(obs)
        active = self.active(episode_starts, self._pausable)
        actions = self.sample(obs)
        clipped_actions = self.to_env_actions(actions)
        new_obs, rewards, dones, infos = (
            step_active(env, clipped_actions, active) if self._pausable else env.step(clipped_actions)
        )
        truncated = time_limit_truncations(dones, infos)
        n_stepped = self.record(obs, actions, rewards, episode_starts, dones, active, truncated)
        return RolloutStep(actions, clipped_actions, new_obs, rewards, dones, infos, active, n_stepped)

    def to_env_actions(self, actions: np.ndarray) -> np.ndarray:
        """
        The actions the envs receive (:class:`~reinforce_sb3.rollout.numpy_actor.EnvActions`). The
        log-probability is that of the Gaussian sample; the env receives it clipped to the action
        space (a squashed sample, in (-1, 1): rescaled to the bounds as SB3 does).
        """
        return self.env_actions(actions)

    def overlapped(
        self, env: VecEnv, obs: VecEnvObs, episode_starts: np.ndarray, budget: Callable[[], int | None]
    ) -> Generator[RolloutStep, None, None] | None:
        """
        The steps of the batch, collected by acting while the workers step, if ``env`` is a
        :class:`~reinforce_sb3.rollout.subproc.PausableSubprocVecEnv` (bare, or inside ``VecMonitor``
        or ``VecTransposeImage``) and the policy's actions are drawn by the numpy sampler; else None
        (the lockstep :meth:`step` then does it). The steps, the batch and the callbacks' view are
        those of :meth:`step` (see :mod:`reinforce_sb3.rollout.overlap`).

        :param env: the VecEnv
        :param obs: every env's observation (used when the envs are new to the collector)
        :param episode_starts: for each env, whether its next step begins an episode (likewise)
        :param budget: the env steps left to take (None: no limit), asked after every step
        """
        if self.sampler is None:
            return None
        if self._overlap is None or self._overlap.env is not env:
            chain = overlap_chain(env)
            if chain is None:
                return None
            self._overlap = OverlappedRollout(self, env, *chain, obs, episode_starts)
        return self._overlap.run(budget)

    def forget_envs(self) -> None:
        """The envs were reset: the next batch starts from the observations the caller gives."""
        self._overlap = None

    def sample(self, obs: VecEnvObs) -> np.ndarray:
        """One action per env, drawn from the batch's policy (by the numpy actor when there is one)."""
        if self.actor is not None:
            return self.actor.sample(obs, self.rng)  # type: ignore[arg-type]  # the actor exists for array observations only
        policy = self.policy
        assert policy is not None, "start_batch sets the policy"
        obs_tensor = obs_as_tensor(obs, policy.device)  # type: ignore[arg-type]  # dict observations are fine too
        with th.no_grad():
            if self.sampler is None:  # a distribution the sampler does not know: SB3's own sampling
                actions: np.ndarray = policy(obs_tensor).cpu().numpy()
                return actions
            assert isinstance(policy, REINFORCEPolicy)  # the sampler exists for REINFORCE's policies only
            return self.sampler.sample(policy.action_parameters(obs_tensor).cpu().numpy(), self.rng)

    def _check_finite(self, obs: VecEnvObs) -> None:
        """A ``ValueError`` naming the env and the step if a float observation is NaN or infinite."""
        if self._flat_float_observations:  # the common case first: one array
            flat = obs.ravel()  # type: ignore[union-attr]  # a float Box's observations are an array
            # one dot product, half the cost of isfinite().all() at rollout sizes: a NaN or an inf anywhere makes
            # it non-finite (its terms are squares: no inf - inf); so may a huge finite value, hence the exact check
            if not math.isfinite(np.dot(flat, flat)) and not np.isfinite(flat).all():
                self._refuse(obs, None)  # type: ignore[arg-type]  # as above
            return
        for key in self._float_observations:
            values: np.ndarray = obs[key]  # type: ignore[call-overload, index]  # a Dict space's observations
            if not np.isfinite(values).all():
                self._refuse(values, key)

    def _refuse(self, values: np.ndarray, key: str | None) -> None:
        flat = np.asarray(values).reshape(self.n_envs, -1)
        env_idx = int(np.flatnonzero(~np.isfinite(flat).all(axis=1))[0])
        what = "observation" if key is None else f"observation {key!r}"
        raise ValueError(
            f"non-finite {what} from env {env_idx} at step {self.buffer.pos} of the batch: "
            f"{flat[env_idx].tolist()!r}. No action was chosen on it and no parameter was changed."
        )

    def record(
        self,
        obs: VecEnvObs,
        actions: np.ndarray,
        rewards: np.ndarray,
        episode_starts: np.ndarray,
        dones: np.ndarray,
        active: np.ndarray,
        truncated: np.ndarray | None = None,
    ) -> int:
        """
        Record one step of the envs (``obs``: what the actions were chosen on) and update the batch;
        ``truncated``: which episodes a time limit ended (None: none).

        :return: the number of envs that stepped (``active``)
        """
        self.buffer.add(obs, actions, rewards, episode_starts, dones, self.in_batch & active, truncated)  # type: ignore[arg-type]  # no Tuple observations
        n_stepped = int(np.count_nonzero(active))
        self.steps_taken += n_stepped
        if dones.any():  # most steps end no episode
            self.n_done += int(np.count_nonzero(dones & self.in_batch))
            restarted = np.flatnonzero(dones)
            self.in_batch[restarted] = False
            self._join(restarted)
        return n_stepped


def _float_keys(observation_space: spaces.Space[Any]) -> list[str | None]:
    """The observations that can be NaN: a float Box (key None), or the float Box keys of a Dict."""
    if isinstance(observation_space, spaces.Dict):
        return [key for key, space in observation_space.spaces.items() if _is_float_box(space)]
    return [None] if _is_float_box(observation_space) else []


def _is_float_box(space: spaces.Space[Any]) -> bool:
    return isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.floating)
