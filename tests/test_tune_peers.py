"""The peers of benchmarks.time_to_solve (benchmarks/peers.py): PyTorch's example REINFORCE under the same judge."""

import pytest
import torch as th

from benchmarks import peers


def test_the_pytorch_example_trains_under_the_judge_and_is_seeded():
    first = peers.run_peer("pytorch_example", seed=3, eval_freq=500, deterministic=False, max_steps=1000)
    assert first["algo"] == "pytorch_example" and first["n_envs"] == 1 and first["budget"] == 1000
    steps = [step for step, _ in first["evaluations"]]
    assert steps == [500, 1000] or first["solved"]
    assert all(0 < mean <= 500 for _, mean in first["evaluations"])
    again = peers.run_peer("pytorch_example", seed=3, eval_freq=500, deterministic=False, max_steps=1000)
    assert again["evaluations"] == first["evaluations"]


def test_the_pytorch_example_policy_is_the_published_network():
    policy = peers.PyTorchExamplePolicy()
    layers = [type(layer).__name__ for layer in policy.net]
    assert layers == ["Linear", "Dropout", "ReLU", "Linear"] and policy.net[0].out_features == 128
    assert policy.net[1].p == 0.6
    probs = policy(th.zeros(5, 4))
    assert probs.shape == (5, 2) and th.allclose(probs.sum(-1), th.ones(5))
    actions, _ = policy.predict(th.zeros(5, 4).numpy())
    assert actions.shape == (5,) and set(actions.tolist()) <= {0, 1}
    with pytest.raises(ValueError, match="peer must be one of pytorch_example, got 'tianshou'"):
        peers.run_peer("tianshou", seed=0, eval_freq=500, deterministic=False, max_steps=1000)
