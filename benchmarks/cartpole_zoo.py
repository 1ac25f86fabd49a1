"""CartPole-v1 as the zoo trains it and as the time-to-solve benchmark judges it.

:func:`make_model` builds the model as ``python -m rl_zoo3.train`` does, from the shipped
``reinforce_sb3/zoo/hyperparams/reinforce.yml`` for REINFORCE and the zoo's own files otherwise.
Solved means a mean return of at least 475 (CartPole-v1's ``reward_threshold``) over 100
episodes, one per env of Gymnasium's vectorised CartPole (500-step limit): :class:`SolveJudge`
evaluates every ``eval_freq`` training steps with :func:`evaluate` and stops training at the
first pass (:class:`SolveCallback` for SB3 models). Used by :mod:`benchmarks.time_to_solve`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import set_random_seed

from reinforce_sb3.zoo import HYPERPARAMS_FILE

ENV_ID = "CartPole-v1"
THRESHOLD = 475.0  # CartPole-v1's reward_threshold
EVAL_EPISODES = 100
EVAL_SEED_KEY = 475  # mixed into the evaluation seeds, so that they differ from the training seeds


class Predictor(Protocol):
    """What an evaluation needs of a learner: SB3's ``predict`` and ``get_vec_normalize_env``."""

    def predict(self, observation: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, Any]: ...

    def get_vec_normalize_env(self) -> Any: ...


def evaluate(model: Predictor, env: gym.vector.VectorEnv, seed: int, deterministic: bool) -> float:
    """
    Mean return of the first episode of every env of ``env``, played by ``model``.

    The envs reset with ``seed`` and sampled actions draw from a torch generator seeded with
    ``seed`` and forked from the global one, so an evaluation is reproducible and leaves the
    training's random stream untouched.

    :param model: the model; its ``VecNormalize`` statistics, if any, normalise the observations
    :param env: Gymnasium's vectorised CartPole, one episode per env
    :param seed: seed of the envs' initial states and of the action sampling
    :param deterministic: whether to play the most likely action instead of sampling
    :return: the mean return over the envs' first episodes
    """
    vec_normalize = model.get_vec_normalize_env()
    obs, _ = env.reset(seed=seed)
    returns = np.zeros(env.num_envs)
    running = np.ones(env.num_envs, dtype=bool)
    with th.random.fork_rng(devices=[]):
        th.manual_seed(seed)
        while running.any():
            if vec_normalize is not None:
                obs = vec_normalize.normalize_obs(obs)
            actions, _ = model.predict(obs, deterministic=deterministic)
            obs, rewards, terminated, truncated, _ = env.step(actions)
            # After its first episode an env autoresets and plays on: those steps do not count.
            returns += rewards * running
            running &= ~(terminated | truncated)
    return float(returns.mean())


class SolveJudge:
    """
    Evaluate a learner every ``eval_freq`` environment steps and say when CartPole is solved.

    Evaluations happen when the step count (summed over the training envs) first reaches a
    multiple of ``eval_freq``, and when it reaches ``max_steps``, where training stops. The
    training wall-clock time is counted from :meth:`start`, without the time spent in evaluations.
    Any learner can be judged: SB3 models through :class:`SolveCallback`, the peers of
    :mod:`benchmarks.peers` from their own loops.

    :param eval_freq: environment steps between evaluations
    :param max_steps: the step count at which training stops, solved or not
    :param seed: the training seed; an evaluation's seed is drawn from it and the step count, so the
        evaluation at a given step does not depend on ``eval_freq``
    :param deterministic: whether the evaluation plays the most likely actions
    """

    def __init__(self, eval_freq: int, max_steps: int, seed: int, deterministic: bool) -> None:
        self.eval_freq = eval_freq
        self.max_steps = max_steps
        self.seed = seed
        self.deterministic = deterministic
        self.eval_env = gym.make_vec(ENV_ID, num_envs=EVAL_EPISODES, vectorization_mode="vector_entry_point")
        if self.eval_env.unwrapped.max_episode_steps != 500:  # type: ignore[attr-defined]
            raise ValueError(f"the evaluation env must end episodes at 500 steps, not {self.eval_env.unwrapped}")
        self.next_eval = eval_freq
        self.evaluations: list[tuple[int, float]] = []
        self.solved_at: int | None = None
        self.train_seconds = 0.0
        self.eval_seconds = 0.0
        self.started = 0.0

    def start(self) -> None:
        """Training starts now."""
        self.started = time.perf_counter()

    def keep_training(self, learner: Predictor, steps: int) -> bool:
        """After ``steps`` training steps: evaluate if one is due; whether training should go on."""
        if steps < self.next_eval and steps < self.max_steps:
            return True
        while self.next_eval <= steps:
            self.next_eval += self.eval_freq
        evaluation_start = time.perf_counter()
        eval_seed = int(np.random.SeedSequence([EVAL_SEED_KEY, self.seed, steps]).generate_state(1)[0])
        mean = evaluate(learner, self.eval_env, eval_seed, self.deterministic)
        now = time.perf_counter()
        self.eval_seconds += now - evaluation_start
        self.train_seconds = now - self.started - self.eval_seconds
        self.evaluations.append((steps, mean))
        if mean >= THRESHOLD:
            self.solved_at = steps
            return False
        return steps < self.max_steps

    def finish(self) -> None:
        """Training has stopped: the training seconds of an unsolved run, and the evaluation env closed."""
        if self.solved_at is None:
            self.train_seconds = time.perf_counter() - self.started - self.eval_seconds
        self.eval_env.close()


