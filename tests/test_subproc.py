"""PausableSubprocVecEnv: SB3's SubprocVecEnv (same construction, same stepping), plus stepping some envs only, and
sending and receiving each env's step on its own (several envs per worker)."""

import os
import signal

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

from reinforce_sb3 import REINFORCE
from reinforce_sb3.rollout.numpy_actor import EnvActions, NumpyActor
from reinforce_sb3.rollout.subproc import PausableSubprocVecEnv, WorkerError
from tests.envs import BlasThreads, DictObsEnv, NeverEndingEnv, PoisonedEnv
from tests.helpers import FORK, assert_same_step


def make(n_envs: int, vec_env_cls: type = PausableSubprocVecEnv, env_id: str = "CartPole-v1", seed: int = 3, **kwargs):
    return make_vec_env(env_id, n_envs=n_envs, seed=seed, vec_env_cls=vec_env_cls, vec_env_kwargs={**FORK, **kwargs})


def test_made_by_make_vec_env_it_steps_as_subproc_vec_env():
    """Same seeds, same actions: step and step_active (all active) return what SubprocVecEnv.step returns."""
    reference, paused = make(2, SubprocVecEnv), make(2)
    try:
        np.testing.assert_array_equal(reference.reset(), paused.reset())
        rng = np.random.default_rng(0)
        n_done = 0
        for t in range(120):
            actions = rng.integers(0, 2, size=2)
            step = reference.step(actions)
            step2 = paused.step(actions) if t % 2 else paused.step_active(actions, np.ones(2, dtype=bool))
            assert_same_step(step, step2)
            n_done += int(step[2].sum())
            assert list(reference.reset_infos) == list(paused.reset_infos)
        assert n_done > 4  # episodes ended, so the auto-reset path was compared too
    finally:
        reference.close()
        paused.close()


def test_paused_workers_get_no_command():
    env = make(3)
    try:
        first = env.reset()
        active = np.array([True, False, True])
        for _ in range(30):
            obs, rewards, dones, infos = env.step_active(np.ones(3, dtype=np.int64), active)
            np.testing.assert_array_equal(obs[1], first[1])
            assert rewards[1] == 0 and not dones[1] and infos[1] == {}
        assert env.get_attr("total_steps") == [30, 0, 30]  # each worker's Monitor
        # the paused env resumes where it was: its next observation follows ``first[1]``, not a reset
        obs, *_ = env.step_active(np.ones(3, dtype=np.int64), np.array([False, True, False]))
        assert env.get_attr("total_steps") == [30, 1, 30]
        np.testing.assert_allclose(obs[1][0], first[1][0] + 0.02 * first[1][1], rtol=1e-5)  # x += tau * x_dot
    finally:
        env.close()


def test_dict_observations_are_kept_per_key():
    env = PausableSubprocVecEnv([DictObsEnv, DictObsEnv], **FORK)
    try:
        first = env.reset()
        obs, *_ = env.step_active(np.zeros(2, dtype=np.int64), np.array([False, True]))
        assert set(obs) == {"vec", "discrete"}
        np.testing.assert_array_equal(obs["vec"][0], first["vec"][0])
        assert obs["discrete"].tolist() == [0, 1]
        obs["vec"][0] = 5.0  # the returned arrays are copies
        obs2, *_ = env.step_active(np.zeros(2, dtype=np.int64), np.array([False, False]))
        np.testing.assert_array_equal(obs2["vec"][0], first["vec"][0])
    finally:
        env.close()


def test_step_active_refuses_to_run_while_a_step_is_pending():
    env = make(2)
    try:
        env.reset()
        env.step_async(np.zeros(2, dtype=np.int64))
        with pytest.raises(RuntimeError, match="between step_async and step_wait"):
            env.step_active(np.zeros(2, dtype=np.int64), np.ones(2, dtype=bool))
        env.step_wait()
    finally:
        env.close()


def test_send_and_recv_hand_each_env_its_results_as_they_come():
    """Steps in flight in any order; each env's results are those of stepping it alone (a reference VecEnv)."""
    reference, env = make(4, SubprocVecEnv), make(4, n_workers=2)
    try:
        np.testing.assert_array_equal(reference.reset(), env.reset())
        actions = np.array([0, 1, 1, 0])
        expected = reference.step(actions)
        env.send(actions[[3, 0]], np.array([3, 0]))
        env.send(actions[[1, 2]], np.array([1, 2]))
        assert env.stepping.tolist() == [True] * 4
        got: dict[int, tuple] = {}
        while env.stepping.any():
            result = env.recv()
            for row, env_idx in enumerate(result.envs):
                got[int(env_idx)] = (result.obs[row], result.rewards[row], result.dones[row], result.infos[row])
        assert sorted(got) == [0, 1, 2, 3]
        for env_idx, (obs, reward, done, info) in got.items():
            np.testing.assert_array_equal(obs, expected[0][env_idx])
            assert (reward, done, info) == (expected[1][env_idx], expected[2][env_idx], expected[3][env_idx])
    finally:
        reference.close()
        env.close()


