"""The episode collector: which episodes make a batch (the first n_episodes to start), which envs step, the
waste, and how rollout actions are drawn. Returns of a whole batch are checked against values computed by hand
(in the manner of SB3's test_gae.py)."""

import json

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv

from reinforce_sb3 import PausableSubprocVecEnv
from reinforce_sb3.rollout import EpisodeCollector
from reinforce_sb3.rollout.vec_step import can_pause
from tests.envs import DictObsEnv, Lockstep, PoisonedEnv, ScriptedRewardEnv

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GAMMA = 0.5


class CaptureBatch(BaseCallback):
    """Record the first batch (its returns and step mask) when its collection ends, then stop."""

    def __init__(self) -> None:
        super().__init__()
        self.batch = None

    def _on_rollout_end(self) -> None:
        if self.batch is None:
            collector = self.model.collector
            self.batch = collector.buffer.episode_batch(self.model.gamma, self.model.reward_to_go)
            self.rows = collector.buffer.pos
            self.in_batch = collector.buffer.arrays["in_batch"][: collector.buffer.pos].copy()
            self.truncated = collector.buffer.arrays["truncated"][: collector.buffer.pos].copy()
            self.bootstrapped = collector.buffer.episode_batch(self.model.gamma, True, truncation_value=10.0)
            self.waste = collector.waste

    def _on_step(self) -> bool:
        return self.batch is None


def two_scripted_envs(truncate: bool = False, lockstep: bool = False):
    # env 0 plays episodes paying [1, 2], [3], [0, 0, 5] in turn; env 1 plays [2, 2, 2], [4]
    env = DummyVecEnv(
        [
            lambda: ScriptedRewardEnv([[1, 2], [3], [0, 0, 5]], truncate=truncate),
            lambda: ScriptedRewardEnv([[2, 2, 2], [4]], truncate=truncate),
        ]
    )
    return Lockstep(env) if lockstep else env


def first_batch(make_model, reward_to_go: bool, truncate=False, gamma=GAMMA, lockstep=False) -> CaptureBatch:
    env = two_scripted_envs(truncate, lockstep)
    model = make_model(env, n_episodes=4, gamma=gamma, reward_to_go=reward_to_go)
    callback = CaptureBatch()
    model.learn(100, callback=callback)
    return callback


# The batch is the first 4 episodes to start (ties by env index):
#   row:    0     1     2     3     4     5
#   env 0: [1     2]   [3]   [0     0     5]      episodes #1, #3, #4
#   env 1: [2     2     2]   (4)   (2     2 ...    episode #2; then, in lockstep, unused episodes (the batch was full);
#                                                  paused, env 1 waits at the start of its next episode instead
# With gamma = 0.5, reward-to-go: [1, 2] -> [2, 2]; [3] -> [3]; [0, 0, 5] -> [1.25, 2.5, 5]; [2, 2, 2] -> [3.5, 3, 2].
# Flattened in (row, env) order over the batch's steps:
REWARD_TO_GO = [2.0, 3.5, 2.0, 3.0, 3.0, 2.0, 1.25, 2.5, 5.0]
WHOLE_EPISODE = [2.0, 3.5, 2.0, 3.5, 3.0, 3.5, 1.25, 1.25, 1.25]


@pytest.mark.parametrize("lockstep", [False, True], ids=["paused", "lockstep"])
@pytest.mark.parametrize("truncate", [False, True])
def test_the_batch_is_the_first_episodes_to_start(make_model, truncate, lockstep):
    """Truncation ends the return exactly as termination does: no bootstrapping. Paused or in lockstep, the
    batch is the same; in lockstep, env 1's 3 unused steps are the waste."""
    capture = first_batch(make_model, reward_to_go=True, truncate=truncate, lockstep=lockstep)
    assert capture.rows == 6
    np.testing.assert_array_equal(
        capture.in_batch, [[True, True], [True, True], [True, True], [True, False], [True, False], [True, False]]
    )
    np.testing.assert_allclose(capture.batch.returns, REWARD_TO_GO)
    # the observations are [t, k]: the step within the episode and the episode's script
    np.testing.assert_array_equal(capture.batch.observations[:, 0], [0, 0, 1, 1, 0, 2, 0, 1, 2])
    np.testing.assert_array_equal(capture.batch.episode_ids, [0, 1, 0, 1, 2, 1, 3, 3, 3])
    assert capture.waste == pytest.approx(3 / 12 if lockstep else 0.0)


