"""The base class's contract, as SB3's own algorithms keep it: the rollout loop and its callbacks, learn and
its continuation, logs, set_parameters, save and load (in the manner of sb3-contrib's test_save_load.py); envs
reset only where SB3 resets them; non-finite numbers stop training before any parameter changes."""

import io
import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stable_baselines3 import A2C
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv

from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout.vec_step import can_pause
from tests.envs import VEC_ENV_KINDS, NeverEndingEnv, PoisonedEnv, ResetProbe, ScriptedRewardEnv

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def parameters(model) -> list[th.Tensor]:
    return [p.detach().clone() for p in model.policy.parameters()]


def assert_same(params_a: list[th.Tensor], params_b: list[th.Tensor]) -> None:
    assert len(params_a) == len(params_b)
    for a, b in zip(params_a, params_b, strict=True):
        assert th.equal(a, b)


def observations(env_id, n=20, seed=0):
    space = gym.make(env_id).observation_space
    space.seed(seed)
    return np.stack([space.sample() for _ in range(n)])


# --- the rollout loop and its callbacks (SB3's OnPolicyAlgorithm.collect_rollouts) ---


class Recorder(BaseCallback):
    """Counts the hooks and checks that ``locals`` is fresh at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = {"training_start": 0, "rollout_start": 0, "step": 0, "rollout_end": 0, "training_end": 0}
        self.steps_seen = 0

    def _on_training_start(self) -> None:
        self.calls["training_start"] += 1
        assert "total_timesteps" in self.locals

    def _on_rollout_start(self) -> None:
        self.calls["rollout_start"] += 1

    def _on_step(self) -> bool:
        self.calls["step"] += 1
        # update_locals ran before on_step: the locals are this step's
        assert self.locals["new_obs"].shape == (self.training_env.num_envs, 4)
        assert self.locals["dones"].shape == (self.training_env.num_envs,)
        # num_timesteps counts the envs stepped: the active ones (envs waiting for the update are not stepped)
        self.steps_seen += int(self.locals["active"].sum())
        assert self.num_timesteps == self.steps_seen
        return True

    def _on_rollout_end(self) -> None:
        self.calls["rollout_end"] += 1

    def _on_training_end(self) -> None:
        self.calls["training_end"] += 1


def test_hooks_and_locals(make_model):
    model = make_model(make_vec_env("CartPole-v1", n_envs=2, seed=0), n_episodes=4)
    recorder = Recorder()
    model.learn(1000, callback=recorder)
    calls = recorder.calls
    assert calls["training_start"] == calls["training_end"] == 1
    assert recorder.steps_seen == model.num_timesteps
    assert 1000 <= model.num_timesteps < 1000 + 2  # the budget is checked before each step of the 2 envs
    assert 500 <= calls["step"] < 1000  # some steps leave a waiting env unstepped
    # one rollout per batch, plus the last one the budget cut short
    assert calls["rollout_start"] == calls["rollout_end"] == model._n_updates + 1


@pytest.mark.parametrize("stop_at", [1, 7])
def test_stop_as_soon_as_on_step_returns_false(make_model, make_strict_env, stop_at):
    calls = []

    def callback(_locals, _globals):
        calls.append(1)
        return len(calls) < stop_at

    env = make_strict_env("DummyVecEnv", "CartPole-v1", n_envs=3)  # any reset mid-episode is a RuntimeError
    model = make_model(env, n_episodes=4)
    model.learn(10_000, callback=callback)
    assert len(calls) == stop_at
    assert model.num_timesteps == 3 * stop_at
    assert model._n_updates == 0
    # the stopped step is recorded: training goes on from there, with the same batch and no reset
    assert model.collector.buffer.pos == stop_at
    model.learn(1000, reset_num_timesteps=False)
    assert model._n_updates > 0
    assert env.get_attr("early_resets") == [0, 0, 0]


def test_box_actions_log_prob_of_unclipped_sample_env_gets_clipped(make_model):
    """A wide Gaussian samples outside [-0.1, 0.1]: the buffer keeps the sample, the env sees it clipped."""
    seen = []

    class Recording(ScriptedRewardEnv):
        def step(self, action):
            seen.append(np.array(action))
            return super().step(action)

    box = gym.spaces.Box(-0.1, 0.1, shape=(1,), dtype=np.float32)
    env = DummyVecEnv([lambda: Recording([[0.0, 1.0]], action_space=box)])
    model = make_model(env, n_episodes=4, policy_kwargs=dict(log_std_init=1.0))
    stored = []
    model.learn(8, callback=lambda local_vars, _: stored.append(local_vars["actions"].copy()) or True)
    stored = np.concatenate(stored)
    assert np.abs(stored).max() > 0.1  # the sample itself
    assert np.abs(np.concatenate(seen)).max() <= 0.1 + 1e-7  # what the env received
    np.testing.assert_allclose(np.concatenate(seen), np.clip(stored, -0.1, 0.1).ravel(), rtol=1e-6)


# --- learn: budget, unfinished batches, continuation ---


def test_episodes_that_never_end_do_not_hang_learn(make_model):
    model = make_model(NeverEndingEnv())
    with pytest.warns(UserWarning, match="REINFORCE learns from complete episodes only: give the env a time limit"):
        model.learn(500)
    assert model.num_timesteps == 500 and model._n_updates == 0


def test_the_no_gradient_step_warning_points_at_the_caller(make_model):
    model = make_model(NeverEndingEnv())
    with pytest.warns(UserWarning, match="made no gradient step") as record:
        model.learn(10)
    assert record[0].filename == __file__


def test_an_unfinished_batch_continues_on_the_next_call(make_model):
    """Episodes of 50 steps, learn() calls of 30 steps: the batch spans calls instead of being thrown away."""
    model = make_model(gym.wrappers.TimeLimit(NeverEndingEnv(), max_episode_steps=50))
    with pytest.warns(UserWarning, match="made no gradient step"):
        model.learn(30)
        model.learn(30, reset_num_timesteps=False)
        model.learn(30, reset_num_timesteps=False)
    model.learn(30, reset_num_timesteps=False)
    assert model.num_timesteps == 120 and model._n_updates == 1


@pytest.mark.parametrize("algorithm", [REINFORCE, A2C])
def test_resumed_training_is_bitwise_the_same_as_one_call(algorithm):
    """learn(3000) then learn(2000, reset_num_timesteps=False) is learn(5000), as A2C's is."""

    def run(*budgets):
        env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
        kwargs = dict(n_episodes=4) if algorithm is REINFORCE else {}
        model = algorithm("MlpPolicy", env, seed=0, device="cpu", policy_kwargs=dict(net_arch=[8]), **kwargs)
        for i, budget in enumerate(budgets):
            model.learn(budget, reset_num_timesteps=i == 0)
            if algorithm is REINFORCE and i == 0:
                assert model.collector.n_started > 0 and not model.collector.complete  # cut mid-batch
        return model

    resumed, whole = run(3000, 2000), run(5000)
    # a learn() call ends at its budget or up to n_envs - 1 steps after it, and the next call's budget counts
    # from there (SB3's _setup_learn; A2C ends at a whole rollout): the resumed run may take 2 (n_envs - 1) more
    assert 0 <= resumed.num_timesteps - whole.num_timesteps <= 2 * (2 - 1)
    assert resumed._n_updates == whole._n_updates
    assert_same(parameters(resumed), parameters(whole))


