"""SB3's tests/test_callbacks.py, adapted to REINFORCE.

Kept as upstream, except: envs get short time limits (REINFORCE updates after complete episodes), the
Pendulum runs of the single-env part use CartPole (20-step episodes instead of 200), and
test_eval_success_logging drops its "> 50% success" check, which is about DQN with HER's replay buffer.
test_checkpoint_additional_info checks that no replay buffer is saved (REINFORCE has none) instead of one.
"""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import A2C
from stable_baselines3.common import callbacks as sb3_callbacks
from stable_baselines3.common.callbacks import (
    BaseCallback,
    CallbackList,
    CheckpointCallback,
    EvalCallback,
    EveryNTimesteps,
    LogEveryNTimesteps,
    StopTrainingOnMaxEpisodes,
    StopTrainingOnNoModelImprovement,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import BitFlippingEnv, IdentityEnv
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from reinforce_sb3 import REINFORCE
from tests.sb3.helpers import EP_LENGTH, SMALL, CountingWrapper, StopAt, select_env, strict_monitor


def short_pendulum() -> gym.Env:
    return gym.make("Pendulum-v1", max_episode_steps=16)


# SB3 test_callbacks.py::test_callbacks (the A2C case)
def test_callbacks(tmp_path):
    log_folder = tmp_path / "logs/callbacks/"
    env_id = "CartPole-v1"
    model = REINFORCE("MlpPolicy", env_id, n_episodes=2, policy_kwargs=dict(net_arch=[8]))

    checkpoint_callback = CheckpointCallback(save_freq=512, save_path=log_folder)
    eval_env = gym.make(env_id)
    # Stop training if the performance is good enough
    callback_on_best = StopTrainingOnRewardThreshold(reward_threshold=1000, verbose=1)
    # Stop training if there is no model improvement after 2 evaluations
    callback_no_model_improvement = StopTrainingOnNoModelImprovement(max_no_improvement_evals=2, min_evals=1, verbose=1)
    eval_callback = EvalCallback(
        eval_env,
        callback_on_new_best=callback_on_best,
        callback_after_eval=callback_no_model_improvement,
        best_model_save_path=log_folder,
        log_path=log_folder,
        eval_freq=32,
        warn=False,
    )
    # Equivalent to the `checkpoint_callback`, but event-driven
    checkpoint_on_event = CheckpointCallback(save_freq=1, save_path=log_folder, name_prefix="event")
    event_callback = EveryNTimesteps(n_steps=128, callback=checkpoint_on_event)
    log_callback = LogEveryNTimesteps(n_steps=64)
    # Stop training if max number of episodes is reached
    callback_max_episodes = StopTrainingOnMaxEpisodes(max_episodes=100, verbose=1)

    callback = CallbackList([checkpoint_callback, eval_callback, event_callback, log_callback, callback_max_episodes])
    model.learn(128, callback=callback)

    # Access to local variables
    assert model.env.observation_space.contains(callback.locals["new_obs"][0])
    # The child callbacks were called
    assert checkpoint_callback.locals["new_obs"] is callback.locals["new_obs"]
    assert event_callback.locals["new_obs"] is callback.locals["new_obs"]
    assert checkpoint_on_event.locals["new_obs"] is callback.locals["new_obs"]
    # Internal callback counters match the model's counters
    assert event_callback.num_timesteps == model.num_timesteps
    assert event_callback.n_calls == model.num_timesteps

    model.learn(128, callback=None)
    # Transform callback into a callback list automatically and use progress bar
    model.learn(128, callback=[checkpoint_callback, eval_callback], progress_bar=True)
    # Automatic wrapping, old way of doing callbacks
    model.learn(128, callback=lambda _locals, _globals: True)

    # Multiple envs (A2C and PPO upstream): Pendulum with a time limit of 100 steps
    max_episodes = 1
    n_envs = 2
    max_episode_length = 100
    envs = make_vec_env("Pendulum-v1", n_envs=n_envs, seed=0, env_kwargs=dict(max_episode_steps=max_episode_length))
    model = REINFORCE("MlpPolicy", envs, policy_kwargs=dict(net_arch=[]))
    callback_max_episodes = StopTrainingOnMaxEpisodes(max_episodes=max_episodes, verbose=1)
    model.learn(512, callback=CallbackList([callback_max_episodes]))
    # The actual number of episodes and timesteps per env matches the expected one
    assert callback_max_episodes.n_episodes // n_envs == max_episodes
    assert model.num_timesteps // n_envs == max_episode_length


# SB3 test_callbacks.py::test_eval_callback_vec_env
def test_eval_callback_vec_env():
    n_eval_envs = 3
    # IdentityEnv() has one action, always right: an episode scores its length (SB3: 100 steps, 300 to learn)
    train_env = IdentityEnv(ep_length=EP_LENGTH)
    eval_env = DummyVecEnv([lambda: IdentityEnv(ep_length=EP_LENGTH)] * n_eval_envs)
    model = REINFORCE("MlpPolicy", train_env, n_episodes=1, seed=0)
    eval_callback = EvalCallback(eval_env, eval_freq=EP_LENGTH, warn=False)
    model.learn(3 * EP_LENGTH, callback=eval_callback)
    assert eval_callback.last_mean_reward == EP_LENGTH


class AlwaysFailCallback(BaseCallback):
    def __init__(self, *args, callback_false_value, **kwargs):
        super().__init__(*args, **kwargs)
        self.callback_false_value = callback_false_value

    def _on_step(self) -> bool:
        return self.callback_false_value


# SB3 test_callbacks.py::test_callbacks_can_cancel_runs (the A2C case: stats_window_size=1)
@pytest.mark.parametrize("callback_false_value", [False, np.bool_(0), th.tensor(0, dtype=th.bool)])
def test_callbacks_can_cancel_runs(callback_false_value):
    assert not callback_false_value  # the parametrized values are valid
    model = REINFORCE("MlpPolicy", short_pendulum(), stats_window_size=1, policy_kwargs=dict(net_arch=[2]))
    alwaysfailcallback = AlwaysFailCallback(callback_false_value=callback_false_value)
    model.learn(10, callback=alwaysfailcallback)
    assert alwaysfailcallback.n_calls == 1
    assert model.num_timesteps == 1


# Ours, after SB3's test_callbacks_can_cancel_runs: a run cancelled mid-episode continues that episode at the
# next learn(reset_num_timesteps=False), with no reset (Monitor(allow_early_resets=False) raises on one), like A2C
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
@pytest.mark.filterwarnings("ignore:REINFORCE made no gradient step")
def test_learning_after_a_cancel_continues_the_episode(model_class):
    kwargs = SMALL if model_class is REINFORCE else dict(n_steps=1, policy_kwargs=dict(net_arch=[16]))
    counters = [CountingWrapper(select_env(discrete=True)) for _ in range(2)]
    env = DummyVecEnv([lambda counter=counter: strict_monitor(counter) for counter in counters])
    model = model_class("MlpPolicy", env, seed=0, **kwargs)
    model.learn(1000, callback=StopAt(EP_LENGTH + 4))  # stopped mid-episode
    for _ in range(3):
        model.learn(7, reset_num_timesteps=False, callback=StopAt(5))
        model.learn(6, reset_num_timesteps=False)
    assert sum(counter.n_steps for counter in counters) == model.num_timesteps
    for counter, monitor in zip(counters, env.envs, strict=True):
        # one reset at the first learn, then one at the end of each episode; every episode ran to its end
        assert counter.n_resets == 1 + len(monitor.get_episode_lengths())
        assert monitor.get_episode_lengths() == [EP_LENGTH] * (counter.n_steps // EP_LENGTH)


# SB3 test_callbacks.py::test_eval_success_logging (without HER's "> 50% success" check)
def test_eval_success_logging(tmp_path):
    n_bits = 2
    n_envs = 2
    env = BitFlippingEnv(n_bits=n_bits)
    eval_env = DummyVecEnv([lambda: BitFlippingEnv(n_bits=n_bits)] * n_envs)
    eval_callback = EvalCallback(eval_env, eval_freq=100, log_path=tmp_path, warn=False)
    model = REINFORCE("MultiInputPolicy", env, seed=0, **SMALL)
    model.learn(200, callback=eval_callback)
    assert len(eval_callback._is_success_buffer) > 0
    assert len(model.ep_success_buffer) > 0  # the training side logs rollout/success_rate too


# SB3 test_callbacks.py::test_eval_callback_logs_are_written_with_the_correct_timestep
def test_eval_callback_logs_are_written_with_the_correct_timestep(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = REINFORCE(
        "MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[32]), tensorboard_log=tmp_path, verbose=1, seed=1
    )
    eval_freq = 101
    eval_callback = EvalCallback(gym.make("CartPole-v1"), eval_freq=eval_freq, warn=False)
    model.learn(500, callback=eval_callback)

    acc = EventAccumulator(str(tmp_path / "REINFORCE_1"))
    acc.Reload()
    events = acc.scalars.Items("eval/mean_reward")
    assert len(events) == 500 // eval_freq
    for event in events:
        assert event.step % eval_freq == 0


# SB3 test_callbacks.py::test_eval_friendly_error
def test_eval_friendly_error():
    train_env = VecNormalize(DummyVecEnv([lambda: gym.make("CartPole-v1")]))
    eval_env = VecNormalize(DummyVecEnv([lambda: gym.make("CartPole-v1")]), training=False, norm_reward=False)
    _ = train_env.reset()
    original_obs = train_env.get_original_obs()
    model = REINFORCE("MlpPolicy", train_env, n_episodes=2, seed=0)

    eval_callback = EvalCallback(eval_env, eval_freq=100, warn=False)
    model.learn(100, callback=eval_callback)
    # Synchronization
    assert np.allclose(train_env.normalize_obs(original_obs), eval_env.normalize_obs(original_obs))

    wrong_eval_env = gym.make("CartPole-v1")
    eval_callback = EvalCallback(wrong_eval_env, eval_freq=100, warn=False)
    with pytest.warns(Warning), pytest.raises(AssertionError):
        model.learn(100, callback=eval_callback)


# SB3 test_callbacks.py::test_checkpoint_additional_info: VecNormalize statistics saved with each checkpoint
def test_checkpoint_additional_info(tmp_path):
    dummy_vec_env = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    env = VecNormalize(dummy_vec_env)
    checkpoint_dir = tmp_path / "checkpoints"
    checkpoint_callback = CheckpointCallback(
        save_freq=200, save_path=checkpoint_dir, save_replay_buffer=True, save_vecnormalize=True, verbose=2
    )
    model = REINFORCE("MlpPolicy", env, n_episodes=2, seed=0)
    model.learn(200, callback=checkpoint_callback)

    assert (checkpoint_dir / "rl_model_200_steps.zip").exists()
    assert (checkpoint_dir / "rl_model_vecnormalize_200_steps.pkl").exists()
    assert not (checkpoint_dir / "rl_model_replay_buffer_200_steps.pkl").exists()  # REINFORCE has no replay buffer
    # The checkpoints can be loaded
    REINFORCE.load(checkpoint_dir / "rl_model_200_steps.zip")
    loaded = VecNormalize.load(checkpoint_dir / "rl_model_vecnormalize_200_steps.pkl", dummy_vec_env)
    assert loaded.obs_rms.count == env.obs_rms.count


# SB3 test_callbacks.py::test_eval_callback_chaining
def test_eval_callback_chaining(tmp_path):
    class DummyCallback(BaseCallback):
        calls = 0

        def _on_step(self):
            # The parent callback is an EvalCallback
            assert isinstance(self.parent, EvalCallback)
            assert hasattr(self.parent, "best_mean_reward")
            self.calls += 1
            return True

    stop_on_threshold_callback = StopTrainingOnRewardThreshold(reward_threshold=-200, verbose=1)
    on_new_best, after_eval = DummyCallback(), DummyCallback()
    eval_callback = EvalCallback(
        short_pendulum(),
        best_model_save_path=tmp_path,
        log_path=tmp_path,
        eval_freq=32,
        deterministic=True,
        render=False,
        callback_on_new_best=CallbackList([on_new_best, stop_on_threshold_callback]),
        callback_after_eval=CallbackList([after_eval]),
        warn=False,
    )
    model = REINFORCE("MlpPolicy", short_pendulum(), n_episodes=2)
    model.learn(64, callback=eval_callback)
    # The first evaluation (16-step Pendulum episodes score about -100) passes the threshold and stops training
    assert on_new_best.calls == 1 and model.num_timesteps == 32


class RecordingBar:
    """Stands in for tqdm in SB3's ProgressBarCallback: records the total and what was counted."""

    bars: list["RecordingBar"] = []

    def __init__(self, total: int) -> None:
        self.total = total
        self.n = 0
        RecordingBar.bars.append(self)

    def update(self, n: int) -> None:
        self.n += n

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


# Ours, after the progress_bar=True runs of SB3's test_callbacks: the bar counts the env steps taken, no more,
# also with envs that wait (paused) for the update; as A2C's, whose envs all step every time
@pytest.mark.parametrize("model_class", [REINFORCE, A2C])
def test_progress_bar_counts_the_steps_taken(monkeypatch, model_class):
    monkeypatch.setattr(sb3_callbacks, "tqdm", RecordingBar)
    monkeypatch.setattr(RecordingBar, "bars", [])
    kwargs = dict(n_episodes=4) if model_class is REINFORCE else dict(n_steps=4)
    counters = [CountingWrapper(select_env(discrete=True)) for _ in range(3)]
    env = DummyVecEnv([lambda counter=counter: counter for counter in counters])
    model = model_class("MlpPolicy", env, seed=0, policy_kwargs=dict(net_arch=[8]), **kwargs)

    taken = []
    for budget, reset in [(120, True), (60, False)]:
        before = sum(counter.n_steps for counter in counters)
        model.learn(budget, reset_num_timesteps=reset, progress_bar=True)
        taken.append(sum(counter.n_steps for counter in counters) - before)
    assert [bar.total for bar in RecordingBar.bars] == [120, 60]
    assert [bar.n for bar in RecordingBar.bars] == taken
    assert sum(taken) == model.num_timesteps
