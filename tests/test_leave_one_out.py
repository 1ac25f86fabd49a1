"""The leave-one-out baseline is unbiased against the exact gradient, in small batches (N = 4), for discrete and
Gaussian policies, where the batch mean is not; the diagnostics measure both."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis import diagnostics, sampling
from reinforce_sb3.analysis.estimators import BASELINE_ESTIMATORS, ESTIMATORS, Estimator
from tests.helpers import AverageGradient, cosine, relative_error, textbook_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_EPISODES = 4
N_BATCHES = 2000


def average_and_exact(continuous, baseline, reward_to_go, seed, n_batches=N_BATCHES):
    """The average of ``n_batches`` estimates with N = 4 episodes from 2 envs at fixed parameters (learning rate
    0), and the exact gradient. The Gaussian policy's mean is moved off 0 so that the log-std matters."""
    env = make_vec_env("PGToy-v0", n_envs=2, seed=seed, env_kwargs={"continuous": continuous})
    policy_kwargs = {"log_std_init": -0.5} if continuous else {}
    model = textbook_model(env, N_EPISODES, 0.0, seed, policy_kwargs, baseline=baseline, reward_to_go=reward_to_go)
    if continuous:
        with th.no_grad():
            model.policy.action_net.bias += 0.4
    truth = th.cat([g.flatten() for g in exact.parameter_gradient(gym.make("PGToy-v0", continuous=continuous), model)])
    callback = AverageGradient(n_batches)
    model.learn(10**9, callback=callback)
    return callback.average, truth


@pytest.mark.parametrize("reward_to_go", [True, False], ids=["reward-to-go", "whole-episode"])
@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
def test_leave_one_out_is_unbiased_in_batches_of_four(continuous, reward_to_go):
    average, truth = average_and_exact(continuous, "leave_one_out", reward_to_go, seed=7)
    assert cosine(average, truth) > 0.99
    assert relative_error(average, truth) < 0.05


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
def test_the_batch_mean_is_biased_where_leave_one_out_is_not(continuous):
    """The same check sees the batch mean's bias: each return is in its own baseline, scaling the gradient down."""
    average, truth = average_and_exact(continuous, "mean", True, seed=7, n_batches=500)
    assert relative_error(average, truth) > 0.15
    assert average.norm().item() < 0.85 * truth.norm().item()


def test_the_diagnostics_pass_episode_ids_and_time_steps():
    """estimate() batches the episodes as REINFORCE's train does: by hand, whole-episode leave-one-out weights
    each episode's log-probabilities by G_i - mean(G_j, j != i)."""
    model = REINFORCE("MlpPolicy", "PGToy-v0", seed=0, device="cpu", policy_kwargs={"net_arch": [8]})
    episodes = sampling.sample_episodes(model.policy, "PGToy-v0", 4, seed=5)
    returns = np.array([float(r.sum()) for *_, r in episodes])
    assert len(set(returns)) > 1  # distinct returns, so the baselines differ
    estimator = Estimator("leave-one-out, whole-episode", reward_to_go=False, baseline="leave_one_out")
    parameters = list(model.policy.parameters())
    loss = th.zeros(())
    for i, (observations, actions, _) in enumerate(episodes):
        distribution = model.policy.get_distribution(model.policy.obs_to_tensor(observations)[0])
        weight = returns[i] - (returns.sum() - returns[i]) / 3
        loss = loss + distribution.log_prob(th.as_tensor(actions)).sum() * weight / 4
    by_hand = th.cat([g.flatten() for g in th.autograd.grad(loss, parameters)]).numpy()
    np.testing.assert_allclose(diagnostics.estimate(model.policy, episodes, estimator), by_hand, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
def test_the_estimator_table_shows_each_baseline_s_bias(continuous):
    """compare_estimators on BASELINE_ESTIMATORS: the batch mean's scale is well below 1, leave-one-out's and the
    fitted value baseline's are 1 within the noise; the value baseline has the least noise."""
    game = gym.make("PGToy-v0", continuous=continuous)
    model = REINFORCE("MlpPolicy", game, seed=0, device="cpu", policy_kwargs={"net_arch": [16], "ortho_init": False})
    checks = {c.estimator.name: c for c in diagnostics.compare_estimators(model, game, 4, 400, BASELINE_ESTIMATORS[:4])}
    assert checks["batch-mean baseline"].scale < 0.85
    assert checks["batch-mean baseline"].relative_error > 3 * checks["batch-mean baseline"].noise_floor
    for name in ("no baseline", "leave-one-out baseline", "learned value baseline"):
        assert checks[name].relative_error < 3 * checks[name].noise_floor, name
    assert checks["learned value baseline"].relative_variance < checks["no baseline"].relative_variance
    table = diagnostics.format_table(list(checks.values()))
    assert "| leave-one-out baseline |" in table and "noise floor" in table
    assert {e.baseline for e in ESTIMATORS} == {"none", "mean", "leave_one_out", "value"}
