"""The numpy-batched vector env against the single env, its table P and the exact analysis."""

from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import (
    check_reset_options,
    check_reset_seed_determinism,
    check_returned_data_not_reused,
)
from gymnasium.vector import AutoresetMode

import gym_pgtoy
from gym_pgtoy import LEFT, RIGHT, SlipperyHillEnv, SlipperyHillVectorEnv
from gym_pgtoy.exact import analyze, expected_return
from gym_pgtoy.slippery_hill import MAX_EPISODE_STEPS
from gym_pgtoy.vector import MAX_NUM_ENVS

gym.register_envs(gym_pgtoy)

ENV_IDS = ["PGToy-v0", "SlipperyHill-v0"]
TOLERANCE = 5  # standard errors allowed between a frequency and its expectation


def make(env_id, num_envs, **kwargs):
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


def stochastic_policy(hill_length):
    """A fixed policy that visits every outcome: ``{(cell, diamond): (p_left, p_right)}`` on all live states."""
    return {
        (cell, diamond): (
            0.3 + 0.4 * cell / (hill_length + 1) - 0.1 * diamond,
            0.7 - 0.4 * cell / (hill_length + 1) + 0.1 * diamond,
        )
        for cell in range(1, hill_length + 2)
        for diamond in (0, 1)
    }


def p_right_table(policy, hill_length):
    """``p_right[2 * cell + diamond]``, to sample actions for a batch of observations."""
    table = np.zeros(2 * (hill_length + 3))
    for (cell, diamond), (_, p_right) in policy.items():
        table[2 * cell + diamond] = p_right
    return table


def vector_episodes(envs, policy, episodes_per_env, seed=0):
    """Play ``policy`` for the first ``episodes_per_env`` episodes of every copy (not the first episodes to end,
    which would favour short ones); return their returns and outcomes ``(length, final cell, terminated)``."""
    rng = np.random.default_rng(seed + 1)  # not ``seed``: that is the env's own stream, and would correlate the two
    p_right = p_right_table(policy, envs.unwrapped.hill_length)
    obs, _ = envs.reset(seed=seed)
    running = np.zeros(envs.num_envs)
    length = np.zeros(envs.num_envs, dtype=np.int64)
    finished = np.zeros(envs.num_envs, dtype=np.int64)
    prev_done = np.zeros(envs.num_envs, dtype=bool)
    returns, outcomes = [], Counter()
    while finished.min() < episodes_per_env:
        actions = (rng.random(envs.num_envs) < p_right[2 * obs[:, 0] + obs[:, 1]]).astype(np.int64)
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        running += rewards
        length += ~prev_done  # the reset step after an episode is not part of it
        done = terminated | truncated
        for i in np.flatnonzero(done & (finished < episodes_per_env)):
            returns.append(running[i])
            outcomes[(int(length[i]), int(obs[i, 0]), bool(terminated[i]))] += 1
        finished += done
        running[done] = 0.0
        length[done] = 0
        prev_done = done
    return np.array(returns), outcomes


def single_episodes(env, policy, n_episodes, seed=0):
    """The same with the single env of ``gym.make``."""
    rng = np.random.default_rng(seed + 1)
    returns, outcomes = [], Counter()
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        total, length, done = 0.0, 0, False
        while not done:
            action = int(rng.random() < policy[tuple(obs)][RIGHT])
            obs, reward, terminated, truncated, _ = env.step(action)
            total, length, done = total + reward, length + 1, terminated or truncated
        returns.append(total)
        outcomes[(length, int(obs[0]), terminated)] += 1
    return np.array(returns), outcomes


def exact_outcomes(env_id, policy):
    """The exact probability of each episode outcome ``(length, final cell, terminated)``, from the DP's reach."""
    game = gym.make(env_id).unwrapped
    analysis = analyze(env_id, policy)
    horizon = len(analysis.reach)
    probs = Counter()
    for t, reach in enumerate(analysis.reach):
        for state, p_state in reach.items():
            for action in (LEFT, RIGHT):
                for prob, (cell, _), _, terminated in game.P[state][action]:
                    if terminated or t + 1 == horizon:
                        probs[(t + 1, cell, terminated)] += p_state * analysis.policy[state][action] * prob
    return probs


