"""The peers of benchmarks.time_to_solve (benchmarks/peers.py): PyTorch's and Tianshou's REINFORCE under one judge."""

import pytest
import torch as th

from benchmarks import peers

ROW_KEYS = {
    "algo", "seed", "env", "hyperparams", "n_envs", "budget", "eval_freq", "deterministic", "solved", "steps",
    "seconds", "steps_run", "train_seconds", "eval_seconds", "wall_seconds", "evaluations",
}  # fmt: skip


def test_the_pytorch_example_trains_under_the_judge_and_is_seeded():
    first = peers.run_peer("pytorch_example", seed=3, eval_freq=500, deterministic=False, max_steps=1000)
    assert set(first) == ROW_KEYS
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
    with pytest.raises(ValueError, match="peer must be one of pytorch_example, tianshou, got 'rllib'"):
        peers.run_peer("rllib", seed=0, eval_freq=500, deterministic=False, max_steps=1000)


@pytest.mark.skipif(not peers.PEERS_PYTHON.exists(), reason='Tianshou runs in .venv-peers, which "make peers" creates')
def test_tianshou_trains_in_its_own_environment_under_the_judge_and_is_seeded():
    first = peers.run_peer("tianshou", seed=3, eval_freq=500, deterministic=False, max_steps=1000)
    assert set(first) == ROW_KEYS
    assert first["algo"] == "tianshou" and first["n_envs"] == 8 and first["budget"] == 1000
    assert first["hyperparams"].startswith("tianshou test_reinforce.py: hidden_sizes (64, 64), learning_rate 0.001")
    steps = [step for step, _ in first["evaluations"]]
    # 8 envs step together, fewer once some have ended their episode of the collection: the first count past 500
    assert first["solved"] or (len(steps) == 2 and 500 <= steps[0] < 508 and steps[1] == first["steps_run"] == 1000)
    assert all(0 < mean <= 500 for _, mean in first["evaluations"])
    again = peers.run_peer("tianshou", seed=3, eval_freq=500, deterministic=False, max_steps=1000)
    assert again["evaluations"] == first["evaluations"]


def test_tianshou_without_its_environment_says_how_to_make_it(monkeypatch, tmp_path):
    monkeypatch.setattr(peers, "PEERS_PYTHON", tmp_path / "missing" / "python")
    with pytest.raises(RuntimeError, match='tianshou needs its own environment: run "make peers" first'):
        peers.run_peer("tianshou", seed=0, eval_freq=500, deterministic=False, max_steps=1000)


def test_time_to_solve_refuses_a_missing_peer_environment_before_training_anything(monkeypatch, tmp_path):
    from benchmarks import time_to_solve

    monkeypatch.setattr(peers, "PEERS_PYTHON", tmp_path / "missing" / "python")
    monkeypatch.setattr(time_to_solve, "run", lambda *args: pytest.fail("a run started"))
    with pytest.raises(RuntimeError, match='run "make peers" first'):
        time_to_solve.time_to_solve(["reinforce", "tianshou"], [0])
