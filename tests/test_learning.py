"""It learns: PGToy-v0 (checked exactly), CartPole-v1 and continuous actions, with the default hyperparameters."""

import gymnasium as gym
import pytest
import torch as th
from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.evaluation import evaluate_policy

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from tests.envs import TrackTargetEnv


def test_pgtoy_finds_the_optimum_not_the_trap():
    """The exact expected return of the learned policy: >= 10.9 (optimum 11; "always right" is a trap at 10),
    for at least 9 of 10 seeds, in 20k steps each."""
    th.set_num_threads(1)
    values = []
    for seed in range(10):
        model = REINFORCE("MlpPolicy", "PGToy-v0", seed=seed, device="cpu")
        model.learn(20_000)
        values.append(exact.expected_return("PGToy-v0", model))
    assert sum(value >= 10.9 for value in values) >= 9, values


def test_continuous_actions_improve_clearly():
    """TrackTargetEnv: matching a random target; a policy ignoring it earns about -1.7 per episode."""
    th.set_num_threads(1)
    model = REINFORCE("MlpPolicy", TrackTargetEnv(), n_episodes=16, learning_rate=1e-2, seed=0, device="cpu")
    eval_env = gym.wrappers.TimeLimit(TrackTargetEnv(), max_episode_steps=5)
    before, _ = evaluate_policy(model, eval_env, n_eval_episodes=50, deterministic=False, warn=False)
    model.learn(20_000)
    after, _ = evaluate_policy(model, eval_env, n_eval_episodes=50, deterministic=False, warn=False)
    assert after > -0.5 > before
    assert th.exp(model.policy.log_std).item() < 0.5  # exploration noise was learned down


@pytest.mark.slow
def test_cartpole_is_solved_by_the_readme_example():
    """The two-line example's defaults reach a mean evaluation return of at least 475 within 200k steps
    (20 deterministic episodes every 10k steps, as the zoo's EvalCallback does; training stops there)."""
    th.set_num_threads(1)
    stop = StopTrainingOnRewardThreshold(reward_threshold=475, verbose=0)
    evaluation = EvalCallback(gym.make("CartPole-v1"), eval_freq=10_000, n_eval_episodes=20, callback_on_new_best=stop)
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0, device="cpu")
    model.learn(200_000, callback=evaluation)
    assert evaluation.best_mean_reward >= 475
    assert model.num_timesteps <= 200_000
