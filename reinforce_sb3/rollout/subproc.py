"""A VecEnv of worker processes that steps any of its envs at any time: shared-memory buffers, a pipe per worker."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import select
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from multiprocessing.shared_memory import SharedMemory
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import (
    CloudpickleWrapper,
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)
from stable_baselines3.common.vec_env.patch_gym import _patch_env
from stable_baselines3.common.vec_env.util import dict_to_obs, obs_space_info

from gym_pgtoy.validation import check_integer
from reinforce_sb3.rollout.numpy_actor import EnvActions, NumpyActor

Layout = dict[str, tuple[int, tuple[int, ...], str]]
"""Where each array lives in the shared block: name -> (byte offset, shape, dtype)."""


def _layout(observation_space: spaces.Space[Any], action_space: spaces.Space[Any], n_envs: int) -> tuple[Layout, int]:
    """The shared arrays (one row per env: each observation key, the action, the reward, done, halt) and the
    block's size."""
    keys, shapes, dtypes = obs_space_info(observation_space)
    arrays = [(f"obs:{key}", shapes[key], np.dtype(dtypes[key])) for key in keys]
    action_dtype = np.dtype(action_space.dtype if action_space.dtype is not None else np.float32)
    arrays += [
        ("actions", action_space.shape or (), action_dtype),
        ("rewards", (), np.dtype(np.float64)),
        ("dones", (), np.dtype(bool)),
        ("halt", (), np.dtype(bool)),  # set by the main process: the env's run stops before its next step
        ("notify", (), np.dtype(np.int64)),  # set by the main process: report when the run has taken this many steps
    ]
    layout: Layout = {}
    offset = 0
    for name, shape, dtype in arrays:
        layout[name] = (offset, (n_envs, *shape), dtype.str)
        offset += -(-int(np.prod((n_envs, *shape))) * dtype.itemsize // 64) * 64  # rows of each array 64-byte aligned
    return layout, max(offset, 1)


def _views(block: SharedMemory, layout: Layout) -> dict[str, np.ndarray]:
    return {
        name: np.ndarray(shape, dtype=np.dtype(dtype), buffer=block.buf, offset=offset)
        for name, (offset, shape, dtype) in layout.items()
    }


def _attach(name: str) -> SharedMemory:
    """The parent's block, attached in a worker (which shares the parent's resource tracker, started before it)."""
    return SharedMemory(name=name)  # registered again with the parent's resource tracker: a set, so no double


def _write_obs(views: dict[str, np.ndarray], keys: list[str | None], env_idx: int, obs: Any) -> None:
    for key in keys:
        views[f"obs:{key}"][env_idx] = obs if key is None else obs[key]


def _step(env: gym.Env, views: dict[str, np.ndarray], env_idx: int) -> tuple[Any, float, bool, dict[str, Any], Any]:
    """One step of ``env`` with its action in the shared block, as SB3's SubprocVecEnv steps it (reset at the end
    of an episode): the next observation, the reward, done, the info and the reset info (None if not done)."""
    action = views["actions"][env_idx]  # a numpy scalar, or a row of the shared block
    obs, reward, terminated, truncated, info = env.step(action.copy() if isinstance(action, np.ndarray) else action)
    done = terminated or truncated
    info["TimeLimit.truncated"] = truncated and not terminated
    reset_info = None
    if done:
        info["terminal_observation"] = obs
        obs, reset_info = env.reset()
    return obs, float(reward), bool(done), info, reset_info


class Actor(NamedTuple):
    """What a worker needs to choose its envs' actions itself during a batch: the policy's numpy copy, the
    actions the envs receive from the sampled ones, and the number of envs (the rows the main process
    computes the actions on: a worker computes them on as many, so that each row is the same to the bit)."""

    actor: NumpyActor
    env_actions: EnvActions
    n_envs: int


class Run(NamedTuple):
    """The steps an env took on its own (:meth:`PausableSubprocVecEnv.run`), in order: for each, the action
    drawn, the action the env received, the observation after it, the reward, done and the info; and the
    reset info if the last step ended the episode."""

    env: int
    actions: np.ndarray
    clipped: np.ndarray
    new_obs: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    infos: list[dict[str, Any]]
    reset_info: dict[str, Any] | None


def _run(
    envs: list[gym.Env],
    views: dict[str, np.ndarray],
    env_indices: list[int],
    acting: Actor,
    noises: list[np.ndarray],
    remote: Connection,
) -> list[Run]:
    """Step ``envs`` (the envs ``env_indices`` of the VecEnv) together, with actions drawn from ``acting``'s policy
    (one forward pass for all of them at each step), one row of its ``noises`` per step for each; an env stops when
    its episode ends, its noise is used up, the main process sets its halt flag, or its observation is not finite
    (then no action is chosen on it: the main process refuses it). Returns when every one of them has stopped.
    Meanwhile, an env that has taken the number of steps in its notify flag without ending its episode says so
    on ``remote`` (``("progress", (env, steps))``): the main process may be waiting for that to settle the batch."""
    obs_rows = views["obs:None"]
    rows = np.zeros((acting.n_envs, *obs_rows.shape[1:]), dtype=obs_rows.dtype)  # the other envs' rows stay 0
    noise_rows = np.zeros((acting.n_envs, *noises[0].shape[1:]), dtype=noises[0].dtype)
    float_obs = np.issubdtype(obs_rows.dtype, np.floating)
    new_obs = [np.zeros((len(noise), *obs_rows.shape[1:]), dtype=obs_rows.dtype) for noise in noises]
    steps: list[list[tuple[Any, Any, float, bool, dict[str, Any]]]] = [[] for _ in envs]
    reset_infos: list[dict[str, Any] | None] = [None] * len(envs)
    reported = [0] * len(envs)
    running = list(range(len(envs)))
    for k in range(max(len(noise) for noise in noises)):
        running = [
            i for i in running
            if k < len(noises[i]) and not views["halt"][env_indices[i]]
            and not (float_obs and not np.isfinite(obs_rows[env_indices[i]]).all())
        ]  # fmt: skip
        if not running:
            break
        acting_on = [env_indices[i] for i in running]
        rows[acting_on] = obs_rows[acting_on]
        for i in running:
            noise_rows[env_indices[i]] = noises[i][k]
        actions = acting.actor.sampler.from_noise(acting.actor.action_parameters(rows), noise_rows)
        clipped = acting.env_actions(actions)
        views["actions"][acting_on] = clipped[acting_on]
        ended = []
        for i in running:
            env_idx = env_indices[i]
            obs, reward, done, info, reset_infos[i] = _step(envs[i], views, env_idx)
            obs_rows[env_idx] = new_obs[i][k] = obs
            steps[i].append((actions[env_idx], clipped[env_idx], reward, done, info))
            if done:
                ended.append(i)
            elif reported[i] != (wanted := int(views["notify"][env_idx])) and 0 < wanted <= k + 1:
                remote.send(("progress", (env_idx, k + 1)))
                reported[i] = wanted
        running = [i for i in running if i not in ended]
    runs = []
    for i, env_idx in enumerate(env_indices):
        taken = steps[i]
        actions_taken, clipped_taken, rewards, dones, infos = zip(*taken, strict=True) if taken else ((),) * 5
        runs.append(
            Run(
                env_idx,
                np.array(actions_taken),
                np.array(clipped_taken),
                new_obs[i][: len(taken)],
                np.array(rewards, dtype=np.float64),
                np.array(dones, dtype=bool),
                list(infos),
                reset_infos[i],
            )
        )
    return runs


def _worker(  # one branch per command, as SB3's _worker
    remote: Connection, parent_remote: Connection, env_fns: CloudpickleWrapper, first: int
) -> None:
    """Runs the envs ``first, first + 1, ...`` of the VecEnv: SB3's commands, plus ``step`` of a list of them,
    ``actor`` (the policy of the batch) and ``run`` (an env steps on its own with that policy)."""
    from stable_baselines3.common.env_util import is_wrapped

    parent_remote.close()
    envs: list[gym.Env] = []
    block: SharedMemory | None = None
    views: dict[str, np.ndarray] = {}
    keys: list[str | None] = []
    acting: Actor | None = None
    command, local = "make", 0
    try:
        envs = [_patch_env(env_fn()) for env_fn in env_fns.var]
        while True:
            try:
                command, data = remote.recv()
            except (EOFError, KeyboardInterrupt):
                break
            if command == "step":
                infos, stepped = [], []
                reset_infos: dict[int, dict[str, Any]] = {}
                for local in data:
                    env_idx = first + local
                    obs, reward, done, info, reset_info = _step(envs[local], views, env_idx)
                    if reset_info is not None:
                        reset_infos[env_idx] = reset_info
                    _write_obs(views, keys, env_idx, obs)
                    views["rewards"][env_idx] = reward
                    views["dones"][env_idx] = done
                    infos.append(info)
                    stepped.append(env_idx)
                remote.send(("stepped", (stepped, infos, reset_infos)))
            elif command == "run":
                command = "step"  # what an error names: the envs' own steps
                assert acting is not None, "an actor is sent before any run"
                locals_, noises = data
                indices = [first + local for local in locals_]
                remote.send(("ran", _run([envs[local] for local in locals_], views, indices, acting, noises, remote)))
            elif command == "actor":  # no reply: the runs that follow use it
                if acting is None:  # a worker per core: its numpy copy of the policy on one BLAS thread
                    from threadpoolctl import threadpool_limits

                    threadpool_limits(limits=1, user_api="blas")
                acting = data.var
            elif command == "reset":
                first_infos = []
                for local, seed, options in data:
                    obs, reset_info = envs[local].reset(seed=seed, **({"options": options} if options else {}))
                    _write_obs(views, keys, first + local, obs)
                    first_infos.append(reset_info)
                remote.send(("done", first_infos))
            elif command == "attach":
                name, layout, keys = data
                block = _attach(name)
                views = _views(block, layout)
                remote.send(("done", None))
            elif command == "close":
                break
            else:  # one env's attribute or method
                local, payload = data
                env = envs[local]
                if command == "get_spaces":
                    result: Any = (env.observation_space, env.action_space)
                elif command == "render":
                    result = env.render()
                elif command == "env_method":
                    result = env.get_wrapper_attr(payload[0])(*payload[1], **payload[2])
                elif command == "get_attr":
                    result = env.get_wrapper_attr(payload)
                elif command == "has_attr":
                    try:
                        env.get_wrapper_attr(payload)
                        result = True
                    except AttributeError:
                        result = False
                elif command == "set_attr":
                    result = setattr(env, payload[0], payload[1])  # type: ignore[func-returns-value]
                elif command == "is_wrapped":
                    result = is_wrapped(env, payload)
                else:
                    raise NotImplementedError(f"`{command}` is not implemented in the worker")
                remote.send(("done", result))
    except Exception as error:  # the env (or its maker) raised: tell the main process which env, then stop
        with contextlib.suppress(BrokenPipeError, OSError):
            remote.send(("error", (first + local, command, f"{type(error).__name__}: {error}", traceback.format_exc())))
    finally:
        for env in envs:
            env.close()
        views.clear()  # the arrays must go before the block can close
        if block is not None:
            block.close()
        remote.close()


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the platform has one, else every core)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class WorkerError(RuntimeError):
    """An env raised in its worker process, or a worker process died; the message names the env."""


