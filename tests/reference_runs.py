"""Training runs with fixed seeds whose final parameters are recorded in ``tests/data/reference_parameters.npz``.

They cover every path from rollout to update: the numpy actor and torch sampling, Discrete, Box and
Dict spaces, each baseline and loss reduction, whole-episode returns, paused DummyVecEnvs,
PausableSubprocVecEnv and a VecEnv that cannot pause, and a batch carried over two ``learn`` calls.
``tests/test_reference_runs.py`` trains them again and compares every parameter bit for bit, so that a
change meant to keep behaviour (a refactoring) proves it does. Record again, only when a change is
*meant* to alter what is learned, with::

    python -m tests.reference_runs
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv
from torch import nn

from reinforce_sb3 import REINFORCE, PausableSubprocVecEnv

PATH = pathlib.Path(__file__).parent / "data" / "reference_parameters.npz"


def _model(env: Any, **kwargs: Any) -> REINFORCE:
    policy_kwargs = {"net_arch": [16], **kwargs.pop("policy_kwargs", {})}
    policy = kwargs.pop("policy", "MlpPolicy")
    return REINFORCE(policy, env, seed=0, device="cpu", policy_kwargs=policy_kwargs, **kwargs)


def defaults_pgtoy() -> REINFORCE:
    return _model("PGToy-v0").learn(1_500)


def cartpole_loo_dummy() -> REINFORCE:
    env = make_vec_env("CartPole-v1", n_envs=3, seed=1)
    model = _model(env, n_episodes=5, baseline="leave_one_out", normalize_returns=False, loss_reduction="episodes")
    return model.learn(2_000)


def continuous_value_baseline() -> REINFORCE:
    env = make_vec_env("PGToy-v0", n_envs=2, seed=2, env_kwargs={"continuous": True})
    model = _model(env, n_episodes=4, baseline="value", ent_coef=0.01, max_grad_norm=0.5, gamma=0.9)
    return model.learn(1_500)


def whole_episode_mean_baseline_torch_sampler() -> REINFORCE:
    # GELU has no numpy copy: actions are sampled in torch
    policy_kwargs = {"activation_fn": nn.GELU}
    model = _model("SlipperyHill-v0", reward_to_go=False, baseline="mean", policy_kwargs=policy_kwargs, n_episodes=3)
    return model.learn(1_500)


def multi_discrete_sb3_sampler_and_schedule() -> REINFORCE:
    # a lambda learning rate, MultiInputPolicy on Dict observations: the torch path
    from tests.envs import DictObsEnv

    model = _model(DictObsEnv(), policy="MultiInputPolicy", learning_rate=lambda p: 0.01 * p, n_episodes=2)
    return model.learn(800)


def _two_subprocesses(vec_env_cls: type, seed: int) -> REINFORCE:
    env = make_vec_env("CartPole-v1", n_envs=2, seed=seed, vec_env_cls=vec_env_cls)
    try:
        return _model(env, n_episodes=3).learn(1_200)
    finally:
        env.close()


def pausable_subproc() -> REINFORCE:
    return _two_subprocesses(PausableSubprocVecEnv, seed=3)


def lockstep_subproc() -> REINFORCE:
    return _two_subprocesses(SubprocVecEnv, seed=4)


def batch_across_learn_calls() -> REINFORCE:
    env = make_vec_env("CartPole-v1", n_envs=2, seed=5)
    model = _model(env, n_episodes=4, learning_rate=0.01)
    model.learn(700)
    return model.learn(700, reset_num_timesteps=False)


RUNS: dict[str, Callable[[], REINFORCE]] = {
    run.__name__: run
    for run in (
        defaults_pgtoy,
        cartpole_loo_dummy,
        continuous_value_baseline,
        whole_episode_mean_baseline_torch_sampler,
        multi_discrete_sb3_sampler_and_schedule,
        pausable_subproc,
        lockstep_subproc,
        batch_across_learn_calls,
    )
}


def parameters(model: REINFORCE) -> dict[str, np.ndarray]:
    """Every parameter of the policy, and the step count, as numpy arrays."""
    values = {name: p.detach().cpu().numpy().copy() for name, p in model.policy.named_parameters()}
    values["num_timesteps"] = np.array(model.num_timesteps)
    values["n_updates"] = np.array(model._n_updates)
    return values


def record() -> None:
    arrays = {}
    for name, run in RUNS.items():
        with th.random.fork_rng(devices=[]):
            for key, value in parameters(run()).items():
                arrays[f"{name}/{key}"] = value
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **arrays)
    print(f"recorded {len(RUNS)} runs, {len(arrays)} arrays in {PATH}")


if __name__ == "__main__":
    record()
