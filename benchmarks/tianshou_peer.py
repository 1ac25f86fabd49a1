"""Tianshou's REINFORCE on CartPole-v1 under the time-to-solve judge, a peer of :mod:`benchmarks.time_to_solve`.

Tianshou 2.0.1 would downgrade packages of the project's ``.venv``, so it lives in ``.venv-peers``
(``make peers``) and this module runs with that environment's Python; :mod:`benchmarks.peers`
starts it in a subprocess and reads the row it prints (the keys of ``peers.run_peer``'s rows) as
one line of JSON on stdout:

    .venv-peers/bin/python -m benchmarks.tianshou_peer --seed 0 --eval-freq 2000 --max-steps 100000

The settings are those of Tianshou's own REINFORCE test, ``test/discrete/test_reinforce.py`` at
v2.0.1: ``Net`` with hidden layers (64, 64), ReLU and a softmax output, orthogonal weights (gain
sqrt 2) and zero biases, a ``ProbabilisticActorPolicy`` with a categorical distribution,
``Reinforce`` with gamma 0.95 and return standardisation (running mean and std of the returns),
Adam with learning rate 1e-3, 8 training envs (``DummyVectorEnv``, seeded seed .. seed + 7),
8 episodes collected per update, and each update 2 passes over the collected episodes in shuffled
mini-batches of 64 steps. The loop is that of Tianshou's ``OnPolicyTrainer`` training step
(collect, ``algorithm.update`` on the buffer, reset the buffer; it gives the trainer's training
returns exactly) without the trainer's test phases and the test's stop at a mean return of 195:
the judge (:class:`benchmarks.cartpole_zoo.SolveJudge`) takes their place. The collector's step
hook calls it after every vectorised step (8 env steps, fewer near the end of a collection, whose
envs stop after their episode), so an evaluation falls on the first step count at or past each
multiple of ``eval_freq``, and training stops there, mid-collection, once solved or at ``max_steps``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from tianshou.algorithm import Reinforce
from tianshou.algorithm.modelfree.reinforce import ProbabilisticActorPolicy
from tianshou.algorithm.optim import AdamOptimizerFactory
from tianshou.data import Batch, Collector, CollectStats, VectorReplayBuffer
from tianshou.env import DummyVectorEnv
from tianshou.utils.net.common import Net
from tianshou.utils.torch_utils import policy_within_training_step

from benchmarks.cartpole_zoo import ENV_ID, SolveJudge
from benchmarks.peers import judged_run

# test/discrete/test_reinforce.py's defaults (tianshou v2.0.1)
TIANSHOU_TEST: dict[str, Any] = {
    "hidden_sizes": (64, 64),
    "learning_rate": 1e-3,
    "gamma": 0.95,
    "return_standardization": True,
    "n_envs": 8,
    "episodes_per_update": 8,
    "passes_per_update": 2,
    "batch_size": 64,
    "buffer_size": 20000,
}


class StopTrainingError(Exception):
    """Raised by the step hook when the judge stops training."""


class Learner:
    """A Tianshou policy as the judge sees a learner: SB3's ``predict`` and ``get_vec_normalize_env``."""

    def __init__(self, policy: ProbabilisticActorPolicy) -> None:
        self.policy = policy

    def predict(self, observation: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, None]:
        """Actions sampled from the policy's distribution, or its most likely ones."""
        with th.no_grad():
            result = self.policy(Batch(obs=observation, info=Batch()))
        actions = result.dist.mode if deterministic else result.act
        return actions.cpu().numpy(), None

    def get_vec_normalize_env(self) -> None:
        """No observation normalisation."""
        return None


def tianshou_reinforce(seed: int, judge: SolveJudge, max_steps: int) -> dict[str, Any]:
    """
    Train Tianshou's REINFORCE with its test's settings until ``judge`` says CartPole is solved or stops it.

    :param max_steps: the judge's step cap (it stops training there)
    :return: the run's settings, for the benchmark's rows
    """
    settings = TIANSHOU_TEST
    n_envs = settings["n_envs"]
    env = gym.make(ENV_ID)
    training_envs = DummyVectorEnv([lambda: gym.make(ENV_ID) for _ in range(n_envs)])
    # seeding, model and initialisation in the order of Tianshou's test
    np.random.seed(seed)
    th.manual_seed(seed)
    training_envs.seed(seed)
    net = Net(
        state_shape=env.observation_space.shape,
        action_shape=env.action_space.n,
        hidden_sizes=settings["hidden_sizes"],
        softmax=True,
    )
    policy = ProbabilisticActorPolicy(
        actor=net, dist_fn=th.distributions.Categorical, action_space=env.action_space, action_scaling=False
    )
    algorithm = Reinforce(
        policy=policy,
        optim=AdamOptimizerFactory(lr=settings["learning_rate"]),
        gamma=settings["gamma"],
        return_standardization=settings["return_standardization"],
    )
    for module in net.modules():
        if isinstance(module, th.nn.Linear):
            th.nn.init.orthogonal_(module.weight, gain=np.sqrt(2))
            th.nn.init.zeros_(module.bias)
    env.close()

    learner = Learner(policy)
    steps = 0

    def judge_step(_actions: Any, rollout: Any) -> None:
        """After each vectorised step of the collection: count its steps, ask the judge."""
        nonlocal steps
        steps += len(rollout)
        if not judge.keep_training(learner, steps):
            raise StopTrainingError

    buffer = VectorReplayBuffer(settings["buffer_size"], n_envs)
    collector = Collector[CollectStats](algorithm, training_envs, buffer, on_step_hook=judge_step)
    collector.reset(reset_buffer=False)  # as the trainer does before training
    judge.start()
    try:
        while True:  # the on-policy trainer's training step
            with policy_within_training_step(policy):
                collector.collect(n_episode=settings["episodes_per_update"])
                algorithm.update(collector.buffer, settings["batch_size"], repeat=settings["passes_per_update"])
                collector.reset_buffer(keep_statistics=True)
    except StopTrainingError:
        pass
    finally:
        training_envs.close()
    described = ", ".join(f"{key} {value}" for key, value in settings.items() if key != "n_envs")
    return {"hyperparams": f"tianshou test_reinforce.py: {described}", "n_envs": n_envs}


def main(argv: list[str] | None = None) -> None:
    """Run one seed and print its row as JSON."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--seed", type=int, default=0, help="training seed")
    cli.add_argument("--eval-freq", type=int, default=2000, help="environment steps between evaluations")
    cli.add_argument("--max-steps", type=int, default=100_000, help="step cap")
    cli.add_argument("--deterministic", action="store_true", help="evaluate greedy actions (default: sampled)")
    cli.add_argument("--threads", type=int, default=1, help="torch threads")
    args = cli.parse_args(argv)
    th.set_num_threads(args.threads)
    row = judged_run("tianshou", tianshou_reinforce, args.seed, args.eval_freq, args.deterministic, args.max_steps)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
