"""SB3's tests/test_save_load.py and sb3-contrib's tests/test_save_load.py, adapted to REINFORCE.

Left out, as they concern what REINFORCE does not have:
- test_save_load_replay_buffer, test_warn_buffer (SB3 and contrib): replay buffers (off-policy only).
- test_save_load_q_net, test_dqn_target_update_interval, test_save_load_no_target_params: Q-networks (DQN/QR-DQN).
- test_save_load_pytorch_var: SAC/TQC's entropy coefficient, a torch variable outside the policy.
- test_save_load_clip_range_portable's clip_range: PPO's clip range (its learning-rate half is kept below).
- test_open_file_str_pathlib, test_open_file: SB3's ``save_util.open_path`` alone, no algorithm involved.
- test_save_load_large_model: marked expensive upstream (a 2 GB policy).
- use_sde in test_save_load_policy: REINFORCE's policy has no gSDE.
- the SB3 < 1.7.0 ``pi_features_extractor`` part of test_save_load_env_cnn: A2C/PPO backward compatibility.
"""

import base64
import json
import tempfile
import warnings
import zipfile
from collections import OrderedDict
from copy import deepcopy

import numpy as np
import pytest
import torch as th
from stable_baselines3 import A2C
from stable_baselines3.common.envs import FakeImageEnv, IdentityEnvBox
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule, LinearSchedule, get_device
from stable_baselines3.common.vec_env import DummyVecEnv

from reinforce_sb3 import REINFORCE
from tests.sb3.helpers import EP_LENGTH, SMALL, same_parameters, select_env, strict_monitor


def rand_like(tensor: th.Tensor) -> th.Tensor:
    """sb3-contrib's ``rand_like``: random values of the tensor's kind."""
    if th.is_floating_point(tensor):
        return th.rand_like(tensor)
    return th.randint_like(tensor, high=10)


def image_env() -> FakeImageEnv:
    # SB3: FakeImageEnv(screen_height=40, screen_width=40, n_channels=2); its episodes last 1000 steps, so shorter
    env = FakeImageEnv(screen_height=40, screen_width=40, n_channels=2, discrete=False)
    env.ep_length = EP_LENGTH
    return env


# SB3 test_save_load.py::test_save_load and sb3-contrib test_save_load.py::test_save_load
@pytest.mark.parametrize("discrete", [True, False])
def test_save_load(tmp_path, discrete):
    env = DummyVecEnv([lambda: select_env(discrete)])
    model = REINFORCE("MlpPolicy", env, learning_rate=1e-3, verbose=1, **SMALL)
    model.learn(total_timesteps=128)
    assert model._n_updates > 0

    env.reset()
    observations = np.concatenate([env.step([env.action_space.sample()])[0] for _ in range(10)], axis=0)

    # deepcopy to avoid referencing to tensors we are about to modify
    original_params = deepcopy(model.get_parameters())

    # Invalid object names throw errors
    invalid_object_params = deepcopy(original_params)
    invalid_object_params["I_should_not_be_a_valid_object"] = "and_I_am_an_invalid_tensor"
    with pytest.raises(ValueError):
        model.set_parameters(invalid_object_params, exact_match=True)
    with pytest.raises(ValueError):
        model.set_parameters(invalid_object_params, exact_match=False)

    # exact_match catches a missing object
    missing_object_params = dict(list(original_params.items())[:-1])
    with pytest.raises(ValueError):
        model.set_parameters(missing_object_params, exact_match=True)

    # exact_match catches a tensor missing inside a state dict (torch's strict load_state_dict)
    missing_state_dict_tensor_params = {
        object_name: dict(list(original_params[object_name].items())[:-1]) for object_name in original_params
    }
    with pytest.raises(RuntimeError):
        model.set_parameters(missing_state_dict_tensor_params, exact_match=True)

    # Parameters do change (all but the last of each state dict, which is left out)
    random_params = {}
    for object_name, params in original_params.items():
        if "optim" in object_name:  # custom layout
            random_params[object_name] = params
        else:
            random_params[object_name] = OrderedDict(
                (param_name, rand_like(param)) for param_name, param in list(params.items())[:-1]
            )
    model.set_parameters(random_params, exact_match=False)
    new_params = model.get_parameters()
    for object_name in original_params:
        if "optim" in object_name:
            continue
        last_key = list(original_params[object_name].keys())[-1]
        for k in original_params[object_name]:
            if k == last_key:
                assert th.allclose(original_params[object_name][k], new_params[object_name][k])
            else:
                assert not th.allclose(original_params[object_name][k], new_params[object_name][k])
    params = new_params

    selected_actions, _ = model.predict(observations, deterministic=True)
    model.save(tmp_path / "test_save.zip")
    del model

    # Loads as expected for every choice of device (get_device("cuda") is the CPU where there is no GPU)
    for device in ["auto", "cpu", "cuda"]:
        model = REINFORCE.load(str(tmp_path / "test_save.zip"), env=env, device=device)
        assert model.device.type == get_device(device).type
        assert model.policy.device.type == get_device(device).type
        new_params = model.get_parameters()
        for object_name in new_params:
            if "optim" in object_name:
                continue
            for key in params[object_name]:
                assert new_params[object_name][key].device.type == get_device(device).type
                assert th.allclose(params[object_name][key].to("cpu"), new_params[object_name][key].to("cpu"))
        new_selected_actions, _ = model.predict(observations, deterministic=True)
        assert np.allclose(selected_actions, new_selected_actions, 1e-4)
        # learning still works
        n_updates = model._n_updates
        model.learn(total_timesteps=128)
        assert model._n_updates > n_updates
        del model

    # Loading after compiling works (SB3 GH#2137)
    model = REINFORCE.load(tmp_path / "test_save.zip")
    model.policy = th.compile(model.policy)
    model.save(tmp_path / "test_save.zip")
    REINFORCE.load(tmp_path / "test_save.zip")


