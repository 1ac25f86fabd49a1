"""The optional baseline: none, the batch mean, or a learned state-value network saved with the model."""

import json

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from tests.test_gradient import AverageGradient, cosine, flat, gradient_model, relative_error


@pytest.mark.parametrize("baseline", ["value", "mean"])
def test_baselines_keep_the_gradient_estimate_on_target(baseline):
    """At fixed parameters (learning rate 0), the average estimate matches the exact gradient.
    The value network stays at its initial, arbitrary values: any action-independent baseline works."""
    model = gradient_model(16, n_envs=4, learning_rate=0.0, seed=2, baseline=baseline)
    truth = flat(exact.parameter_gradient("PGToy-v0", model, parameters=model.policy.parameters()))
    policy_parameters = [id(p) for p in model.policy.parameters()]
    n_batches = 400
    callback = AverageGradient(n_batches)
    model.learn(10**9, callback=callback)
    average = callback.total / (n_batches - 1)
    if baseline == "value":  # the value network's gradient is not part of the policy gradient
        mask = th.cat([th.full((p.numel(),), "value_net" not in name) for name, p in model.policy.named_parameters()])
        average, truth = average[mask], truth[mask]
    assert len(policy_parameters) > 0
    assert cosine(average, truth) > 0.99
    assert relative_error(average, truth) < 0.06


def test_value_loss_does_not_touch_the_policy():
    """The value network reads detached features: the policy's step is the same whatever vf_coef is."""
    steps = {}
    for vf_coef in (0.0, 1.0):
        model = gradient_model(8, seed=2, baseline="value", vf_coef=vf_coef)
        before = {name: p.detach().clone() for name, p in model.policy.named_parameters()}
        model.learn(10**6, callback=lambda _l, _g, m=model: m._n_updates == 0)
        steps[vf_coef] = {name: p.detach() - before[name] for name, p in model.policy.named_parameters()}
    for name in steps[0.0]:
        if "value_net" in name:
            assert steps[0.0][name].abs().sum() == 0 and steps[1.0][name].abs().sum() > 0
        else:
            th.testing.assert_close(steps[0.0][name], steps[1.0][name])


def test_value_baseline_learns_the_state_values(tmp_path):
    model = REINFORCE("MlpPolicy", "PGToy-v0", gamma=1.0, baseline="value", vf_coef=1.0, seed=0, device="cpu")
    model.set_logger(configure(str(tmp_path), ["json"]))
    model.learn(10_000, log_interval=1)
    analysis = exact.analyze("PGToy-v0", model)
    states = [(2, 1), (1, 0), (2, 0)]
    exact_values = [float(analysis.policy[s] @ analysis.q_values[t][s]) for t, s in enumerate(states)]
    with th.no_grad():
        predicted = model.policy.predict_values(th.as_tensor(states)).numpy()
    # one Adam step per batch on returns of +-10: a tracking estimate, within about a point
    np.testing.assert_allclose(predicted, exact_values, atol=1.0)
    records = [json.loads(line) for line in (tmp_path / "progress.json").read_text().splitlines()]
    assert {"train/value_loss", "train/explained_variance"} <= set(records[-1])


def test_value_baseline_is_saved_and_loaded(tmp_path):
    model = REINFORCE("MlpPolicy", "CartPole-v1", baseline="value", n_episodes=2, seed=0)
    model.learn(300)
    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip", env=make_vec_env("CartPole-v1"))
    assert loaded.baseline == "value" and loaded.policy.value_net is not None
    obs = th.randn(5, 4)
    with th.no_grad():
        th.testing.assert_close(loaded.policy.predict_values(obs), model.policy.predict_values(obs))
    loaded.learn(300)
    optimized = {id(p) for group in loaded.policy.optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in loaded.policy.value_net.parameters()} <= optimized


@pytest.mark.parametrize("baseline", ["none", "mean"])
def test_no_value_network_unless_asked(baseline):
    model = REINFORCE("MlpPolicy", "CartPole-v1", baseline=baseline)
    assert model.policy.value_net is None
    assert not any("value" in name for name, _ in model.policy.named_parameters())
    with pytest.raises(ValueError, match="no value network"):
        model.policy.predict_values(th.zeros(1, 4))