def assert_frequency(count, n, p, label):
    """``count / n`` is within TOLERANCE standard errors of ``p``."""
    standard_error = np.sqrt(max(p * (1 - p), 1e-4) / n)
    assert abs(count / n - p) <= TOLERANCE * standard_error, f"{label}: {count / n:.4f} vs {p:.4f}"


@pytest.mark.parametrize(("env_id", "hill_length", "max_steps"), [("PGToy-v0", 1, 3), ("SlipperyHill-v0", 3, 20)])
def test_make_vec(env_id, hill_length, max_steps):
    envs = make(env_id, 4)
    sync = gym.make_vec(env_id, num_envs=4, vectorization_mode="sync")
    assert isinstance(envs, SlipperyHillVectorEnv)
    assert isinstance(gym.make_vec(env_id, num_envs=2), SlipperyHillVectorEnv)  # the default mode for these ids
    assert envs.max_episode_steps == gym.make(env_id).spec.max_episode_steps == max_steps
    assert envs.hill_length == hill_length and envs.slip_prob == 0.1
    assert envs.num_envs == 4
    assert envs.metadata["autoreset_mode"] == sync.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    for space in ("observation_space", "action_space", "single_observation_space", "single_action_space"):
        assert getattr(envs, space) == getattr(sync, space), space
    obs, info = envs.reset(seed=0)
    sync_obs, sync_info = sync.reset(seed=0)
    np.testing.assert_array_equal(obs, sync_obs)
    assert obs.dtype == sync_obs.dtype == np.int64
    assert info.keys() == sync_info.keys() == {"prob", "_prob"}
    for key in info:
        np.testing.assert_array_equal(info[key], sync_info[key])
    assert f'"{next(iter(info))}"' in SlipperyHillVectorEnv.__doc__  # the docstring names the info key


