"""It learns: PGToy-v0 (checked exactly), continuous actions, the learned baseline's values and CartPole-v1, with
the default hyperparameters. These take seconds to a minute each: they run with ``pytest -m slow``."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from tests.envs import TrackTargetEnv

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


def test_pgtoy_finds_the_optimum_not_the_trap():
    """The exact expected return of the learned policy: >= 10.9 (optimum 11; "always right" is a trap at 10),
    for at least 9 of 10 seeds, in 20k steps each."""
    values = []
    for seed in range(10):
        model = REINFORCE("MlpPolicy", "PGToy-v0", seed=seed, device="cpu")
        model.learn(20_000)
        values.append(exact.expected_return("PGToy-v0", model))
    assert sum(value >= 10.9 for value in values) >= 9, values


def test_continuous_actions_improve_clearly():
    """TrackTargetEnv: matching a random target; a policy ignoring it earns about -1.7 per episode."""
    model = REINFORCE("MlpPolicy", TrackTargetEnv(), n_episodes=16, learning_rate=1e-2, seed=0, device="cpu")
    eval_env = Monitor(gym.wrappers.TimeLimit(TrackTargetEnv(), max_episode_steps=5))
    before, _ = evaluate_policy(model, eval_env, n_eval_episodes=50, deterministic=False)
    model.learn(20_000)
    after, _ = evaluate_policy(model, eval_env, n_eval_episodes=50, deterministic=False)
    assert after > -0.5 > before
    assert th.exp(model.policy.log_std).item() < 0.5  # exploration noise was learned down


def test_value_baseline_learns_the_state_values(tmp_path):
    model = REINFORCE("MlpPolicy", "PGToy-v0", gamma=1.0, baseline="value", vf_coef=1.0, seed=0, device="cpu")
    model.set_logger(configure(str(tmp_path), ["json"]))
    model.learn(10_000, log_interval=1)
    analysis = exact.analyze("PGToy-v0", model)
    states = [(2, 1), (1, 0), (2, 0)]
    exact_values = [float(analysis.policy[s] @ analysis.q_values[t][s]) for t, s in enumerate(states)]
    with th.no_grad():
        predicted = model.policy.predict_values(th.as_tensor(states)).numpy()
    # one Adam step per batch on returns of +-10: a tracking estimate, within about a point
    np.testing.assert_allclose(predicted, exact_values, atol=1.0)
    records = [json.loads(line) for line in (tmp_path / "progress.json").read_text().splitlines()]
    assert {"train/value_loss", "train/explained_variance"} <= set(records[-1])


def test_cartpole_is_solved_by_the_readme_example():
    """The two-line example's defaults reach a mean evaluation return of at least 475 within 200k steps
    (20 deterministic episodes every 10k steps, as the zoo's EvalCallback does; training stops there)."""
    stop = StopTrainingOnRewardThreshold(reward_threshold=475, verbose=0)
    evaluation = EvalCallback(
        Monitor(gym.make("CartPole-v1")), eval_freq=10_000, n_eval_episodes=20, callback_on_new_best=stop
    )
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0, device="cpu")
    model.learn(200_000, callback=evaluation)
    assert evaluation.best_mean_reward >= 475
    assert model.num_timesteps <= 200_000
