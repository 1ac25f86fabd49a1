"""Peers of REINFORCE for :mod:`benchmarks.time_to_solve`, judged by the same protocol (``cartpole_zoo.SolveJudge``).

``pytorch_example``: the REINFORCE of PyTorch's examples repository
(``reinforcement_learning/reinforce.py``), re-implemented from its published algorithm: a policy
``Linear(4, 128) -> Dropout(0.6) -> ReLU -> Linear(128, 2) -> softmax``, Adam with learning
rate 1e-2, gamma 0.99, one episode per update, the episode's discounted returns-to-go
standardised (``(G - mean) / (std + eps)``), loss ``sum(-log pi(a_t|s_t) G_t)``. Like the example it
never leaves training mode, so dropout is active whenever it acts, during evaluations too (its
policy is the network with dropout). It runs on one CartPole-v1 env seeded with the run's seed.

``tianshou``: Tianshou's ``Reinforce`` with the settings of Tianshou's own test
(:mod:`benchmarks.tianshou_peer`). Tianshou would downgrade packages of the project's ``.venv``, so
it runs in a subprocess with the Python of ``.venv-peers`` (``make peers`` creates it), which
prints its row.
"""

from __future__ import annotations

import functools
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from torch import nn

from benchmarks.cartpole_zoo import ENV_ID, SolveJudge
from benchmarks.common import TORCH_THREADS

ROOT = Path(__file__).resolve().parents[1]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"  # the environment of the peers that need their own
PYTORCH_EXAMPLE = {"hidden": 128, "dropout": 0.6, "learning_rate": 1e-2, "gamma": 0.99, "episodes_per_update": 1}


class PyTorchExamplePolicy(nn.Module):
    """The policy network of PyTorch's example: one hidden layer of 128 units with dropout 0.6."""

    def __init__(self, hidden: int = 128, dropout: float = 0.6) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, hidden), nn.Dropout(p=dropout), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, obs: th.Tensor) -> th.Tensor:
        """Action probabilities."""
        return th.softmax(self.net(obs), dim=-1)

    def predict(self, observation: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, None]:
        """SB3's ``predict`` for a batch of observations (what the evaluation calls)."""
        with th.no_grad():
            probs = self(th.as_tensor(observation, dtype=th.float32))
        actions = probs.argmax(-1) if deterministic else th.distributions.Categorical(probs).sample()
        return actions.numpy(), None

    def get_vec_normalize_env(self) -> None:
        """No observation normalisation."""
        return None


def pytorch_example(seed: int, judge: SolveJudge, max_steps: int) -> dict[str, Any]:
    """
    Train PyTorch's example REINFORCE until ``judge`` says CartPole is solved or ``max_steps`` are taken.

    :return: the run's settings, for the benchmark's rows
    """
    th.manual_seed(seed)
    policy = PyTorchExamplePolicy(PYTORCH_EXAMPLE["hidden"], PYTORCH_EXAMPLE["dropout"])
    optimizer = th.optim.Adam(policy.parameters(), lr=PYTORCH_EXAMPLE["learning_rate"])
    gamma, eps = PYTORCH_EXAMPLE["gamma"], np.finfo(np.float32).eps.item()
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=seed)
    steps, going = 0, True
    judge.start()
    while going:
        log_probs, rewards, done = [], [], False
        while not done and going:  # one episode
            distribution = th.distributions.Categorical(policy(th.as_tensor(obs, dtype=th.float32)))
            action = distribution.sample()
            log_probs.append(distribution.log_prob(action))
            obs, reward, terminated, truncated, _ = env.step(int(action))
            rewards.append(float(reward))
            steps += 1
            done = terminated or truncated
            going = judge.keep_training(policy, steps)
        if not done:  # stopped mid-episode: no update from a part of an episode
            break
        returns, running = [], 0.0
        for reward in reversed(rewards):
            running = reward + gamma * running
            returns.insert(0, running)
        weights = th.tensor(returns)
        weights = (weights - weights.mean()) / (weights.std() + eps)
        loss = -(th.stack(log_probs) * weights).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        obs, _ = env.reset()
    env.close()
    return {"hyperparams": "published: " + ", ".join(f"{k} {v}" for k, v in PYTORCH_EXAMPLE.items()), "n_envs": 1}