def test_make_vec_kwargs():
    envs = make("SlipperyHill-v0", 3, hill_length=5, slip_prob=0.2, max_episode_steps=40, flag_reward=7.0)
    assert (envs.hill_length, envs.slip_prob, envs.max_episode_steps, envs.game.flag_reward) == (5, 0.2, 40, 7.0)
    assert envs.single_observation_space == gym.spaces.MultiDiscrete([8, 2])


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("pattern", [[LEFT, RIGHT], [LEFT, RIGHT, RIGHT], [RIGHT]])
def test_time_limit_matches_gym_make(env_id, pattern):
    """Without slips, the same actions end the same way, at the same step, as in gym.make (TimeLimit included)."""
    single = gym.make(env_id, slip_prob=0.0)
    envs = make(env_id, 2, slip_prob=0.0)
    single.reset(seed=0)
    envs.reset(seed=0)
    for t in range(envs.max_episode_steps):
        action = pattern[t % len(pattern)]
        obs, reward, terminated, truncated, _ = single.step(action)
        v_obs, v_rewards, v_terminated, v_truncated, _ = envs.step(np.full(2, action))
        np.testing.assert_array_equal(v_obs, [obs, obs])
        assert v_rewards.tolist() == [reward] * 2
        assert v_terminated.tolist() == [terminated] * 2
        # TimeLimit's rule: truncated at the limit, terminated or not. (Importing rl_zoo3, as other tests do,
        # patches gym.make's TimeLimit to clear it on a terminal step, so gym.make is compared where both agree.)
        assert v_truncated.tolist() == [t + 1 == envs.max_episode_steps] * 2
        assert (truncated and not terminated) == (t + 1 == envs.max_episode_steps and not terminated)
        if terminated or truncated:
            break
    assert terminated or t + 1 == envs.max_episode_steps


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_first_episode_matches_single_env(env_id):
    """With one copy and the same seed, the first episode is the single env's, draw for draw."""
    for seed in range(20):
        single = gym.make(env_id, slip_prob=0.5)
        envs = make(env_id, 1, slip_prob=0.5)
        actions = np.random.default_rng(seed).integers(0, 2, size=envs.max_episode_steps)
        single.reset(seed=seed)
        envs.reset(seed=seed)
        for action in actions:
            obs, reward, terminated, truncated, info = single.step(action)
            v_obs, v_rewards, v_terminated, v_truncated, v_info = envs.step(np.array([action]))
            # truncated where it is not also terminated: the same with and without rl_zoo3's TimeLimit patch
            v_truncated_only = v_truncated[0] and not v_terminated[0]
            assert (v_obs[0].tolist(), v_rewards[0], v_terminated[0], v_truncated_only, v_info["prob"][0]) == (
                obs.tolist(),
                reward,
                terminated,
                truncated and not terminated,
                info["prob"],
            )
            if terminated or truncated:
                break


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_returns_and_outcomes(env_id):
    """Mean return against the exact value, outcome frequencies against the exact ones and the single env's."""
    hill_length = gym.make(env_id).unwrapped.hill_length
    policy = stochastic_policy(hill_length)
    returns, outcomes = vector_episodes(make(env_id, 4096), policy, 10)
    n = len(returns)
    exact = expected_return(env_id, policy)
    assert abs(returns.mean() - exact) <= TOLERANCE * returns.std() / np.sqrt(n)

    probs = exact_outcomes(env_id, policy)
    assert set(outcomes) <= set(probs)
    assert sum(probs.values()) == pytest.approx(1.0)
    for outcome, p in probs.items():
        assert_frequency(outcomes[outcome], n, p, f"{env_id} outcome {outcome}")

    single_returns, single_outcomes = single_episodes(gym.make(env_id), policy, 2000)
    m = len(single_returns)
    assert abs(returns.mean() - single_returns.mean()) <= TOLERANCE * np.sqrt(
        returns.var() / n + single_returns.var() / m
    )
    for outcome in set(outcomes) | set(single_outcomes):
        p, q = outcomes[outcome] / n, single_outcomes[outcome] / m
        assert abs(p - q) <= TOLERANCE * np.sqrt(max(p * (1 - p), 1e-4) / n + max(q * (1 - q), 1e-4) / m), outcome


@pytest.mark.parametrize(("hill_length", "slip_prob"), [(1, 0.1), (2, 0.3), (3, 0.0), (2, 1.0)])
def test_transition_frequencies_match_p(hill_length, slip_prob):
    """Every observed (state, action) -> next state has P's reward and termination, at P's frequency."""
    envs = SlipperyHillVectorEnv(num_envs=2048, hill_length=hill_length, slip_prob=slip_prob, max_episode_steps=8)
    table = SlipperyHillEnv(hill_length=hill_length, slip_prob=slip_prob).P
    rng = np.random.default_rng(1)
    obs, _ = envs.reset(seed=2)
    prev_done = np.zeros(envs.num_envs, dtype=bool)
    counts = Counter()
    for _ in range(60):
        actions = rng.integers(0, 2, envs.num_envs)
        next_obs, rewards, terminated, truncated, info = envs.step(actions)
        live = np.flatnonzero(~prev_done)
        keys = zip(
            map(tuple, obs[live].tolist()),
            actions[live].tolist(),
            map(tuple, next_obs[live].tolist()),
            rewards[live].tolist(),
            terminated[live].tolist(),
            info["prob"][live].tolist(),
            strict=True,
        )
        counts.update(keys)
        obs, prev_done = next_obs, terminated | truncated

    outcomes = {
        (s, a, next_s): (prob, r, t) for s in table for a in (LEFT, RIGHT) for prob, next_s, r, t in table[s][a]
    }
    tried = Counter()
    for (state, action, next_state, reward, terminated, prob), count in counts.items():
        assert outcomes[(state, action, next_state)] == (prob, reward, terminated)
        tried[(state, action)] += count
    for (state, action, next_state), (prob, _, _) in outcomes.items():
        n = tried[(state, action)]
        if n > 0:
            count = sum(c for key, c in counts.items() if key[:3] == (state, action, next_state))
            assert_frequency(count, n, prob, f"{state} {action} -> {next_state}")
    assert tried[((hill_length + 1, 1), LEFT)] > 0 and tried[((1, 0), RIGHT)] > 0


