"""REINFORCE itself: short learn() runs over envs, action and observation spaces, policies and options (in the
manner of sb3-contrib's test_run.py), and what its update does with them."""

import contextlib
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv
from threadpoolctl import threadpool_info, threadpool_limits

from reinforce_sb3 import REINFORCE, REINFORCEPolicy
from tests.envs import DictObsEnv, ImageObsEnv, ScriptedRewardEnv

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class FirstBatch(BaseCallback):
    """Keeps the first complete batch (as train() will see it), then lets training go on."""

    batch = None

    def _on_rollout_end(self) -> None:
        if self.batch is None and self.model.collector.complete:
            self.batch = self.model.collector.buffer.episode_batch(self.model.gamma, self.model.reward_to_go)

    def _on_step(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env_id", "budget"),
    [("CartPole-v1", 300), ("Pendulum-v1", 500), ("PGToy-v0", 200), ("SlipperyHill-v0", 200), ("FrozenLake-v1", 300)],
)
def test_registered_envs(make_model, env_id, budget):
    model = make_model(env_id)
    model.learn(budget)  # Pendulum's episodes are 200 steps long
    assert model._n_updates > 0
    obs = model.get_env().reset()
    action, _ = model.predict(obs, deterministic=True)
    assert model.get_env().action_space.contains(np.asarray(action[0]).astype(model.action_space.dtype))


@pytest.mark.parametrize(
    "action_space",
    [
        spaces.Discrete(3),
        spaces.Box(-2.0, 2.0, shape=(2,)),
        spaces.Box(-1.0, 1.0, shape=(2, 2)),  # SB3's DummyMultidimensionalAction
        spaces.MultiDiscrete([3, 2]),
        spaces.MultiBinary(3),
    ],
    ids=str,
)
def test_action_spaces(make_model, action_space):
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1, 2, 3], [0, 1]], action_space=action_space)] * 2)
    model = make_model(env, n_episodes=4)
    first = FirstBatch()
    model.learn(60, callback=first)
    assert model._n_updates > 0
    assert first.batch.actions.shape == (len(first.batch.returns), *action_space.shape)
    assert all(th.isfinite(p).all() for p in model.policy.parameters())
    obs = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]], dtype=np.float32)
    actions, _ = model.predict(obs)
    assert actions.shape == (3, *action_space.shape)
    single, _ = model.predict(obs[0])
    assert np.shape(single) == action_space.shape
    assert action_space.contains(np.asarray(single).astype(action_space.dtype))


def test_dict_observations_with_multi_input_policy(make_model):
    model = make_model(DictObsEnv(), "MultiInputPolicy")
    model.learn(40)
    assert model._n_updates > 0
    obs, _ = DictObsEnv().reset(seed=0)
    action, _ = model.predict(obs)
    assert model.action_space.contains(int(action))


def test_image_observations_with_cnn_policy(make_model):
    model = make_model(ImageObsEnv(), "CnnPolicy", policy_kwargs=dict(features_extractor_kwargs=dict(features_dim=32)))
    model.learn(12)
    assert model._n_updates > 0
    assert model.policy.net_arch == []


def test_custom_policy_class(make_model):
    model = make_model(policy=REINFORCEPolicy)
    model.learn(20)
    assert isinstance(model.policy, REINFORCEPolicy) and model._n_updates > 0


def test_learning_rate_schedule(make_model):
    model = make_model(learning_rate=lambda progress: 0.01 * progress, n_episodes=4)
    model.learn(200)
    assert 0 < model.policy.optimizer.param_groups[0]["lr"] < 0.01


@pytest.mark.parametrize("loss_reduction", ["mean", "episodes"])
@pytest.mark.parametrize("normalize_returns", [True, False])
@pytest.mark.parametrize("reward_to_go", [True, False])
def test_estimator_options(make_model, loss_reduction, normalize_returns, reward_to_go):
    model = make_model(
        n_episodes=4,
        loss_reduction=loss_reduction,
        normalize_returns=normalize_returns,
        reward_to_go=reward_to_go,
        ent_coef=0.01,
        max_grad_norm=0.5,
    )
    model.learn(100)
    assert model._n_updates > 0
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