def judged_run(
    name: str,
    train: Callable[[int, SolveJudge, int], dict[str, Any]],
    seed: int,
    eval_freq: int,
    deterministic: bool,
    max_steps: int,
) -> dict[str, Any]:
    """
    Train with ``train(seed, judge, max_steps)`` (which returns the run's settings) under :class:`SolveJudge`.

    :return: the run's row: the same keys as ``time_to_solve.run``'s rows
    """
    judge = SolveJudge(eval_freq, max_steps, seed, deterministic)
    start = time.perf_counter()
    try:
        settings = train(seed, judge, max_steps)
    finally:
        judge.finish()
    solved = judge.solved_at is not None
    steps_run = judge.evaluations[-1][0] if judge.evaluations else 0
    return {
        "algo": name,
        "seed": seed,
        "env": ENV_ID,
        **settings,
        "budget": max_steps,
        "eval_freq": eval_freq,
        "deterministic": deterministic,
        "solved": solved,
        "steps": judge.solved_at,
        "seconds": judge.train_seconds if solved else None,
        "steps_run": steps_run,
        "train_seconds": judge.train_seconds,
        "eval_seconds": judge.eval_seconds,
        "wall_seconds": time.perf_counter() - start,
        "evaluations": judge.evaluations,
    }


def check_environments(names: list[str]) -> None:
    """Raise RuntimeError if a peer among ``names`` needs ``.venv-peers`` and it is missing (before any run starts)."""
    if "tianshou" in names and not PEERS_PYTHON.exists():
        raise RuntimeError('tianshou needs its own environment: run "make peers" first')


def tianshou(seed: int, eval_freq: int, deterministic: bool, max_steps: int) -> dict[str, Any]:
    """
    Run :mod:`benchmarks.tianshou_peer` with the Python of ``.venv-peers`` and return the row it prints.

    Its ``wall_seconds`` leave out the start of that Python (imports included).

    :raise RuntimeError: if ``.venv-peers`` is missing, or the run fails (its traceback is on stderr)
    """
    check_environments(["tianshou"])
    command = [str(PEERS_PYTHON), "-m", "benchmarks.tianshou_peer", "--seed", str(seed), "--eval-freq", str(eval_freq)]
    command += ["--max-steps", str(max_steps), "--threads", str(TORCH_THREADS)]
    if deterministic:
        command.append("--deterministic")
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"the tianshou peer failed with exit status {result.returncode} (its error is on stderr)")
    row: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    row["evaluations"] = [tuple(evaluation) for evaluation in row["evaluations"]]  # as in-process rows have them
    return row


# name -> (seed, eval_freq, deterministic, max_steps) -> the run's row
PEERS: dict[str, Callable[[int, int, bool, int], dict[str, Any]]] = {
    "pytorch_example": functools.partial(judged_run, "pytorch_example", pytorch_example),
    "tianshou": tianshou,
}


def run_peer(name: str, seed: int, eval_freq: int, deterministic: bool, max_steps: int) -> dict[str, Any]:
    """One run of peer ``name`` judged by :class:`SolveJudge`, on :data:`TORCH_THREADS` torch threads (then reset)."""
    if name not in PEERS:
        raise ValueError(f"peer must be one of {', '.join(PEERS)}, got {name!r}")
    threads = th.get_num_threads()
    th.set_num_threads(TORCH_THREADS)
    try:
        return PEERS[name](seed, eval_freq, deterministic, max_steps)
    finally:
        th.set_num_threads(threads)
