"""The tree game of the policy-gradient walk-through, and its longer cousin."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import Env, spaces
from gymnasium.envs.toy_text.utils import categorical_sample
from gymnasium.error import ResetNeeded

from gym_pgtoy.rendering import draw_frame
from gym_pgtoy.validation import check_integer

LEFT = 0
RIGHT = 1

State = tuple[int, int]
"""``(cell, diamond_present)``: the observation, as a hashable key of ``P``."""

Transition = tuple[float, State, float, bool]
"""``(prob, next_state, reward, terminated)``: one entry of ``P[state][action]``."""

MAX_HILL_LENGTH = 10_000
"""The longest hill: the table ``P`` has ``4 (H + 3)`` entries, built in about 0.3 s at this length."""

MAX_EPISODE_STEPS = 100_000
"""The longest time limit the native vector env and the exact analysis (its ``horizon``) accept."""


def direction(action: np.ndarray) -> int:
    """The move of a continuous action: ``LEFT`` below 0, ``RIGHT`` at 0 or above (clipping keeps the sign)."""
    return LEFT if action[0] < 0.0 else RIGHT


class SlipperyHillEnv(Env[np.ndarray, np.int64 | np.ndarray]):
    """
    A robot on a hilltop chooses between a safe flag and a diamond on a slippery hillside.

    ## Description
    This is the "tree game" used to explain the policy gradient theorem, made into a
    Gymnasium environment. Cells lie on a line: the fire pit at the bottom (cell 0),
    the hillside (cells 1..H, the diamond lies on cell 1), the hilltop where the robot
    starts (cell H + 1) and the flag beyond it (cell H + 2)::

                     R
                ___ [^] |>      R robot   [^] hilltop (start)
           <> /              <> diamond    |> flag
        ~~~~                ~~~ fire pit

    Walking right from the hilltop reaches the flag at once. Walking left goes down the
    hillside to pick up the diamond, but climbing back is slippery: every step up the
    hillside slips one cell down with probability `slip_prob`, and the bottom is the pit.

    `PGToy-v0` is the game of the walk-through: a hill of one cell, a slip probability
    of 0.1 and at most 3 steps. Its optimal expected return is 11 (left, right, right),
    while "always right" earns 10. `SlipperyHill-v0` has a hill of 3 cells and 20 steps;
    its optimum (about 10.78) again takes the risky diamond path, and "always right"
    is a trap at 10.

    ## Action Space
    The action is an `int` in `{0, 1}` (`Discrete(2)`):

    - 0: Move left (down the hill)
    - 1: Move right (up the hill, or to the flag from the hilltop)

    With `continuous=True` the action is a `np.ndarray` of shape `(1,)` in
    `Box(-1.0, 1.0, shape=(1,), dtype=np.float32)`, and only its sign counts:

    - below 0: Move left
    - 0 or above: Move right

    A finite value outside [-1, 1] moves as its sign says, as if clipped to the box (as
    LunarLander clips); a non-finite one, or another shape, is a `ValueError`. A Gaussian policy
    `Normal(mu(s), sigma(s))` thus moves right with probability `Phi(mu(s) / sigma(s))`, and
    `gym_pgtoy.exact` analyses it through these probabilities.

    ## Observation Space
    The observation is a `np.ndarray` of shape `(2,)`, `(cell, diamond_present)`, in
    `MultiDiscrete([H + 3, 2])`: the robot's cell (0 pit, 1..H hillside, H + 1 hilltop,
    H + 2 flag) and 1 while the diamond still lies on cell 1, else 0.

    ## Starting State
    The robot starts on the hilltop with the diamond in place: `(H + 1, 1)`.

    ## Rewards
    Rewards are earned on entering a cell:

    - the pit (cell 0): `pit_reward` (default -10)
    - the flag (cell H + 2): `flag_reward` (default +10)
    - cell 1 while the diamond is there: `diamond_reward` (default +3); the diamond is
      picked up and `diamond_present` becomes 0
    - any other cell: 0

    ## Episode End
    The episode terminates when the robot enters the pit or the flag. It is truncated by
    the `TimeLimit` wrapper after 3 steps (`PGToy-v0`) or 20 steps (`SlipperyHill-v0`),
    as set by `max_episode_steps` in `gym.make`. An episode that reaches the pit or the flag
    on its last allowed step reports `terminated=True`, and `TimeLimit` sets `truncated=True`
    as well: the terminal reward is earned and the return ends there either way.

    ## Information
    `step()` and `reset()` return a dict with the key `"prob"`: the probability of the
    transition that was sampled (1.0 on reset).

    ## Transition Table
    `env.unwrapped.P[state][action]` is a list of `(prob, next_state, reward, terminated)`
    tuples, with `state = (cell, diamond_present)` and only outcomes of nonzero probability.
    The pit and the flag hold a single self-loop `(1.0, state, 0.0, True)`, as FrozenLake's
    terminal states do. `gym_pgtoy.exact` computes expected returns and policy gradients
    from this table.

    ## Arguments
    ```python
    import gymnasium as gym
    import gym_pgtoy

    gym.register_envs(gym_pgtoy)
    env = gym.make("PGToy-v0", render_mode="ansi")
    env = gym.make("SlipperyHill-v0", hill_length=5, slip_prob=0.2, max_episode_steps=40)
    env = gym.make("PGToy-v0", continuous=True)
    ```

    `continuous=False`: if True, the action is a number in [-1, 1] whose sign chooses the move
    (see Action Space); the game, its table `P` and its exact analysis are unchanged.

    `hill_length=3`: the number H of hillside cells between the pit and the hilltop, an integer
    in [1, 10_000] (`MAX_HILL_LENGTH`).

    `slip_prob=0.1`: the probability p in [0, 1] that a step up the hillside slips one
    cell down instead. Stepping right from the hilltop never slips.

    `diamond_reward=3.0`, `flag_reward=10.0`, `pit_reward=-10.0`: the rewards described
    above; any finite numbers.

    `render_mode=None`: `"ansi"` (a text picture) or `"rgb_array"` (an image: the hill, the robot and an arrow
    above it pointing the way of its last move, so a recorded video shows every move and every slip). A frame is
    `frame_shape(H)`: 512 x 256 pixels for `PGToy-v0`, 576 x 192 for `SlipperyHill-v0`, at least 480 wide for any
    hill. Videos play 2 frames, so 2 moves, per second (`metadata["render_fps"]`).

    `max_episode_steps` (an argument of `gym.make`, not of the class): the `TimeLimit`. Any
    integer >= 1 works for the env itself; the exact analysis (`gym_pgtoy.exact`, whose horizon it
    is) and the native vector env accept at most 100_000 (`MAX_EPISODE_STEPS`).

    ## Version History
    - v0: Initial version release; `continuous=True` added later without changing the default game
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 2}  # one move every half second

    def __init__(
        self,
        render_mode: str | None = None,
        hill_length: int = 3,
        slip_prob: float = 0.1,
        diamond_reward: float = 3.0,
        flag_reward: float = 10.0,
        pit_reward: float = -10.0,
        continuous: bool = False,
    ) -> None:
        check_integer("hill_length", hill_length, 1, MAX_HILL_LENGTH)
        if not isinstance(continuous, (bool, np.bool_)):
            raise ValueError(f"continuous must be True or False, got {continuous!r}")
        if not isinstance(slip_prob, (int, float, np.number)) or not 0.0 <= float(slip_prob) <= 1.0:
            raise ValueError(f"slip_prob must be a probability in [0, 1], got {slip_prob!r}")
        for name, value in (
            ("diamond_reward", diamond_reward),
            ("flag_reward", flag_reward),
            ("pit_reward", pit_reward),
        ):
            if not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")

        self.hill_length = int(hill_length)
        self.slip_prob = float(slip_prob)
        self.diamond_reward = float(diamond_reward)
        self.flag_reward = float(flag_reward)
        self.pit_reward = float(pit_reward)
        self.render_mode = render_mode
        self.continuous = bool(continuous)

        self.pit = 0
        self.hilltop = self.hill_length + 1
        self.flag = self.hill_length + 2
        self.start_state: State = (self.hilltop, 1)

        self.observation_space = spaces.MultiDiscrete([self.flag + 1, 2])
        self.action_space: spaces.Discrete | spaces.Box
        if self.continuous:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        else:
            self.action_space = spaces.Discrete(2)

        self.P: dict[State, dict[int, list[Transition]]] = {
            (cell, diamond): {action: self._calculate_transitions((cell, diamond), action) for action in (LEFT, RIGHT)}
            for cell in range(self.flag + 1)
            for diamond in (0, 1)
        }

        self.s: State | None = None
        self.lastaction: int | None = None

    def is_terminal(self, state: State) -> bool:
        """Whether ``state`` is the pit or the flag (the episode has ended there)."""
        return state[0] in (self.pit, self.flag)

    def _calculate_transitions(self, state: State, action: int) -> list[Transition]:
        """The outcomes of ``action`` in ``state``, as ``[(prob, next_state, reward, terminated), ...]``."""
        cell, diamond = state
        if self.is_terminal(state):
            return [(1.0, state, 0.0, True)]
        if action == LEFT:
            moves = [(1.0, cell - 1)]
        elif cell == self.hilltop:
            moves = [(1.0, self.flag)]
        else:
            moves = [(1.0 - self.slip_prob, cell + 1), (self.slip_prob, cell - 1)]
        return [self._enter(prob, target, diamond) for prob, target in moves if prob > 0.0]

    def _enter(self, prob: float, cell: int, diamond: int) -> Transition:
        """The transition into ``cell`` with probability ``prob``: the reward earned there and whether it ends."""
        if cell == self.pit:
            return (prob, (cell, diamond), self.pit_reward, True)
        if cell == self.flag:
            return (prob, (cell, diamond), self.flag_reward, True)
        if cell == 1 and diamond:
            return (prob, (cell, 0), self.diamond_reward, False)
        return (prob, (cell, diamond), 0.0, False)

    def step(self, action: int | np.integer | np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.s is None:
            raise ResetNeeded("Cannot call SlipperyHillEnv.step() before reset().")
        move = self._move(action)
        transitions = self.P[self.s][move]
        i = categorical_sample([t[0] for t in transitions], self.np_random)
        prob, self.s, reward, terminated = transitions[i]
        self.lastaction = move
        # truncation is left to the TimeLimit wrapper that gym.make adds
        return np.array(self.s, dtype=np.int64), reward, terminated, False, {"prob": prob}

    def _move(self, action: Any) -> int:
        """``LEFT`` or ``RIGHT`` for a valid action of this variant, else a ``ValueError``."""
        if not self.continuous:
            if not self.action_space.contains(action):
                raise ValueError(f"action must be 0 (left) or 1 (right), got {action!r}")
            return int(action)
        array = np.asarray(action)
        if array.shape != (1,) or array.dtype.kind not in "iuf" or not np.isfinite(array).all():
            raise ValueError(
                f"action must be a finite number in an array of shape (1,) (below 0: left, 0 or above: right), "
                f"got {action!r}"
            )
        return direction(array)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.s = self.start_state
        self.lastaction = None
        return np.array(self.s, dtype=np.int64), {"prob": 1.0}

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            return None
        if self.s is None:
            raise ResetNeeded("Cannot call SlipperyHillEnv.render() before reset().")
        if self.render_mode == "ansi":
            return self._render_text()
        return self._render_rgb()

    def _render_text(self) -> str:
        """Three lines: the robot above its cell, the ground, and the cell names."""
        cell, diamond = self.s  # type: ignore[misc]  # render() checked that reset() set the state
        ground = {self.pit: "~~~", self.hilltop: "[^]", self.flag: "|>"}
        marks, tiles = [], []
        for c in range(self.flag + 1):
            marks.append(" R " if c == cell else "   ")
            if c == 1 and diamond:
                tiles.append("<> ")
            else:
                tiles.append(ground.get(c, " / ").ljust(3))
        action = {None: "-", LEFT: "Left", RIGHT: "Right"}[self.lastaction]
        caption = f"(cell {cell}, diamond {diamond}), last action: {action}"
        return f"{' '.join(marks).rstrip()}\n{' '.join(tiles).rstrip()}\n{caption}\n"

    def _render_rgb(self) -> np.ndarray:
        cell, diamond = self.s  # type: ignore[misc]  # render() checked that reset() set the state
        move = None if self.lastaction is None else (-1 if self.lastaction == LEFT else 1)
        return draw_frame(self.hill_length, cell, diamond, move)

    def close(self) -> None:
        pass
