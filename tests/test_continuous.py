"""The continuous variant (``continuous=True``): Box actions whose sign moves, its vector env, the exact analysis
of Gaussian policies (P(right) = Phi(mu / sigma)) and the pictures and diagnostics on it."""

import math
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.utils.env_checker import check_reset_seed_determinism, check_returned_data_not_reused
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import gym_pgtoy
from gym_pgtoy import LEFT, RIGHT, SlipperyHillEnv, SlipperyHillVectorEnv, exact
from gym_pgtoy.policies import direction_probabilities, gaussian_policy
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis.policy_adapter import gaussian_parameters

gym.register_envs(gym_pgtoy)

ENV_IDS = ["PGToy-v0", "SlipperyHill-v0"]
BOX = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)


def continuous(env_id="PGToy-v0", **kwargs):
    return gym.make(env_id, continuous=True, **kwargs)


def first_move(env, action):
    """The cell reached from the hilltop by ``action`` (the hilltop's left is the hillside, its right the flag)."""
    env.reset(seed=0)
    return env.step(action)[0][0]


# --- the env ---


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_action_space_is_a_box_and_the_rest_is_the_same_game(env_id):
    env, discrete = continuous(env_id), gym.make(env_id)
    assert env.action_space == BOX and discrete.action_space == gym.spaces.Discrete(2)
    assert env.observation_space == discrete.observation_space
    assert env.unwrapped.P == discrete.unwrapped.P
    assert env.spec.max_episode_steps == discrete.spec.max_episode_steps


@pytest.mark.parametrize(
    ("action", "move"),
    [(-1.0, LEFT), (-0.3, LEFT), (-1e-7, LEFT), (0.0, RIGHT), (-0.0, RIGHT), (1e-7, RIGHT), (1.0, RIGHT)],
)
def test_the_sign_chooses_the_move(action, move):
    """Below 0 left, 0 or above right: the same outcome as the discrete action, draw for draw."""
    env, discrete = continuous(slip_prob=0.5), gym.make("PGToy-v0", slip_prob=0.5)
    for seed in range(5):
        env.reset(seed=seed)
        discrete.reset(seed=seed)
        for _ in range(3):
            step, discrete_step = env.step(np.array([action], dtype=np.float32)), discrete.step(move)
            assert [x.tolist() if isinstance(x, np.ndarray) else x for x in step] == [
                x.tolist() if isinstance(x, np.ndarray) else x for x in discrete_step
            ]
            if step[2] or step[3]:
                break


def test_values_outside_the_box_move_as_their_sign_says():
    """As LunarLander clips, an action beyond [-1, 1] is the clipped one: only its sign counts."""
    assert first_move(continuous(), np.array([-7.5])) == 1  # left: the diamond's cell
    assert first_move(continuous(), np.array([3.0], dtype=np.float64)) == 3  # right: the flag
    assert first_move(continuous(), np.array([2], dtype=np.int64)) == 3


@pytest.mark.parametrize("action", [np.array([np.nan]), np.array([np.inf]), np.zeros(2), 0.5, np.array([[0.5]]), "1"])
def test_invalid_continuous_actions_are_clear_errors(action):
    env = continuous().unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape("action must be a finite number in an array of shape (1,)")):
        env.step(action)


def test_a_discrete_action_is_refused_by_the_continuous_variant_and_the_reverse():
    env = continuous().unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be a finite number"):
        env.step(1)
    discrete = gym.make("PGToy-v0").unwrapped
    discrete.reset(seed=0)
    with pytest.raises(ValueError, match=re.escape("action must be 0 (left) or 1 (right)")):
        discrete.step(np.array([0.5], dtype=np.float32))


@pytest.mark.parametrize("value", [1, "yes", None])
def test_continuous_must_be_a_bool(value):
    with pytest.raises(ValueError, match="continuous must be True or False"):
        SlipperyHillEnv(continuous=value)


