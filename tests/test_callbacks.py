"""Every standard SB3 callback works with REINFORCE as with A2C/PPO (in the manner of SB3's test_callbacks.py)."""

import json

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.callbacks import (
    BaseCallback,
    CallbackList,
    CheckpointCallback,
    EvalCallback,
    ProgressBarCallback,
    StopTrainingOnMaxEpisodes,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure

from reinforce_sb3 import REINFORCE


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


def test_hooks_and_locals():
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_episodes=4, seed=0)
    recorder = Recorder()
    model.learn(2000, callback=recorder)
    calls = recorder.calls
    assert calls["training_start"] == calls["training_end"] == 1
    assert recorder.steps_seen == model.num_timesteps
    assert 2000 <= model.num_timesteps < 2000 + 2  # the budget is checked before each step of the 2 envs
    assert 1000 <= calls["step"] < 2000
    # one rollout per batch, plus the last one the budget cut short
    assert calls["rollout_start"] == calls["rollout_end"] == model._n_updates + 1


@pytest.mark.parametrize("stop_at", [1, 7])
def test_stop_as_soon_as_on_step_returns_false(stop_at):
    calls = []

    def callback(_locals, _globals):
        calls.append(1)
        return len(calls) < stop_at

    # a Monitor that refuses early resets: any mid-episode reset is a RuntimeError
    env = make_vec_env("CartPole-v1", n_envs=3, monitor_kwargs=dict(allow_early_resets=False))
    model = REINFORCE("MlpPolicy", env, n_episodes=4, seed=0)
    model.learn(10_000, callback=callback)
    assert len(calls) == stop_at
    assert model.num_timesteps == 3 * stop_at
    assert model._n_updates == 0
    # the stopped step is recorded: training goes on from there, with the same batch and no reset
    assert model.collector.buffer.pos == stop_at
    model.learn(2000, reset_num_timesteps=False)
    assert model._n_updates > 0


def test_eval_checkpoint_and_reward_threshold(tmp_path):
    eval_env = make_vec_env("PGToy-v0", n_envs=1, seed=1)
    stop = StopTrainingOnRewardThreshold(reward_threshold=-100.0, verbose=0)  # any evaluation reaches it
    eval_callback = EvalCallback(
        eval_env, eval_freq=200, n_eval_episodes=5, best_model_save_path=str(tmp_path / "best"),
        log_path=str(tmp_path / "eval"), callback_on_new_best=stop,
    )  # fmt: skip
    checkpoint = CheckpointCallback(save_freq=50, save_path=str(tmp_path / "checkpoints"), name_prefix="reinforce")
    model = REINFORCE("MlpPolicy", "PGToy-v0", n_episodes=4, seed=0)
    model.learn(10_000, callback=CallbackList([checkpoint, eval_callback]))
    assert model.num_timesteps == 200  # stopped at the first evaluation
    evaluations = np.load(tmp_path / "eval" / "evaluations.npz")
    assert evaluations["timesteps"].tolist() == [200] and evaluations["results"].shape == (1, 5)
    assert (tmp_path / "best" / "best_model.zip").exists()
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert checkpoints == [f"reinforce_{n}_steps.zip" for n in (100, 150, 200, 50)]
    REINFORCE.load(tmp_path / "checkpoints" / "reinforce_150_steps.zip")


def test_stop_on_max_episodes():
    model = REINFORCE("MlpPolicy", make_vec_env("PGToy-v0", n_envs=2, seed=0), n_episodes=4, seed=0)
    model.learn(10_000, callback=StopTrainingOnMaxEpisodes(max_episodes=10))
    # PGToy episodes take 1 to 3 steps: 10 episodes per env end the run within 30 steps per env
    assert model.num_timesteps <= 2 * 30
    assert sum(ep["l"] for ep in model.ep_info_buffer) <= model.num_timesteps


def test_progress_bar(capsys):
    model = REINFORCE("MlpPolicy", "PGToy-v0", n_episodes=4, seed=0)
    model.learn(300, progress_bar=True)
    model.learn(100, callback=ProgressBarCallback())
    assert model.num_timesteps >= 100


def test_logger_keys(tmp_path):
    model = REINFORCE("MlpPolicy", "Pendulum-v1", n_episodes=2, seed=0)
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


def test_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    model = REINFORCE("MlpPolicy", "PGToy-v0", n_episodes=4, tensorboard_log=str(tmp_path), seed=0)
    model.learn(200, tb_log_name="run", log_interval=1)
    runs = list(tmp_path.glob("run_*"))
    assert len(runs) == 1 and any(f.name.startswith("events.out.tfevents") for f in runs[0].iterdir())


def test_stdout_logging(capsys):
    model = REINFORCE("MlpPolicy", "PGToy-v0", n_episodes=4, seed=0, verbose=1)
    model.learn(400, log_interval=5)
    out = capsys.readouterr().out
    for key in ("ep_rew_mean", "total_timesteps", "policy_loss", "n_updates"):
        assert key in out


def test_works_with_a_time_limited_env_made_by_hand():
    env = gym.wrappers.TimeLimit(gym.make("CartPole-v1").unwrapped, max_episode_steps=20)
    model = REINFORCE("MlpPolicy", env, n_episodes=2, seed=0)
    model.learn(200)
    assert model._n_updates >= 5