# SB3 test_save_load.py::test_set_env (sb3-contrib's test_set_env is its first half)
@pytest.mark.parametrize("discrete", [True, False])
def test_set_env(tmp_path, discrete):
    env = DummyVecEnv([lambda: select_env(discrete)])
    env2 = DummyVecEnv([lambda: select_env(discrete)])
    env3 = select_env(discrete)
    env4 = DummyVecEnv([lambda: select_env(discrete) for _ in range(2)])

    model = REINFORCE("MlpPolicy", env, **SMALL)
    model.learn(total_timesteps=64)

    # change env
    model.set_env(env2, force_reset=True)
    assert model._last_obs is None  # the last observation was discarded
    model.learn(total_timesteps=64, reset_num_timesteps=True)
    assert model.num_timesteps == 64

    # change env, test wrapping
    model.set_env(env3)
    model.learn(total_timesteps=64)

    # num_envs must be the same
    with pytest.raises(AssertionError):
        model.set_env(env4)

    # Keep the same env, disable reset
    model.set_env(model.get_env(), force_reset=False)
    assert model._last_obs is not None
    model.learn(total_timesteps=64, reset_num_timesteps=False)
    assert model.num_timesteps == 2 * 64

    current_env = model.get_env()
    model.save(tmp_path / "test_save.zip")
    del model
    # The number of timesteps is kept after loading; the env kept its state, so no reset
    model = REINFORCE.load(tmp_path / "test_save.zip", env=current_env, force_reset=False)
    assert model._last_obs is not None
    model.learn(total_timesteps=64, reset_num_timesteps=False)
    assert model.num_timesteps == 3 * 64

    del model
    # A changed env must be reset, but the number of timesteps is kept
    model = REINFORCE.load(tmp_path / "test_save.zip", env=env3, force_reset=True)
    assert model._last_obs is None
    model.learn(total_timesteps=64, reset_num_timesteps=False)
    assert model.num_timesteps == 3 * 64

    del model
    # Load with a different number of envs
    model = REINFORCE.load(tmp_path / "test_save.zip", env=env4)
    model.learn(total_timesteps=64)
    assert model.num_timesteps == 64


