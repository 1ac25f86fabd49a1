"""examples/reinforce_from_scratch.py: the update of REINFORCE(..., loss_reduction="episodes"), and its script."""

import importlib.util
import inspect
import re
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.estimator import TensorBatch, discounted_returns, reinforce_loss

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reinforce_from_scratch.py"
HIDDEN = 16
DECISION_STATES = [(2, 1), (1, 0), (2, 0)]  # the tree's nodes where an action is chosen


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("reinforce_from_scratch", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up while building Args
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(autouse=True)
def restore_torch_threads():
    n_threads = th.get_num_threads()  # the script's main sets one thread
    yield
    th.set_num_threads(n_threads)


def mirrored_policies(example, seed: int, **settings):
    """A REINFORCE model made with ``settings`` (MlpPolicy: one-hot -> Linear/Tanh x2 -> Linear) and the
    example's Policy with the same weights."""
    model = REINFORCE("MlpPolicy", "PGToy-v0", policy_kwargs=dict(net_arch=[HIDDEN, HIDDEN]), seed=seed, **settings)
    library = model.policy.to("cpu")
    ours = example.Policy(library.observation_space.nvec, int(library.action_space.n), HIDDEN)
    theirs = [library.latent_net[0], library.latent_net[2], library.action_net]
    with th.no_grad():
        for mine, their in zip(ours.net[::2], theirs, strict=True):
            mine.weight.copy_(their.weight + 0.3 * th.randn_like(their.weight))  # away from the near-uniform start
            their.weight.copy_(mine.weight)
            mine.bias.copy_(their.bias)
    return model, ours, theirs


def random_episodes(n_episodes: int, seed: int):
    """A batch of complete PGToy-v0 episodes under uniformly random actions: observations, actions, rewards, dones."""
    env = gym.make("PGToy-v0")
    rng = np.random.default_rng(seed)
    observations, actions, rewards, dones = [], [], [], []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            action = int(rng.integers(2))
            observations.append(obs)
            actions.append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(float(reward))
            done = terminated or truncated
            dones.append(done)
    return np.array(observations), np.array(actions), np.array(rewards), np.array(dones)


def test_reward_to_go_by_hand(example):
    # left (diamond, +3), right (back on the hilltop, 0), right (flag, +10)
    assert example.reward_to_go([3.0, 0.0, 10.0], 0.5) == pytest.approx([3 + 0.5 * 10 * 0.5, 0.5 * 10, 10])
    # left (diamond), left (pit)
    assert example.reward_to_go([3.0, -10.0], 1.0) == pytest.approx([-7.0, -10.0])


def test_reward_to_go_matches_the_library(example):
    _, _, rewards, dones = random_episodes(n_episodes=20, seed=0)
    ends = np.flatnonzero(dones) + 1
    ours = [g for episode in np.split(rewards, ends[:-1]) for g in example.reward_to_go(list(episode), 0.9)]
    np.testing.assert_allclose(ours, discounted_returns(rewards[:, None], dones[:, None], 0.9)[:, 0])


EQUIVALENT_SETTINGS = {
    True: {"loss_reduction": "episodes"},  # the example's default: standardised returns
    False: {"normalize_returns": False, "loss_reduction": "episodes"},  # --no-normalize-returns: the textbook estimator
}
"""The REINFORCE arguments whose update is the example's, for each value of its ``normalize_returns``."""


def gradients(example, model, ours, theirs, normalize_returns: bool, seed: int):
    """The example's gradient and the library's (REINFORCE's own options and loss) on one batch of episodes."""
    n_episodes = 12
    observations, actions, rewards, dones = random_episodes(n_episodes, seed)
    obs, acts = th.as_tensor(observations), th.as_tensor(actions)
    th.testing.assert_close(ours(obs).probs, model.policy.get_distribution(obs).distribution.probs)

    ends = np.flatnonzero(dones) + 1
    gamma = example.Args().gamma
    returns = th.tensor(
        [g for episode in np.split(rewards, ends[:-1]) for g in example.reward_to_go(list(episode), gamma)]
    )
    weights = example.normalize(returns) if normalize_returns else returns
    example.update_loss(ours, obs, acts, weights.float(), n_episodes).backward()

    starts = np.concatenate([[0], ends[:-1]])
    batch = TensorBatch(
        observations=obs,
        actions=acts,
        returns=th.as_tensor(discounted_returns(rewards[:, None], dones[:, None], model.gamma)[:, 0], dtype=th.float32),
        episode_ids=th.as_tensor(np.repeat(np.arange(n_episodes), ends - starts)),
        timesteps=th.as_tensor(np.concatenate([np.arange(n) for n in ends - starts])),
        n_episodes=n_episodes,
    )
    reinforce_loss(model.policy, batch, model.estimator_options).policy_loss.backward()
    mine = [t for layer in ours.net[::2] for t in (layer.weight.grad, layer.bias.grad)]
    library = [t for layer in theirs for t in (layer.weight.grad, layer.bias.grad)]
    return mine, library, len(actions) / n_episodes


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("normalize_returns", [True, False])
def test_update_is_the_library_update_with_loss_reduction_episodes(example, seed, normalize_returns):
    """The example (its normalize_returns either way) and REINFORCE with EQUIVALENT_SETTINGS: the same gradient."""
    model, ours, theirs = mirrored_policies(example, seed, **EQUIVALENT_SETTINGS[normalize_returns])
    mine, library, _ = gradients(example, model, ours, theirs, normalize_returns, seed)
    for a, b in zip(mine, library, strict=True):
        assert a.abs().max() > 1e-4  # a gradient worth comparing
        th.testing.assert_close(a, b)


def test_library_defaults_divide_by_steps_instead(example):
    """REINFORCE's default loss_reduction="mean" is not the example's update: it divides by the batch's steps,
    so its gradient is the example's times n_episodes / n_steps."""
    model, ours, theirs = mirrored_policies(example, 0)  # the library's defaults
    assert model.loss_reduction == "mean" and model.normalize_returns == example.Args().normalize_returns
    mine, library, steps_per_episode = gradients(example, model, ours, theirs, True, 0)
    assert steps_per_episode > 1.0
    for a, b in zip(mine, library, strict=True):
        assert not th.allclose(a, b)
        th.testing.assert_close(a, b * steps_per_episode)


def test_example_defaults_are_the_library_defaults(example):
    """gamma, episodes per batch and learning rate: the example's defaults are REINFORCE's (Adam in both)."""
    defaults = inspect.signature(REINFORCE.__init__).parameters
    args = example.Args()
    for name in ("gamma", "n_episodes", "learning_rate", "normalize_returns"):
        assert getattr(args, name) == defaults[name].default, name


def test_script_trains_and_prints_the_exact_return(example, capsys):
    """A tiny run prints progress and the exact expected return of the policy it learned (seeded: train
    again with the same arguments and evaluate that policy as a table of action probabilities)."""
    argv = ["--seed", "3", "--total-timesteps", "300", "--n-episodes", "4", "--hidden-size", "8"]
    example.main(argv)
    out = capsys.readouterr().out
    assert re.search(r"^step +\d+  exact expected return -?\d+\.\d{3}$", out, re.MULTILINE)
    match = re.search(r"^Exact expected return of the learned policy: (-?\d+\.\d{3}) \(optimum 11\.000\)$", out, re.M)
    assert match, out

    policy = example.train(example.Args(seed=3, total_timesteps=300, n_episodes=4, hidden_size=8))
    capsys.readouterr()
    with th.no_grad():
        probs = policy(th.tensor(DECISION_STATES)).probs.numpy()
    table = dict(zip(DECISION_STATES, probs, strict=True))
    assert match.group(1) == f"{exact.expected_return('PGToy-v0', table):.3f}"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [("--gamma", "1.5", "gamma must be in [0, 1]"), ("--n-episodes", "0", "n_episodes must be positive")],
)
def test_bad_arguments_are_one_line_errors(example, capsys, flag, value, message):
    with pytest.raises(SystemExit):
        example.main([flag, value])
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_script_learns_the_optimum(example):
    """The defaults (20k steps) reach the optimum's neighbourhood on seeds the defaults were not chosen on."""
    th.set_num_threads(1)
    values = [example.exact_return(example.train(example.Args(seed=seed))) for seed in (0, 1)]
    assert min(values) >= 10.9, values
