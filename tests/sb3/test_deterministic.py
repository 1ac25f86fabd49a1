"""SB3's tests/test_deterministic.py, adapted to REINFORCE (with A2C beside it, as upstream)."""

import gymnasium as gym
import pytest
from stable_baselines3 import A2C
from stable_baselines3.common.env_util import make_vec_env

from reinforce_sb3 import REINFORCE
from tests.sb3.helpers import same_parameters

N_STEPS_TRAINING = 500
SEED = 0


def make_model(algo, seed: int = SEED):
    # Pendulum with 50-step episodes (200 upstream): REINFORCE learns from complete episodes
    env = gym.make("Pendulum-v1", max_episode_steps=50)
    kwargs = dict(n_episodes=2) if algo is REINFORCE else {}
    return algo("MlpPolicy", env, seed=seed, policy_kwargs=dict(net_arch=[64]), **kwargs)


# SB3 test_deterministic.py::test_deterministic_training_common (REINFORCE, and A2C as upstream)
@pytest.mark.parametrize("algo", [REINFORCE, A2C])
def test_deterministic_training_common(algo):
    results = [[], []]
    rewards = [[], []]
    for i in range(2):
        model = make_model(algo)
        model.learn(N_STEPS_TRAINING)
        env = model.get_env()
        obs = env.reset()
        for _ in range(100):
            action, _ = model.predict(obs, deterministic=False)
            obs, reward, _, _ = env.step(action)
            results[i].append(action)
            rewards[i].append(reward)
    assert sum(results[0]) == sum(results[1]), results
    assert sum(rewards[0]) == sum(rewards[1]), rewards


# Ours: learn(3000) then learn(2000, reset_num_timesteps=False) gives bitwise the parameters of learn(5000) from
# the same seed, as for A2C. The split falls mid-episode and, for REINFORCE, mid-batch. (A2C runs a fifth as long.)
@pytest.mark.parametrize(("algo", "first", "second"), [(REINFORCE, 3000, 2000), (A2C, 600, 400)])
def test_split_learn_is_the_same_run(algo, first, second):
    def make():
        kwargs = dict(n_episodes=4) if algo is REINFORCE else dict(n_steps=5)
        env = make_vec_env("CartPole-v1", n_envs=2, seed=SEED)
        return algo("MlpPolicy", env, seed=SEED, device="cpu", policy_kwargs=dict(net_arch=[16]), **kwargs)

    whole = make().learn(first + second)
    split = make().learn(first)
    assert not split._last_episode_starts.all()  # mid-episode
    if algo is REINFORCE:
        assert split.collector.n_started > 0 and not split.collector.complete  # mid-batch
    split.learn(second, reset_num_timesteps=False)

    assert split.num_timesteps == whole.num_timesteps
    assert split._n_updates == whole._n_updates > 0
    assert same_parameters(split, whole)
    assert not same_parameters(split, make())  # it learned
