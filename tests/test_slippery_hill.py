import math
import re
import subprocess
import sys
import time
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import gym_pgtoy
from gym_pgtoy import LEFT, RIGHT, SlipperyHillEnv, rendering
from gym_pgtoy.slippery_hill import MAX_EPISODE_STEPS, MAX_HILL_LENGTH

gym.register_envs(gym_pgtoy)

ENV_IDS = ["PGToy-v0", "SlipperyHill-v0"]


def play(env, actions, seed=0):
    """Reset with ``seed`` and take ``actions``; return the list of step results."""
    env.reset(seed=seed)
    return [env.step(action) for action in actions]


@pytest.mark.parametrize(
    ("env_id", "hill_length", "max_steps"),
    [("PGToy-v0", 1, 3), ("SlipperyHill-v0", 3, 20)],
)
def test_registration(env_id, hill_length, max_steps):
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == max_steps
    assert isinstance(env.unwrapped, SlipperyHillEnv)
    assert env.unwrapped.hill_length == hill_length
    assert env.unwrapped.slip_prob == 0.1
    assert env.action_space == gym.spaces.Discrete(2)
    assert env.observation_space == gym.spaces.MultiDiscrete([hill_length + 3, 2])
    obs, info = env.reset(seed=0)
    assert obs.tolist() == [hill_length + 1, 1]
    assert obs.dtype == np.int64
    assert info == {"prob": 1.0}


def test_pgtoy_transition_table():
    """P of PGToy-v0, written out from the walk-through."""
    table = gym.make("PGToy-v0").unwrapped.P
    assert table[(2, 1)][RIGHT] == [(1.0, (3, 1), 10.0, True)]
    assert table[(2, 1)][LEFT] == [(1.0, (1, 0), 3.0, False)]
    assert table[(1, 0)][LEFT] == [(1.0, (0, 0), -10.0, True)]
    assert table[(1, 0)][RIGHT] == [(0.9, (2, 0), 0.0, False), (pytest.approx(0.1), (0, 0), -10.0, True)]
    assert table[(2, 0)][LEFT] == [(1.0, (1, 0), 0.0, False)]
    assert table[(2, 0)][RIGHT] == [(1.0, (3, 0), 10.0, True)]
    for terminal in [(0, 0), (3, 0), (3, 1)]:
        for action in (LEFT, RIGHT):
            assert table[terminal][action] == [(1.0, terminal, 0.0, True)]


@pytest.mark.parametrize(("hill_length", "slip_prob"), [(1, 0.1), (3, 0.25), (5, 0.0), (2, 1.0)])
def test_transition_table_structure(hill_length, slip_prob):
    env = SlipperyHillEnv(hill_length=hill_length, slip_prob=slip_prob)
    n_cells = hill_length + 3
    assert set(env.P) == {(cell, diamond) for cell in range(n_cells) for diamond in (0, 1)}
    for state, by_action in env.P.items():
        assert set(by_action) == {LEFT, RIGHT}
        for transitions in by_action.values():
            assert math.isclose(sum(t[0] for t in transitions), 1.0)
            for prob, next_state, reward, terminated in transitions:
                assert prob > 0
                assert env.observation_space.contains(np.array(next_state))
                assert isinstance(reward, float) and isinstance(terminated, bool)
                assert terminated == (next_state[0] in (0, n_cells - 1))
                # every move is to a neighbouring cell, except in the absorbing terminal states
                assert abs(next_state[0] - state[0]) == (0 if env.is_terminal(state) else 1)
    # a step up the hillside slips with probability slip_prob; the diamond is picked up on entering cell 1
    up = {t[1][0]: t[0] for t in env.P[(hill_length, 0)][RIGHT]}
    assert up.get(hill_length + 1, 0.0) == pytest.approx(1 - slip_prob)
    assert up.get(hill_length - 1, 0.0) == pytest.approx(slip_prob)
    assert env.P[(2, 1)][LEFT] == [(1.0, (1, 0), 3.0, False)]


def test_hilltop_right_reaches_flag():
    ((obs, reward, terminated, truncated, info),) = play(gym.make("PGToy-v0"), [RIGHT])
    assert obs.tolist() == [3, 1]
    assert (reward, terminated, truncated, info) == (10.0, True, False, {"prob": 1.0})
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool


