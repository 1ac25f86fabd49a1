"""The numpy copy of the actor used by the CPU rollout computes what the torch policy computes."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from torch import nn

from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout.numpy_actor import NumpyActor
from tests.envs import DictObsEnv, ImageObsEnv, ScriptedRewardEnv


class SpacesEnv(ScriptedRewardEnv):
    """ScriptedRewardEnv with any observation space (observations are samples of it)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        super().__init__([[1.0]], action_space=action_space)
        self.observation_space = observation_space

    def _obs(self):
        return self.observation_space.sample()


OBSERVATION_SPACES = [
    spaces.Box(-3.0, 3.0, shape=(2, 3), dtype=np.float32),
    spaces.Discrete(5),
    spaces.MultiDiscrete([3, 4]),
    spaces.MultiBinary(4),
]
ACTION_SPACES = [
    spaces.Discrete(3),
    spaces.Box(-1.0, 1.0, shape=(2,)),
    spaces.MultiDiscrete([2, 3]),
    spaces.MultiBinary(3),
]


@pytest.mark.parametrize("observation_space", OBSERVATION_SPACES)
@pytest.mark.parametrize("action_space", ACTION_SPACES)
def test_same_action_parameters_as_torch(observation_space, action_space):
    th.manual_seed(0)
    observation_space.seed(0)
    model = REINFORCE("MlpPolicy", SpacesEnv(observation_space, action_space), policy_kwargs=dict(ortho_init=False))
    actor = NumpyActor.from_policy(model.policy)
    assert actor is not None
    obs = np.stack([observation_space.sample() for _ in range(16)])
    with th.no_grad():
        features = model.policy.extract_features(model.policy.obs_to_tensor(obs)[0], model.policy.features_extractor)
        expected = model.policy.action_net(model.policy.latent_net(features)).numpy()
    np.testing.assert_allclose(actor.features(obs), features.numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(actor.action_parameters(obs), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "activation_fn", [nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Sigmoid, nn.Identity], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("net_arch", [[], [8], [16, 8]], ids=str)
def test_activations_and_layer_sizes(activation_fn, net_arch):
    th.manual_seed(1)
    env = SpacesEnv(spaces.Box(-5.0, 5.0, shape=(3,), dtype=np.float32), spaces.Discrete(2))
    model = REINFORCE("MlpPolicy", env, policy_kwargs=dict(net_arch=net_arch, activation_fn=activation_fn))
    actor = NumpyActor.from_policy(model.policy)
    obs = np.random.default_rng(0).uniform(-5, 5, size=(32, 3)).astype(np.float32)
    with th.no_grad():
        expected = model.policy.action_net(model.policy.latent_net(th.as_tensor(obs))).numpy()
    np.testing.assert_allclose(actor.action_parameters(obs), expected, rtol=1e-5, atol=1e-6)


def test_the_copy_is_taken_at_each_batch():
    """After a gradient step the rollout samples from the new parameters: the copy follows the update."""
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=2, learning_rate=0.1, seed=0)
    before = NumpyActor.from_policy(model.policy).action_parameters(np.ones((1, 4), dtype=np.float32))
    model.learn(200)
    assert model._n_updates > 0
    after = NumpyActor.from_policy(model.policy).action_parameters(np.ones((1, 4), dtype=np.float32))
    assert not np.allclose(before, after)


@pytest.mark.parametrize(
    "make_model",
    [
        lambda: REINFORCE("MultiInputPolicy", DictObsEnv()),
        lambda: REINFORCE("CnnPolicy", ImageObsEnv(), n_episodes=1),
        lambda: REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=1, policy_kwargs=dict(activation_fn=nn.GELU)),
    ],
    ids=["dict-observations", "images", "unknown-activation"],
)
def test_policies_it_cannot_copy_are_sampled_in_torch(make_model):
    model = make_model()
    assert NumpyActor.from_policy(model.policy) is None
    model.learn(600)  # the rollout falls back to the torch policy
    assert model._n_updates > 0


def test_samples_come_from_torch_s_generator():
    """Same seed, same run; the numpy generator of each batch is seeded from torch's."""
    runs = []
    for _ in range(2):
        model = REINFORCE("MlpPolicy", "CartPole-v1", n_episodes=2, seed=3)
        model.learn(300)
        runs.append(model.collector.buffer.arrays["actions"][: model.collector.buffer.pos].copy())
    np.testing.assert_array_equal(*runs)