def test_send_refuses_an_env_already_stepping_and_recv_with_nothing_in_flight():
    env = make(2)
    try:
        env.reset()
        with pytest.raises(RuntimeError, match="no step in flight"):
            env.recv()
        env.send(np.zeros(1, dtype=np.int64), np.array([1]))
        with pytest.raises(RuntimeError, match=r"envs \[1\] are already stepping"):
            env.send(np.zeros(2, dtype=np.int64), np.array([0, 1]))
        # a command waits for the step in flight, whose result stays for recv
        assert env.get_attr("total_steps") == [0, 1]
        assert env.recv().envs.tolist() == [1]
    finally:
        env.close()


def test_workers_share_out_the_envs_in_order():
    env = make(5, n_workers=2)
    try:
        assert len(env.processes) == 2
        assert [envs.tolist() for envs in env._envs_of] == [[0, 1, 2], [3, 4]]
        assert len(env.env_method("__getattribute__", "np_random")) == 5  # every env answers
        assert env.get_attr("total_steps", indices=[4]) == [0]
        env.set_attr("spec_note", "x", indices=[1, 3])
        assert env.get_attr("spec_note", indices=[1, 3]) == ["x", "x"]
        assert env.env_is_wrapped(gym.wrappers.TimeLimit) == [True] * 5
    finally:
        env.close()


@pytest.mark.parametrize("n_workers", [0, 6, 1.5, "2"])
def test_n_workers_must_be_an_integer_from_1_to_the_number_of_envs(n_workers):
    with pytest.raises(ValueError, match=r"n_workers must be an integer in \[1, 5\], got"):
        PausableSubprocVecEnv([lambda: gym.make("CartPole-v1")] * 5, n_workers=n_workers, **FORK)


def test_sb3_algorithms_learn_on_it_and_it_renders():
    """What SB3 asks of a VecEnv: A2C and PPO learn through step_async / step_wait; render gives a DummyVecEnv's
    frames."""
    from stable_baselines3 import A2C, PPO

    env = make_vec_env(
        "CartPole-v1", n_envs=2, seed=0, vec_env_cls=PausableSubprocVecEnv, vec_env_kwargs=FORK,
        env_kwargs={"render_mode": "rgb_array"},
    )  # fmt: skip
    try:
        for algo in (A2C, PPO):
            model = algo("MlpPolicy", env, n_steps=16, seed=0, device="cpu")
            model.learn(64)
            assert model.num_timesteps == 64
        reference = make_vec_env("CartPole-v1", n_envs=2, seed=1, env_kwargs={"render_mode": "rgb_array"})
        env.seed(1)
        np.testing.assert_array_equal(env.reset(), reference.reset())
        np.testing.assert_array_equal(env.render(), reference.render())  # the same frames, tiled by SB3
    finally:
        env.close()


def _actor(env: PausableSubprocVecEnv) -> tuple[NumpyActor, EnvActions]:
    model = REINFORCE("MlpPolicy", env, seed=0, device="cpu")
    actor = NumpyActor.from_policy(model.policy)  # type: ignore[arg-type]
    assert actor is not None
    return actor, EnvActions(env.action_space, squash=False)


def test_a_worker_given_an_actor_runs_numpy_blas_on_one_thread():
    """A worker per core: OpenBLAS's default of a thread per core in each would crowd the cores when the actor's
    products are large enough for OpenBLAS to split them."""
    env = make_vec_env(
        "CartPole-v1", n_envs=2, wrapper_class=BlasThreads, vec_env_cls=PausableSubprocVecEnv, vec_env_kwargs=FORK
    )
    try:
        env.env_method("set_blas_threads", 3)
        assert env.env_method("blas_threads") == [3, 3]
        env.set_actor(*_actor(env))
        assert env.env_method("blas_threads") == [1, 1]
    finally:
        env.close()


def test_a_run_takes_the_steps_the_main_process_would_choose_and_stops_at_the_episode_end():
    """Workers choosing the actions (runs of 2 envs on one worker, 1 on another) take the steps that the main process
    takes when it chooses them on every env's observation and sends them one at a time."""
    reference, env = make(3, n_workers=3), make(3, n_workers=2)
    try:
        np.testing.assert_array_equal(reference.reset(), env.reset())
        actor, env_actions = _actor(env)
        env.set_actor(actor, env_actions)
        noises = [np.random.default_rng(env_idx).random((length, 1)) for env_idx, length in enumerate((40, 3, 40))]
        env.run([2, 0, 1], [noises[2], noises[0], noises[1]])
        runs = {}
        while env.stepping.any():
            result = env.recv()
            assert not len(result.envs)  # no single steps in flight
            runs.update({run.env: run for run in result.runs})
        obs = reference._last_obs()
        for env_idx, run in sorted(runs.items()):
            for k in range(len(run.rewards)):  # the main process's way: all rows, then this env's action
                noise = np.zeros((3, 1))
                noise[env_idx] = noises[env_idx][k]
                actions = actor.sampler.from_noise(actor.action_parameters(obs), noise)
                reference.send(env_actions(actions)[[env_idx]], np.array([env_idx]))
                step = reference.recv()
                assert run.actions[k] == actions[env_idx] and run.clipped[k] == actions[env_idx]
                ran = (run.new_obs[k : k + 1], run.rewards[k : k + 1], run.dones[k : k + 1], run.infos[k : k + 1])
                assert_same_step(ran, step[1:5])
                obs = reference._last_obs()
        assert len(runs[1].rewards) == 3  # its noise was used up
        for env_idx in (0, 2):  # each ran to the end of its first episode, which a fresh CartPole does within 40 steps
            assert runs[env_idx].dones[-1] and not runs[env_idx].dones[:-1].any()
            assert runs[env_idx].reset_info is not None and env.reset_infos[env_idx] == runs[env_idx].reset_info
        np.testing.assert_array_equal(env._last_obs(), reference._last_obs())
    finally:
        reference.close()
        env.close()