def test_diamond_path_and_time_limit():
    """Left, right (no slip), left: +3, 0, 0, and the third step is the end by time."""
    env = gym.make("PGToy-v0", slip_prob=0.0)
    steps = play(env, [LEFT, RIGHT, LEFT])
    assert [s[0].tolist() for s in steps] == [[1, 0], [2, 0], [1, 0]]
    assert [s[1] for s in steps] == [3.0, 0.0, 0.0]
    assert [s[2] for s in steps] == [False, False, False]
    assert [s[3] for s in steps] == [False, False, True]


def test_optimal_path_reaches_flag_in_three_steps():
    steps = play(gym.make("PGToy-v0", slip_prob=0.0), [LEFT, RIGHT, RIGHT])
    assert [s[1] for s in steps] == [3.0, 0.0, 10.0]
    # reaching the flag on the last allowed step terminates (Gymnasium's TimeLimit flags it truncated
    # as well; rl_zoo3, once imported, patches TimeLimit to leave truncated False: either way it ends)
    assert steps[-1][2] is True


def test_left_from_hillside_is_the_pit():
    steps = play(gym.make("PGToy-v0"), [LEFT, LEFT])
    assert steps[-1][0].tolist() == [0, 0]
    assert steps[-1][1:4] == (-10.0, True, False)


def test_certain_slip_falls_into_pit():
    steps = play(gym.make("PGToy-v0", slip_prob=1.0), [LEFT, RIGHT])
    assert steps[-1][0].tolist() == [0, 0]
    assert steps[-1][1:4] == (-10.0, True, False)
    assert steps[-1][4] == {"prob": 1.0}


def test_slip_onto_diamond_picks_it_up():
    """On a longer hill, a slip into cell 1 while the diamond is there still earns it."""
    env = gym.make("SlipperyHill-v0", hill_length=2, slip_prob=1.0)
    steps = play(env, [LEFT, RIGHT])  # (3,1) -> (2,1) -> slip to (1,1): diamond
    assert [s[0].tolist() for s in steps] == [[2, 1], [1, 0]]
    assert [s[1] for s in steps] == [0.0, 3.0]


def test_slippery_hill_truncates_after_20_steps():
    env = gym.make("SlipperyHill-v0", slip_prob=0.0)
    env.reset(seed=0)
    for i in range(20):  # walk back and forth between the hilltop and the cell below
        _, _, terminated, truncated, _ = env.step(LEFT if i % 2 == 0 else RIGHT)
        assert not terminated
        assert truncated == (i == 19)


def test_observations_are_fresh_arrays():
    env = gym.make("PGToy-v0")
    obs, _ = env.reset(seed=0)
    obs[0] = 99
    obs2, *_ = env.step(LEFT)
    obs2[1] = 99
    obs3, *_ = env.step(RIGHT)
    assert env.unwrapped.s[0] != 99
    assert obs3[0] in (0, 2) and obs3[1] == 0


def test_same_seed_same_episode():
    def episode(seed):
        env = gym.make("SlipperyHill-v0", slip_prob=0.5)
        env.reset(seed=seed)
        env.action_space.seed(seed)
        trajectory = []
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            trajectory.append((tuple(obs), reward))
            done = terminated or truncated
        return trajectory

    assert episode(7) == episode(7)
    assert len({tuple(episode(seed)) for seed in range(20)}) > 1