# --- envs are reset only where SB3 resets them ---


@pytest.mark.parametrize("kind", VEC_ENV_KINDS)
def test_no_env_is_reset_mid_episode(make_model, make_strict_env, tmp_path, kind):
    """Several updates, a callback stop, set_parameters and load(force_reset=False) while episodes run:
    the envs' Monitors refuse a reset mid-episode, and a probe counts them."""
    env = make_strict_env(kind, "CartPole-v1", n_envs=3)
    if kind == "Lockstep":
        assert not can_pause(env)  # all envs step together: envs waiting for the update run unused episodes
    model = make_model(env, n_episodes=4)
    model.learn(500)
    assert model._n_updates >= 3

    def mid_episode() -> bool:
        return bool((~model._last_episode_starts).any())

    model.learn(10_000, callback=lambda _l, _g: False, reset_num_timesteps=False)  # stops after one step
    assert mid_episode()
    model.learn(300, reset_num_timesteps=False)
    assert mid_episode()
    model.set_parameters(make_model("CartPole-v1", seed=1).get_parameters())
    model.learn(300, reset_num_timesteps=False)
    assert mid_episode()
    model.save(tmp_path / "model.zip")
    model = REINFORCE.load(tmp_path / "model.zip", env=env, force_reset=False)
    model.learn(300, reset_num_timesteps=False)
    assert env.get_attr("early_resets") == [0, 0, 0]
    assert min(env.get_attr("n_resets")) > 3  # episodes ended and new ones began