# SB3 test_save_load.py::test_set_env, its "the env kept its state so we don't have to reset" half, made strict:
# the envs raise if reset mid-episode, and the episode running at the save continues after the load.
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
def test_load_without_reset_continues_the_episode(tmp_path, model_class):
    kwargs = SMALL if model_class is REINFORCE else dict(n_steps=1, policy_kwargs=dict(net_arch=[16]))
    env = DummyVecEnv([lambda: strict_monitor(select_env(discrete=True))])
    model = model_class("MlpPolicy", env, seed=0, **kwargs)
    model.learn(total_timesteps=EP_LENGTH * 3 + 4)  # mid-episode: 4 steps into the 4th episode
    monitor = env.envs[0]
    assert monitor.get_total_steps() == EP_LENGTH * 3 + 4 and len(monitor.get_episode_lengths()) == 3
    last_obs = model._last_obs.copy()
    model.save(tmp_path / "model.zip")

    loaded = model_class.load(tmp_path / "model.zip", env=env, force_reset=False)
    np.testing.assert_array_equal(loaded._last_obs, last_obs)
    loaded.learn(total_timesteps=EP_LENGTH * 2, reset_num_timesteps=False)  # Monitor raises on a reset mid-episode
    assert loaded.num_timesteps == EP_LENGTH * 5 + 4 == monitor.get_total_steps()
    assert monitor.get_episode_lengths() == [EP_LENGTH] * 5


# SB3 test_save_load.py::test_exclude_include_saved_params (and sb3-contrib's)
def test_exclude_include_saved_params(tmp_path):
    env = DummyVecEnv([lambda: select_env(discrete=False)])
    # verbose=2 is not the default
    model = REINFORCE("MlpPolicy", env, policy_kwargs=dict(net_arch=[16]), verbose=2)

    model.save(tmp_path / "test_save", exclude=["verbose"])
    del model
    model = REINFORCE.load(str(tmp_path / "test_save.zip"))
    assert model.verbose != 2  # verbose was not saved

    model.verbose = 2
    model.save(tmp_path / "test_save", exclude=["verbose"], include=["verbose"])
    del model
    custom_objects = dict(learning_rate=2e-5, dummy=1.0)
    model = REINFORCE.load(str(tmp_path / "test_save.zip"), custom_objects=custom_objects, print_system_info=True)
    assert model.verbose == 2
    assert model.learning_rate == custom_objects["learning_rate"]
    assert not hasattr(model, "dummy")  # only the parameters already there are replaced


# SB3 test_save_load.py::test_save_load_env_cnn (the A2C case)
def test_save_load_env_cnn(tmp_path):
    env = image_env()
    kwargs = dict(policy_kwargs=dict(net_arch=[32], features_extractor_kwargs=dict(features_dim=32)), n_episodes=2)
    model = REINFORCE("CnnPolicy", env, **kwargs).learn(30)
    assert model._n_updates > 0
    model.save(tmp_path / "test_save")
    # Load with env and continue training
    model = REINFORCE.load(str(tmp_path / "test_save.zip"), env=env, **kwargs).learn(30)
    assert model._n_updates > 0


# SB3 test_save_load.py::test_save_load_policy and sb3-contrib test_save_load.py::test_save_load_policy
@pytest.mark.parametrize("policy_str", ["MlpPolicy", "CnnPolicy"])
def test_save_load_policy(tmp_path, policy_str):
    kwargs = dict(policy_kwargs=dict(net_arch=[16]), learning_rate=1e-3, n_episodes=2)
    if policy_str == "MlpPolicy":
        env = select_env(discrete=False)
    else:
        kwargs["policy_kwargs"] = dict(features_extractor_kwargs=dict(features_dim=16))
        env = image_env()
    env = DummyVecEnv([lambda: env])

    model = REINFORCE(policy_str, env, verbose=1, **kwargs)
    model.learn(total_timesteps=2 * EP_LENGTH)

    env.reset()
    observations = np.concatenate([env.step([env.action_space.sample()])[0] for _ in range(10)], axis=0)

    policy = model.policy
    policy_class = policy.__class__
    params = deepcopy(policy.state_dict())
    policy.load_state_dict({param_name: rand_like(param) for param_name, param in params.items()})
    new_params = policy.state_dict()
    for k in params:
        assert not th.allclose(params[k], new_params[k]), "Parameters did not change as expected."
    params = new_params

    selected_actions, _ = policy.predict(observations, deterministic=True)
    policy.save(tmp_path / "policy.pkl")
    device = policy.device
    del policy

    policy = policy_class.load(tmp_path / "policy.pkl").to(device)
    new_params = policy.state_dict()
    for key in params:
        assert th.allclose(params[key], new_params[key]), "Policy parameters not the same after save and load."
    new_selected_actions, _ = policy.predict(observations, deterministic=True)
    assert np.allclose(selected_actions, new_selected_actions, 1e-4)


