"""Save, load, parameters and env handling behave as in SB3 (in the manner of sb3-contrib's test_save_load.py)."""

import io
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import A2C
from stable_baselines3.common.env_util import make_vec_env

from reinforce_sb3 import REINFORCE, REINFORCEPolicy


def observations(env_id, n=20, seed=0):
    space = gym.make(env_id).observation_space
    space.seed(seed)
    return np.stack([space.sample() for _ in range(n)])


def assert_same_parameters(params_a, params_b):
    assert params_a.keys() == params_b.keys()
    for key in params_a:
        assert params_a[key].keys() == params_b[key].keys()
        for name in params_a[key]:
            if isinstance(params_a[key][name], th.Tensor):
                th.testing.assert_close(params_a[key][name], params_b[key][name])


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "PGToy-v0"])
def test_save_load_round_trip(tmp_path, env_id):
    model = REINFORCE("MlpPolicy", env_id, n_episodes=2, seed=0)
    model.learn(500)
    obs = observations(env_id)
    actions, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "model.zip")

    loaded = REINFORCE.load(tmp_path / "model.zip", device="cpu")
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    # parameters and optimizer state (Adam moments) are restored
    th.testing.assert_close(loaded.policy.optimizer.state_dict()["state"], model.policy.optimizer.state_dict()["state"])
    assert_same_parameters(loaded.get_parameters(), model.get_parameters())
    for attribute in ("n_episodes", "gamma", "reward_to_go", "normalize_returns", "loss_reduction", "num_timesteps"):
        assert getattr(loaded, attribute) == getattr(model, attribute)

    # training continues
    loaded.set_env(make_vec_env(env_id, n_envs=1))
    loaded.learn(500, reset_num_timesteps=False)
    assert loaded.num_timesteps >= 1000 and loaded._n_updates > model._n_updates


def test_saved_file_holds_no_value_network(tmp_path):
    model = REINFORCE("MlpPolicy", "CartPole-v1")
    model.save(tmp_path / "model")  # SB3 appends .zip
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        assert {"data", "policy.pth", "policy.optimizer.pth"} <= set(archive.namelist())
    state = REINFORCE.load(tmp_path / "model").get_parameters()["policy"]
    assert not any("value" in key for key in state)


def test_save_to_a_file_object():
    model = REINFORCE("MlpPolicy", "PGToy-v0", seed=0)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = REINFORCE.load(buffer)
    obs = observations("PGToy-v0")
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])


def test_load_with_a_different_number_of_envs_and_continue(tmp_path):
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_episodes=4, seed=0)
    model.learn(300)
    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip", env=make_vec_env("CartPole-v1", n_envs=5, seed=1))
    assert loaded.n_envs == 5 and loaded.collector.buffer.n_envs == 5
    loaded.learn(600)
    assert loaded._n_updates > 0


def test_same_seed_same_run():
    def run():
        model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_episodes=4, seed=42, device="cpu")
        model.learn(1500)
        return model

    a, b = run(), run()
    assert_same_parameters(a.get_parameters(), b.get_parameters())
    assert a.num_timesteps == b.num_timesteps and a._n_updates == b._n_updates
    c = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_episodes=4, seed=43, device="cpu").learn(1500)
    assert not th.equal(a.policy.action_net.weight, c.policy.action_net.weight)


def test_get_and_set_parameters():
    model = REINFORCE("MlpPolicy", "PGToy-v0", seed=0)
    other = REINFORCE("MlpPolicy", "PGToy-v0", seed=1)
    obs = observations("PGToy-v0")
    other.set_parameters(model.get_parameters())
    np.testing.assert_array_equal(other.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    with pytest.raises(ValueError, match="invalid object name"):
        other.set_parameters({"not_a_module": {}}, exact_match=False)
    with pytest.raises(ValueError, match="Names of parameters do not match"):
        other.set_parameters({"policy": model.get_parameters()["policy"]}, exact_match=True)


def test_set_env(tmp_path):
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_episodes=4, seed=0)
    model.learn(200)
    model.set_env(make_vec_env("CartPole-v1", n_envs=2, seed=3))
    assert model._last_obs is None  # SB3: the new env is reset before training
    model.learn(600, reset_num_timesteps=False)
    assert model._n_updates > 0
    with pytest.raises(ValueError, match="Observation spaces do not match"):
        model.set_env(make_vec_env("Acrobot-v1", n_envs=2))
    with pytest.raises(AssertionError, match="number of environments"):
        model.set_env(make_vec_env("CartPole-v1", n_envs=3))


def test_policy_save_and_load_alone(tmp_path):
    model = REINFORCE("MlpPolicy", "Pendulum-v1", seed=0)
    model.policy.save(tmp_path / "policy.pth")
    policy = REINFORCEPolicy.load(tmp_path / "policy.pth")
    obs = observations("Pendulum-v1")
    np.testing.assert_allclose(policy.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])


def test_loading_something_that_is_not_a_model(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="wasn't a zip-file"):
        REINFORCE.load(text)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="is not a saved Stable-Baselines3 model"):
        REINFORCE.load(empty)
    A2C("MlpPolicy", "CartPole-v1").save(tmp_path / "a2c.zip")
    with pytest.raises(ValueError, match="ActorCriticPolicy, saved by another algorithm"):
        REINFORCE.load(tmp_path / "a2c.zip")
    with pytest.raises(FileNotFoundError):
        REINFORCE.load(tmp_path / "missing.zip")


def test_a_failed_save_never_loses_the_saved_model(tmp_path, monkeypatch):
    """Saving writes to a temporary file first: a crash mid-write leaves the previous model intact."""
    path = tmp_path / "model.zip"
    model = REINFORCE("MlpPolicy", "PGToy-v0", seed=0)
    model.save(path)
    saved = path.read_bytes()

    def crash(save_path, *args, **kwargs):
        with open(save_path, "wb") as file:
            file.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr("stable_baselines3.common.base_class.save_to_zip_file", crash)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip"]  # no temporary file left behind
    REINFORCE.load(path)