@pytest.mark.parametrize("lockstep", [False, True], ids=["paused", "lockstep"])
@pytest.mark.parametrize("truncate", [False, True])
def test_truncations_are_recorded_from_the_infos(make_model, truncate, lockstep):
    """The last step of each episode cut by a time limit (SB3's info "TimeLimit.truncated") is marked; a
    truncation value of 10 then adds 0.5 * 10 to its return, discounted to the earlier steps': [1, 2] ->
    [4.5, 7]; [3] -> [8]; [0, 0, 5] -> [2.5, 5, 10]; [2, 2, 2] -> [4.75, 5.5, 7]. Terminated episodes keep theirs."""
    capture = first_batch(make_model, reward_to_go=True, truncate=truncate, lockstep=lockstep)
    ends = [False, False, True, False, True, True, False, False, True]  # the batch's steps, as flattened above
    np.testing.assert_array_equal(capture.truncated[capture.in_batch], np.array(ends) & truncate)
    bootstrapped = [4.5, 4.75, 7.0, 5.5, 8.0, 7.0, 2.5, 5.0, 10.0] if truncate else REWARD_TO_GO
    np.testing.assert_allclose(capture.bootstrapped.returns, bootstrapped)


def test_whole_episode_returns(make_model):
    capture = first_batch(make_model, reward_to_go=False)
    np.testing.assert_allclose(capture.batch.returns, WHOLE_EPISODE)


def test_undiscounted_returns(make_model):
    # gamma = 1: [1, 2] -> [3, 2]; [3] -> [3]; [0, 0, 5] -> [5, 5, 5]; [2, 2, 2] -> [6, 4, 2]
    capture = first_batch(make_model, reward_to_go=True, gamma=1.0)
    np.testing.assert_allclose(capture.batch.returns, [3, 6, 2, 4, 3, 2, 5, 5, 5])
    capture = first_batch(make_model, reward_to_go=False, gamma=1.0)
    np.testing.assert_allclose(capture.batch.returns, [3, 6, 3, 6, 3, 6, 5, 5, 5])


def test_the_logged_waste_is_the_collector_s(make_model, tmp_path):
    """dump_logs logs the waste of the batch about to be used."""
    model = make_model(two_scripted_envs(lockstep=True), n_episodes=4)
    model.set_logger(configure(str(tmp_path), ["json"]))
    capture = CaptureBatch()
    model.learn(100, callback=capture, log_interval=1)
    first = json.loads((tmp_path / "progress.json").read_text().splitlines()[0])
    assert first["rollout/waste"] == pytest.approx(capture.waste) == 0.25


def collector_for(make_model, env, n_episodes):
    """A policy for ``env``, and a collector of batches of ``n_episodes``."""
    model = make_model(env, n_episodes=env.num_envs)
    return model, EpisodeCollector(model.observation_space, model.action_space, env.num_envs, n_episodes)


def test_an_episode_running_when_the_batch_begins_finishes_unused(make_model):
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1.0, 1.0]])] * 3)
    model, collector = collector_for(make_model, env, n_episodes=2)
    collector.start_batch(model.policy, np.array([False, True, True]))  # env 0 is mid-episode
    np.testing.assert_array_equal(collector.in_batch, [False, True, True])
    assert collector.n_started == 2 and not collector.complete
    # env 0 waits only once the batch has no place left for it: here it is full, so env 0 waits
    np.testing.assert_array_equal(collector.active(np.array([False, True, True]), can_pause(env)), [False, True, True])
    assert (collector.active(np.array([False, True, True]), can_pause(Lockstep(env))) == [True, True, True]).all()

    obs, one, step = np.zeros((3, 2), np.float32), np.ones(3), np.zeros(3, int)
    collector.record(obs, step, one, np.array([False, True, True]), np.array([True, False, False]), np.ones(3, bool))
    assert collector.n_done == 0 and collector.n_started == 2  # env 0's unused episode ended: no place left
    assert not collector.in_batch[0]
    collector.record(obs, step, one, np.array([True, False, False]), np.array([False, True, True]), np.ones(3, bool))
    assert collector.complete and collector.n_done == 2
    assert collector.buffer.n_batch_steps == 4 and collector.steps_taken == 6
    assert collector.waste == pytest.approx(2 / 6)


