"""The episode buffer: storage that grows, the batch's steps flattened in (time, env) order with their returns,
episode ids and time steps, and the finiteness check of a batch."""

import warnings

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from reinforce_sb3.buffer import EpisodeBuffer


def fill(buffer: EpisodeBuffer, rows: list[dict]) -> None:
    """Add one row per dict: rewards, dones, starts and in_batch per env (observations: the row number)."""
    for t, row in enumerate(rows):
        n_envs = buffer.n_envs
        obs = np.full((n_envs, *buffer.observation_space.shape), t, dtype=buffer.observation_space.dtype)
        buffer.add(
            obs,
            np.array(row.get("actions", [t % 2] * n_envs)),
            np.array(row["rewards"], dtype=np.float32),
            np.array(row["starts"], dtype=bool),
            np.array(row["dones"], dtype=bool),
            np.array(row.get("in_batch", [True] * n_envs), dtype=bool),
            np.array(row["truncated"], dtype=bool) if "truncated" in row else None,
        )


def test_returns_by_hand_and_growth():
    """One env, episodes [1, 1, 1] and [2, 0], from a capacity of 2 that must grow."""
    buffer = EpisodeBuffer(spaces.Box(-1, 1, (1,)), spaces.Discrete(2), n_envs=1, capacity=2)
    rewards, dones, starts = [1, 1, 1, 2, 0], [0, 0, 1, 0, 1], [1, 0, 0, 1, 0]
    fill(
        buffer, [{"rewards": [r], "dones": [d], "starts": [s]} for r, d, s in zip(rewards, dones, starts, strict=True)]
    )
    assert buffer.capacity >= 5 and buffer.pos == 5
    np.testing.assert_allclose(buffer.returns(0.9)[:, 0], [1 + 0.9 + 0.81, 1 + 0.9, 1, 2, 0])
    np.testing.assert_allclose(buffer.returns(0.9, reward_to_go=False)[:, 0], [2.71, 2.71, 2.71, 2, 2])
    batch = buffer.episode_batch(0.9)
    np.testing.assert_array_equal(batch.actions, [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(batch.observations[:, 0], [0, 1, 2, 3, 4])  # kept through the growth
    np.testing.assert_array_equal(batch.episode_ids, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(batch.timesteps, [0, 1, 2, 0, 1])
    buffer.reset()
    assert buffer.pos == 0 and buffer.n_batch_steps == 0 and buffer.capacity >= 5  # memory kept


TWO_ENVS = [  # env 0: [1, 2] then [3]; env 1: [5, 5], then [7], an episode not in the batch
    {"rewards": [1, 5], "dones": [0, 0], "starts": [1, 1]},
    {"rewards": [2, 5], "dones": [1, 1], "starts": [0, 0]},
    {"rewards": [3, 7], "dones": [1, 1], "starts": [1, 1], "in_batch": [True, False]},
]


def test_a_truncated_episode_s_returns_take_the_truncation_value():
    """Env 0's [1, 2] is cut by a time limit, env 1's [5, 5] terminates; a flag on a step that does not end its
    episode is not read. With gamma = 0.5 and the value 10, [1, 2] has the returns [1 + 0.5 * 7, 2 + 0.5 * 10]."""
    buffer = EpisodeBuffer(spaces.Box(-10, 10, (1,)), spaces.Discrete(2), n_envs=2)
    truncated = [[False, True], [True, False], [False, False]]
    fill(buffer, [{**row, "truncated": flags} for row, flags in zip(TWO_ENVS, truncated, strict=True)])
    np.testing.assert_allclose(buffer.returns(0.5, truncation_value=10.0), [[4.5, 7.5], [7.0, 5.0], [3.0, 7.0]])
    np.testing.assert_allclose(buffer.returns(0.5, False, 10.0), [[4.5, 7.5], [4.5, 7.5], [3.0, 7.0]])
    np.testing.assert_allclose(buffer.returns(0.5), [[2.0, 7.5], [2.0, 5.0], [3.0, 7.0]])  # None: returns end
    np.testing.assert_allclose(buffer.episode_batch(0.5, truncation_value=10.0).returns, [4.5, 7.5, 7.0, 5.0, 3.0])


def test_the_batch_is_its_steps_in_time_then_env_order():
    buffer = EpisodeBuffer(spaces.Box(-10, 10, (1,)), spaces.Discrete(2), n_envs=2)
    fill(buffer, TWO_ENVS)
    assert buffer.n_batch_steps == 5
    batch = buffer.episode_batch(1.0)
    np.testing.assert_array_equal(batch.observations[:, 0], [0, 0, 1, 1, 2])
    np.testing.assert_allclose(batch.returns, [3, 10, 2, 5, 3])
    np.testing.assert_array_equal(batch.episode_ids, [0, 1, 0, 1, 2])
    np.testing.assert_array_equal(batch.timesteps, [0, 0, 1, 1, 0])
    whole = buffer.episode_batch(1.0, reward_to_go=False)
    np.testing.assert_allclose(whole.returns, [3, 10, 3, 10, 3])


def test_dict_observations_and_multidimensional_actions():
    observation_space = spaces.Dict({"vec": spaces.Box(-1, 1, (2,)), "cell": spaces.Discrete(4)})
    buffer = EpisodeBuffer(observation_space, spaces.Box(-1, 1, (2, 2)), n_envs=2)
    for t in range(2):
        obs = {"vec": np.full((2, 2), t / 10, dtype=np.float32), "cell": np.array([t, t + 1])}
        actions = np.arange(8, dtype=np.float32).reshape(2, 4) + t  # flat per env: reshaped to (2, 2)
        buffer.add(obs, actions, np.ones(2), np.array([t == 0] * 2), np.array([t == 1] * 2), np.ones(2, bool))
    batch = buffer.episode_batch(1.0)
    assert set(batch.observations) == {"vec", "cell"}
    np.testing.assert_array_equal(batch.observations["cell"], [0, 1, 1, 2])
    np.testing.assert_allclose(batch.observations["vec"][:, 0], [0, 0, 0.1, 0.1])
    assert batch.actions.shape == (4, 2, 2)
    np.testing.assert_array_equal(batch.actions[1], [[4, 5], [6, 7]])


def test_an_empty_buffer_gives_an_empty_batch():
    buffer = EpisodeBuffer(spaces.Box(-1, 1, (3,)), spaces.MultiDiscrete([2, 3]), n_envs=2)
    batch = buffer.episode_batch(0.99)
    assert batch.observations.shape == (0, 3) and batch.actions.shape == (0, 2) and batch.returns.shape == (0,)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_reward_in_the_batch_is_named_with_its_env_and_step(bad):
    """(A non-finite observation is refused earlier, before an action is chosen on it: tests/test_collector.py.)"""
    buffer = EpisodeBuffer(spaces.Box(-np.inf, np.inf, (1,)), spaces.Discrete(2), n_envs=2)
    fill(buffer, TWO_ENVS)
    buffer.arrays["rewards"][1, 1] = bad
    with pytest.raises(ValueError, match=r"non-finite reward in the batch at env 1, step 1 .*No parameter was changed"):
        buffer.episode_batch(0.9)


def test_non_finite_rewards_outside_the_batch_do_not_count():
    """Steps not in the batch (env 1's last episode) are never used: a NaN there is no error."""
    buffer = EpisodeBuffer(spaces.Box(-np.inf, np.inf, (1,)), spaces.Discrete(2), n_envs=2)
    fill(buffer, TWO_ENVS)
    buffer.arrays["rewards"][2, 1] = np.nan
    assert np.isfinite(buffer.episode_batch(0.9).returns).all()


def test_a_return_that_overflows_float32_is_an_error():
    """Each reward fits in float32, their sum does not: the update would turn the parameters to inf."""
    buffer = EpisodeBuffer(spaces.Box(-1, 1, (1,)), spaces.Discrete(2), n_envs=1)
    fill(buffer, [{"rewards": [3e38], "dones": [0], "starts": [1]}, {"rewards": [3e38], "dones": [1], "starts": [0]}])
    with pytest.raises(ValueError, match=r"non-finite return in the batch at env 0, step 0.*overflows float32"):
        buffer.episode_batch(1.0)
    assert np.isfinite(buffer.episode_batch(0.0).returns).all()  # without discounting, no sum


def test_the_messages_of_a_non_finite_reward_and_of_an_overflowing_return_in_full():
    """The overflow hint goes with a return that overflows, never with a reward that is itself not finite; the
    cast that overflows is what the check looks for, so it warns nothing on its own."""
    buffer = EpisodeBuffer(spaces.Box(-np.inf, np.inf, (1,)), spaces.Discrete(2), n_envs=2)
    fill(buffer, TWO_ENVS)
    buffer.arrays["rewards"][1, 1] = np.nan
    with pytest.raises(ValueError) as error:
        buffer.episode_batch(0.9)
    assert str(error.value) == (
        "non-finite reward in the batch at env 1, step 1 of the batch: nan. No parameter was changed."
    )

    buffer = EpisodeBuffer(spaces.Box(-1, 1, (1,)), spaces.Discrete(2), n_envs=1)
    fill(buffer, [{"rewards": [3e38], "dones": [0], "starts": [1]}, {"rewards": [3e38], "dones": [1], "starts": [0]}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "overflow encountered in cast" would come first
        with pytest.raises(ValueError) as error:
            buffer.episode_batch(1.0)
    assert str(error.value) == (
        "non-finite return in the batch at env 0, step 0 of the batch: inf"
        " (the sum of rewards overflows float32: scale the rewards down). No parameter was changed."
    )


def test_episode_ids_and_timesteps_are_int64_and_the_episodes_are_counted():
    """The ids index tensors (``index_add`` in the leave-one-out baseline): integers, not floats."""
    buffer = EpisodeBuffer(spaces.Box(-10, 10, (1,)), spaces.Discrete(2), n_envs=2)
    fill(buffer, TWO_ENVS)
    batch = buffer.episode_batch(1.0)
    assert batch.n_episodes == 3  # env 0's [1, 2] and [3], env 1's [5, 5]; env 1's [7] is not in the batch
    assert batch.episode_ids.dtype == np.int64 and batch.timesteps.dtype == np.int64


def test_to_tensors_by_hand():
    """Every field as a tensor with the same values; the returns in float32, the ids and timesteps int64."""
    buffer = EpisodeBuffer(spaces.Box(-10, 10, (1,)), spaces.Discrete(2), n_envs=2)
    fill(buffer, TWO_ENVS)
    tensors = buffer.episode_batch(0.5).to_tensors("cpu")
    # gamma = 0.5: env 0's [1, 2] -> [2, 2], [3] -> [3]; env 1's [5, 5] -> [7.5, 5]; (time, env) order
    th.testing.assert_close(tensors.returns, th.tensor([2.0, 7.5, 2.0, 5.0, 3.0]))
    th.testing.assert_close(tensors.observations, th.tensor([[0.0], [0.0], [1.0], [1.0], [2.0]]))
    th.testing.assert_close(tensors.actions, th.tensor([0, 0, 1, 1, 0]))
    th.testing.assert_close(tensors.episode_ids, th.tensor([0, 1, 0, 1, 2]))
    th.testing.assert_close(tensors.timesteps, th.tensor([0, 0, 1, 1, 0]))
    assert tensors.n_episodes == 3


@pytest.mark.parametrize("dict_observations", [False, True])
def test_to_tensors_puts_every_tensor_on_the_device(dict_observations):
    """On the "meta" device (shapes and dtypes, no data), so no accelerator is needed to see the device kept."""
    if dict_observations:
        observation_space = spaces.Dict({"vec": spaces.Box(-10, 10, (1,))})
        buffer = EpisodeBuffer(observation_space, spaces.Discrete(2), n_envs=2)
        for t, row in enumerate(TWO_ENVS):
            buffer.add({"vec": np.full((2, 1), t, np.float32)}, np.zeros(2), *row_arrays(row))
    else:
        buffer = EpisodeBuffer(spaces.Box(-10, 10, (1,)), spaces.Discrete(2), n_envs=2)
        fill(buffer, TWO_ENVS)
    tensors = buffer.episode_batch(0.5).to_tensors("meta")
    observations = tensors.observations["vec"] if dict_observations else tensors.observations
    fields = [observations, tensors.actions, tensors.returns, tensors.episode_ids, tensors.timesteps]
    assert [field.device.type for field in fields] == ["meta"] * 5
    assert [field.dtype for field in fields] == [th.float32, th.int64, th.float32, th.int64, th.int64]
    assert tensors.returns.shape == (5,)


def row_arrays(row: dict) -> tuple[np.ndarray, ...]:
    """The rewards, starts, dones and in_batch of one row of ``TWO_ENVS`` as :meth:`EpisodeBuffer.add` takes them."""
    return (
        np.array(row["rewards"], dtype=np.float32),
        np.array(row["starts"], dtype=bool),
        np.array(row["dones"], dtype=bool),
        np.array(row.get("in_batch", [True, True]), dtype=bool),
    )