def test_render_names_the_move():
    env = continuous(render_mode="ansi")
    env.reset(seed=0)
    env.step(np.array([-0.2], dtype=np.float32))
    assert env.render().splitlines()[-1] == "(cell 1, diamond 0), last action: Left"


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_env_checkers_pass_without_warnings(env_id, render_mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(continuous(env_id, render_mode=render_mode).unwrapped)
        sb3_check_env(continuous(env_id, render_mode=render_mode), warn=True)


def test_the_manual_documents_the_variant():
    for doc in (SlipperyHillEnv.__doc__, SlipperyHillVectorEnv.__doc__):
        assert "continuous=True" in doc and "Box(-1.0, 1.0" in doc and "0 or above" in doc
    assert 'gym.make("PGToy-v0", continuous=True)' in SlipperyHillEnv.__doc__
    assert "`continuous=False`" in SlipperyHillEnv.__doc__  # the Arguments section
    assert "continuous=True` added" in SlipperyHillEnv.__doc__  # the Version History


# --- the vector env ---


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_vector_env_plays_the_single_game(env_id):
    """One copy and the same seed: the single env's episode, draw for draw, from the same continuous actions."""
    for seed in range(10):
        single = continuous(env_id, slip_prob=0.5)
        envs = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", continuous=True, slip_prob=0.5)
        assert envs.single_action_space == BOX and envs.action_space.shape == (1, 1)
        actions = np.random.default_rng(seed).uniform(-1, 1, size=(single.spec.max_episode_steps, 1))
        single.reset(seed=seed)
        envs.reset(seed=seed)
        for action in actions.astype(np.float32):
            obs, reward, terminated, truncated, info = single.step(action)
            v_obs, v_rewards, v_terminated, _, v_info = envs.step(action[None])
            assert (v_obs[0].tolist(), v_rewards[0], v_terminated[0], v_info["prob"][0]) == (
                obs.tolist(),
                reward,
                terminated,
                info["prob"],
            )
            if terminated or truncated:
                break


def test_the_vector_env_moves_by_sign_and_checks_actions():
    envs = SlipperyHillVectorEnv(num_envs=4, hill_length=1, max_episode_steps=3, continuous=True)
    envs.reset(seed=0)
    obs, *_ = envs.step(np.array([[-1.0], [-0.0], [0.25], [5.0]], dtype=np.float32))
    assert obs[:, 0].tolist() == [1, 3, 3, 3]  # left to the diamond's cell; right to the flag
    for bad in (np.zeros(4), np.zeros((4, 2)), np.full((4, 1), np.nan), np.zeros((4, 1), dtype=bool)):
        with pytest.raises(ValueError, match=re.escape("actions must be finite numbers in an array of shape (4, 1)")):
            envs.step(bad)


def test_the_vector_env_passes_gymnasium_checks():
    """As tests/test_vector.py runs them: on one copy (the checks read terminated as a bool)."""
    envs = gym.make_vec("PGToy-v0", num_envs=1, vectorization_mode="vector_entry_point", continuous=True)
    check_reset_seed_determinism(envs)
    check_returned_data_not_reused(envs)
    envs.reset(seed=0)
    obs, *_ = envs.step(envs.action_space.sample())
    assert obs in envs.observation_space


# --- the exact analysis of Gaussian policies ---


def test_direction_probabilities_by_hand():
    assert direction_probabilities(0.0, 2.0) == (0.5, 0.5)
    p_left, p_right = direction_probabilities(1.0, 1.0)
    assert p_right == pytest.approx(0.841344746) and p_left == pytest.approx(1 - 0.841344746)
    # the small side stays accurate (no 1 - p): Phi(-8) = 6.2209605742717841e-16
    assert direction_probabilities(-8.0, 1.0)[1] == pytest.approx(6.2209605742717841e-16, rel=1e-9)
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        direction_probabilities(0.0, 0.0)
    with pytest.raises(ValueError, match="mu must be a finite number"):
        direction_probabilities(math.nan, 1.0)


def test_the_walkthrough_as_gaussians_has_the_walkthrough_return():
    assert exact.expected_return(continuous(), gaussian_policy(exact.WALKTHROUGH_GAUSSIAN)) == pytest.approx(
        exact.expected_return("PGToy-v0", exact.WALKTHROUGH_POLICY)
    )


def test_the_exact_return_of_a_gaussian_policy_matches_monte_carlo():
    """P(right) = Phi(mu / sigma), clipping and all: actions drawn from the Gaussians, clipped, played."""
    gaussians = {(2, 1): (-0.3, 0.8), (1, 0): (0.9, 0.5), (2, 0): (0.2, 1.5)}
    env, rng, returns = continuous(), np.random.default_rng(0), []
    for episode in range(20_000):
        obs, _ = env.reset(seed=episode)
        done, total = False, 0.0
        while not done:
            mu, sigma = gaussians[tuple(obs.tolist())]
            action = np.clip(rng.normal(mu, sigma, size=1), -1, 1).astype(np.float32)
            obs, reward, terminated, truncated, _ = env.step(action)
            total, done = total + reward, terminated or truncated
        returns.append(total)
    value = exact.expected_return(env, gaussian_policy(gaussians))
    assert abs(np.mean(returns) - value) < 4 * np.std(returns) / math.sqrt(len(returns))


def sb3_models(env):
    kwargs = {"seed": 0, "device": "cpu", "policy_kwargs": {"net_arch": [8], "log_std_init": -0.4}}
    return [REINFORCE("MlpPolicy", env, **kwargs), A2C("MlpPolicy", env, **kwargs), PPO("MlpPolicy", env, **kwargs)]


@pytest.mark.parametrize("index", range(3), ids=["REINFORCE", "A2C", "PPO"])
def test_gaussian_sb3_policies_are_analysed_through_phi_mu_over_sigma(index):
    env = continuous()
    model = sb3_models(env)[index]
    with torch.no_grad():
        model.policy.action_net.bias.fill_(0.3)  # away from P(right) = 1/2
    states = sorted(exact.WALKTHROUGH_POLICY)
    parameters = gaussian_parameters(model, np.array(states))
    with torch.no_grad():
        for state, (mu, sigma) in zip(states, parameters, strict=True):
            distribution = model.policy.get_distribution(model.policy.obs_to_tensor(np.array(state))[0]).distribution
            assert (mu, sigma) == pytest.approx((distribution.mean.item(), distribution.stddev.item()))
    table = gaussian_policy(dict(zip(states, parameters, strict=True)))
    assert exact.expected_return(env, model) == pytest.approx(exact.expected_return(env, table), rel=1e-6)


@pytest.mark.parametrize("index", range(3), ids=["REINFORCE", "A2C", "PPO"])
def test_exact_gradient_of_a_gaussian_policy_matches_finite_differences(index):
    """Every parameter, the log-std included: the exact gradient against central differences of the exact return."""
    env = continuous()
    model = sb3_models(env)[index]
    with torch.no_grad():
        model.policy.action_net.bias.fill_(0.3)
    parameters = dict(model.policy.named_parameters())
    grads = dict(zip(parameters, exact.parameter_gradient(env, model), strict=True))
    assert grads["log_std"].abs().item() > 0.1  # a log-std gradient worth checking
    eps = 1e-3
    for name in ("log_std", "action_net.bias"):
        with torch.no_grad():
            parameters[name] += eps
            up = exact.expected_return(env, model)
            parameters[name] -= 2 * eps
            down = exact.expected_return(env, model)
            parameters[name] += eps
        assert grads[name].sum().item() == pytest.approx((up - down) / (2 * eps), rel=1e-3)
    generator = torch.Generator().manual_seed(1)
    direction = {name: torch.randn(p.shape, generator=generator) for name, p in parameters.items()}
    with torch.no_grad():
        for name, p in parameters.items():
            p += eps * direction[name]
        up = exact.expected_return(env, model)
        for name, p in parameters.items():
            p -= 2 * eps * direction[name]
        down = exact.expected_return(env, model)
    predicted = sum(float((grads[name] * direction[name]).sum()) for name in parameters)
    assert predicted == pytest.approx((up - down) / (2 * eps), rel=1e-3)


def test_gsde_and_models_of_the_other_variant_are_refused():
    env = continuous()
    with pytest.raises(ValueError, match="got StateDependentNoiseDistribution"):
        exact.expected_return(env, A2C("MlpPolicy", env, use_sde=True, seed=0, device="cpu"))
    with pytest.raises(ValueError, match="analyse a policy on the game variant it was trained on"):
        exact.expected_return("PGToy-v0", REINFORCE("MlpPolicy", env, seed=0, device="cpu"))
    with pytest.raises(ValueError, match="analyse a policy on the game variant it was trained on"):
        exact.expected_return(env, REINFORCE("MlpPolicy", "PGToy-v0", seed=0, device="cpu"))
    assert gaussian_parameters(REINFORCE("MlpPolicy", "PGToy-v0", seed=0, device="cpu"), np.array([[2, 1]])) is None


# --- pictures ---


def node_texts(figure):
    return [t.get_text() for t in figure.axes[0].texts]


def test_the_tree_shows_p_right_and_the_gaussians():
    pytest.importorskip("matplotlib")
    from reinforce_sb3.analysis.plots import plot_tree

    figure = plot_tree(continuous())  # the walk-through as Gaussians of sigma 1
    assert figure.axes[0].get_title() == "Expected return 2.636 (exact, gamma=1)"
    texts = node_texts(figure)
    assert any("\n(2, 1)  t=0\n" in t and "P(right) 0.30\nmu -0.52, sigma 1.00" in t for t in texts)
    assert any("\n(1, 0)  t=1\n" in t and "P(right) 0.60\nmu +0.25, sigma 1.00" in t for t in texts)

    model = REINFORCE("MlpPolicy", continuous(), seed=0, device="cpu", policy_kwargs={"log_std_init": -0.7})
    (mu, sigma), *_ = gaussian_parameters(model, np.array([[2, 1]]))
    p_right = direction_probabilities(mu, sigma)[1]
    texts = node_texts(plot_tree(continuous(), model))
    assert any(f"P(right) {p_right:.2f}\nmu {mu:+.2f}, sigma {math.exp(-0.7):.2f}" in t for t in texts)
    # a discrete tree shows neither
    assert not any("P(right)" in t for t in node_texts(plot_tree("PGToy-v0")))


def test_command_line_tree_of_the_continuous_variant(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from reinforce_sb3.analysis import plots

    monkeypatch.chdir(tmp_path)
    model = REINFORCE("MlpPolicy", continuous(), seed=0, device="cpu")
    model.save(tmp_path / "model.zip")
    plots.main(["tree", "--continuous", "--model", str(tmp_path / "model.zip")])
    assert capsys.readouterr().out == "wrote tree.png\n" and (tmp_path / "tree.png").exists()
    with pytest.raises(ValueError, match="analyse a policy on the game variant it was trained on"):
        plots.main(["tree", "--model", str(tmp_path / "model.zip")])  # a continuous model on the discrete game