def test_load_with_force_reset_resets_the_envs(make_model, tmp_path):
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=ResetProbe)
    model = make_model(env)
    model.learn(150)
    running = int((~model._last_episode_starts).sum())
    assert running > 0
    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip", env=env, force_reset=True)
    assert loaded._last_obs is None
    with pytest.warns(UserWarning, match="made no gradient step"):
        loaded.learn(10, reset_num_timesteps=False)
    assert sum(env.get_attr("early_resets")) == running  # the running episodes were cut, as A2C would
    assert loaded.num_timesteps >= model.num_timesteps + 10


# --- save, load, parameters (sb3-contrib's test_save_load.py) ---


@pytest.mark.parametrize(("env_id", "budget"), [("CartPole-v1", 300), ("Pendulum-v1", 500), ("PGToy-v0", 300)])
def test_save_load_round_trip(make_model, tmp_path, env_id, budget):
    model = make_model(env_id)
    model.learn(budget)  # Pendulum's episodes are 200 steps long
    obs = observations(env_id)
    actions, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "model.zip")

    loaded = REINFORCE.load(tmp_path / "model.zip", device="cpu")
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    # parameters and optimizer state (Adam moments) are restored
    th.testing.assert_close(loaded.policy.optimizer.state_dict()["state"], model.policy.optimizer.state_dict()["state"])
    assert_same(parameters(loaded), parameters(model))
    for attribute in ("n_episodes", "gamma", "reward_to_go", "normalize_returns", "loss_reduction", "num_timesteps"):
        assert getattr(loaded, attribute) == getattr(model, attribute)

    # training continues
    loaded.set_env(make_vec_env(env_id, n_envs=1))
    loaded.learn(budget, reset_num_timesteps=False)
    assert loaded.num_timesteps >= 2 * budget and loaded._n_updates > model._n_updates


def test_save_to_a_file_object(make_model):
    model = make_model()
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = REINFORCE.load(buffer)
    obs = observations("PGToy-v0")
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])


def test_load_with_a_different_number_of_envs_and_continue(make_model, tmp_path):
    model = make_model(make_vec_env("CartPole-v1", n_envs=2, seed=0), n_episodes=4)
    model.learn(300)
    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip", env=make_vec_env("CartPole-v1", n_envs=5, seed=1))
    assert loaded.n_envs == 5 and loaded.collector.buffer.n_envs == 5
    loaded.learn(600)
    assert loaded._n_updates > 0


def test_same_seed_same_run(make_model):
    def run(seed):
        return make_model(make_vec_env("CartPole-v1", n_envs=2), n_episodes=4, seed=seed).learn(1000)

    a, b, c = run(42), run(42), run(43)
    assert_same(parameters(a), parameters(b))
    assert a.num_timesteps == b.num_timesteps and a._n_updates == b._n_updates
    assert not th.equal(a.policy.action_net.weight, c.policy.action_net.weight)


