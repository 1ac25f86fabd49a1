"""The rollout while the workers step: the workers choose their envs' actions, and report back in runs.

With :class:`~reinforce_sb3.rollout.subproc.PausableSubprocVecEnv`, the collector does not wait for
the slowest env at every step, and an env running a batch episode does not wait for the main
process at all: the parameters do not change during a batch, so each worker gets a numpy copy of
the policy at the start of the batch and steps such an env on its own (a *run*: up to
:data:`RUN_LENGTH` steps, or to the end of its episode), drawing each action from the rows of the
random stream the main process sent with the run, computed on a matrix with a row per env as the
main process computes it, so that every action is the same to the bit. Policies without a numpy
copy (a torch features extractor, Dict observations, a GPU) get each action from the main
process instead, as soon as their env's last step is in.

Each env keeps its own clock, the number of steps it has taken in the batch, and the batch is
defined on those clocks exactly as the lockstep rollout defines it on the shared step count: the
first ``n_episodes`` episodes to start, ordered by (start step, env index). An env at the start of
an episode joins the batch as soon as that order is settled (for most starts at once; else it may
wait for an env whose clock is behind, and an env in a run behind it says when it gets there), and
the actions of an env's ``t``-th step come from row ``t`` of the same random stream. So the batch
is the one a DummyVecEnv gives, bit for bit, whoever finishes first.

Callbacks see the same steps too: the step ``t`` of every env is handed to ``on_step`` once every
env has passed it, with the observations, rewards, dones and infos that the lockstep rollout
gives. The step budget of ``learn()`` is kept the same way: an env takes step ``t`` only if the
lockstep rollout would (near the end of the budget, the envs take single steps again). A callback
that stops ``learn()`` halts the runs before their next step.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch as th
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from reinforce_sb3.policies import REINFORCEPolicy
from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv, Run, WorkerError
from reinforce_sb3.rollout.vec_step import Finisher, time_limit_truncations

if TYPE_CHECKING:
    from reinforce_sb3.rollout.collector import EpisodeCollector, RolloutStep


Obs = np.ndarray | dict[str, np.ndarray]
"""The observations of several envs (no Tuple observation spaces here)."""

RUN_LENGTH = 32
"""The most steps an env takes on its own before its worker reports (:meth:`PausableSubprocVecEnv.run`)."""


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


class _Segment(NamedTuple):
    """Consecutive steps of one env, from step ``start`` of its clock, kept until the callbacks have seen them."""

    start: int
    actions: np.ndarray
    clipped: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    infos: list[dict[str, Any]]
    new_obs: Obs


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
        self.passed = np.zeros(self.n_envs, dtype=np.int64)
        """The step of its clock each env is known to have reached without ending its episode: its clock, or
        further for an env in a run that has said how far it got (:meth:`PausableSubprocVecEnv.notify`)."""
        self.flying = np.zeros(self.n_envs, dtype=bool)
        self.in_run = np.zeros(self.n_envs, dtype=bool)
        self.paused = self.at_start & ~collector.in_batch  # no place left for them in this batch
        self.undecided = np.zeros(self.n_envs, dtype=bool)
        self.joins: list[tuple[int, int]] = [(0, int(i)) for i in np.flatnonzero(collector.in_batch)]
        self.segments: list[deque[_Segment]] = [deque() for _ in range(self.n_envs)]
        """Each env's steps received and not yet handed to the callbacks, in order."""
        self.taken: dict[int, int] = {}  # the steps received at each step of the clocks not yet handed on
        self.emitted = 0  # the steps of every env's clock before this one have gone to the callbacks
        self.emitted_obs = _copy(self.obs)
        self.noise: dict[int, np.ndarray] = {}
        self.drawn = 0  # the rows of the random stream drawn so far, one per step of the clocks
        stored = collector.buffer.arrays["actions"]
        self.actions = np.zeros((self.n_envs, *stored.shape[2:]), dtype=stored.dtype)
        self.clipped: np.ndarray | None = None
        self.runs = collector.actor is not None and self.base.can_run
        if self.runs:
            assert collector.actor is not None  # for mypy: just checked
            self.base.set_actor(collector.actor, collector.env_actions)

    # --- the batch rule on the envs' clocks

    def _later_starts(self, t: int, env_idx: int, same_step: bool) -> int:
        """At most how many episodes the other envs may still start before step ``t`` of their clocks (at step
        ``t`` too for ``same_step``, else only those with a lower index): the lockstep rollout's order."""
        total = 0
        for j in np.flatnonzero(~self.paused):
            if j == env_idx:
                continue
            c = int(self.passed[j])
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
        waiting = [int(self.clock[i]) for i in np.flatnonzero(self.undecided & ~self.flying)]
        for env_idx in np.flatnonzero(~self.flying & ~self.paused & ~self.undecided):
            i = int(env_idx)
            if not self.collector.in_batch[i]:
                go_on = self._may_go_on(i)
                if go_on is None:
                    waiting.append(int(self.clock[i]))
                    continue
                if not go_on:
                    self.paused[i] = True
                    continue
            if self._within_budget(i, budget):
                ready.append(i)
        if waiting:  # the envs in a run behind them say when they get there, so that this is settled at once
            first = min(waiting)
            for j in np.flatnonzero(self.in_run & (self.passed < first)).tolist():
                self.base.notify(j, first - int(self.clock[j]))
        return np.array(ready, dtype=np.int64)

    # --- acting, receiving, and handing the steps on

    def _draw(self, last: int) -> None:
        """Draw the random stream up to row ``last``, row by row, as the lockstep rollout draws it (a row drawn
        for a step no env takes is never used: the generator is seeded anew at every batch)."""
        collector = self.collector
        sampler = collector.sampler
        assert sampler is not None  # overlapped() checks it
        while self.drawn <= last:
            self.noise[self.drawn] = sampler.noise(collector.rng, self.n_envs)
            self.drawn += 1

    def _may_run(self, env_idx: int, budget: int | None) -> bool:
        """Whether env ``env_idx`` may take its next :data:`RUN_LENGTH` steps on its own: it is running a batch
        episode (which runs to its end whatever the other envs do), and every step that the run may take is
        one the lockstep rollout takes within ``budget``."""
        if not (self.runs and self.collector.in_batch[env_idx]):
            return False
        last = int(self.clock[env_idx]) + RUN_LENGTH
        return budget is None or budget > self.n_envs * (max(last, int(self.clock.max())) - self.emitted + 1)

    def _act(self, envs: np.ndarray, budget: int | None) -> None:
        """Draw the actions of ``envs``, each at its own step, and send them to their workers; the envs that may
        run on their own get the rows of their next steps instead."""
        collector = self.collector
        collector._check_finite(self.obs)
        running = [env_idx for env_idx in envs.tolist() if self._may_run(env_idx, budget)]
        if running:
            self._draw(int(self.clock[running].max()) + RUN_LENGTH - 1)
            noises = []
            for env_idx in running:
                t = int(self.clock[env_idx])
                noises.append(np.stack([self.noise[t + k][env_idx] for k in range(RUN_LENGTH)]))
            self.base.run(running, noises)
            self.flying[running] = self.in_run[running] = True
            if len(running) == len(envs):
                return
            envs = envs[~np.isin(envs, running)]
        sampler = collector.sampler
        assert sampler is not None  # overlapped() checks it
        self._draw(int(max(self.clock[envs])))
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

    def _receive(self) -> list[_Incoming]:
        """Receive the steps that are in (waiting for at least one), and update what the batch rule needs; the
        buffer and the callbacks' records are written by :meth:`_record`, after the next actions are sent."""
        result = self.base.recv()
        for env_idx, steps in result.progress.items():
            if self.in_run[env_idx]:
                self.passed[env_idx] = max(int(self.passed[env_idx]), int(self.clock[env_idx]) + steps)
        incoming = []
        if len(result.envs):
            incoming.append(self._take(result.envs, _checked(result.obs), result.rewards, result.dones, result.infos))
        for run in result.runs:
            self.flying[run.env] = self.in_run[run.env] = False  # also if it took no step (halted, not finite)
            if not len(run.rewards):
                continue
            if self.clipped is None:
                self.clipped = np.zeros((self.n_envs, *run.clipped.shape[1:]), dtype=run.clipped.dtype)
            if not self.wrappers:
                incoming.append(self._take_run(run))
                continue
            envs = np.array([run.env])
            for k in range(len(run.rewards)):  # the wrappers see its steps one at a time, in order
                self.actions[run.env] = run.actions[k]
                self.clipped[run.env] = run.clipped[k]
                step = slice(k, k + 1)
                incoming.append(
                    self._take(envs, run.new_obs[step], run.rewards[step], run.dones[step], run.infos[step])
                )
        return incoming

    def _take_run(self, run: Run) -> _Incoming:
        """The steps of a run (no wrappers to see them), as :meth:`_take` takes single steps; only its last step
        may end an episode."""
        env_idx, n = run.env, len(run.rewards)
        assert isinstance(self.obs, np.ndarray)  # runs exist for array observations only
        t = int(self.clock[env_idx])
        collector = self.collector
        truncated = time_limit_truncations(run.dones, run.infos)
        starts = np.zeros(n, dtype=bool)
        starts[0] = self.at_start[env_idx]
        obs = np.concatenate([self.obs[env_idx : env_idx + 1], run.new_obs[:-1]])  # what each action was chosen on
        incoming = _Incoming(
            np.full(n, env_idx), np.arange(t, t + n), obs,
            run.actions, run.clipped, starts, np.full(n, collector.in_batch[env_idx]), run.rewards, run.dones,
            np.zeros(n, dtype=bool) if truncated is None else truncated, run.infos, run.new_obs,
        )  # fmt: skip
        self.obs[env_idx] = run.new_obs[-1]
        for step in range(t, t + n):
            self.taken[step] = self.taken.get(step, 0) + 1
        self.clock[env_idx] += n
        self.passed[env_idx] = self.clock[env_idx]
        collector.steps_taken += n
        done = bool(run.dones[-1])
        self.at_start[env_idx] = done
        if done:
            collector.n_done += int(collector.in_batch[env_idx])
            collector.in_batch[env_idx] = False
            self.undecided[env_idx] = True
        return incoming

    def _take(
        self, envs: np.ndarray, new_obs: Obs, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]]
    ) -> _Incoming:
        """One step of each env in ``envs``: the wrappers' view of it, and what the batch rule needs."""
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
        self.passed[envs] = self.clock[envs]
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
        """Write received steps into the buffer and into each env's segments, for the callbacks."""
        envs, clocks = incoming.envs, incoming.clocks
        self.collector.buffer.add_at(
            clocks, envs, incoming.obs, incoming.actions, incoming.rewards, incoming.episode_starts, incoming.dones,
            incoming.in_batch, incoming.truncated,
        )  # fmt: skip
        if envs[0] == envs[-1] and len(envs) > 1:  # a run: one env's consecutive steps
            self.segments[int(envs[0])].append(
                _Segment(
                    int(clocks[0]),
                    incoming.actions,
                    incoming.clipped,
                    incoming.rewards,
                    incoming.dones,
                    incoming.infos,
                    incoming.new_obs,
                )
            )
            return
        for k, env_idx in enumerate(envs.tolist()):  # single steps of different envs
            self.segments[env_idx].append(
                _Segment(
                    int(clocks[k]),
                    incoming.actions[k : k + 1],
                    incoming.clipped[k : k + 1],
                    incoming.rewards[k : k + 1],
                    incoming.dones[k : k + 1],
                    incoming.infos[k : k + 1],
                    _rows(incoming.new_obs, np.array([k])),
                )
            )

    def _emit(self) -> RolloutStep | None:
        """The next step of the envs' clocks, if every env has passed it."""
        from reinforce_sb3.rollout.collector import RolloutStep

        if not self._emit_pending():
            return None
        t = self.emitted
        assert self.clipped is not None  # set by the first steps received
        actions, clipped = np.zeros_like(self.actions), np.zeros_like(self.clipped)
        rewards = np.zeros(self.n_envs, dtype=np.float64)
        dones = np.zeros(self.n_envs, dtype=bool)
        active = np.zeros(self.n_envs, dtype=bool)
        infos: list[dict[str, Any]] = [{} for _ in range(self.n_envs)]
        emitted_obs = self.emitted_obs
        for env_idx, segments in enumerate(self.segments):
            if not segments or segments[0].start > t:
                continue
            segment = segments[0]
            k = t - segment.start
            active[env_idx] = True
            actions[env_idx], clipped[env_idx] = segment.actions[k], segment.clipped[k]
            rewards[env_idx], dones[env_idx], infos[env_idx] = segment.rewards[k], segment.dones[k], segment.infos[k]
            if isinstance(emitted_obs, dict):
                assert isinstance(segment.new_obs, dict)  # for mypy: the same space
                for key, rows in emitted_obs.items():
                    rows[env_idx] = segment.new_obs[key][k]
            else:
                assert isinstance(segment.new_obs, np.ndarray)  # for mypy: the same space
                emitted_obs[env_idx] = segment.new_obs[k]
            if k == len(segment.rewards) - 1:
                segments.popleft()
        self.taken.pop(t)
        self.noise.pop(t, None)
        self.emitted += 1
        return RolloutStep(
            actions, clipped, _copy(self.emitted_obs), rewards, dones, infos, active, int(np.count_nonzero(active))
        )

    def run(self, budget: Callable[[], int | None]) -> Generator[RolloutStep, None, None]:
        """
        Fill the batch, yielding each step of the envs' clocks once every env has passed it; stops when the
        batch is complete and every step has been yielded, or when ``budget()`` (the steps left) is 0.
        Steps still in flight when the caller stops are received and kept for the next call.
        """
        incoming: list[_Incoming] | None = None
        try:
            while True:
                left = budget()
                ready = self._ready(left)
                if len(ready):  # first, so that the workers wait as little as possible
                    self._act(ready, left)
                if incoming is not None:
                    for steps in incoming:
                        self._record(steps)
                    incoming = None
                step = self._emit()
                while step is not None:
                    yield step
                    left = budget()
                    if left is not None and left <= 0:
                        return
                    step = self._emit()
                if self.collector.complete and not any(self.segments) and not self.flying.any():
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
                for steps in incoming:
                    self._record(steps)
            self._drain()

    def _emit_pending(self) -> bool:
        """Whether every env has passed the next step to hand on (the paused ones wait for the next batch)."""
        running = self.clock[~self.paused]
        return any(segments and segments[0].start <= self.emitted for segments in self.segments) and (
            not len(running) or self.emitted < running.min()
        )

    def _drain(self) -> None:
        """Receive the steps in flight (they stay in the batch, for the callbacks of the next call)."""
        self.base.halt(True)  # runs stop before their next step
        try:
            while self.flying.any():
                for steps in self._receive():
                    self._record(steps)
        except WorkerError:
            self.flying[:] = False
        finally:
            self.base.halt(False)
