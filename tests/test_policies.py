"""The REINFORCE policy: its networks (no value head unless the learned baseline asks for one), SB3's policy_kwargs
including the net_arch dict, predict and its checks of the observation, saving it alone or inside the model."""

import math
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import DiagGaussianDistribution, SquashedDiagGaussianDistribution
from stable_baselines3.common.env_util import make_vec_env

from reinforce_sb3 import REINFORCE, REINFORCEPolicy
from tests.envs import DictObsEnv

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def linear_shapes(module: th.nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, th.nn.Linear)]


def test_discrete_and_multidiscrete_observations_are_one_hot(make_model):
    assert make_model("PGToy-v0").policy.features_dim == 4 + 2  # one-hot of (cell, diamond)
    assert make_model("FrozenLake-v1").policy.features_dim == 16


def test_policy_has_no_value_head(make_model):
    model = make_model("CartPole-v1", policy_kwargs=dict(net_arch=[32, 32]))
    names = [name for name, _ in model.policy.named_parameters()]
    assert not any("value" in name or "vf" in name for name in names)
    optimized = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in model.policy.parameters()}
    # 4 -> 32 -> 32 -> 2 logits
    assert sum(p.numel() for p in model.policy.parameters()) == (4 * 32 + 32) + (32 * 32 + 32) + (32 * 2 + 2)


@pytest.mark.parametrize("baseline", ["none", "mean", "leave_one_out"])
def test_no_value_network_unless_asked(make_model, baseline):
    model = make_model("CartPole-v1", baseline=baseline)
    assert model.policy.value_net is None
    assert not any("value" in name for name, _ in model.policy.named_parameters())
    with pytest.raises(ValueError, match="no value network"):
        model.policy.predict_values(th.zeros(1, 4))