def test_a_run_halted_or_on_a_non_finite_observation_takes_no_step():
    env = PausableSubprocVecEnv([lambda: PoisonedEnv(100, where="reset"), lambda: PoisonedEnv(100)], **FORK)
    try:
        env.reset()
        env.set_actor(*_actor(env))
        env.halt(True)
        env.run([1], [np.zeros((5, 1))])
        assert [len(run.rewards) for run in env.recv().runs] == [0]
        env.halt(False)
        env.run([0, 1], [np.zeros((5, 1))] * 2)
        lengths = {}
        while env.stepping.any():
            lengths.update({run.env: len(run.rewards) for run in env.recv().runs})
        assert lengths == {0: 0, 1: 5}  # env 0's observation is NaN: no action is chosen on it
        assert env.get_attr("t") == [0, 5] and env.get_attr("acted_on_bad") == [0, 0]
    finally:
        env.close()


def test_run_needs_array_observations_and_no_step_in_flight():
    env = PausableSubprocVecEnv([DictObsEnv, DictObsEnv], **FORK)
    try:
        env.reset()
        with pytest.raises(RuntimeError, match="run\\(\\) needs array observations"):
            env.run([0], [np.zeros((2, 1))])
    finally:
        env.close()
    env = make(2)
    try:
        env.reset()
        env.send(np.zeros(1, dtype=np.int64), np.array([1]))
        with pytest.raises(RuntimeError, match=r"envs \[1\] are already stepping"):
            env.run([0, 1], [np.zeros((2, 1))] * 2)
    finally:
        env.close()


def test_a_run_says_when_it_has_taken_the_steps_the_main_process_asked_about():
    """notify(env, n): the worker says once, while the run goes on, that it has taken n steps without ending its
    episode, before the run's own reply (the main process may be waiting for that to settle the batch)."""
    env = PausableSubprocVecEnv([NeverEndingEnv], **FORK)
    try:
        env.reset()
        env.set_actor(*_actor(env))
        env.run([0], [np.zeros((5000, 1))])
        env.notify(0, 5)
        first = env.recv()
        assert list(first.progress) == [0] and first.progress[0] >= 5 and not first.runs  # more if it was quick
        runs = []
        while env.stepping.any():
            result = env.recv()
            assert not result.progress  # said once
            runs += result.runs
        assert [len(run.rewards) for run in runs] == [5000]
    finally:
        env.close()


@pytest.mark.parametrize("command", ["send", "run", "set_actor", "reset", "env_method"])
def test_whatever_is_sent_to_a_dead_worker_raises_an_error_naming_its_envs(command):
    """A step, a run, the policy, a reset or a method call sent to a worker that has died: a WorkerError naming the
    worker's envs, not the pipe's BrokenPipeError."""
    env = make(4, n_workers=2)
    try:
        env.reset()
        actor, env_actions = _actor(env)
        env.set_actor(actor, env_actions)
        dead = env.processes[1]
        os.kill(dead.pid, signal.SIGKILL)
        dead.join()
        calls = {
            "send": lambda: env.send(np.zeros(2, dtype=np.int64), np.array([2, 3])),
            "run": lambda: env.run([3], [np.zeros((5, 1))]),
            "set_actor": lambda: env.set_actor(actor, env_actions),
            "reset": env.reset,
            "env_method": lambda: env.env_method("close", indices=[2]),
        }
        died = r"the worker process of env\(s\) 2, 3 died \(exit code -9\)"
        with pytest.raises(WorkerError, match=died):
            calls[command]()
        # the live worker's reply to the same call (a reset) may be unread: no later call reads it as its own
        with pytest.raises(WorkerError, match=died):
            env.get_attr("spec", indices=[0])
    finally:
        env.close()
    assert not any(process.is_alive() for process in env.processes)
    with pytest.raises(RuntimeError, match="this PausableSubprocVecEnv is closed: make a new one"):
        env.get_attr("spec")
