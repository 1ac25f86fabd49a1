"""The tree game as a native vector environment: thousands of copies stepped by one numpy lookup."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from gym_pgtoy.rendering import frame_shape
from gym_pgtoy.slippery_hill import LEFT, MAX_EPISODE_STEPS, RIGHT, SlipperyHillEnv
from gym_pgtoy.validation import check_integer

MAX_NUM_ENVS = 1_000_000
"""The most copies: about 100 bytes of state and per-step arrays each, so 100 MB at this number."""

MAX_RENDER_BYTES = 1 << 30
"""The most memory one ``render()`` of every copy may take in ``"rgb_array"`` mode (1 GiB)."""


class SlipperyHillVectorEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """
    `num_envs` independent copies of :class:`~gym_pgtoy.slippery_hill.SlipperyHillEnv`, stepped together in numpy.

    ## Description
    The game, its spaces and its rewards are those of `SlipperyHillEnv` (see its docstring).
    The dynamics are not written again here: the constructor builds a `SlipperyHillEnv`
    (kept as `envs.game`) and flattens its transition table `P` into arrays indexed by
    `(state, action)`, so that `step` moves every copy with one uniform draw per copy and
    a few array lookups.
    `gym.make_vec(id, num_envs=n)` builds this class for `PGToy-v0` and `SlipperyHill-v0`,
    in place of a `SyncVectorEnv` of `n` single environments, and plays the same game.

    ## Action Space
    `MultiDiscrete([2] * num_envs)`: an integer array of shape `(num_envs,)`, one action per copy:

    - 0: Move left (down the hill)
    - 1: Move right (up the hill, or to the flag from the hilltop)

    With `continuous=True`, `Box(-1.0, 1.0, shape=(num_envs, 1), dtype=np.float32)`: one number per
    copy, below 0 moves left, 0 or above moves right (a finite value outside [-1, 1] moves as its
    sign says, as in `SlipperyHillEnv`).

    ## Observation Space
    An `int64` array of shape `(num_envs, 2)`, one `(cell, diamond_present)` row per copy
    (`single_observation_space` is `MultiDiscrete([H + 3, 2])`, batched with `batch_space`).

    ## Starting State
    Every copy starts on the hilltop with the diamond in place: `(H + 1, 1)`.

    ## Rewards
    As in `SlipperyHillEnv`: `rewards` is a `float64` array of shape `(num_envs,)`.

    ## Episode End
    A copy terminates when it enters the pit or the flag. It is truncated after
    `max_episode_steps` steps (3 for `PGToy-v0`, 20 for `SlipperyHill-v0`, passed by
    `make_vec` from the registration; `None`: never). As with the `TimeLimit` wrapper of
    `gym.make`, `truncated` is set at the limit whether or not the copy also terminated there.

    Copies reset themselves in Gymnasium's default next-step mode
    (`metadata["autoreset_mode"] = AutoresetMode.NEXT_STEP`): the step after a copy's
    episode ends returns its starting observation, reward 0 and `terminated = truncated = False`,
    and ignores the action given to that copy (it must still be a valid action).

    ## Information
    `step()` and `reset()` return `{"prob": probs, "_prob": mask}`, as a `SyncVectorEnv` of
    single environments does: `probs[i]` is the probability of the transition sampled for
    copy `i` (1.0 on a reset) and `mask` is all `True`.

    ## Arguments
    ```python
    import gymnasium as gym
    import gym_pgtoy

    gym.register_envs(gym_pgtoy)
    envs = gym.make_vec("PGToy-v0", num_envs=1024)  # the registered vector_entry_point
    envs = gym.make_vec("SlipperyHill-v0", num_envs=64, hill_length=5, max_episode_steps=40)
    envs = gym.make_vec("PGToy-v0", num_envs=1024, continuous=True)  # Box actions of shape (1024, 1)
    envs = gym_pgtoy.SlipperyHillVectorEnv(num_envs=8, hill_length=1, max_episode_steps=3)
    ```

    `num_envs=1`: the number of copies, an integer in [1, 1_000_000] (`MAX_NUM_ENVS`). With a
    `render_mode`, the frames of all copies together must fit in 1 GiB (`MAX_RENDER_BYTES`): an
    `"rgb_array"` frame takes `64 x 32 (H + 3) x 3` bytes from a hill of 12 cells on (shorter hills are drawn
    larger, see `gym_pgtoy.rendering.frame_shape`), an `"ansi"` one about `12 (H + 3)`.

    `max_episode_steps=None`: the time limit of each copy, an integer in [1, 100_000]
    (`MAX_EPISODE_STEPS`), or `None` for none.

    `hill_length`, `slip_prob`, `diamond_reward`, `flag_reward`, `pit_reward`, `continuous` and
    `render_mode` are those of `SlipperyHillEnv`, with its defaults. `render()` returns
    one frame per copy.

    ## Version History
    - v0: Initial version release; `continuous=True` added later without changing the default game
    """

    metadata = {
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": SlipperyHillEnv.metadata["render_fps"],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        hill_length: int = 3,
        slip_prob: float = 0.1,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        diamond_reward: float = 3.0,
        flag_reward: float = 10.0,
        pit_reward: float = -10.0,
        continuous: bool = False,
    ) -> None:
        check_integer("num_envs", num_envs, 1, MAX_NUM_ENVS)
        if max_episode_steps is not None:
            check_integer("max_episode_steps", max_episode_steps, 1, MAX_EPISODE_STEPS, " or None")
        # The single game checks the other arguments, and its table P is the one source of the dynamics.
        self.game = SlipperyHillEnv(
            render_mode=render_mode,
            hill_length=hill_length,
            slip_prob=slip_prob,
            diamond_reward=diamond_reward,
            flag_reward=flag_reward,
            pit_reward=pit_reward,
            continuous=continuous,
        )
        if render_mode is not None and num_envs * self._frame_bytes() > MAX_RENDER_BYTES:
            raise ValueError(
                f"render_mode={render_mode!r} with num_envs={num_envs} and hill_length={hill_length}: the frames would "
                f"take {num_envs * self._frame_bytes() / 2**30:.1f} GiB per render(), more than "
                f"{MAX_RENDER_BYTES / 2**30:g} GiB; use fewer copies, a shorter hill or no render_mode"
            )
        self.num_envs = int(num_envs)
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        self.render_mode = render_mode
        self.hill_length = self.game.hill_length
        self.slip_prob = self.game.slip_prob
        self.continuous = self.game.continuous

        self.single_observation_space = self.game.observation_space
        self.single_action_space = self.game.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        self._build_tables()

        self._state: np.ndarray | None = None  # index into self._states, per copy
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._prev_done = np.zeros(self.num_envs, dtype=np.bool_)
        self._last_actions = np.full(self.num_envs, -1, dtype=np.int64)  # for render(); -1: none yet

    def _frame_bytes(self) -> int:
        """About the size of one copy's frame: an image of ``frame_shape(H)``, or 3 lines of text."""
        if self.game.render_mode == "rgb_array":
            return math.prod(frame_shape(self.game.hill_length))
        return 12 * (self.game.flag + 1) + 64

    def _build_tables(self) -> None:
        """Flatten ``game.P`` into arrays with one row per ``(state, action)``, plus a last row for a reset.

        Row ``2 * s + a`` holds the outcomes of action ``a`` in state ``self._states[s]``, padded
        to the largest number of outcomes ``K`` by repeating the last one. Outcome ``k`` is drawn
        with a uniform ``u`` as the number of thresholds (cumulative probabilities) ``<= u``, as
        ``categorical_sample`` does; the threshold after the last real outcome is ``inf``, so
        rounding can never select a padded outcome.
        """
        table = self.game.P
        self._states: list[tuple[int, int]] = sorted(table)
        index = {state: i for i, state in enumerate(self._states)}
        self._observations = np.array(self._states, dtype=np.int64)
        self._start = index[self.game.start_state]

        n_outcomes = max(len(outcomes) for actions in table.values() for outcomes in actions.values())
        self._reset_row = 2 * len(self._states)
        rows = self._reset_row + 1
        # every row starts as the reset row: back to the start, reward 0, not terminated, probability 1
        thresholds = np.full((rows, n_outcomes - 1), np.inf)
        next_state = np.full((rows, n_outcomes), self._start, dtype=np.int64)
        reward = np.zeros((rows, n_outcomes))
        terminated = np.zeros((rows, n_outcomes), dtype=np.bool_)
        prob = np.ones((rows, n_outcomes))
        for state, i in index.items():
            for action in (LEFT, RIGHT):
                row = 2 * i + action
                outcomes = table[state][action]
                padded = outcomes + [outcomes[-1]] * (n_outcomes - len(outcomes))
                thresholds[row, : len(outcomes) - 1] = np.cumsum([p for p, *_ in outcomes])[:-1]
                prob[row] = [p for p, *_ in padded]
                next_state[row] = [index[s] for _, s, _, _ in padded]
                reward[row] = [r for _, _, r, _ in padded]
                terminated[row] = [t for *_, t in padded]
        self._n_outcomes = n_outcomes
        self._thresholds = [np.ascontiguousarray(column) for column in thresholds.T]
        self._next_state = next_state.ravel()
        self._reward = reward.ravel()
        self._terminated = terminated.ravel()
        self._prob = prob.ravel()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy to the start; ``seed`` seeds ``self.np_random`` (``options`` is unused)."""
        super().reset(seed=seed)
        self._state = np.full(self.num_envs, self._start, dtype=np.int64)
        self._elapsed[:] = 0
        self._prev_done[:] = False
        self._last_actions[:] = -1
        info = {"prob": np.ones(self.num_envs), "_prob": np.ones(self.num_envs, dtype=np.bool_)}
        return self._observations.take(self._state, axis=0), info

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every copy; a copy whose episode ended on the previous step is reset instead."""
        if self._state is None:
            raise ResetNeeded("Cannot call SlipperyHillVectorEnv.step() before reset().")
        actions = self._check_actions(actions)

        row = np.where(self._prev_done, self._reset_row, self._state * 2 + actions)
        uniform = self.np_random.random(self.num_envs)
        outcome = row * self._n_outcomes
        for column in self._thresholds:
            outcome += uniform >= column.take(row)

        self._state = self._next_state.take(outcome)
        rewards = self._reward.take(outcome)
        terminated = self._terminated.take(outcome)
        info = {"prob": self._prob.take(outcome), "_prob": np.ones(self.num_envs, dtype=np.bool_)}

        # the time limit: the step count restarts at 0 on the reset step, as TimeLimit's does on reset()
        self._elapsed += 1
        self._elapsed *= ~self._prev_done
        if self.max_episode_steps is None:
            truncated = np.zeros(self.num_envs, dtype=np.bool_)
        else:
            truncated = self._elapsed >= self.max_episode_steps
        np.logical_or(terminated, truncated, out=self._prev_done)

        if self.render_mode is not None:
            self._last_actions[:] = np.where(self._elapsed == 0, -1, actions)
        return self._observations.take(self._state, axis=0), rewards, terminated, truncated, info

    def _check_actions(self, actions: Any) -> np.ndarray:
        """The moves (0 left, 1 right) of valid ``actions`` as an integer array of shape ``(num_envs,)``, else
        ValueError: integers in {0, 1} of shape ``(num_envs,)``, or finite numbers of shape ``(num_envs, 1)``."""
        array = np.asarray(actions)
        if self.continuous:
            if array.shape != (self.num_envs, 1) or array.dtype.kind not in "iuf" or not np.isfinite(array).all():
                raise ValueError(
                    f"actions must be finite numbers in an array of shape ({self.num_envs}, 1) (below 0: left, "
                    f"0 or above: right), got {type(actions).__name__} of shape {array.shape} and dtype {array.dtype}"
                )
            return (array[:, 0] >= 0).astype(np.int64)
        if array.shape != (self.num_envs,) or array.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be an integer array of shape ({self.num_envs},) with values 0 (left) or 1 (right), "
                f"got {type(actions).__name__} of shape {array.shape} and dtype {array.dtype}"
            )
        if array.min() < 0 or array.max() > 1:
            bad = np.unique(array[(array < 0) | (array > 1)])
            raise ValueError(f"actions must be 0 (left) or 1 (right), got the values {bad[:5].tolist()}")
        return array.astype(np.int64, copy=False)

    def render(self) -> tuple[Any, ...] | None:
        """One frame per copy, drawn by ``SlipperyHillEnv.render`` (``None`` without a render mode)."""
        if self.render_mode is None:
            return None
        if self._state is None:
            raise ResetNeeded("Cannot call SlipperyHillVectorEnv.render() before reset().")
        frames = []
        for state, action in zip(self._state.tolist(), self._last_actions.tolist(), strict=True):
            self.game.s = self._states[state]
            self.game.lastaction = None if action < 0 else action
            frames.append(self.game.render())
        return tuple(frames)