def test_policy_kwargs_are_used(make_model):
    model = make_model(
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


@pytest.mark.parametrize(
    ("net_arch", "pi", "vf"),
    [
        (dict(pi=[8]), [(4, 8), (8, 2)], [(4, 1)]),  # a missing key: no hidden layer, as in SB3
        (dict(pi=[8], vf=[16]), [(4, 8), (8, 2)], [(4, 16), (16, 1)]),
        (dict(vf=[16]), [(4, 2)], [(4, 16), (16, 1)]),
        ([8], [(4, 8), (8, 2)], [(4, 8), (8, 1)]),  # a list: the same hidden layers for both
    ],
    ids=["pi", "pi-vf", "vf", "list"],
)
def test_net_arch_as_sb3_users_write_it(make_model, net_arch, pi, vf):
    """SB3's ``net_arch=dict(pi=[...], vf=[...])``, with the learned baseline's value network; A2C takes the same."""
    model = make_model("CartPole-v1", baseline="value", policy_kwargs=dict(net_arch=net_arch))
    assert linear_shapes(model.policy.latent_net) + linear_shapes(model.policy.action_net) == pi
    assert linear_shapes(model.policy.value_net) == vf
    a2c = A2C("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=net_arch), device="cpu").policy
    assert linear_shapes(a2c.mlp_extractor.value_net) + linear_shapes(a2c.value_net) == vf
    model.learn(200)
    assert model._n_updates > 0


def test_predict_single_and_batched_observations(make_model):
    model = make_model("CartPole-v1")
    obs, _ = gym.make("CartPole-v1").reset(seed=0)
    action, state = model.predict(obs, deterministic=True)
    assert np.shape(action) == () and state is None
    actions, _ = model.predict(np.stack([obs] * 5), deterministic=True)
    assert actions.shape == (5,)
    assert np.all(actions == action)


@pytest.mark.parametrize(
    ("env_id", "obs", "message"),
    [
        ("PGToy-v0", [7, 0], r"outside the observation space MultiDiscrete\(\[4 2\]\): \[7, 0\]"),  # cell 7
        ("PGToy-v0", [-1, 0], "outside the observation space MultiDiscrete"),
        ("PGToy-v0", [[0, 0], [1, 2]], "outside the observation space MultiDiscrete"),  # one bad row of a batch
        ("PGToy-v0", [0.5, 0], "outside the observation space MultiDiscrete"),
        ("FrozenLake-v1", 16, r"outside the observation space Discrete\(16\)"),
        ("CartPole-v1", [np.nan, 0, 0, 0], "observation is not finite"),
        ("CartPole-v1", [[0, 0, 0, 0], [0, np.inf, 0, 0]], "observation is not finite"),
    ],
)
def test_predict_refuses_observations_it_cannot_use(make_model, env_id, obs, message):
    """Not a silent action 0, a wrapped index or an IndexError."""
    model = make_model(env_id)
    for deterministic in (True, False):
        with pytest.raises(ValueError, match=message):
            model.predict(np.asarray(obs), deterministic=deterministic)


def test_predict_refuses_a_bad_dict_observation(make_model):
    model = make_model(DictObsEnv(), "MultiInputPolicy")
    obs, _ = DictObsEnv().reset(seed=0)
    model.predict(obs)
    with pytest.raises(ValueError, match=r"outside the observation space Discrete\(4\)"):
        model.predict({**obs, "discrete": 9})
    with pytest.raises(ValueError, match="observation is not finite"):
        model.predict({**obs, "vec": np.array([0.0, np.nan, 0.0], dtype=np.float32)})


def test_policy_save_and_load_alone(make_model, tmp_path):
    model = make_model("Pendulum-v1")
    model.policy.save(tmp_path / "policy.pth")
    policy = REINFORCEPolicy.load(tmp_path / "policy.pth")
    obs = np.random.default_rng(0).uniform(-1, 1, size=(20, 3)).astype(np.float32)
    np.testing.assert_allclose(policy.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])


def test_saved_file_holds_no_value_network(make_model, tmp_path):
    model = make_model("CartPole-v1")
    model.save(tmp_path / "model")  # SB3 appends .zip
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        assert {"data", "policy.pth", "policy.optimizer.pth"} <= set(archive.namelist())
    state = REINFORCE.load(tmp_path / "model").get_parameters()["policy"]
    assert not any("value" in key for key in state)


def test_value_baseline_is_saved_and_loaded(make_model, tmp_path):
    model = make_model("CartPole-v1", baseline="value", policy_kwargs=dict(net_arch=dict(pi=[8], vf=[16])))
    model.learn(300)
    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip", env=make_vec_env("CartPole-v1"))
    assert loaded.baseline == "value" and loaded.policy.value_net is not None
    assert linear_shapes(loaded.policy.value_net) == [(4, 16), (16, 1)]
    obs = th.randn(5, 4)
    with th.no_grad():
        th.testing.assert_close(loaded.policy.predict_values(obs), model.policy.predict_values(obs))
    loaded.learn(300)
    optimized = {id(p) for group in loaded.policy.optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in loaded.policy.value_net.parameters()} <= optimized


class RecordActions(BaseCallback):
    """The rollout's actions as drawn (what the log-probability is evaluated on) and as the envs received them."""

    def __init__(self) -> None:
        super().__init__()
        self.drawn: list[np.ndarray] = []
        self.received: list[np.ndarray] = []

    def _on_step(self) -> bool:
        self.drawn.append(self.locals["actions"].copy())
        self.received.append(self.locals["clipped_actions"].copy())
        return True


def test_squash_output_is_off_by_default(make_model):
    policy = make_model("Pendulum-v1").policy
    assert type(policy.action_dist) is DiagGaussianDistribution and not policy.squash_output


def test_squashed_actions_are_rescaled_to_bounds_other_than_one(make_model):
    """Box(0, 4): predict and the rollout give the env low + (tanh(u) + 1) / 2 * (high - low), inside the bounds;
    the rollout records tanh(u) itself, in (-1, 1), whose log-probability the estimator weights."""
    low, high = np.zeros(1, dtype=np.float32), np.full(1, 4.0, dtype=np.float32)
    env = gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), low, high)
    model = make_model(env, policy_kwargs=dict(squash_output=True, log_std_init=1.0))
    policy = model.policy
    assert type(policy.action_dist) is SquashedDiagGaussianDistribution and policy.squash_output
    obs = np.random.default_rng(0).uniform(-1, 1, size=(500, 3)).astype(np.float32)
    with th.no_grad():
        policy.action_net.weight.zero_()
        policy.action_net.bias.zero_()
    assert np.all(model.predict(obs, deterministic=True)[0] == 2.0)  # tanh(0) = 0: the middle of [0, 4]
    sampled = model.predict(obs)[0]
    assert sampled.shape == (500, 1) and 0.0 <= sampled.min() < 0.5 and 3.5 < sampled.max() <= 4.0

    callback = RecordActions()
    model.learn(400, callback=callback)
    drawn, received = np.concatenate(callback.drawn), np.concatenate(callback.received)
    assert np.abs(drawn).max() < 1.0 and drawn.min() < -0.9  # log_std 1: many samples near the ends
    np.testing.assert_allclose(received, 2.0 * (drawn + 1.0), rtol=1e-6)
    assert received.min() >= 0.0 and received.max() <= 4.0


