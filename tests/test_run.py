"""Short learn() runs over action and observation spaces and policies (as sb3-contrib's test_run.py)."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

from reinforce_sb3 import REINFORCE, REINFORCEPolicy
from reinforce_sb3.rollout.numpy_actor import NumpyActor
from tests.envs import DictObsEnv, ImageObsEnv, ScriptedRewardEnv


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "PGToy-v0", "SlipperyHill-v0", "FrozenLake-v1"])
def test_registered_envs(env_id):
    model = REINFORCE("MlpPolicy", env_id, n_episodes=2, seed=0, device="cpu")
    model.learn(500)  # Pendulum's episodes are 200 steps long
    assert model._n_updates > 0
    obs = model.get_env().reset()
    action, _ = model.predict(obs, deterministic=True)
    assert model.get_env().action_space.contains(np.asarray(action[0]).astype(model.action_space.dtype))


@pytest.mark.parametrize(
    "action_space",
    [spaces.Discrete(3), spaces.Box(-2.0, 2.0, shape=(2,)), spaces.MultiDiscrete([3, 2]), spaces.MultiBinary(3)],
)
def test_action_spaces(action_space):
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1, 2, 3], [0, 1]], action_space=action_space)] * 2)
    model = REINFORCE("MlpPolicy", env, n_episodes=4, seed=0, device="cpu")
    model.learn(100)
    assert model._n_updates > 0
    batch = model.collector.buffer.episode_batch(model.gamma)
    assert batch.actions.shape[1:] == action_space.shape


def test_box_actions_log_prob_of_unclipped_sample_env_gets_clipped():
    """A wide Gaussian samples outside [-0.1, 0.1]: the buffer keeps the sample, the env sees it clipped."""
    seen = []

    class Recording(ScriptedRewardEnv):
        def step(self, action):
            seen.append(np.array(action))
            return super().step(action)

    box = spaces.Box(-0.1, 0.1, shape=(1,), dtype=np.float32)
    env = DummyVecEnv([lambda: Recording([[0.0, 1.0]], action_space=box)])
    model = REINFORCE("MlpPolicy", env, n_episodes=4, seed=0, policy_kwargs=dict(log_std_init=1.0))
    stored = []
    model.learn(8, callback=lambda local_vars, _: stored.append(local_vars["actions"].copy()) or True)
    stored = np.concatenate(stored)
    assert np.abs(stored).max() > 0.1  # the sample itself
    assert np.abs(np.concatenate(seen)).max() <= 0.1 + 1e-7  # what the env received
    np.testing.assert_allclose(np.concatenate(seen), np.clip(stored, -0.1, 0.1).ravel(), rtol=1e-6)


def test_dict_observations_with_multi_input_policy():
    model = REINFORCE("MultiInputPolicy", DictObsEnv(), n_episodes=2, seed=0)
    model.learn(40)
    assert model._n_updates > 0
    obs, _ = DictObsEnv().reset(seed=0)
    action, _ = model.predict(obs)
    assert model.action_space.contains(int(action))


def test_image_observations_with_cnn_policy():
    model = REINFORCE(
        "CnnPolicy",
        ImageObsEnv(),
        n_episodes=2,
        seed=0,
        policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=32)),
    )
    model.learn(12)
    assert model._n_updates > 0
    assert model.policy.net_arch == []


def test_discrete_and_multidiscrete_observations_are_one_hot():
    model = REINFORCE("MlpPolicy", "PGToy-v0", policy_kwargs=dict(net_arch=[8]))
    assert model.policy.features_dim == 4 + 2  # one-hot of (cell, diamond)
    model = REINFORCE("MlpPolicy", "FrozenLake-v1", policy_kwargs=dict(net_arch=[8]))
    assert model.policy.features_dim == 16


def test_policy_has_no_value_head():
    model = REINFORCE("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[32, 32]))
    names = [name for name, _ in model.policy.named_parameters()]
    assert not any("value" in name or "vf" in name for name in names)
    optimized = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in model.policy.parameters()}
    # 4 -> 32 -> 32 -> 2 logits
    assert sum(p.numel() for p in model.policy.parameters()) == (4 * 32 + 32) + (32 * 32 + 32) + (32 * 2 + 2)


def test_policy_kwargs_are_used():
    model = REINFORCE(
        "MlpPolicy",
        "Pendulum-v1",
        policy_kwargs=dict(
            net_arch=[7],
            activation_fn=th.nn.ReLU,
            log_std_init=-1.0,
            optimizer_class=th.optim.RMSprop,
            optimizer_kwargs=dict(alpha=0.9),
        ),
    )
    assert isinstance(model.policy.optimizer, th.optim.RMSprop)
    assert model.policy.optimizer.defaults["alpha"] == 0.9
    assert any(isinstance(m, th.nn.ReLU) for m in model.policy.modules())
    assert th.allclose(model.policy.log_std, th.full((1,), -1.0))
    assert model.policy.latent_net[0].out_features == 7


def test_learning_rate_schedule():
    model = REINFORCE("MlpPolicy", "PGToy-v0", learning_rate=lambda progress: 0.01 * progress, n_episodes=4, seed=0)
    model.learn(200)
    assert model.policy.optimizer.param_groups[0]["lr"] < 0.01


@pytest.mark.parametrize("loss_reduction", ["mean", "episodes"])
@pytest.mark.parametrize("normalize_returns", [True, False])
@pytest.mark.parametrize("reward_to_go", [True, False])
def test_estimator_options(loss_reduction, normalize_returns, reward_to_go):
    model = REINFORCE(
        "MlpPolicy",
        "PGToy-v0",
        n_episodes=4,
        loss_reduction=loss_reduction,
        normalize_returns=normalize_returns,
        reward_to_go=reward_to_go,
        ent_coef=0.01,
        max_grad_norm=0.5,
        seed=0,
    )
    model.learn(200)
    assert model._n_updates > 0
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


def test_max_grad_norm_clips_the_step():
    """With SGD and learning rate 1, the parameter step is the clipped gradient: its norm is at most max_grad_norm."""
    kwargs = dict(learning_rate=1.0, n_episodes=8, seed=3, normalize_returns=False, loss_reduction="episodes")
    norms = {}
    for max_grad_norm in (None, 0.01):
        model = REINFORCE(
            "MlpPolicy",
            "PGToy-v0",
            max_grad_norm=max_grad_norm,
            policy_kwargs=dict(optimizer_class=th.optim.SGD),
            **kwargs,
        )
        before = th.cat([p.detach().flatten().clone() for p in model.policy.parameters()])
        model.learn(10**6, callback=lambda _l, _g, m=model: m._n_updates == 0)
        after = th.cat([p.detach().flatten() for p in model.policy.parameters()])
        norms[max_grad_norm] = (after - before).norm().item()
    assert norms[None] > 0.01
    assert norms[0.01] == pytest.approx(0.01, rel=1e-3)


def test_predict_single_and_batched_observations():
    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0)
    obs, _ = gym.make("CartPole-v1").reset(seed=0)
    action, state = model.predict(obs, deterministic=True)
    assert np.shape(action) == () and state is None
    actions, _ = model.predict(np.stack([obs] * 5), deterministic=True)
    assert actions.shape == (5,)
    assert np.all(actions == action)


def test_evaluate_policy_and_multiple_envs():
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    model = REINFORCE("MlpPolicy", env, n_episodes=8, seed=0)
    model.learn(1000)
    mean, std = evaluate_policy(model, gym.make("CartPole-v1"), n_eval_episodes=3)
    assert mean > 0 and std >= 0


def test_custom_policy_class():
    model = REINFORCE(REINFORCEPolicy, "PGToy-v0", n_episodes=2)
    model.learn(20)
    assert isinstance(model.policy, REINFORCEPolicy)


@pytest.mark.skipif(not th.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    model = REINFORCE("MlpPolicy", "CartPole-v1", device="cuda", n_episodes=4, seed=0)
    assert next(model.policy.parameters()).is_cuda
    model.learn(1000)
    assert model._n_updates > 0
    action, _ = model.predict(np.zeros(4, dtype=np.float32))
    assert model.action_space.contains(int(action))


@pytest.mark.parametrize("sampler", ["torch", "numpy"])
@pytest.mark.parametrize(
    "action_space",
    [spaces.Discrete(3), spaces.Box(-5.0, 5.0, shape=(2,)), spaces.MultiDiscrete([3, 2]), spaces.MultiBinary(2)],
)
def test_fast_sampling_follows_the_policy_distribution(action_space, sampler):
    """The rollout samples without a torch.distributions object (in torch, or on the CPU from a numpy copy
    of the actor): it must be the distribution of get_distribution, with the same dtype and shape."""
    th.manual_seed(0)
    env = ScriptedRewardEnv([[1.0]], action_space=action_space)
    policy = REINFORCE("MlpPolicy", env, policy_kwargs=dict(ortho_init=False, log_std_init=0.3)).policy
    n = 20_000
    obs = th.tensor([[1.0, 2.0]])
    with th.no_grad():
        torch_samples = policy(obs.repeat(n, 1))
        if sampler == "numpy":
            numpy_samples = NumpyActor.from_policy(policy).sample(obs.repeat(n, 1).numpy(), np.random.default_rng(0))
            assert numpy_samples.shape == tuple(torch_samples.shape)
            assert numpy_samples.dtype == torch_samples.numpy().dtype
            torch_samples = th.as_tensor(numpy_samples)
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
        columns, frequencies = [samples], [th.bincount(samples.long(), minlength=3) / n]
    elif isinstance(action_space, spaces.MultiDiscrete):
        columns = [samples[:, 0], samples[:, 1]]
        frequencies = [th.bincount(c.long(), minlength=k) / n for c, k in zip(columns, (3, 2), strict=True)]
    else:  # MultiBinary: frequency of 1 per dimension against the Bernoulli probabilities
        frequencies = [samples.mean(0)]
    for freq, p in zip(frequencies, probs, strict=True):
        assert th.all((freq - p).abs() <= 5 * (p * (1 - p) / n).sqrt() + 1e-6), (freq, p)