@pytest.mark.parametrize("baseline", ["none", "mean", "value", "leave_one_out"])
@pytest.mark.parametrize("reward_to_go", [True, False])
def test_baselines(make_model, baseline, reward_to_go):
    model = make_model(make_vec_env("PGToy-v0", n_envs=2, seed=0), n_episodes=4, baseline=baseline,
                       reward_to_go=reward_to_go)  # fmt: skip
    model.learn(100)
    assert model._n_updates > 0
    assert (model.policy.value_net is not None) == (baseline == "value")
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


def test_max_grad_norm_clips_the_step(make_model):
    """With SGD and learning rate 1, the parameter step is the clipped gradient: its norm is at most max_grad_norm."""
    norms = {}
    for max_grad_norm in (None, 0.01):
        model = make_model(
            learning_rate=1.0,
            n_episodes=8,
            seed=3,
            normalize_returns=False,
            loss_reduction="episodes",
            max_grad_norm=max_grad_norm,
            policy_kwargs=dict(optimizer_class=th.optim.SGD, net_arch=[64, 64]),
        )
        before = th.cat([p.detach().flatten().clone() for p in model.policy.parameters()])
        model.learn(10**6, callback=lambda _l, _g, m=model: m._n_updates == 0)
        after = th.cat([p.detach().flatten() for p in model.policy.parameters()])
        norms[max_grad_norm] = (after - before).norm().item()
    assert norms[None] > 0.01
    assert norms[0.01] == pytest.approx(0.01, rel=1e-3)


def test_normalized_equal_returns_give_a_no_op_update(make_model):
    """Every episode pays the same: normalised weights are all zero, the update changes nothing, nothing is NaN."""
    model = make_model(ScriptedRewardEnv([[1.0]]), n_episodes=4, normalize_returns=True)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(40)
    assert model._n_updates > 0
    for old, new in zip(before, model.policy.parameters(), strict=True):
        assert th.equal(old, new.detach())


def test_evaluate_policy_and_multiple_envs(make_model):
    model = make_model(make_vec_env("CartPole-v1", n_envs=4, seed=0), n_episodes=8)
    model.learn(1000)
    assert model._n_updates > 0
    mean, std = evaluate_policy(model, Monitor(gym.make("CartPole-v1")), n_eval_episodes=3)
    assert mean > 0 and std >= 0


def test_works_with_a_time_limited_env_made_by_hand(make_model):
    model = make_model(gym.wrappers.TimeLimit(gym.make("CartPole-v1").unwrapped, max_episode_steps=20))
    model.learn(200)
    assert model._n_updates >= 5


@pytest.mark.parametrize("truncate", [True, False])
def test_bootstrap_mean_bootstraps_truncations_with_the_mean_return_of_the_earlier_batches(make_model, truncate):
    """Episodes [1, 2] and [3] in turn, gamma = 0.5. Batch 1 bootstraps with 0: returns-to-go [2, 2, 3], mean
    7/3. Batch 2 bootstraps truncations with 7/3: [1 + 0.5 * 19/6, 2 + 0.5 * 7/3] and [3 + 0.5 * 7/3], so the mean
    of the 6 steps becomes (7 + 31/12 + 19/6 + 25/6) / 6 = 203/72. Terminated episodes are not bootstrapped."""
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1, 2], [3]], truncate=truncate)])
    model = make_model(env, n_episodes=2, gamma=0.5, truncation="bootstrap_mean")
    model.learn(100, callback=lambda _l, _g: model._n_updates < 1)
    assert (model.running_return_mean, model.running_return_count) == (pytest.approx(7 / 3), 3)
    model.learn(100, callback=lambda _l, _g: model._n_updates < 2, reset_num_timesteps=False)
    assert model.running_return_count == 6
    assert model.running_return_mean == pytest.approx(203 / 72 if truncate else 7 / 3)


def test_the_bootstrap_value_is_saved_with_the_model(make_model, tmp_path):
    model = make_model("PGToy-v0", truncation="bootstrap_mean")
    model.learn(60)
    assert model.running_return_count > 0
    model.save(tmp_path / "model.zip")
    loaded = REINFORCE.load(tmp_path / "model.zip")
    assert loaded.truncation == "bootstrap_mean"
    assert (loaded.running_return_mean, loaded.running_return_count) == (
        model.running_return_mean,
        model.running_return_count,
    )