def test_autoreset_after_termination():
    """NEXT_STEP: the step after the end returns the start, reward 0, not done; the action given there is ignored."""
    envs = make("PGToy-v0", 4)
    start = [2, 1]
    envs.reset(seed=0)
    obs, rewards, terminated, truncated, _ = envs.step(np.array([RIGHT, RIGHT, LEFT, LEFT]))
    assert terminated.tolist() == [True, True, False, False] and not truncated.any()
    assert rewards.tolist() == [10.0, 10.0, 3.0, 3.0]
    obs, rewards, terminated, truncated, info = envs.step(np.array([LEFT, RIGHT, LEFT, LEFT]))
    np.testing.assert_array_equal(obs, [start, start, [0, 0], [0, 0]])
    assert rewards.tolist() == [0.0, 0.0, -10.0, -10.0]
    assert terminated.tolist() == [False, False, True, True] and not truncated.any()
    assert info["prob"].tolist() == [1.0] * 4
    obs, rewards, terminated, truncated, _ = envs.step(np.array([LEFT, RIGHT, RIGHT, LEFT]))
    np.testing.assert_array_equal(obs, [[1, 0], [3, 1], start, start])  # a full new episode for the first two
    assert rewards.tolist() == [3.0, 10.0, 0.0, 0.0]
    assert not truncated.any()


def test_autoreset_after_truncation():
    envs = make("PGToy-v0", 2, slip_prob=0.0)
    envs.reset(seed=0)
    for actions in ([LEFT, LEFT], [RIGHT, RIGHT], [LEFT, RIGHT]):
        obs, rewards, terminated, truncated, _ = envs.step(np.array(actions))
    np.testing.assert_array_equal(obs, [[1, 0], [3, 0]])
    assert terminated.tolist() == [False, True] and truncated.tolist() == [True, True]
    obs, rewards, terminated, truncated, _ = envs.step(np.array([RIGHT, LEFT]))
    np.testing.assert_array_equal(obs, [[2, 1], [2, 1]])
    assert rewards.tolist() == [0.0, 0.0] and not terminated.any() and not truncated.any()
    for actions in ([LEFT, LEFT], [RIGHT, RIGHT]):  # the reset step does not count towards the limit
        _, _, _, truncated, _ = envs.step(np.array(actions))
        assert not truncated.any()
    _, _, terminated, truncated, _ = envs.step(np.array([LEFT, RIGHT]))
    assert terminated.tolist() == [False, True] and truncated.tolist() == [True, True]


def trajectory(envs, seed, steps=30):
    rng = np.random.default_rng(123)
    results = [envs.reset(seed=seed)[0]]
    for _ in range(steps):
        results.extend(envs.step(rng.integers(0, 2, envs.num_envs))[:4])
    return results


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeding(env_id):
    envs = make(env_id, 64, slip_prob=0.5)
    first, again = trajectory(envs, seed=7), trajectory(make(env_id, 64, slip_prob=0.5), seed=7)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = trajectory(envs, seed=8)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert envs.np_random_seed == 8


@pytest.mark.parametrize(
    "actions",
    [
        np.zeros(3, dtype=np.int64),
        np.zeros((4, 1), dtype=np.int64),
        np.int64(0),
        np.zeros(4),
        np.zeros(4, dtype=bool),
        np.array([0, 1, 2, 0]),
        np.array([0, -1, 1, 0]),
        [0, 1, "1", 0],
    ],
)
def test_bad_actions(actions):
    envs = make("PGToy-v0", 4)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="actions"):
        envs.step(actions)