class SolveCallback(BaseCallback):
    """:class:`SolveJudge` as an SB3 callback: it stops ``learn()`` once CartPole is solved (same parameters)."""

    def __init__(self, eval_freq: int, max_steps: int, seed: int, deterministic: bool) -> None:
        super().__init__()
        self.judge = SolveJudge(eval_freq, max_steps, seed, deterministic)

    def _on_training_start(self) -> None:
        self.judge.start()

    def _on_step(self) -> bool:
        return self.judge.keep_training(self.model, self.num_timesteps)

    def _on_training_end(self) -> None:
        self.judge.finish()


def make_model(
    algo: str,
    seed: int,
    log_folder: str,
    conf_file: Path | None = None,
    env_id: str = ENV_ID,
    hyperparams: dict[str, Any] | None = None,
) -> tuple[BaseAlgorithm, int, str]:
    """
    The model as ``python -m rl_zoo3.train --algo ALGO --env ENV_ID --seed SEED`` builds it.

    The zoo's ``ExperimentManager`` reads the hyperparameters (the shipped ``reinforce.yml`` for
    REINFORCE, the zoo's own file otherwise), converts them (schedules, policy_kwargs, n_envs,
    normalize) and creates the envs and the model, on the CPU, without its evaluation callback,
    with its console output silenced; its logs go to ``log_folder``.

    :param algo: "reinforce", "a2c", "ppo" or another zoo algorithm
    :param seed: the training seed (the zoo seeds its envs with seed .. seed + n_envs - 1)
    :param log_folder: where the zoo writes its config and monitor files
    :param conf_file: REINFORCE's hyperparameter file (default: the shipped one); other algorithms use the zoo's
    :param env_id: the task (default CartPole-v1; :mod:`benchmarks.mujoco_speed` builds the MuJoCo entries)
    :param hyperparams: values that replace the file's (the zoo's ``--hyperparams``)
    :return: the model, the yml's ``n_timesteps`` and the hyperparameter file used
    """
    import reinforce_sb3.zoo

    reinforce_sb3.zoo.register()
    from rl_zoo3.exp_manager import ExperimentManager

    config = str(conf_file or HYPERPARAMS_FILE) if algo == "reinforce" else None
    args = argparse.Namespace(algo=algo, env=env_id, seed=seed, conf_file=config)
    manager = ExperimentManager(
        args,
        algo,
        env_id,
        log_folder,
        hyperparams=hyperparams,
        eval_freq=-1,
        seed=seed,
        verbose=0,
        device="cpu",
        config=config,
    )
    set_random_seed(seed)  # as the zoo's train script does before building
    with contextlib.redirect_stdout(io.StringIO()):  # the zoo prints its hyperparameters whatever the verbosity
        setup = manager.setup_experiment()
    assert setup is not None, "no hyperparameter optimisation here"
    model = setup[0]
    if manager.env_wrapper is not None or manager.vec_env_wrapper is not None or manager.frame_stack is not None:
        # The evaluation plays the bare env (plus VecNormalize's observation statistics).
        raise ValueError(f"{algo}'s {env_id} hyperparameters wrap the env, which the evaluation does not reproduce")
    return model, manager.n_timesteps, manager.config
