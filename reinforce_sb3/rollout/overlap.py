"""The rollout while the workers step: each env is handed its next action as soon as its own step is in.

With :class:`~reinforce_sb3.rollout.subproc.PausableSubprocVecEnv`, the collector does not wait for
the slowest env at every step. Each env keeps its own clock, the number of steps it has taken in
the batch, and the batch is defined on those clocks exactly as the lockstep rollout defines it on
the shared step count: the first ``n_episodes`` episodes to start, ordered by (start step, env
index). An env at the start of an episode joins the batch as soon as that order is settled (for
most starts at once; near the end of a batch it may wait for an env whose clock is behind), and
the actions of an env's ``t``-th step come from row ``t`` of the same random stream. So the batch
is the one a DummyVecEnv gives, bit for bit, whoever finishes first.

Callbacks see the same steps too: the step ``t`` of every env is handed to ``on_step`` once every
env has passed it, with the observations, rewards, dones and infos that the lockstep rollout
gives. The step budget of ``learn()`` is kept the same way: an env takes step ``t`` only if the
lockstep rollout would.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch as th
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from reinforce_sb3.policies import REINFORCEPolicy
from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv, WorkerError
from reinforce_sb3.rollout.vec_step import Finisher, time_limit_truncations

if TYPE_CHECKING:
    from reinforce_sb3.rollout.collector import EpisodeCollector, RolloutStep


Obs = np.ndarray | dict[str, np.ndarray]
"""The observations of several envs (no Tuple observation spaces here)."""


def _rows(obs: Obs, rows: np.ndarray) -> Obs:
    """A copy of some rows (fancy indexing copies)."""
    if isinstance(obs, dict):
        return {key: value[rows] for key, value in obs.items()}
    copied: np.ndarray = obs[rows]
    return copied


def _set_rows(obs: Obs, envs: np.ndarray, rows: Obs) -> None:
    if isinstance(obs, dict):
        assert isinstance(rows, dict)  # for mypy: rows of the same space
        for key, array in obs.items():
            array[envs] = rows[key]
    else:
        obs[envs] = rows


def _checked(obs: VecEnvObs) -> Obs:
    assert isinstance(obs, (np.ndarray, dict))  # for mypy: no Tuple observations
    return obs


def _copy(obs: VecEnvObs) -> Obs:
    if isinstance(obs, dict):
        return {key: value.copy() for key, value in obs.items()}
    assert isinstance(obs, np.ndarray)  # for mypy: no Tuple observations
    copied: np.ndarray = obs.copy()
    return copied


class _Incoming(NamedTuple):
    """Steps received, as the buffer records them: each env's step ``clock``, taken on ``obs``."""

    envs: np.ndarray
    clocks: np.ndarray
    obs: Obs
    actions: np.ndarray
    clipped: np.ndarray
    episode_starts: np.ndarray
    in_batch: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    truncated: np.ndarray
    infos: list[dict[str, Any]]
    new_obs: Obs


class _Step:
    """What the envs did at one step of their clocks, gathered until every env has passed it."""

    def __init__(self, n_envs: int, actions: np.ndarray, clipped: np.ndarray) -> None:
        self.active = np.zeros(n_envs, dtype=bool)
        self.rewards = np.zeros(n_envs, dtype=np.float64)
        self.dones = np.zeros(n_envs, dtype=bool)
        self.infos: list[dict[str, Any]] = [{} for _ in range(n_envs)]
        self.obs: list[tuple[np.ndarray, Obs]] = []
        """The observations after this step: (envs, their rows), as they came in."""
        self.actions = np.zeros_like(actions)
        self.clipped = np.zeros_like(clipped)


