"""The REINFORCE policy: its networks (no value head unless the learned baseline asks for one), SB3's policy_kwargs
including the net_arch dict, predict and its checks of the observation, saving it alone or inside the model."""

import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import A2C
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
