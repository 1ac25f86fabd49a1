"""Which episodes make a batch, which envs step, and how actions are drawn during the rollout."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from reinforce_sb3.buffer import EpisodeBuffer
from reinforce_sb3.policies import REINFORCEPolicy
from reinforce_sb3.rollout.numpy_actor import ActionSampler, NumpyActor
from reinforce_sb3.rollout.vec_step import step_active


class EpisodeCollector:
    """
    The batch rule of REINFORCE, its episode buffer, and the rollout's action sampler.

    The batch is the first ``n_episodes`` episodes to *start* after the batch began (ties by
    env index). Whether an episode is in the batch is decided when it starts, before anything
    happens in it, so the gradient estimate stays unbiased (taking the first episodes to
    *finish* would favour short ones). An episode that was already running when the batch
    began (it started under older parameters, or after the previous batch was full) is never
    cut short: it runs to its end unused, and its env then starts an episode that may join.
    Steps not in the batch are counted in :attr:`waste`.

    With a VecEnv that can pause (a ``DummyVecEnv``, a
    :class:`~reinforce_sb3.rollout.subproc.PausableSubprocVecEnv`, either of them inside
    ``VecNormalize`` / ``VecMonitor`` / ``VecTransposeImage``; see
    :func:`~reinforce_sb3.rollout.vec_step.can_pause`) only the envs with something to do step:
    those running a batch episode, and those finishing an unused one while the batch still has
    places. The others wait, so nothing is wasted. Other VecEnvs step every env together.

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
        self.in_batch = np.zeros(n_envs, dtype=bool)
        self.n_started = 0
        self.n_done = 0
        self.steps_taken = 0
        self.actor: NumpyActor | None = None
        self.sampler: ActionSampler | None = None
        self.rng = np.random.default_rng()

    def start_batch(self, policy: REINFORCEPolicy, episode_starts: np.ndarray) -> None:
        """
        Begin a new, empty batch with the policy as it is now.

        :param policy: the policy whose actions the batch's episodes take
        :param episode_starts: for each env, whether it is at the start of an episode (its next
            step begins one); the others are mid-episode and finish that episode unused
        """
        self.buffer.reset()
        self.in_batch[:] = False
        self.n_started = self.n_done = self.steps_taken = 0
        self._join(np.flatnonzero(episode_starts))
        # Actions are drawn in numpy, by one sampler per distribution, from a generator seeded from torch's.
        # On the CPU, a numpy copy of an MLP actor computes the distribution's parameters too (a fraction
        # of torch's per-call cost at rollout sizes); other policies compute them in torch.
        self.sampler = ActionSampler.from_policy(policy)
        self.actor = NumpyActor.from_policy(policy)
        self.rng = np.random.default_rng(int(th.randint(2**62, ()).item()))

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
    def waste(self) -> float:
        """The fraction of the env steps taken for this batch that are not in it."""
        return 1.0 - self.buffer.n_batch_steps / max(self.steps_taken, 1)

    def active(self, episode_starts: np.ndarray, pausable: bool) -> np.ndarray:
        """The envs to step now: every env of a VecEnv that cannot pause; else those with something to do."""
        if not pausable:
            return np.ones(self.n_envs, dtype=bool)
        return self.in_batch | (~episode_starts & (self.n_started < self.n_episodes))

    def sample(self, policy: REINFORCEPolicy, obs: VecEnvObs) -> np.ndarray:
        """One action per env, drawn from the policy (by the numpy actor when there is one)."""
        if self.actor is not None:
            return self.actor.sample(obs, self.rng)  # type: ignore[arg-type]  # the actor exists for array observations only
        obs_tensor = obs_as_tensor(obs, policy.device)  # type: ignore[arg-type]  # dict observations are fine too
        with th.no_grad():
            if self.sampler is None:  # a distribution the sampler does not know: SB3's own sampling
                actions: np.ndarray = policy(obs_tensor).cpu().numpy()
                return actions
            return self.sampler.sample(policy.action_parameters(obs_tensor).cpu().numpy(), self.rng)

    @staticmethod
    def step(env: VecEnv, actions: np.ndarray, active: np.ndarray, pausable: bool) -> VecEnvStepReturn:
        """Step the ``active`` envs of a VecEnv that can pause (``pausable``), or every env of one that cannot."""
        return step_active(env, actions, active) if pausable else env.step(actions)

    def record(
        self,
        obs: VecEnvObs,
        actions: np.ndarray,
        rewards: np.ndarray,
        episode_starts: np.ndarray,
        dones: np.ndarray,
        active: np.ndarray,
    ) -> None:
        """Record one step of the envs (``obs``: what the actions were chosen on) and update the batch."""
        self.buffer.add(obs, actions, rewards, episode_starts, dones, self.in_batch & active)  # type: ignore[arg-type]  # no Tuple observations
        self.steps_taken += int(np.count_nonzero(active))
        if dones.any():  # most steps end no episode
            self.n_done += int(np.count_nonzero(dones & self.in_batch))
            restarted = np.flatnonzero(dones)
            self.in_batch[restarted] = False
            self._join(restarted)