class OverlappedRollout:
    """
    The state of the envs of a :class:`~reinforce_sb3.rollout.subproc.PausableSubprocVecEnv`
    (inside ``VecMonitor`` or ``VecTransposeImage`` or neither) while a collector's batch is filled
    by acting while the workers step. Build it with :meth:`EpisodeCollector.overlapped
    <reinforce_sb3.rollout.collector.EpisodeCollector.overlapped>`.

    :param collector: the collector whose batch and policy this fills
    :param env: the VecEnv the algorithm steps (the wrappers' view)
    :param base: the PausableSubprocVecEnv inside it
    :param wrappers: the wrappers between them, innermost first, each with what it does to a step
    :param obs: every env's observation now
    :param episode_starts: for each env, whether its next step begins an episode
    """

    def __init__(
        self,
        collector: EpisodeCollector,
        env: Any,
        base: PausableSubprocVecEnv,
        wrappers: list[tuple[VecEnvWrapper, Finisher]],
        obs: VecEnvObs,
        episode_starts: np.ndarray,
    ) -> None:
        self.collector = collector
        self.env, self.base, self.wrappers = env, base, wrappers
        self.n_envs = collector.n_envs
        self.obs = _copy(obs)
        self.at_start = np.asarray(episode_starts, dtype=bool).copy()
        self.begin()

    def begin(self) -> None:
        """A new batch: the collector has just decided which envs at the start of an episode join it."""
        collector = self.collector
        self.clock = np.zeros(self.n_envs, dtype=np.int64)
        self.flying = np.zeros(self.n_envs, dtype=bool)
        self.paused = self.at_start & ~collector.in_batch  # no place left for them in this batch
        self.undecided = np.zeros(self.n_envs, dtype=bool)
        self.joins: list[tuple[int, int]] = [(0, int(i)) for i in np.flatnonzero(collector.in_batch)]
        self.steps: dict[int, _Step] = {}
        self.taken: dict[int, int] = {}  # the steps received at each step of the clocks not yet handed on
        self.emitted = 0  # the steps of every env's clock before this one have gone to the callbacks
        self.emitted_obs = _copy(self.obs)
        self.noise: dict[int, np.ndarray] = {}
        self.drawn = 0  # the rows of the random stream drawn so far, one per step of the clocks
        stored = collector.buffer.arrays["actions"]
        self.actions = np.zeros((self.n_envs, *stored.shape[2:]), dtype=stored.dtype)
        self.clipped: np.ndarray | None = None

    # --- the batch rule on the envs' clocks

    def _later_starts(self, t: int, env_idx: int, same_step: bool) -> int:
        """At most how many episodes the other envs may still start before step ``t`` of their clocks (at step
        ``t`` too for ``same_step``, else only those with a lower index): the lockstep rollout's order."""
        total = 0
        for j in np.flatnonzero(~self.paused):
            if j == env_idx:
                continue
            c = int(self.clock[j])
            last = t if (same_step or j < env_idx) else t - 1
            if self.undecided[j] and c <= last:
                total += 1
            total += max(0, last - c)
        return total

    def _decide_start(self, env_idx: int) -> bool:
        """Settle whether the episode env ``env_idx`` starts now joins the batch, if that can be known yet."""
        t = int(self.clock[env_idx])
        before = sum(1 for join in self.joins if join < (t, env_idx))
        collector = self.collector
        if before >= collector.n_episodes:
            self.paused[env_idx] = True
        elif before + self._later_starts(t, env_idx, same_step=False) < collector.n_episodes:
            collector.in_batch[env_idx] = True
            collector.n_started += 1
            self.joins.append((t, env_idx))
        else:
            return False
        self.undecided[env_idx] = False
        return True

    def _may_go_on(self, env_idx: int) -> bool | None:
        """Whether an env running an episode that is not in the batch takes its next step (the lockstep rollout
        runs it while the batch has places left), or None while that cannot be known yet."""
        t = int(self.clock[env_idx])
        started = sum(1 for join in self.joins if join[0] <= t)
        if started >= self.collector.n_episodes:
            return False
        if started + self._later_starts(t, env_idx, same_step=True) < self.collector.n_episodes:
            return True
        return None

    def _within_budget(self, env_idx: int, budget: int | None) -> bool:
        """Whether the lockstep rollout surely takes step ``clock`` of env ``env_idx`` within ``budget`` more
        steps (counted from the last step the callbacks saw)."""
        if budget is None:
            return True
        t = int(self.clock[env_idx])
        known = sum(count for time, count in self.taken.items() if time < t)
        unknown = sum(max(0, t - int(self.clock[j])) for j in np.flatnonzero(~self.paused) if j != env_idx)
        return known + unknown < budget

    def _ready(self, budget: int | None) -> np.ndarray:
        """The envs to step now, after settling what can be settled."""
        if budget is not None and budget > self.n_envs * (int(self.clock.max()) - self.emitted + 1):
            budget = None  # every step the envs can take now is within it
        idle = ~self.flying & ~self.paused
        if not self.undecided.any() and budget is None and not (idle & ~self.collector.in_batch).any():
            return np.flatnonzero(idle)  # the common case: every idle env is running a batch episode
        settled = True
        while settled:  # a decision can settle others
            settled = False
            for env_idx in np.flatnonzero(self.undecided & ~self.flying):
                settled |= self._decide_start(int(env_idx))
        ready = []
        for env_idx in np.flatnonzero(~self.flying & ~self.paused & ~self.undecided):
            i = int(env_idx)
            if not self.collector.in_batch[i]:
                go_on = self._may_go_on(i)
                if go_on is None:
                    continue
                if not go_on:
                    self.paused[i] = True
                    continue
            if self._within_budget(i, budget):
                ready.append(i)
        return np.array(ready, dtype=np.int64)

    # --- acting, receiving, and handing the steps on

    def _act(self, envs: np.ndarray) -> None:
        """Draw the actions of ``envs``, each at its own step, and send them to their workers."""
        collector = self.collector
        collector._check_finite(self.obs)
        sampler = collector.sampler
        assert sampler is not None  # overlapped() checks it
        while self.drawn <= max(self.clock[envs]):  # the stream is drawn step by step, as the lockstep rollout does
            self.noise[self.drawn] = sampler.noise(collector.rng, self.n_envs)
            self.drawn += 1
        clocks = self.clock[envs]
        if clocks.min() == clocks.max():  # the common case: they are at the same step
            noise = self.noise[int(clocks[0])]
        else:
            noise = np.zeros_like(self.noise[int(clocks[0])])
            for env_idx, t in zip(envs.tolist(), clocks.tolist(), strict=True):
                noise[env_idx] = self.noise[t][env_idx]
        # every row, as the lockstep rollout computes them: each row depends on that env's observation only
        if collector.actor is not None:
            assert isinstance(self.obs, np.ndarray)  # the numpy actor exists for array observations only
            params = collector.actor.action_parameters(self.obs)
        else:
            policy = collector.policy
            assert isinstance(policy, REINFORCEPolicy)  # the sampler exists for REINFORCE's policies only
            with th.no_grad():
                params = policy.action_parameters(obs_as_tensor(self.obs, policy.device)).cpu().numpy()
        actions = sampler.from_noise(params, noise)
        clipped = collector.to_env_actions(actions)
        if self.clipped is None:
            self.clipped = np.zeros_like(clipped)
        self.actions[envs] = actions[envs]
        self.clipped[envs] = clipped[envs]
        self.base.send(clipped[envs], envs)
        self.flying[envs] = True

    def _receive(self) -> _Incoming:
        """Receive the steps that are in (waiting for at least one), and update what the batch rule needs; the
        buffer and the callbacks' records are written by :meth:`_record`, after the next actions are sent."""
        result = self.base.recv()
        envs = result.envs
        new_obs, rewards, dones, infos = _checked(result.obs), result.rewards, result.dones, result.infos
        if self.wrappers:  # the wrappers finish a step of every env, the others not stepped
            mask = np.zeros(self.n_envs, dtype=bool)
            mask[envs] = True
            all_obs = _copy(self.obs)
            all_rewards = np.zeros(self.n_envs, dtype=np.float64)
            all_dones = np.zeros(self.n_envs, dtype=bool)
            all_infos: list[dict[str, Any]] = [{} for _ in range(self.n_envs)]
            _set_rows(all_obs, envs, new_obs)
            all_rewards[envs], all_dones[envs] = rewards, dones
            for env_idx, info in zip(envs.tolist(), infos, strict=True):
                all_infos[env_idx] = info
            step: VecEnvStepReturn = (all_obs, all_rewards, all_dones, all_infos)
            for wrapper, finish in self.wrappers:
                step = finish(wrapper, step, mask)
            new_obs = _rows(_checked(step[0]), envs)
            rewards, dones, infos = step[1][envs], step[2][envs], [step[3][env_idx] for env_idx in envs.tolist()]
        dones = np.asarray(dones, dtype=bool)
        collector = self.collector
        assert self.clipped is not None  # set by the first _act
        truncated = time_limit_truncations(dones, infos)
        incoming = _Incoming(
            envs, self.clock[envs], _rows(self.obs, envs), self.actions[envs], self.clipped[envs],
            self.at_start[envs], collector.in_batch[envs], rewards, dones,
            np.zeros(len(envs), dtype=bool) if truncated is None else truncated, infos, new_obs,
        )  # fmt: skip
        _set_rows(self.obs, envs, new_obs)
        for t in incoming.clocks.tolist():
            self.taken[t] = self.taken.get(t, 0) + 1
        self.clock[envs] += 1
        self.flying[envs] = False
        collector.steps_taken += len(envs)
        self.at_start[envs] = dones
        if dones.any():
            ended = envs[dones]
            collector.n_done += int(np.count_nonzero(collector.in_batch[ended]))
            collector.in_batch[ended] = False
            self.undecided[ended] = True
        return incoming

    def _record(self, incoming: _Incoming) -> None:
        """Write received steps into the buffer and into the records of their steps, for the callbacks."""
        envs, clocks = incoming.envs, incoming.clocks
        self.collector.buffer.add_at(
            clocks, envs, incoming.obs, incoming.actions, incoming.rewards, incoming.episode_starts, incoming.dones,
            incoming.in_batch, incoming.truncated,
        )  # fmt: skip
        for t in np.unique(clocks).tolist() if clocks.min() != clocks.max() else [int(clocks[0])]:
            at_t = clocks == t
            stepped = envs[at_t]
            record = self.steps.get(t)
            if record is None:
                record = self.steps[t] = _Step(self.n_envs, self.actions, self.clipped)  # type: ignore[arg-type]  # set by _act
            record.active[stepped] = True
            record.rewards[stepped] = incoming.rewards[at_t]
            record.dones[stepped] = incoming.dones[at_t]
            for env_idx, info, here in zip(envs.tolist(), incoming.infos, at_t.tolist(), strict=True):
                if here:
                    record.infos[env_idx] = info
            record.actions[stepped] = incoming.actions[at_t]
            record.clipped[stepped] = incoming.clipped[at_t]
            record.obs.append((stepped, _rows(incoming.new_obs, np.flatnonzero(at_t))))

    def _emit(self) -> RolloutStep | None:
        """The next step of the envs' clocks, if every env has passed it."""
        from reinforce_sb3.rollout.collector import RolloutStep

        if not self._emit_pending():
            return None
        record = self.steps.pop(self.emitted)
        self.taken.pop(self.emitted)
        self.noise.pop(self.emitted, None)
        self.emitted += 1
        for envs, obs in record.obs:
            _set_rows(self.emitted_obs, envs, obs)
        return RolloutStep(
            record.actions,
            record.clipped,
            _copy(self.emitted_obs),
            record.rewards,
            record.dones,
            record.infos,
            record.active,
            int(record.active.sum()),
        )

    def run(self, budget: Callable[[], int | None]) -> Generator[RolloutStep, None, None]:
        """
        Fill the batch, yielding each step of the envs' clocks once every env has passed it; stops when the
        batch is complete and every step has been yielded, or when ``budget()`` (the steps left) is 0.
        Steps still in flight when the caller stops are received and kept for the next call.
        """
        incoming: _Incoming | None = None
        try:
            while True:
                ready = self._ready(budget())
                if len(ready):  # first, so that the workers wait as little as possible
                    self._act(ready)
                if incoming is not None:
                    self._record(incoming)
                    incoming = None
                step = self._emit()
                while step is not None:
                    yield step
                    left = budget()
                    if left is not None and left <= 0:
                        return
                    step = self._emit()
                if self.collector.complete and not self.steps and not self.flying.any():
                    return
                if not self.flying.any():
                    if self._emit_pending() or len(self._ready(budget())):
                        continue
                    raise RuntimeError(
                        f"the overlapped rollout is stuck at clocks {self.clock.tolist()} (paused "
                        f"{self.paused.tolist()}); this is a bug of reinforce_sb3"
                    )
                incoming = self._receive()
        finally:
            if incoming is not None:
                self._record(incoming)
            self._drain()

    def _emit_pending(self) -> bool:
        """Whether every env has passed the next step to hand on (the paused ones wait for the next batch)."""
        running = self.clock[~self.paused]
        return self.emitted in self.steps and (not len(running) or self.emitted < running.min())

    def _drain(self) -> None:
        """Receive the steps in flight (they stay in the batch, for the callbacks of the next call)."""
        try:
            while self.flying.any():
                self._record(self._receive())
        except WorkerError:
            self.flying[:] = False