def test_get_and_set_parameters(make_model):
    model, other = make_model(), make_model(seed=1)
    obs = observations("PGToy-v0")
    other.set_parameters(model.get_parameters())
    np.testing.assert_array_equal(other.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    with pytest.raises(ValueError, match="invalid object name"):
        other.set_parameters({"not_a_module": {}}, exact_match=False)
    with pytest.raises(ValueError, match="Names of parameters do not match"):
        other.set_parameters({"policy": model.get_parameters()["policy"]}, exact_match=True)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_set_parameters_refuses_non_finite_parameters(make_model, bad):
    model = make_model()
    model.learn(50)
    kept, optimizer_state = parameters(model), model.policy.optimizer.state_dict()
    new = make_model(seed=1).get_parameters()
    new["policy"]["action_net.weight"][0, 0] = bad
    with pytest.raises(ValueError, match=r"set_parameters: the parameters \['action_net.weight'\] are not finite"):
        model.set_parameters(new)
    assert_same(parameters(model), kept)  # the model keeps its own, the finite ones included
    th.testing.assert_close(model.policy.optimizer.state_dict(), optimizer_state)


def test_a_model_of_another_algorithm_is_refused(tmp_path):
    A2C("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[8])).save(tmp_path / "a2c.zip")
    with pytest.raises(ValueError, match="ActorCriticPolicy, saved by another algorithm"):
        REINFORCE.load(tmp_path / "a2c.zip")


# --- non-finite numbers: a ValueError before any parameter changes ---


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n_envs=st.integers(1, 3),
    length=st.integers(2, 4),
    where=st.sampled_from(["reward", "observation"]),
    value=st.sampled_from([math.nan, math.inf, -math.inf]),
    data=st.data(),
)
def test_a_non_finite_reward_or_observation_stops_training_and_names_env_and_step(
    make_model, n_envs, length, where, value, data
):
    """The error names the env and the batch step; the parameters are as before; no action was chosen on a bad
    observation; the model saves, loads and trains on."""
    env_index = data.draw(st.integers(0, n_envs - 1), label="env")
    # the observation returned by a step is what the next step acts on: the last one is never used
    step = data.draw(st.integers(0, length - 1 if where == "reward" else length - 2), label="step")
    envs = [PoisonedEnv(length, step if i == env_index else -1, value, where) for i in range(n_envs)]
    model = make_model(DummyVecEnv([lambda env=env: env for env in envs]), n_episodes=n_envs)
    before = parameters(model)
    row = step if where == "reward" else step + 1  # every env steps at every row of its first episode
    where_ = "in the batch at env {}, step {} " if where == "reward" else "from env {} at step {} of the batch"
    with pytest.raises(ValueError, match=rf"non-finite {where} {where_.format(env_index, row)}"):
        model.learn(100)
    assert sum(env.acted_on_bad for env in envs) == 0
    assert model._n_updates == 0
    assert_same(parameters(model), before)
    file = io.BytesIO()
    model.save(file)
    file.seek(0)
    assert_same(parameters(REINFORCE.load(file)), before)
    # the bad reward's episode is over; the bad observation's env is where it was, and a reset starts it anew
    model.learn(40, reset_num_timesteps=where == "observation")
    assert model._n_updates > 0


def test_returns_that_overflow_float32_stop_training(make_model):
    model = make_model(ScriptedRewardEnv([[3e38, 3e38]]), gamma=1.0)
    before = parameters(model)
    with pytest.raises(ValueError, match=r"non-finite return in the batch at env 0, step 0 .*overflows float32"):
        model.learn(100)
    assert_same(parameters(model), before)


def test_huge_but_finite_rewards_stay_finite(make_model):
    model = make_model(ScriptedRewardEnv([[1e30, -1e30, 1e30], [5e29]]), n_episodes=4, normalize_returns=True)
    model.learn(100)
    assert model._n_updates > 0
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


def test_a_non_finite_loss_stops_training_before_the_step(make_model, tmp_path):
    """Finite parameters so large that the logits overflow: the loss is NaN, no parameter changes."""
    model = make_model("CartPole-v1")
    with th.no_grad():
        model.policy.action_net.weight.fill_(1e38)
    before = parameters(model)
    with pytest.raises(
        ValueError, match=r"the loss \(.*\) or its gradient .* is not finite .*no parameter was changed"
    ):
        model.learn(500)
    assert_same(parameters(model), before)
    model.save(tmp_path / "model.zip")
    REINFORCE.load(tmp_path / "model.zip")


# --- logs (SB3's dump_logs keys) ---


def test_logger_keys(make_model, tmp_path):
    model = make_model("Pendulum-v1")
    model.set_logger(configure(str(tmp_path), ["json"]))
    model.learn(1200, log_interval=1)
    records = [json.loads(line) for line in (tmp_path / "progress.json").read_text().splitlines()]
    keys = set().union(*records)
    expected = {
        "rollout/ep_rew_mean", "rollout/ep_len_mean", "rollout/waste",
        "time/fps", "time/iterations", "time/time_elapsed", "time/total_timesteps",
        "train/policy_loss", "train/entropy_loss", "train/n_updates", "train/learning_rate",
        "train/return_mean", "train/return_std", "train/grad_norm", "train/std", "train/batch_steps",
    }  # fmt: skip
    assert expected <= keys
    last = records[-1]
    assert last["rollout/ep_len_mean"] == 200 and last["train/batch_steps"] == 400
    assert all(np.isfinite(v) for v in last.values() if isinstance(v, float))


def test_tensorboard(make_model, tmp_path):
    pytest.importorskip("tensorboard")
    model = make_model(n_episodes=4, tensorboard_log=str(tmp_path))
    model.learn(100, tb_log_name="run", log_interval=1)
    runs = list(tmp_path.glob("run_*"))
    assert len(runs) == 1 and any(f.name.startswith("events.out.tfevents") for f in runs[0].iterdir())


def test_stdout_logging(make_model, capsys):
    model = make_model(n_episodes=4, verbose=1)
    model.learn(200, log_interval=5)
    out = capsys.readouterr().out
    for key in ("ep_rew_mean", "total_timesteps", "policy_loss", "n_updates"):
        assert key in out
