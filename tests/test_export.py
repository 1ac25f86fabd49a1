"""SB3's ONNX export route (docs/export.md) works for REINFORCE's policies: onnxruntime acts as ``predict`` does."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch as th

onnx = pytest.importorskip("onnx", reason="ONNX export needs the export extra: pip install 'reinforce-sb3[export]'")
ort = pytest.importorskip(
    "onnxruntime", reason="ONNX export needs the export extra: pip install 'reinforce-sb3[export]'"
)

import gym_pgtoy  # noqa: E402, F401  # registers PGToy-v0

N_OBSERVATIONS = 256


class OnnxableREINFORCEPolicy(th.nn.Module):
    """The wrapper of docs/export.md (SB3's ``OnnxableSB3Policy``), optionally clipping Box actions as predict does."""

    def __init__(self, policy: th.nn.Module, clip: bool = False) -> None:
        super().__init__()
        self.policy = policy
        self.clip = clip
        if clip:
            self.register_buffer("low", th.as_tensor(policy.action_space.low))
            self.register_buffer("high", th.as_tensor(policy.action_space.high))

    def forward(self, observation: th.Tensor) -> th.Tensor:
        actions = self.policy(observation, deterministic=True)
        return th.clamp(actions, self.low, self.high) if self.clip else actions


def export(model, path, clip=False):
    """Export ``model``'s policy as docs/export.md does; an onnxruntime session of the file."""
    with warnings.catch_warnings():  # deprecation of the TorchScript exporter; the distributions' argument checks
        warnings.simplefilter("ignore")
        th.onnx.export(
            OnnxableREINFORCEPolicy(model.policy, clip=clip).eval(),
            th.zeros(1, *model.observation_space.shape),
            str(path),
            opset_version=17,
            input_names=["input"],
            output_names=["actions"],
            dynamic_axes={"input": {0: "batch"}, "actions": {0: "batch"}},
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(path)))
    return ort.InferenceSession(str(path))


def observations(model, env):
    """Observations the policy meets: those of a few episodes, then samples of the space, in one batch."""
    seen, (observation, _) = [], env.reset(seed=1)
    while len(seen) < N_OBSERVATIONS // 2:
        seen.append(observation)
        observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            observation, _ = env.reset()
    model.observation_space.seed(2)
    seen += [model.observation_space.sample() for _ in range(N_OBSERVATIONS - len(seen))]
    return np.stack(seen)


def run(session, batch):
    (actions,) = session.run(None, {"input": batch.astype(np.float32)})
    return actions


@pytest.fixture(params=[("CartPole-v1", {}), ("PGToy-v0", {})], ids=["CartPole-v1", "PGToy-v0"])
def discrete(request, make_model):
    env_id, kwargs = request.param
    model = make_model(env=gym.make(env_id, **kwargs), n_episodes=4)
    model.learn(600)
    return model, gym.make(env_id, **kwargs)


@pytest.fixture(
    params=[("PGToy-v0", {"continuous": True}), ("Pendulum-v1", {})], ids=["PGToy-v0-continuous", "Pendulum-v1"]
)
def box(request, make_model):
    env_id, kwargs = request.param
    model = make_model(env=gym.make(env_id, **kwargs), n_episodes=2)
    model.learn(600)
    return model, gym.make(env_id, **kwargs)


def test_discrete_actions_of_onnxruntime_are_those_of_predict(discrete, tmp_path):
    model, env = discrete
    assert model.action_space.n == 2
    assert model.num_timesteps >= 600 and model._n_updates > 0  # trained, not a fresh policy
    session = export(model, tmp_path / "policy.onnx")
    batch = observations(model, env)
    actions = run(session, batch)
    predicted, _ = model.predict(batch, deterministic=True)
    assert actions.shape == predicted.shape == (N_OBSERVATIONS,)
    np.testing.assert_array_equal(actions, predicted)
    # The graph computes from the policy's weights: negating the logits flips each of the two actions.
    with th.no_grad():
        for parameter in model.policy.action_net.parameters():
            parameter.neg_()
    flipped = run(export(model, tmp_path / "flipped.onnx"), batch)
    np.testing.assert_array_equal(flipped, 1 - predicted)
    np.testing.assert_array_equal(flipped, model.predict(batch, deterministic=True)[0])


