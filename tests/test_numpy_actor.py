"""The numpy copy of the actor used by the CPU rollout computes what the torch policy computes."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from torch import nn

from reinforce_sb3.rollout.numpy_actor import ActionSampler, NumpyActor
from tests.envs import DictObsEnv, ImageObsEnv, ScriptedRewardEnv

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
def test_same_action_parameters_as_torch(make_model, observation_space, action_space):
    th.manual_seed(0)
    observation_space.seed(0)
    model = make_model(SpacesEnv(observation_space, action_space), policy_kwargs=dict(ortho_init=False, net_arch=[16]))
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
def test_activations_and_layer_sizes(make_model, activation_fn, net_arch):
    th.manual_seed(1)
    env = SpacesEnv(spaces.Box(-5.0, 5.0, shape=(3,), dtype=np.float32), spaces.Discrete(2))
    model = make_model(env, policy_kwargs=dict(net_arch=net_arch, activation_fn=activation_fn))
    actor = NumpyActor.from_policy(model.policy)
    obs = np.random.default_rng(0).uniform(-5, 5, size=(32, 3)).astype(np.float32)
    with th.no_grad():
        expected = model.policy.action_net(model.policy.latent_net(th.as_tensor(obs))).numpy()
    np.testing.assert_allclose(actor.action_parameters(obs), expected, rtol=1e-5, atol=1e-6)


def test_the_copy_is_taken_at_each_batch(make_model):
    """After a gradient step the rollout samples from the new parameters: the copy follows the update."""
    model = make_model("CartPole-v1", learning_rate=0.1)
    before = NumpyActor.from_policy(model.policy).action_parameters(np.ones((1, 4), dtype=np.float32))
    model.learn(200)
    assert model._n_updates > 0
    after = NumpyActor.from_policy(model.policy).action_parameters(np.ones((1, 4), dtype=np.float32))
    assert not np.allclose(before, after)


@pytest.mark.parametrize(
    ("env", "policy", "kwargs"),
    [
        (DictObsEnv, "MultiInputPolicy", {}),
        (ImageObsEnv, "CnnPolicy", dict(policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=16)))),
        (lambda: "CartPole-v1", "MlpPolicy", dict(policy_kwargs=dict(activation_fn=nn.GELU))),
    ],
    ids=["dict-observations", "images", "unknown-activation"],
)
def test_policies_it_cannot_copy_are_sampled_from_torch_s_parameters(make_model, env, policy, kwargs):
    model = make_model(env(), policy, **kwargs)
    assert NumpyActor.from_policy(model.policy) is None
    assert ActionSampler.from_policy(model.policy) is not None  # the same sampler, on torch's logits
    model.learn(60)  # the rollout takes the distribution's parameters from the torch policy
    assert model._n_updates > 0


@pytest.mark.parametrize("sampler", ["torch", "numpy-actor", "sampler-on-torch-parameters"])
@pytest.mark.parametrize(
    "action_space",
    [spaces.Discrete(3), spaces.Box(-5.0, 5.0, shape=(2,)), spaces.MultiDiscrete([3, 2]), spaces.MultiBinary(2)],
    ids=str,
)
def test_rollout_samples_follow_the_policy_distribution(make_model, action_space, sampler):
    """The rollout samples without a torch.distributions object (by the numpy actor, or by the ActionSampler from
    the torch policy's parameters): it must be the distribution of get_distribution, with SB3's dtype and shape."""
    th.manual_seed(0)
    env = ScriptedRewardEnv([[1.0]], action_space=action_space)
    policy = make_model(env, policy_kwargs=dict(ortho_init=False, log_std_init=0.3)).policy
    n = 20_000
    obs = th.tensor([[1.0, 2.0]])
    rng = np.random.default_rng(0)
    with th.no_grad():
        torch_samples = policy(obs.repeat(n, 1))  # SB3's own sampling, the reference
        if sampler != "torch":
            if sampler == "numpy-actor":
                samples = NumpyActor.from_policy(policy).sample(obs.repeat(n, 1).numpy(), rng)
            else:
                parameters = policy.action_parameters(obs.repeat(n, 1)).numpy()
                samples = ActionSampler.from_policy(policy).sample(parameters, rng)
            assert samples.shape == tuple(torch_samples.shape)
            assert samples.dtype == torch_samples.numpy().dtype
            torch_samples = th.as_tensor(samples)
        samples = torch_samples.float()
        mode = policy(obs, deterministic=True).float()[0]
        distribution = policy.get_distribution(obs)  # SB3 distributions are stateful: read it before reuse
        expected_mode = distribution.mode().float().reshape(mode.shape)
        if isinstance(action_space, spaces.Box):
            mean, std = distribution.distribution.mean[0], distribution.distribution.stddev[0]
        elif isinstance(action_space, spaces.MultiDiscrete):
            probs = [d.probs[0] for d in distribution.distribution]
        else:
            probs = [distribution.distribution.probs[0]]
    assert th.equal(mode, expected_mode)
    if isinstance(action_space, spaces.Box):
        assert th.allclose(samples.mean(0), mean, atol=float(5 * std.max() / n**0.5))
        assert th.allclose(samples.std(0), std, rtol=0.03)
        return
    if isinstance(action_space, spaces.Discrete):
        frequencies = [th.bincount(samples.long(), minlength=3) / n]
    elif isinstance(action_space, spaces.MultiDiscrete):
        columns = [samples[:, 0], samples[:, 1]]
        frequencies = [th.bincount(c.long(), minlength=k) / n for c, k in zip(columns, (3, 2), strict=True)]
    else:  # MultiBinary: frequency of 1 per dimension against the Bernoulli probabilities
        frequencies = [samples.mean(0)]
    for freq, p in zip(frequencies, probs, strict=True):
        assert th.all((freq - p).abs() <= 5 * (p * (1 - p) / n).sqrt() + 1e-6), (freq, p)


def test_the_squashed_sampler_draws_the_tanh_of_the_gaussian_sample():
    """With the same generator state, ``squash_output``'s sample is exactly tanh of the plain Gaussian's."""
    box = spaces.Box(-2.0, 2.0, shape=(3,))
    log_std = np.array([-0.5, 0.0, 1.0], dtype=np.float32)
    params = np.random.default_rng(0).normal(0.0, 2.0, size=(50, 3)).astype(np.float32)
    gaussian = ActionSampler("gaussian", box, log_std).sample(params, np.random.default_rng(4))
    squashed = ActionSampler("squashed_gaussian", box, log_std).sample(params, np.random.default_rng(4))
    assert squashed.dtype == np.float32 and squashed.shape == (50, 3)
    np.testing.assert_array_equal(squashed, np.tanh(gaussian))
    assert np.abs(squashed).max() <= 1.0 < np.abs(gaussian).max()


@pytest.mark.parametrize("sampler", ["torch", "numpy-actor", "sampler-on-torch-parameters"])
def test_squashed_rollout_samples_follow_the_policy_distribution(make_model, sampler):
    """``squash_output=True``: every way the rollout samples gives tanh of the policy's Gaussian, like SB3's sampling
    (atanh of the samples has the Gaussian's mean and standard deviation), in (-1, 1), with SB3's dtype and shape."""
    th.manual_seed(0)
    env = ScriptedRewardEnv([[1.0]], action_space=spaces.Box(-5.0, 5.0, shape=(2,)))
    policy = make_model(env, policy_kwargs=dict(ortho_init=False, log_std_init=-0.3, squash_output=True)).policy
    assert ActionSampler.from_policy(policy).distribution == "squashed_gaussian"
    n = 20_000
    obs = th.tensor([[1.0, 2.0]]).repeat(n, 1)
    with th.no_grad():
        reference = policy(obs)
        if sampler == "torch":
            samples = reference.numpy()
        elif sampler == "numpy-actor":
            samples = NumpyActor.from_policy(policy).sample(obs.numpy(), np.random.default_rng(0))
        else:
            parameters = policy.action_parameters(obs).numpy()
            samples = ActionSampler.from_policy(policy).sample(parameters, np.random.default_rng(0))
        gaussian = policy.get_distribution(obs[:1]).distribution
        mean, std = gaussian.mean[0].numpy(), gaussian.stddev[0].numpy()
    assert samples.shape == tuple(reference.shape) and samples.dtype == reference.numpy().dtype == np.float32
    assert np.abs(samples).max() < 1.0
    u = np.arctanh(samples.astype(np.float64))
    np.testing.assert_allclose(u.mean(0), mean, atol=float(5 * std.max() / n**0.5))
    np.testing.assert_allclose(u.std(0), std, rtol=0.03)