class StepResult(NamedTuple):
    """The results of the envs that finished a step: their indices, and one row (or item) of each for each of
    them, in that order."""

    envs: np.ndarray
    obs: VecEnvObs
    rewards: np.ndarray
    dones: np.ndarray
    infos: list[dict[str, Any]]
    runs: tuple[Run, ...] = ()
    """The runs that are done (:meth:`PausableSubprocVecEnv.run`), besides those steps."""
    progress: dict[int, int] = {}  # never mutated: recv gives a new dict
    """For envs whose run goes on: the most steps it is known to have taken without ending its episode
    (:meth:`PausableSubprocVecEnv.notify`)."""


class PausableSubprocVecEnv(VecEnv):
    """
    A VecEnv whose envs run in worker processes, like SB3's
    :class:`~stable_baselines3.common.vec_env.SubprocVecEnv`, that can step any of its envs at any
    time: :meth:`step_active` steps some of them together, and :meth:`send` and :meth:`recv` hand
    an env its next action as soon as its last step is in, while the other workers go on stepping.

    Use it wherever a ``SubprocVecEnv`` goes, for example
    ``make_vec_env("CartPole-v1", n_envs=8, vec_env_cls=PausableSubprocVecEnv)``: ``reset``,
    ``step``, ``env_method``, ``get_attr``, ``set_attr``, ``env_is_wrapped``, ``render`` and
    ``close`` behave as SubprocVecEnv's (each env is reset in its worker at the end of an episode,
    with ``terminal_observation`` and ``TimeLimit.truncated`` in its info).

    What differs is the transport: observations, actions, rewards and dones go through one block of
    shared memory (numpy views on both sides); the pipe of each worker carries only the commands
    and the infos. A worker may run several envs (by default there is one worker per CPU core) and
    steps those it is sent in order, one message for all of them.

    REINFORCE acts while the workers step (:class:`~reinforce_sb3.rollout.overlap.OverlappedRollout`):
    with :meth:`set_actor` and :meth:`run`, the workers choose the actions of their envs themselves
    during a batch, from a numpy copy of the policy; its batches are those of a DummyVecEnv, bit for
    bit, however the workers are timed. A worker given such a copy runs numpy's BLAS on one thread
    from then on (a worker per core; as torch's DataLoader workers run torch on one).

    :param env_fns: Functions that each make one env
    :param start_method: The ``multiprocessing`` start method of the workers: ``"fork"``,
        ``"forkserver"`` or ``"spawn"`` (default: ``"forkserver"`` where available, else ``"spawn"``)
    :param n_workers: The number of worker processes; the envs are shared out in order, as evenly
        as possible (default: one per CPU core this process may use, at most one per env; SB3's
        SubprocVecEnv has one per env, which costs more messages than a cheap env's step is worth)
    """

    def __init__(
        self, env_fns: list[Callable[[], gym.Env]], start_method: str | None = None, n_workers: int | None = None
    ) -> None:
        n_envs = len(env_fns)
        if n_envs == 0:
            raise ValueError("env_fns: expected at least one function that makes an env, got none")
        if n_workers is None:
            n_workers = min(n_envs, available_cores())
        else:
            n_workers = check_integer("n_workers", n_workers, high=n_envs)
        if start_method is None:
            start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        context = mp.get_context(start_method)
        resource_tracker.ensure_running()  # the workers share it: the block is tracked once, and unlinked once
        self.waiting = False
        self.closed = False
        self._broken: str | None = None  # why a worker is gone, once a call has found it: every later call says it
        self._block: SharedMemory | None = None
        bounds = np.cumsum([0] + [len(part) for part in np.array_split(np.arange(n_envs), n_workers)])
        self._worker_of = np.repeat(np.arange(n_workers), np.diff(bounds))
        self._local = np.arange(n_envs) - bounds[self._worker_of]
        self._envs_of = [np.arange(bounds[w], bounds[w + 1]) for w in range(n_workers)]
        self._worker_list, self._local_list = self._worker_of.tolist(), self._local.tolist()
        self.remotes: list[Connection] = []
        self.processes: list[Any] = []
        for worker in range(n_workers):
            remote, work_remote = context.Pipe()
            fns = CloudpickleWrapper(env_fns[bounds[worker] : bounds[worker + 1]])
            # daemon=True: a crash of the main process ends the workers too
            process = context.Process(  # type: ignore[attr-defined]  # the context's Process
                target=_worker, args=(work_remote, remote, fns, int(bounds[worker])), daemon=True
            )
            process.start()
            work_remote.close()
            self.remotes.append(remote)
            self.processes.append(process)
        self._in_flight: list[deque[list[int]]] = [deque() for _ in range(n_workers)]
        self._stepping = np.zeros(n_envs, dtype=bool)
        self._queued: deque[tuple[str, Any]] = deque()
        self._progress: dict[int, int] = {}
        try:
            observation_space, action_space = self._call(0, "get_spaces", None)
            super().__init__(n_envs, observation_space, action_space)
            self._keys, _, _ = obs_space_info(observation_space)
            layout, size = _layout(observation_space, action_space, n_envs)
            self._block = SharedMemory(create=True, size=size)
            self._shared = _views(self._block, layout)
            for worker in range(n_workers):
                self._command(worker, "attach", (self._block.name, layout, self._keys))
        except BaseException:
            self.close()
            raise
        self._obs = {key: np.zeros_like(self._shared[f"obs:{key}"]) for key in self._keys}
        self._poll = select.poll() if hasattr(select, "poll") else None
        self._fd_worker: dict[int, int] = {}
        if self._poll is not None:
            for worker, (remote, process) in enumerate(zip(self.remotes, self.processes, strict=True)):
                for handle in (remote.fileno(), process.sentinel):
                    self._poll.register(handle, select.POLLIN)
                    self._fd_worker[handle] = worker

    @property
    def n_workers(self) -> int:
        return len(self.remotes)

    # --- the workers' messages

    def _receive(self, worker: int) -> tuple[str, Any]:
        """The next message of ``worker``; a :class:`WorkerError` naming the env if it raised or died."""
        try:
            kind, data = self.remotes[worker].recv()
        except (EOFError, ConnectionResetError, OSError):
            self.processes[worker].join(timeout=5)
            code = self.processes[worker].exitcode
            envs = ", ".join(str(env) for env in self._envs_of[worker])
            self._broken = (
                f"the worker process of env(s) {envs} died (exit code {code}) without a reply; "
                "close() this VecEnv and make a new one"
            )
            raise WorkerError(self._broken) from None
        if kind == "error":  # the worker stops after sending it
            env_idx, command, message, remote_traceback = data
            self._broken = (
                f"env {env_idx} raised in its worker process during {command!r}: {message}; "
                "close() this VecEnv and make a new one"
            )
            raise WorkerError(f"{self._broken}. The worker's traceback:\n{remote_traceback}")
        return kind, data

    def _send(self, worker: int, message: tuple[str, Any]) -> None:
        """
        Send ``message`` to ``worker``. A :class:`WorkerError` naming the envs if it has died, or if a worker was
        found gone before (the other workers' replies to an earlier call may be unread: no later call could
        trust a reply); a ``RuntimeError`` once this VecEnv is closed.
        """
        if self.closed:
            raise RuntimeError(f"this {type(self).__name__} is closed: make a new one")
        if self._broken is not None:
            raise WorkerError(self._broken)
        try:
            self.remotes[worker].send(message)
        except (BrokenPipeError, ConnectionResetError):  # the worker is gone
            while True:  # its last messages, if any, then the reason (_receive raises at the pipe's end)
                self._receive(worker)

    def _command(self, worker: int, command: str, data: Any) -> Any:
        """Send a command to ``worker`` and return its reply (after any steps still in flight there)."""
        self._drain(worker)
        self._send(worker, (command, data))
        kind, reply = self._receive(worker)
        assert kind == "done", kind
        return reply

    def _call(self, env_idx: int, command: str, payload: Any) -> Any:
        return self._command(int(self._worker_of[env_idx]), command, (int(self._local[env_idx]), payload))

    def _drain(self, worker: int | None = None) -> None:
        """Wait for the steps in flight (in ``worker``, or all) and queue their results for :meth:`recv`."""
        for w in range(self.n_workers) if worker is None else (worker,):
            while self._in_flight[w]:
                self._take_message(w)

    def _take_message(self, worker: int) -> None:
        """The next message of ``worker``: a run's progress note, or the reply to its oldest command in flight
        (queued for :meth:`recv`)."""
        kind, data = self._receive(worker)
        if kind == "progress":
            self._progress[data[0]] = data[1]
            return
        self._queued.append((kind, data))
        self._in_flight[worker].popleft()

    # --- stepping

    def send(self, actions: np.ndarray, envs: np.ndarray) -> None:
        """
        Start one step of each env in ``envs`` (indices), with ``actions`` (one per env, in that
        order), and return at once: each worker steps its envs in the order they were sent.

        :param actions: one action per env in ``envs``
        :param envs: the envs to step
        :raises RuntimeError: an env in ``envs`` is already stepping (its result has not been received)
        """
        envs = np.asarray(envs, dtype=np.int64)
        if self._stepping[envs].any():
            raise RuntimeError(f"envs {envs[self._stepping[envs]].tolist()} are already stepping: recv() them first")
        self._shared["actions"][envs] = np.asarray(actions).reshape((len(envs), *self._shared["actions"].shape[1:]))
        self._stepping[envs] = True
        groups: dict[int, list[int]] = {}
        for env_idx in envs.tolist():
            groups.setdefault(self._worker_list[env_idx], []).append(env_idx)
        for worker, group in groups.items():
            self._send(worker, ("step", [self._local_list[env_idx] for env_idx in group]))
            self._in_flight[worker].append(group)

    @property
    def can_run(self) -> bool:
        """Whether :meth:`run` works here: the observations are one array (not a Dict)."""
        return self._keys == [None]

    def set_actor(self, actor: NumpyActor, env_actions: EnvActions) -> None:
        """The policy with which :meth:`run` chooses the actions from now on (sent to every worker at once)."""
        message = ("actor", CloudpickleWrapper(Actor(actor, env_actions, self.num_envs)))
        for worker in range(self.n_workers):
            self._send(worker, message)

    def run(self, envs: list[int], noises: list[np.ndarray]) -> None:
        """
        Start a run of each env in ``envs`` and return at once: their workers step them on their own,
        one row of its ``noises`` per step for each (as
        :meth:`~reinforce_sb3.rollout.numpy_actor.ActionSampler.noise` draws them), with actions
        chosen by the policy of the last :meth:`set_actor`, until its episode ends, its noise is used
        up, :meth:`halt` is set, or its observation is not finite (no action is chosen on it then).
        A worker steps its envs of the call together, one forward pass for all of them at each step,
        and reports when every one of them has stopped: :meth:`recv` gives their runs.

        :param envs: the envs
        :param noises: for each env, the random numbers of its steps, one row each
        :raises RuntimeError: an env is already stepping, or the observations are a Dict
        """
        if not self.can_run:
            raise RuntimeError(f"run() needs array observations, not {self.observation_space}")
        busy = [env_idx for env_idx in envs if self._stepping[env_idx]]
        if busy:
            raise RuntimeError(f"envs {busy} are already stepping: recv() them first")
        self._stepping[envs] = True
        self._shared["notify"][envs] = 0
        groups: dict[int, list[int]] = {}
        for env_idx in envs:
            groups.setdefault(self._worker_list[env_idx], []).append(env_idx)
        for worker, group in groups.items():
            chosen = [envs.index(env_idx) for env_idx in group]
            self._send(worker, ("run", ([self._local_list[e] for e in group], [noises[i] for i in chosen])))
            self._in_flight[worker].append(group)

    def notify(self, env_idx: int, steps: int) -> None:
        """Ask the worker of env ``env_idx`` to say, while its run goes on, when the run has taken ``steps`` steps
        without ending its episode (:meth:`recv` then gives it in ``progress``; 0: nothing to say)."""
        self._shared["notify"][env_idx] = steps

    def halt(self, halted: bool) -> None:
        """Stop every run before its next step (True), until this is called with False."""
        self._shared["halt"][:] = halted

    @property
    def stepping(self) -> np.ndarray:
        """Which envs have a step in flight (sent, not yet received); a copy."""
        stepping: np.ndarray = self._stepping.copy()
        return stepping

    def recv(self) -> StepResult:
        """
        The results of the steps that are done, waiting until at least one is: their envs, and
        for each of them (in that order) its observation, reward, done and info, as ``step``
        gives them (the arrays are copies); and the runs that are done (:meth:`run`).

        :raises RuntimeError: no step is in flight
        """
        if not self._queued and not self._progress:
            busy = [w for w in range(self.n_workers) if self._in_flight[w]]
            if not busy:
                raise RuntimeError("recv() with no step in flight: send() actions first")
            # a reply, or a worker that died (its sentinel): _receive raises then, naming its envs
            for worker in self._wait(busy):
                self._take_message(worker)
        progress, self._progress = self._progress, {}
        stepped: list[int] = []
        infos: list[dict[str, Any]] = []
        runs: list[Run] = []
        while self._queued:
            kind, data = self._queued.popleft()
            if kind == "ran":
                for run in data:
                    runs.append(run)
                    self._stepping[run.env] = False
                    for key in self._keys:
                        self._obs[key][run.env] = self._shared[f"obs:{key}"][run.env]
                    if run.reset_info is not None:
                        self.reset_infos = list(self.reset_infos)
                        self.reset_infos[run.env] = run.reset_info
                continue
            step_envs, step_infos, reset_infos = data
            stepped += step_envs
            infos += step_infos
            if reset_infos:  # the envs whose episode ended, reset in the worker
                self.reset_infos = list(self.reset_infos)
                for env_idx, reset_info in reset_infos.items():
                    self.reset_infos[env_idx] = reset_info
        envs = np.array(stepped, dtype=np.int64)
        self._stepping[envs] = False
        rows: dict[Any, np.ndarray] = {}
        for key in self._keys:
            rows[key] = self._obs[key][envs] = self._shared[f"obs:{key}"][envs]
        obs = rows[None] if self._keys == [None] else dict_to_obs(self.observation_space, rows)
        return StepResult(
            envs, obs, self._shared["rewards"][envs], self._shared["dones"][envs], infos, tuple(runs), progress
        )

    def _wait(self, workers: list[int]) -> list[int]:
        """The workers among ``workers`` with a message, or dead, waiting until there is one."""
        if self._poll is None:
            handles: dict[Any, int] = {self.remotes[w]: w for w in workers}
            handles.update({self.processes[w].sentinel: w for w in workers})
            return sorted({handles[ready] for ready in wait(list(handles))})
        while True:  # one poll object for the VecEnv's life: registering the pipes at every step costs more
            ready = set()
            for fd, _ in self._poll.poll():
                worker = self._fd_worker[fd]
                if worker not in workers and fd == self.processes[worker].sentinel:
                    self._receive(worker)  # a worker died with nothing to do: raises, naming its envs
                ready.add(worker)
            ready.intersection_update(workers)
            if ready:
                return sorted(ready)

    def _last_obs(self) -> VecEnvObs:
        return dict_to_obs(self.observation_space, {key: array.copy() for key, array in self._obs.items()})

    def step_active(self, actions: np.ndarray, active: np.ndarray) -> VecEnvStepReturn:
        """
        ``step(actions)`` for the envs where ``active`` is True, together; the others are not
        stepped, and report their last observation, reward 0, not done and an empty info dict.

        :param actions: One action per env (those of inactive envs are not used)
        :param active: Boolean mask, one entry per env: which envs to step
        :return: observations, rewards, dones and infos of all envs
        """
        if self.waiting or self._stepping.any():
            raise RuntimeError("step_active was called between step_async and step_wait (or send and recv)")
        envs = np.flatnonzero(active)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        dones = np.zeros(self.num_envs, dtype=bool)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if len(envs):
            self.send(np.asarray(actions)[envs], envs)
        while self._stepping.any():
            result = self.recv()
            rewards[result.envs] = result.rewards
            dones[result.envs] = result.dones
            for env_idx, info in zip(result.envs, result.infos, strict=True):
                infos[env_idx] = info
        return self._last_obs(), rewards, dones, infos

    def step_async(self, actions: np.ndarray) -> None:
        if self._stepping.any():
            raise RuntimeError("step_async was called while steps are in flight: recv() them first")
        self._actions = actions
        self.waiting = True

    def step_wait(self) -> VecEnvStepReturn:
        self.waiting = False
        return self.step_active(self._actions, np.ones(self.num_envs, dtype=bool))

    def reset(self) -> VecEnvObs:
        """Reset every env (with the seeds and options set by ``seed`` and ``set_options``); steps in flight are
        awaited and dropped (runs stopped before their next step)."""
        self.halt(True)
        self._drain()
        self.halt(False)
        self._queued.clear()
        self._progress.clear()
        self._stepping[:] = False
        self.waiting = False
        reset_infos: list[dict[str, Any]] = []
        for worker, envs in enumerate(self._envs_of):
            data = [(int(self._local[e]), self._seeds[e], self._options[e]) for e in envs]
            self._send(worker, ("reset", data))
        for worker in range(self.n_workers):
            reset_infos += self._receive(worker)[1]
        self.reset_infos = reset_infos
        for key in self._keys:
            self._obs[key][:] = self._shared[f"obs:{key}"]
        self._reset_seeds()
        self._reset_options()
        return self._last_obs()

    def close(self) -> None:
        """Stop the workers (those that do not stop within 5 s are terminated) and free the shared memory."""
        if self.closed:
            return
        self.closed = True
        for remote in self.remotes:
            with contextlib.suppress(BrokenPipeError, OSError):
                remote.send(("close", None))
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
        for remote in self.remotes:
            remote.close()
        if self._block is not None:
            self._shared = {}
            self._obs = {}
            self._block.close()
            self._block.unlink()
            self._block = None

    # --- SB3's VecEnv methods, one env at a time

    def get_images(self) -> Sequence[np.ndarray | None]:
        if self.render_mode != "rgb_array":
            warnings.warn(
                f"The render mode is {self.render_mode}, but this method assumes it is `rgb_array` to obtain images.",
                stacklevel=2,
            )
            return [None] * self.num_envs
        return [self._call(env_idx, "render", None) for env_idx in range(self.num_envs)]

    def has_attr(self, attr_name: str) -> bool:
        return all(self._call(env_idx, "has_attr", attr_name) for env_idx in range(self.num_envs))

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [self._call(env_idx, "get_attr", attr_name) for env_idx in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for env_idx in self._get_indices(indices):
            self._call(env_idx, "set_attr", (attr_name, value))

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        return [
            self._call(env_idx, "env_method", (method_name, method_args, method_kwargs))
            for env_idx in self._get_indices(indices)
        ]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [self._call(env_idx, "is_wrapped", wrapper_class) for env_idx in self._get_indices(indices)]