def test_predict_keeps_squashed_actions_inside_pendulum_s_bounds(make_model):
    model = make_model("Pendulum-v1", policy_kwargs=dict(squash_output=True, log_std_init=2.0))
    with th.no_grad():
        model.policy.action_net.bias.fill_(30.0)  # tanh(u) rounds to 1 in float32
    obs = np.random.default_rng(1).uniform(-1, 1, size=(200, 3)).astype(np.float32)
    for deterministic in (True, False):
        actions = model.predict(obs, deterministic=deterministic)[0]
        assert np.all(actions >= -2.0) and np.all(actions <= 2.0)
    assert np.all(model.predict(obs, deterministic=True)[0] == 2.0)


def test_squashed_actions_at_the_bounds_give_a_finite_loss(make_model):
    """tanh(u) rounds to exactly +-1 in float32 for |u| above about 9: atanh would be infinite. SB3 clamps it an
    epsilon inside, so the log-probability, the loss and the update stay finite."""
    model = make_model("Pendulum-v1", learning_rate=0.01, policy_kwargs=dict(squash_output=True, log_std_init=0.0))
    with th.no_grad():
        model.policy.action_net.bias.fill_(20.0)
    log_prob = model.policy.get_distribution(th.zeros(2, 3)).log_prob(th.tensor([[1.0], [-1.0]]))
    assert th.isfinite(log_prob).all()
    callback = RecordActions()
    model.learn(400, callback=callback)
    assert model._n_updates == 1
    assert np.any(np.concatenate(callback.drawn) == 1.0)  # the edge case happened
    assert math.isfinite(model.logger.name_to_value["train/policy_loss"])
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


def test_squashed_policy_learns_on_pendulum(make_model):
    model = make_model("Pendulum-v1", learning_rate=0.01, policy_kwargs=dict(squash_output=True))
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(1200)  # three batches of two 200-step episodes
    assert model._n_updates == 3 and model.num_timesteps == 1200
    assert all(th.isfinite(p).all() for p in model.policy.parameters())
    assert all(not th.equal(p, b) for p, b in zip(model.policy.parameters(), before, strict=True))
    assert math.isfinite(model.logger.name_to_value["train/policy_loss"])


def test_squashed_policy_save_and_load(make_model, tmp_path):
    model = make_model("Pendulum-v1", policy_kwargs=dict(squash_output=True, log_std_init=-0.5))
    model.learn(400)
    model.save(tmp_path / "model.zip")
    model.policy.save(tmp_path / "policy.pth")
    obs = np.random.default_rng(2).uniform(-1, 1, size=(20, 3)).astype(np.float32)
    expected = model.predict(obs, deterministic=True)[0]
    for policy in (REINFORCE.load(tmp_path / "model.zip").policy, REINFORCEPolicy.load(tmp_path / "policy.pth")):
        assert policy.squash_output and type(policy.action_dist) is SquashedDiagGaussianDistribution
        np.testing.assert_array_equal(policy.predict(obs, deterministic=True)[0], expected)
    loaded = REINFORCE.load(tmp_path / "model.zip", env=make_vec_env("Pendulum-v1"))
    loaded.learn(400)  # the rollout samples the loaded policy squashed too
    assert loaded.collector.sampler.distribution == "squashed_gaussian"


@pytest.mark.parametrize(
    ("action_space", "squash_output", "message"),
    [
        (gym.spaces.Discrete(2), True, r"needs a Box action space with finite bounds.*Discrete\(2\)"),
        (gym.spaces.Box(-np.inf, np.inf, (1,)), True, "squash_output=True needs a Box action space with finite bounds"),
        (gym.spaces.Box(-1, 1, (1,)), "yes", "squash_output must be True or False, got 'yes'"),
    ],
    ids=["discrete", "unbounded", "not-a-bool"],
)
def test_squash_output_refuses_what_it_cannot_squash(action_space, squash_output, message):
    observation_space = gym.spaces.Box(-1, 1, (3,))
    with pytest.raises(ValueError, match=message):
        REINFORCEPolicy(observation_space, action_space, lambda _: 1e-3, squash_output=squash_output)


def test_squashed_policy_trains_on_mujoco_when_it_is_installed(make_model):
    """The ``mujoco`` extra: InvertedPendulum-v5's Box(-3, 3) action, a few hundred steps (skipped without MuJoCo)."""
    pytest.importorskip("mujoco")
    callback = RecordActions()
    model = make_model(gym.make("InvertedPendulum-v5"), policy_kwargs=dict(squash_output=True))
    model.learn(300, callback=callback)
    assert model._n_updates > 0 and all(th.isfinite(p).all() for p in model.policy.parameters())
    received = np.concatenate(callback.received)
    assert received.min() >= -3.0 and received.max() <= 3.0


def test_an_entropy_bonus_with_a_squashed_policy_warns():
    with pytest.warns(UserWarning, match=r"ent_coef=0.01 does nothing with squash_output=True"):
        REINFORCE("MlpPolicy", "Pendulum-v1", ent_coef=0.01, policy_kwargs={"squash_output": True})