def test_good_actions():
    envs = make("PGToy-v0", 4)
    envs.reset(seed=0)
    for actions in ([0, 1, 1, 0], np.array([0, 1, 1, 0], dtype=np.uint8), envs.action_space.sample()):
        envs.step(actions)


def test_reset_needed():
    envs = make("PGToy-v0", 2, render_mode="ansi")
    with pytest.raises(ResetNeeded):
        envs.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ResetNeeded):
        envs.render()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_envs": 0}, r"num_envs must be an integer in \[1, 1_000_000\], got 0"),
        ({"num_envs": 2.0}, r"num_envs must be an integer in \[1, 1_000_000\], got 2.0"),
        ({"num_envs": MAX_NUM_ENVS + 1}, r"num_envs must be an integer in \[1, 1_000_000\], got 1000001"),
        ({"max_episode_steps": 0}, r"max_episode_steps must be an integer in \[1, 100_000\] or None, got 0"),
        ({"max_episode_steps": 10**9}, r"max_episode_steps must be an integer in \[1, 100_000\] or None"),
        ({"hill_length": 0}, "hill_length must be an integer"),
        ({"hill_length": 10**9}, "hill_length must be an integer"),
        ({"slip_prob": 1.5}, "slip_prob must be a probability"),
        # 100 frames of a 10_000-cell hill would take 5.7 GiB per render()
        (
            {"num_envs": 100, "hill_length": 10_000, "render_mode": "rgb_array"},
            r"5.7 GiB per render\(\), more than 1 GiB",
        ),
        ({"num_envs": MAX_NUM_ENVS, "hill_length": 1_000, "render_mode": "ansi"}, "GiB per render"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SlipperyHillVectorEnv(**kwargs)


def test_size_limits_are_in_the_manual_and_usable():
    for limit in (MAX_NUM_ENVS, MAX_EPISODE_STEPS):
        assert f"{limit:_}" in SlipperyHillVectorEnv.__doc__
    envs = make("PGToy-v0", 2, max_episode_steps=MAX_EPISODE_STEPS)
    envs.reset(seed=0)
    envs.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="max_episode_steps must be an integer"):
        make("PGToy-v0", 2, max_episode_steps=MAX_EPISODE_STEPS + 1)
    big = SlipperyHillVectorEnv(num_envs=MAX_NUM_ENVS, hill_length=1, max_episode_steps=3)
    obs, _ = big.reset(seed=0)
    obs, *_ = big.step(np.ones(MAX_NUM_ENVS, dtype=np.int64))
    assert obs.shape == (MAX_NUM_ENVS, 2) and (obs[:, 0] == 3).all()  # right from the hilltop: the flag


def test_no_time_limit():
    envs = SlipperyHillVectorEnv(num_envs=2, hill_length=1, slip_prob=0.0)
    envs.reset(seed=0)
    for t in range(50):
        _, _, terminated, truncated, _ = envs.step(np.full(2, LEFT if t % 2 == 0 else RIGHT))
        assert not terminated.any() and not truncated.any()


@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_render(render_mode):
    envs = make("PGToy-v0", 2, render_mode=render_mode)
    single = gym.make("PGToy-v0", render_mode=render_mode)
    envs.reset(seed=0)
    single.reset(seed=0)
    envs.step(np.array([LEFT, RIGHT]))
    single.step(LEFT)
    frames = envs.render()
    assert len(frames) == 2
    np.testing.assert_array_equal(np.asarray(frames[0]), np.asarray(single.render()))
    assert make("PGToy-v0", 2).render() is None


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_checks(env_id):
    """Gymnasium 1.4 has no vector-env checker; these checks of check_env also hold for a vector env."""
    envs = make(env_id, 1)
    check_reset_seed_determinism(envs)
    check_reset_options(envs)
    check_returned_data_not_reused(envs)
    envs.reset(seed=0)
    obs, rewards, terminated, truncated, _ = envs.step(envs.action_space.sample())
    assert obs in envs.observation_space
    assert rewards.dtype == np.float64 and terminated.dtype == truncated.dtype == np.bool_