# SB3 test_save_load.py::test_load_invalid_object (GH#1122): a corrupt object warns, custom_objects replaces it
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
def test_load_invalid_object(tmp_path, model_class):
    path = tmp_path / "model.zip"
    model_class("MlpPolicy", "Pendulum-v1", learning_rate=lambda _: 1.0).save(path)

    with zipfile.ZipFile(path, mode="r") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    json_data = json.loads(files["data"].decode())
    # Intentionally corrupt the data
    serialization = json_data["learning_rate"][":serialized:"]
    corrupt = base64.b64decode(serialization.encode()).replace(b"CodeType", b"CodeTyps")
    json_data["learning_rate"][":serialized:"] = base64.b64encode(corrupt).decode()
    files["data"] = json.dumps(json_data, indent=4).encode()
    # SB3 rewrites the archive with the zip command line tool; zipfile does the same here
    with zipfile.ZipFile(path, mode="w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)

    with pytest.warns(UserWarning, match=r"custom_objects"):
        model_class.load(path)
    # Load with custom object, no warnings
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model_class.load(path, custom_objects=dict(learning_rate=lambda _: 1.0))
    assert len(record) == 0


# SB3 test_save_load.py::test_no_resource_warning (GH#1751): files are closed, a file object is left open
@pytest.mark.filterwarnings("error")
def test_no_resource_warning(tmp_path):
    REINFORCE("MlpPolicy", "CartPole-v1", device="cpu").save(tmp_path / "reinforce_cartpole")
    REINFORCE.load(tmp_path / "reinforce_cartpole", device="cpu")

    REINFORCE("MlpPolicy", "CartPole-v1", device="cpu").save(str(tmp_path / "reinforce_cartpole"))
    REINFORCE.load(str(tmp_path / "reinforce_cartpole"), device="cpu")

    # In memory: the file is not closed
    with tempfile.TemporaryFile() as fp:
        REINFORCE("MlpPolicy", "CartPole-v1", device="cpu").save(fp)
        fp.seek(0)
        REINFORCE.load(fp, device="cpu")
        assert not fp.closed
    # (the replay-buffer half of the upstream test: REINFORCE has none)


# SB3 test_save_load.py::test_cast_lr_schedule (GH#1900)
def test_cast_lr_schedule(tmp_path):
    model = REINFORCE("MlpPolicy", "Pendulum-v1", learning_rate=lambda t: t * np.sin(1.0))
    # np.float64 is a subclass of float: check the type itself
    assert type(model.lr_schedule(1.0)) is float
    assert np.allclose(model.lr_schedule(0.5), 0.5 * np.sin(1.0))
    model.save(tmp_path / "reinforce.zip")
    model = REINFORCE.load(tmp_path / "reinforce.zip")
    assert type(model.lr_schedule(1.0)) is float
    assert np.allclose(model.lr_schedule(0.5), 0.5 * np.sin(1.0))


# SB3 test_save_load.py::test_save_load_net_arch_none (GH#1928)
def test_save_load_net_arch_none(tmp_path):
    REINFORCE("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=None)).save(tmp_path / "reinforce.zip")
    model = REINFORCE.load(tmp_path / "reinforce.zip")
    # None has been replaced by the default net arch
    assert model.policy.net_arch is not None


# SB3 test_save_load.py::test_save_load_backward_compatible (GH#2115), the learning-rate half
def test_save_load_backward_compatible(tmp_path):
    env = DummyVecEnv([lambda: IdentityEnvBox(-1, 1, ep_length=EP_LENGTH)])
    model = REINFORCE("MlpPolicy", env, learning_rate=lambda _: 0.001, **SMALL)
    model.learn(total_timesteps=100)
    model.save(tmp_path / "test_schedule_safe.zip")
    model = REINFORCE.load(tmp_path / "test_schedule_safe.zip", env=env)
    assert model.learning_rate(0) == 0.001
    assert model.learning_rate.__name__ == "<lambda>"


# SB3 test_save_load.py::test_save_load_lr_schedule_portable (GH#2115): the learning rate is kept in SB3's schedule
# classes (FloatSchedule around a ConstantSchedule or a LinearSchedule), which save without cloudpickled lambdas
# and load on another Python; REINFORCE checks their values without replacing them
@pytest.mark.parametrize(
    ("learning_rate", "inner"), [(1e-3, ConstantSchedule), (LinearSchedule(1e-3, 1e-5, 1.0), LinearSchedule)]
)
def test_save_load_lr_schedule_portable(tmp_path, learning_rate, inner):
    model = REINFORCE("MlpPolicy", DummyVecEnv([lambda: IdentityEnvBox(-1, 1, ep_length=EP_LENGTH)]),
                      learning_rate=learning_rate, **SMALL)  # fmt: skip
    model.learn(total_timesteps=2 * EP_LENGTH)
    assert isinstance(model.lr_schedule, FloatSchedule) and isinstance(model.lr_schedule.value_schedule, inner)
    model.save(tmp_path / "test_schedule_safe.zip")
    loaded = REINFORCE.load(tmp_path / "test_schedule_safe.zip")
    assert isinstance(loaded.lr_schedule, FloatSchedule) and isinstance(loaded.lr_schedule.value_schedule, inner)
    for progress in (1.0, 0.5, 0.0):
        assert loaded.lr_schedule(progress) == model.lr_schedule(progress)


# Ours: the cases of SB3's open_path, compared with A2C: a folder at the path warns and saves to "<path>_2";
# a path without a suffix gets ".zip" (so a folder named like it does not matter)
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
def test_save_to_an_existing_folder(tmp_path, model_class):
    model = model_class("MlpPolicy", "CartPole-v1", seed=0)
    (tmp_path / "model.zip").mkdir()
    with pytest.warns(UserWarning, match="is a folder"):
        model.save(tmp_path / "model.zip")
    assert (tmp_path / "model.zip").is_dir() and (tmp_path / "model.zip_2").is_file()
    assert same_parameters(model_class.load(tmp_path / "model.zip_2"), model)

    (tmp_path / "other").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(tmp_path / "other")
    assert (tmp_path / "other").is_dir() and (tmp_path / "other.zip").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip", "model.zip_2", "other", "other.zip"]


# Ours: saving through a symlink, compared with A2C (SB3 writes through the link): the link stays a link to the
# new model
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
def test_save_through_a_symlink(tmp_path, model_class):
    first = model_class("MlpPolicy", "CartPole-v1", seed=0)
    second = model_class("MlpPolicy", "CartPole-v1", seed=1)
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "model.zip"
    first.save(target)
    link = tmp_path / "latest.zip"
    link.symlink_to(target)

    second.save(link)
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert same_parameters(model_class.load(target), second)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["model.zip"]


# Ours: set_parameters (SB3's in-place load) leaves the env where it was: learning goes on without a reset
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
def test_set_parameters_then_learn_without_reset(model_class):
    kwargs = SMALL if model_class is REINFORCE else dict(n_steps=1, policy_kwargs=dict(net_arch=[16]))
    env = DummyVecEnv([lambda: strict_monitor(select_env(discrete=True))])
    model = model_class("MlpPolicy", env, seed=0, **kwargs)
    other = model_class("MlpPolicy", select_env(discrete=True), seed=1, **kwargs)
    model.learn(total_timesteps=EP_LENGTH + 3)
    model.set_parameters(other.get_parameters())
    assert same_parameters(model, other)
    model.learn(total_timesteps=EP_LENGTH * 3, reset_num_timesteps=False)  # Monitor raises on a reset mid-episode
    monitor: Monitor = env.envs[0]
    assert monitor.get_episode_lengths() == [EP_LENGTH] * 4 and monitor.get_total_steps() == EP_LENGTH * 4 + 3
    assert model.num_timesteps == EP_LENGTH * 4 + 3