def test_an_env_ending_an_unused_episode_joins_while_there_are_places(make_model):
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1.0, 1.0]])] * 2)
    model, collector = collector_for(make_model, env, n_episodes=3)
    collector.start_batch(model.policy, np.array([False, True]))
    np.testing.assert_array_equal(
        collector.active(np.array([False, True]), can_pause(env)), [True, True]
    )  # a place is left
    obs, one, step = np.zeros((2, 2), np.float32), np.ones(2), np.zeros(2, int)
    collector.record(obs, step, one, np.array([False, True]), np.array([True, False]), np.ones(2, bool))
    assert collector.in_batch[0] and collector.n_started == 2
    # ties go by env index: both envs end an episode at once, one place left
    collector.record(obs, step, one, np.array([True, False]), np.array([True, True]), np.ones(2, bool))
    np.testing.assert_array_equal(collector.in_batch, [True, False])
    assert collector.n_started == 3 and collector.n_done == 2


def test_the_waste_of_a_batch_s_first_steps(make_model):
    """Before any step the waste is still a fraction (no division by zero); one step in the batch wastes nothing."""
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1.0, 1.0]])])
    model, collector = collector_for(make_model, env, n_episodes=1)
    collector.start_batch(model.policy, np.array([True]))
    assert 0.0 <= collector.waste <= 1.0
    obs, action, reward, yes = np.zeros((1, 2), np.float32), np.zeros(1, int), np.ones(1), np.ones(1, bool)
    collector.record(obs, action, reward, episode_starts=yes, dones=~yes, active=yes)  # in the batch, not done
    assert collector.steps_taken == 1 and collector.n_batch_steps == 1
    assert collector.waste == 0.0


def test_a_paused_env_is_not_counted_as_a_step(make_model):
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1.0, 1.0]])] * 2)
    model, collector = collector_for(make_model, env, n_episodes=1)
    collector.start_batch(model.policy, np.array([True, True]))
    active = collector.active(np.array([True, True]), can_pause(env))
    np.testing.assert_array_equal(active, [True, False])  # env 1 has no episode in the batch: it waits
    assert can_pause(env)
    obs, one, step = np.zeros((2, 2), np.float32), np.ones(2), np.zeros(2, int)
    collector.record(obs, step, one, np.array([True, True]), np.array([False, False]), active)
    assert collector.steps_taken == 1 and collector.buffer.n_batch_steps == 1


@pytest.mark.parametrize(
    ("policy", "env", "numpy_actor"), [("MlpPolicy", None, True), ("MultiInputPolicy", "dict", False)]
)
def test_actions_are_drawn_by_the_numpy_actor_or_from_torch_s_parameters(make_model, policy, env, numpy_actor):
    env = DummyVecEnv([DictObsEnv] * 2) if env == "dict" else DummyVecEnv([lambda: ScriptedRewardEnv([[1.0]])] * 2)
    model = make_model(env, policy)
    collector = model.collector
    assert (collector.actor is not None) == numpy_actor and collector.sampler is not None
    actions = collector.sample(env.reset())
    assert actions.shape == (2,) and actions.dtype == np.int64
    assert all(model.action_space.contains(int(a)) for a in actions)


def test_samples_come_from_torch_s_generator(make_model):
    """Same seed, same run; the numpy generator of each batch is seeded from torch's."""
    runs = []
    for seed in (3, 3, 4):
        model = make_model("CartPole-v1", seed=seed)
        model.learn(300)
        runs.append(model.collector.buffer.arrays["actions"][: model.collector.buffer.pos].copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].shape != runs[2].shape or not np.array_equal(runs[0], runs[2])