def test_box_actions_of_onnxruntime_are_those_of_predict_after_the_same_clip(box, tmp_path):
    model, env = box
    low, high = model.action_space.low, model.action_space.high
    batch = observations(model, env)
    # Move the Gaussian's means well outside the bounds for some observations, so that the clip shows.
    with th.no_grad():
        model.policy.action_net.bias += 2 * float(high.max())
    predicted, _ = model.predict(batch, deterministic=True)
    means = run(export(model, tmp_path / "policy.onnx"), batch)
    assert means.shape == predicted.shape == (N_OBSERVATIONS, *model.action_space.shape)
    assert (means > high).any()  # the graph returns the means, as the policy's forward does
    np.testing.assert_allclose(np.clip(means, low, high), predicted, rtol=0, atol=1e-6)
    # ... or the wrapper clips in the graph
    clipped = run(export(model, tmp_path / "clipped.onnx", clip=True), batch)
    np.testing.assert_allclose(clipped, predicted, rtol=0, atol=1e-6)
    assert np.all((clipped >= low) & (clipped <= high))
    # and where no clip applies, the means are predict's actions to float precision
    inside = np.all((means > low) & (means < high), axis=1)
    np.testing.assert_allclose(means[inside], predicted[inside], rtol=0, atol=1e-6)


def test_squashed_box_actions_of_onnxruntime_are_those_of_predict_after_the_same_rescaling(tmp_path, make_model):
    """squash_output=True: the graph returns tanh-squashed actions in (-1, 1), which predict rescales to the bounds."""
    model = make_model(env=gym.make("Pendulum-v1"), n_episodes=2, policy_kwargs={"squash_output": True})
    model.learn(400)
    with th.no_grad():  # most means far from 0, where the rescaling (bounds +-2) shows
        model.policy.action_net.bias += 3.0
    batch = observations(model, gym.make("Pendulum-v1"))
    squashed = run(export(model, tmp_path / "policy.onnx"), batch)
    predicted, _ = model.predict(batch, deterministic=True)
    low, high = model.action_space.low, model.action_space.high
    assert np.all(np.abs(squashed) <= 1) and not np.allclose(squashed, predicted, atol=0.1)
    np.testing.assert_allclose(low + 0.5 * (squashed + 1) * (high - low), predicted, rtol=0, atol=1e-6)


def test_the_stochastic_policy_exports_too(tmp_path, make_model):
    """deterministic=False: onnxruntime samples; the samples of a Discrete policy follow its probabilities."""
    model = make_model(env=gym.make("PGToy-v0"), n_episodes=4)
    model.learn(600)

    class Stochastic(th.nn.Module):
        def __init__(self, policy):
            super().__init__()
            self.policy = policy

        def forward(self, observation):
            return self.policy(observation, deterministic=False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        th.onnx.export(
            Stochastic(model.policy).eval(),
            th.zeros(1, 2),
            str(tmp_path / "stochastic.onnx"),
            opset_version=17,
            input_names=["input"],
            dynamic_axes={"input": {0: "batch"}},
            dynamo=False,
        )
    session = ort.InferenceSession(str(tmp_path / "stochastic.onnx"))
    observation = np.array([[0, 0]])
    n = 4000
    actions = run(session, np.repeat(observation, n, axis=0))
    with th.no_grad():
        obs, _ = model.policy.obs_to_tensor(observation)
        p_right = float(model.policy.get_distribution(obs).distribution.probs[0, 1])
    # the share of action 1 within 5 standard errors of its probability
    assert abs(actions.mean() - p_right) < 5 * np.sqrt(p_right * (1 - p_right) / n) + 1e-9
    assert set(np.unique(actions)) <= {0, 1}