def test_end_leaves_the_returns_as_they_are(make_model):
    """The default keeps no statistic: a truncated return ends with its episode."""
    env = DummyVecEnv([lambda: ScriptedRewardEnv([[1, 2], [3]], truncate=True)])
    model = make_model(env, n_episodes=2, gamma=0.5)
    assert model.truncation == "end"
    callback = FirstBatch()
    model.learn(100, callback=callback)
    np.testing.assert_allclose(callback.batch.returns, [2, 2, 3])
    assert (model.running_return_mean, model.running_return_count) == (0.0, 0)


def blas_threads():
    """The thread counts of numpy's BLAS libraries, as threadpoolctl reads them."""
    return {library["num_threads"] for library in threadpool_info() if library["user_api"] == "blas"}


@pytest.fixture
def three_threads():
    """torch and numpy's BLAS on 3 threads during the test, as set before it afterwards."""
    previous = th.get_num_threads()
    th.set_num_threads(3)
    try:
        with threadpool_limits(limits=3, user_api="blas"):
            yield
    finally:
        th.set_num_threads(previous)


@pytest.mark.parametrize("torch_threads", [1, 2, None])
def test_learn_runs_torch_and_blas_with_torch_threads_and_restores_them(make_model, torch_threads, three_threads):
    seen = []
    model = make_model(torch_threads=torch_threads)
    model.learn(20, callback=lambda _l, _g: seen.append((th.get_num_threads(), blas_threads())) or True)
    expected = 3 if torch_threads is None else torch_threads
    assert seen and all(seen_now == (expected, {expected}) for seen_now in seen)
    assert (th.get_num_threads(), blas_threads()) == (3, {3})


def test_learn_restores_the_thread_counts_when_a_callback_raises(make_model, three_threads):
    def fails(_locals, _globals):
        assert (th.get_num_threads(), blas_threads()) == (1, {1})
        raise RuntimeError("the callback failed")

    with pytest.raises(RuntimeError, match="the callback failed"):
        make_model(torch_threads=1).learn(20, callback=fails)
    assert (th.get_num_threads(), blas_threads()) == (3, {3})


def test_learn_lowers_only_the_blas_libraries_above_torch_threads(make_model, monkeypatch):
    """Two BLAS libraries (numpy's and, say, scipy's), at 4 and 1 threads: torch_threads=2 lowers the first to 2
    and leaves the second at 1 (this machine's numpy has one, so threadpoolctl's controller is a stand-in)."""
    import threadpoolctl

    limited = []

    class Controller:
        def __init__(
            self, libraries=({"filepath": "numpy", "num_threads": 4}, {"filepath": "scipy", "num_threads": 1})
        ):
            self.libraries = list(libraries)

        def select(self, user_api=None, filepath=None):
            return Controller([lib for lib in self.libraries if filepath is None or lib["filepath"] in filepath])

        def info(self):
            return self.libraries

        @contextlib.contextmanager
        def limit(self, limits):
            limited.append(({lib["filepath"] for lib in self.libraries}, limits))
            yield

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", Controller)
    make_model(torch_threads=2).learn(20)
    assert limited == [({"numpy"}, 2)]


def test_learn_never_raises_the_blas_thread_count(make_model):
    seen = []
    with threadpool_limits(limits=1, user_api="blas"):
        make_model(torch_threads=2).learn(20, callback=lambda _l, _g: seen.append(blas_threads()) or True)
    assert seen and all(threads == {1} for threads in seen)


@pytest.mark.skipif(not th.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    model = REINFORCE("MlpPolicy", "CartPole-v1", device="cuda", n_episodes=4, seed=0)
    assert next(model.policy.parameters()).is_cuda
    model.learn(1000)
    assert model._n_updates > 0
    action, _ = model.predict(np.zeros(4, dtype=np.float32))
    assert model.action_space.contains(int(action))


def test_a_vec_env_that_cannot_pause_gets_a_warning_naming_the_one_that_can():
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecCheckNan, VecNormalize

    with pytest.warns(UserWarning, match="VecCheckNan steps every env together.*PausableSubprocVecEnv"):
        REINFORCE("MlpPolicy", VecCheckNan(make_vec_env("CartPole-v1", n_envs=2)), n_episodes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pausable stacks, and a single env, warn of nothing
        REINFORCE("MlpPolicy", VecNormalize(make_vec_env("CartPole-v1", n_envs=2)), n_episodes=2)
        REINFORCE("MlpPolicy", VecCheckNan(make_vec_env("CartPole-v1", n_envs=1)), n_episodes=2)