# --- a non-finite observation: refused before any action is chosen on it ---

ACTION_SPACES = {
    "Discrete": spaces.Discrete(2),
    "Box": spaces.Box(-1.0, 1.0, (2,)),
    "MultiDiscrete": spaces.MultiDiscrete([2, 3]),
    "MultiBinary": spaces.MultiBinary(2),
}


def poisoned_vec_env(kind: str, where: str, action_space: spaces.Space, bad_env: int = 1, n_envs: int = 2):
    """``n_envs`` PoisonedEnvs, env ``bad_env`` returning inf at its first reset or NaN at its 2nd step."""
    step = 0 if where == "reset" else 1
    value = np.inf if where == "reset" else np.nan
    kind_of_bad = "reset" if where == "reset" else "observation"
    make = [
        lambda i=i: PoisonedEnv(4, step if i == bad_env else -1, value, kind_of_bad, action_space)
        for i in range(n_envs)
    ]
    if kind == "PausableSubprocVecEnv":
        return PausableSubprocVecEnv(make)
    env = DummyVecEnv(make)
    return Lockstep(env) if kind == "Lockstep" else env


@pytest.mark.parametrize("where", ["reset", "mid-episode"])
@pytest.mark.parametrize("action_space", list(ACTION_SPACES))
@pytest.mark.parametrize("sampler", ["numpy", "torch"])
@pytest.mark.parametrize("kind", ["DummyVecEnv", "Lockstep"])
def test_a_non_finite_observation_gets_no_action(make_model, kind, sampler, action_space, where):
    """At the first reset or mid-episode, with the numpy actor or torch's (GELU has no numpy copy), for every
    action space, paused or in lockstep: the error names the env and the step, and the env received no action
    chosen on the bad observation."""
    env = poisoned_vec_env(kind, where, ACTION_SPACES[action_space])
    policy_kwargs = {"activation_fn": th.nn.GELU} if sampler == "torch" else {}
    model = make_model(env, policy_kwargs=policy_kwargs)
    assert (model.collector.actor is not None) == (sampler == "numpy")
    step = 0 if where == "reset" else 2
    message = rf"non-finite observation from env 1 at step {step} of the batch: \[(inf|nan)\]"
    with pytest.raises(ValueError, match=message):
        model.learn(100)
    assert env.get_attr("acted_on_bad") == [0, 0]
    assert model.num_timesteps == 2 * step and model._n_updates == 0


@pytest.mark.parametrize("where", ["reset", "mid-episode"])
def test_a_non_finite_observation_gets_no_action_from_a_subprocess_env(make_model, where):
    env = poisoned_vec_env("PausableSubprocVecEnv", where, ACTION_SPACES["Box"])
    model = make_model(env)
    try:
        with pytest.raises(ValueError, match=r"non-finite observation from env 1 at step \d of the batch"):
            model.learn(100)
        assert env.get_attr("acted_on_bad") == [0, 0]
    finally:
        env.close()


def test_a_non_finite_dict_observation_is_named_by_its_key(make_model):
    env = DummyVecEnv([DictObsEnv] * 2)
    model = make_model(env, "MultiInputPolicy")
    obs = env.reset()
    obs["vec"][1, 2] = np.inf
    with pytest.raises(ValueError, match=r"non-finite observation 'vec' from env 1 at step 0 of the batch"):
        model.collector.step(env, obs, np.ones(2, dtype=bool))
    assert model.collector.steps_taken == 0


def test_huge_but_finite_observations_are_not_refused(make_model):
    """The check's fast path squares the observations (1e30 squared overflows float32): only a real NaN or inf is
    refused."""
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1.0, 1.0]])] * 2)
    model = make_model(env)
    huge = np.array([[1e30, -3e38], [0.0, 1.0]], dtype=np.float32)
    model.collector.step(env, huge, np.ones(2, dtype=bool))
    assert model.collector.steps_taken == 2
    huge[1, 0] = np.inf
    with pytest.raises(ValueError, match=r"non-finite observation from env 1 at step 1 of the batch: \[inf, 1.0\]"):
        model.collector.step(env, huge, np.ones(2, dtype=bool))