@pytest.mark.parametrize("action", [2, -1, 0.5, "left", np.array([0, 1])])
def test_invalid_action_is_a_clear_error(action):
    env = gym.make("PGToy-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape("action must be 0 (left) or 1 (right)")):
        env.step(action)


def test_numpy_integer_actions_are_accepted():
    env = gym.make("PGToy-v0").unwrapped
    env.reset(seed=0)
    assert env.step(np.int64(RIGHT))[1] == 10.0


def test_step_before_reset_is_a_clear_error():
    with pytest.raises(ResetNeeded, match="before reset"):
        SlipperyHillEnv().step(LEFT)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hill_length": 0}, r"hill_length must be an integer in \[1, 10_000\], got 0"),
        ({"hill_length": 2.5}, r"hill_length must be an integer in \[1, 10_000\], got 2.5"),
        ({"hill_length": True}, r"hill_length must be an integer in \[1, 10_000\], got True"),
        ({"hill_length": 10_001}, r"hill_length must be an integer in \[1, 10_000\], got 10001"),
        ({"slip_prob": -0.1}, r"slip_prob must be a probability in \[0, 1\]"),
        ({"slip_prob": 1.5}, r"slip_prob must be a probability in \[0, 1\]"),
        ({"slip_prob": float("nan")}, r"slip_prob must be a probability in \[0, 1\]"),
        ({"diamond_reward": float("inf")}, "diamond_reward must be a finite number"),
        ({"flag_reward": float("nan")}, "flag_reward must be a finite number"),
        ({"pit_reward": "-10"}, "pit_reward must be a finite number"),
        ({"render_mode": "rgb"}, "render_mode must be None or one of"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes")
def test_invalid_kwargs_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make("SlipperyHill-v0", **kwargs)


def test_sampled_steps_follow_the_transition_table():
    """From (1, 0) going right, the slip frequency matches P: a binomial test at 5 standard errors."""
    env = gym.make("PGToy-v0").unwrapped
    env.reset(seed=123)
    n = 20_000
    slips = 0
    for _ in range(n):
        env.s = (1, 0)
        obs, reward, terminated, _, info = env.step(RIGHT)
        slipped = obs[0] == 0
        slips += slipped
        assert (reward, terminated, info["prob"]) == (
            (-10.0, True, pytest.approx(0.1)) if slipped else (0.0, False, 0.9)
        )
    p = 0.1
    assert abs(slips / n - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_sampled_steps_follow_the_table_everywhere():
    """Every (state, action) of a longer hill: empirical next-state frequencies within 5 standard errors of P."""
    env = SlipperyHillEnv(hill_length=3, slip_prob=0.3)
    env.reset(seed=1)
    n = 2_000
    for state in [(c, d) for c in range(1, 5) for d in (0, 1)]:
        for action in (LEFT, RIGHT):
            counts: dict = {}
            for _ in range(n):
                env.s = state
                obs, *_ = env.step(action)
                counts[tuple(obs)] = counts.get(tuple(obs), 0) + 1
            expected = {next_state: prob for prob, next_state, _, _ in env.P[state][action]}
            assert set(counts) <= set(expected)
            for next_state, prob in expected.items():
                freq = counts.get(next_state, 0) / n
                assert abs(freq - prob) <= 5 * math.sqrt(prob * (1 - prob) / n) + 1e-12


def test_render_ansi():
    env = gym.make("PGToy-v0", render_mode="ansi")
    env.reset(seed=0)
    start = env.render()
    robot_line, ground_line, caption = start.splitlines()
    assert ground_line.split() == ["~~~", "<>", "[^]", "|>"]
    assert robot_line.index("R") == ground_line.index("[^]") + 1  # the robot stands over the hilltop
    assert caption == "(cell 2, diamond 1), last action: -"
    env.step(LEFT)
    after = env.render()
    assert "<>" not in after
    assert after.splitlines()[0].index("R") == after.splitlines()[1].index("/")
    assert "last action: Left" in after


def colour_mask(image, colour):
    return np.all(image == colour, axis=-1)


def robot_cell(image, cells):
    """The cell under the middle of the robot's blue body."""
    columns = np.nonzero(colour_mask(image, rendering.ROBOT).any(axis=0))[0]
    return int(columns.mean() // (image.shape[1] // cells))


def arrow_direction(image):
    """None without an arrow; else LEFT or RIGHT, the side of its head (the arrow's tallest column)."""
    mask = colour_mask(image, rendering.ARROW)
    if not mask.any():
        return None
    heights = mask.sum(axis=0)
    columns = np.nonzero(heights)[0]
    return LEFT if np.argmax(heights) < columns.mean() else RIGHT


def test_render_rgb_array():
    env = gym.make("SlipperyHill-v0", render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    assert first.shape[1] >= 480 and first.shape[1] % 6 == 0  # legible in a video; six cells of equal width
    assert env.render() is not first  # a fresh image every call
    cell_width = first.shape[1] // 6

    def diamond_on_the_hillside(image):
        return int(colour_mask(image[:, cell_width : 2 * cell_width], rendering.DIAMOND).sum())

    assert diamond_on_the_hillside(first) > 0 and robot_cell(first, 6) == 4 and arrow_direction(first) is None
    frames = []
    for _ in range(3):
        env.step(LEFT)
        frames.append(env.render())
    assert [robot_cell(frame, 6) for frame in frames] == [3, 2, 1]
    assert [arrow_direction(frame) for frame in frames] == [LEFT] * 3
    carried = frames[-1]  # picked up: the diamond is on the robot's body, in the robot's cell
    assert colour_mask(carried, rendering.DIAMOND).any()
    robot_columns = np.nonzero(colour_mask(carried, rendering.ROBOT).any(axis=0))[0]
    diamond_columns = np.nonzero(colour_mask(carried, rendering.DIAMOND).any(axis=0))[0]
    assert robot_columns.min() < diamond_columns.min() and diamond_columns.max() < robot_columns.max()
    env.step(RIGHT)
    assert arrow_direction(env.render()) == RIGHT


def test_render_rgb_array_shows_a_slip_and_the_pit():
    """With certain slips, a step right moves the robot left under a right arrow; in the pit it is still seen."""
    env = gym.make("SlipperyHill-v0", slip_prob=1.0, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(LEFT)
    env.step(RIGHT)  # from cell 3 up the hill: slips to cell 2
    frame = env.render()
    assert robot_cell(frame, 6) == 2 and arrow_direction(frame) == RIGHT
    for _ in range(2):
        *_, terminated, _, _ = env.step(RIGHT)
    frame = env.render()
    assert terminated and robot_cell(frame, 6) == 0 and arrow_direction(frame) == RIGHT


@pytest.mark.parametrize("hill_length", [1, 2, 3, 5, 12, 13, 200])
def test_rgb_frames_are_at_least_480_pixels_wide(hill_length):
    """Short hills are drawn at a larger whole scale; the frame has even sides (video codecs want them)."""
    env = gym.make("SlipperyHill-v0", hill_length=hill_length, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == rendering.frame_shape(hill_length)
    height, width, _ = frame.shape
    assert width >= 480 and width % (hill_length + 3) == 0 and height % 2 == 0 and width % 2 == 0
    # no larger than it needs to be: one scale step smaller would be narrower than 480 pixels
    scale = rendering.frame_scale(hill_length)
    assert scale == 1 or (scale - 1) * width // scale < 480
    assert 0 < env.metadata["render_fps"] <= 4  # a move at a time, slow enough to follow


def test_record_video(tmp_path):
    pytest.importorskip("moviepy")
    env = gym.wrappers.RecordVideo(
        gym.make("PGToy-v0", render_mode="rgb_array"), str(tmp_path / "videos"), episode_trigger=lambda episode: True
    )
    env.reset(seed=0)
    done = False
    while not done:
        *_, terminated, truncated, _ = env.step(LEFT)
        done = terminated or truncated
    env.close()
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 0


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_env_checkers_pass_without_warnings(env_id, render_mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(gym.make(env_id, render_mode=render_mode).unwrapped)
        sb3_check_env(gym.make(env_id, render_mode=render_mode), warn=True)


def test_docstring_names_the_info_key_the_code_returns():
    """Keep the manual and the code in step (toy_text's docstrings say "p" where the code says "prob")."""
    env = gym.make("PGToy-v0")
    _, reset_info = env.reset(seed=0)
    *_, step_info = env.step(RIGHT)
    for key in set(reset_info) | set(step_info):
        assert f'`"{key}"`' in SlipperyHillEnv.__doc__
    assert env.metadata["render_modes"] == ["ansi", "rgb_array"]
    for mode in env.metadata["render_modes"]:
        assert f'"{mode}"' in SlipperyHillEnv.__doc__


def test_the_longest_hill_is_built_quickly():
    """MAX_HILL_LENGTH is documented in the manual and builds its table P in well under a second."""
    start = time.perf_counter()
    env = SlipperyHillEnv(hill_length=MAX_HILL_LENGTH)
    assert time.perf_counter() - start < 5.0  # about 0.3 s alone on one core
    assert len(env.P) == 2 * (MAX_HILL_LENGTH + 3)
    assert env.P[(1, 1)][LEFT] == [(1.0, (0, 1), -10.0, True)]
    assert f"[1, {MAX_HILL_LENGTH:_}]" in SlipperyHillEnv.__doc__
    assert f"{MAX_EPISODE_STEPS:_}" in SlipperyHillEnv.__doc__


def test_importing_gym_pgtoy_imports_neither_torch_nor_sb3():
    """The envs, the exact analysis of plain policies and the demo stay free of torch and SB3."""
    code = (
        "import sys, gym_pgtoy, gym_pgtoy.cli, gym_pgtoy.__main__\n"
        "from gym_pgtoy import exact\n"
        "exact.solve('SlipperyHill-v0')\n"
        "exact.expected_return('PGToy-v0', exact.WALKTHROUGH_POLICY)\n"
        "loaded = {'torch', 'stable_baselines3', 'reinforce_sb3'} & set(sys.modules)\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
