"""SB3's standard callbacks work with REINFORCE as with A2C/PPO (in the manner of SB3's test_callbacks.py; the
callback contract itself is in test_episodic_algorithm.py, the step-counting progress bar in
tests/sb3/test_callbacks.py)."""

import numpy as np
import pytest
from stable_baselines3.common.callbacks import (
    CallbackList,
    CheckpointCallback,
    EvalCallback,
    ProgressBarCallback,
    StopTrainingOnMaxEpisodes,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.env_util import make_vec_env

from reinforce_sb3 import REINFORCE

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.filterwarnings("ignore:rich is experimental"),  # SB3's progress bar uses tqdm.rich
]


def test_sb3_s_own_progress_bar_callback_still_works(make_model):
    model = make_model(n_episodes=4)
    model.learn(100, callback=ProgressBarCallback())
    assert model.num_timesteps >= 100


def test_eval_checkpoint_and_reward_threshold(make_model, tmp_path):
    eval_env = make_vec_env("PGToy-v0", n_envs=1, seed=1)
    stop = StopTrainingOnRewardThreshold(reward_threshold=-100.0, verbose=0)  # any evaluation reaches it
    eval_callback = EvalCallback(
        eval_env, eval_freq=200, n_eval_episodes=5, best_model_save_path=str(tmp_path / "best"),
        log_path=str(tmp_path / "eval"), callback_on_new_best=stop,
    )  # fmt: skip
    checkpoint = CheckpointCallback(save_freq=50, save_path=str(tmp_path / "checkpoints"), name_prefix="reinforce")
    model = make_model(n_episodes=4)
    model.learn(10_000, callback=CallbackList([checkpoint, eval_callback]))
    assert model.num_timesteps == 200  # stopped at the first evaluation
    evaluations = np.load(tmp_path / "eval" / "evaluations.npz")
    assert evaluations["timesteps"].tolist() == [200] and evaluations["results"].shape == (1, 5)
    assert (tmp_path / "best" / "best_model.zip").exists()
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert checkpoints == [f"reinforce_{n}_steps.zip" for n in (100, 150, 200, 50)]
    REINFORCE.load(tmp_path / "checkpoints" / "reinforce_150_steps.zip")


def test_stop_on_max_episodes(make_model):
    model = make_model(make_vec_env("PGToy-v0", n_envs=2, seed=0), n_episodes=4)
    model.learn(10_000, callback=StopTrainingOnMaxEpisodes(max_episodes=10))
    # PGToy episodes take 1 to 3 steps: 10 episodes per env end the run within 30 steps per env
    assert model.num_timesteps <= 2 * 30
    assert sum(ep["l"] for ep in model.ep_info_buffer) <= model.num_timesteps
