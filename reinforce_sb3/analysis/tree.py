"""The game tree of the walk-through, drawn for any policy (matplotlib, the ``plots`` extra).

Decision nodes show the state by its name in the walk-through (hilltop, hillside; the diamond there or
taken) and as an observation, the time, the probability of reaching them, their value and the rate
(left→right) at which J changes as probability moves from left to right there; on the continuous variant
also P(right) and, for a Gaussian policy, its mean and sigma. Action edges show the action's probability,
its Q-value and dJ/dpi = reach x Q; a dot splits a slippery step into its outcomes. A legend under the tree
says what every mark means.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from gym_pgtoy import LEFT, RIGHT, SlipperyHillEnv, exact
from gym_pgtoy.slippery_hill import State
from gym_pgtoy.validation import check_integer
from reinforce_sb3.analysis import figures

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_TREE_NODES = 400
"""The most nodes :func:`plot_tree` draws (PGToy-v0's whole tree has 19)."""


def state_name(game: SlipperyHillEnv, state: State) -> str:
    """The walk-through's name of ``state``: ``"hilltop, diamond there"``, ``"hillside, diamond taken"``,
    ``"fire pit"``, ``"flag"``; on a hill of several cells the hillside cell is numbered from the bottom
    (``"hillside 2, diamond there"``; the diamond lies on hillside 1)."""
    cell, diamond = state
    if cell == 0:
        return "fire pit"
    if cell == game.flag:
        return "flag"
    if cell == game.hill_length + 1:
        place = "hilltop"
    else:
        place = "hillside" if game.hill_length == 1 else f"hillside {cell}"
    return f"{place}, diamond {'there' if diamond else 'taken'}"


def rate_towards_right(derivatives: np.ndarray) -> float:
    """The rate (``left→right`` in the tree) at which J changes as probability moves from left to right in one
    state (P(left) falls as P(right) rises, so the pair stays a distribution): ``dJ/dpi(right) - dJ/dpi(left)``.

    The partial derivatives ``derivatives = (dJ/dpi(left), dJ/dpi(right))`` each hold the other probability
    fixed; at the walk-through's start they are -0.52 and 10, so the rate is 10.52, not 10.
    """
    return float(derivatives[RIGHT] - derivatives[LEFT])


class _Node:
    """A node of the drawn tree: a decision (state at time t), a chance node, or an end."""

    def __init__(self, label: str, reach: float, kind: str = "decision") -> None:
        self.label = label
        self.reach = reach
        self.kind = kind  # "decision", "chance", "pit", "flag" or "end" (out of time, or below the depth drawn)
        self.children: list[tuple[str, _Node]] = []
        self.x = 0.0
        self.depth = 0


class _TreeBuilder:
    """Builds the drawn tree of one analysis, refusing to make more than :data:`MAX_TREE_NODES` nodes."""

    def __init__(
        self,
        analysis: exact.PolicyAnalysis,
        game: SlipperyHillEnv,
        depth: int,
        gaussians: Mapping[State, tuple[float, float]] | None,
        gamma: float = 1.0,
    ) -> None:
        self.analysis, self.game, self.depth, self.gaussians = analysis, game, depth, gaussians
        self.gamma = gamma
        self.horizon = len(analysis.reach)
        self.count = 0

    def node(self, label: str, reach: float, kind: str = "decision") -> _Node:
        self.count += 1
        if self.count > MAX_TREE_NODES:
            raise ValueError(
                f"a tree of depth={self.depth} on a hill of {self.game.hill_length} cells has more than "
                f"{MAX_TREE_NODES} nodes, too many to draw: use a smaller depth"
            )
        return _Node(label, reach, kind)

    def action_text(self, state: State) -> str:
        """On the continuous variant: P(right) and, for a Gaussian policy, its mean and sigma; else nothing."""
        if not self.game.continuous:
            return ""
        text = f"\nP(right) {self.analysis.policy[state][RIGHT]:.2f}"
        if self.gaussians is not None and state in self.gaussians:
            mu, sigma = self.gaussians[state]
            text += f"\nmu {mu:+.2f}, sigma {sigma:.2f}"
        return text

    def subtree(self, state: tuple[int, int], t: int, reach: float) -> _Node:
        """The subtree below ``state`` at time ``t``, reached with probability ``reach``."""
        name = f"{state_name(self.game, state)}\n{state}  t={t}"
        if t >= self.horizon:
            return self.node(f"{name}\nout of time\nreach {reach:.3g}", reach, "end")
        if t >= self.depth:
            return self.node(f"{name}\nreach {reach:.3g}\n...", reach, "end")
        probs, q = self.analysis.policy[state], self.analysis.q_values[t][state]
        # the walk-through's punchline: dJ/dpi(a|s) = P(reach s) * Q(s, a), discounted to the start
        derivatives = self.gamma**t * reach * q
        node = self.node(
            f"{name}\nreach {reach:.3g}\nV = {probs @ q:.3g}\nleft→right {rate_towards_right(derivatives):+.4g}"
            f"{self.action_text(state)}",
            reach,
        )

        def outcome(next_state: tuple[int, int], terminated: bool, child_reach: float) -> _Node:
            if terminated:
                kind = "flag" if next_state[0] == self.game.flag else "pit"
                return self.node(f"{state_name(self.game, next_state)}\nreach {child_reach:.3g}", child_reach, kind)
            return self.subtree(next_state, t + 1, child_reach)

        for action, action_name in ((LEFT, "left"), (RIGHT, "right")):
            edge = f"{action_name} {probs[action]:.2f}\nQ {q[action]:.3g}\ndJ/dpi {derivatives[action]:.3g}"
            action_reach = reach * probs[action]
            transitions = self.game.P[state][action]
            if len(transitions) == 1:
                _, next_state, reward, terminated = transitions[0]
                node.children.append((f"{edge}\nr {reward:+g}", outcome(next_state, terminated, action_reach)))
                continue
            chance = self.node("", action_reach, "chance")
            for prob, next_state, reward, terminated in transitions:
                how = "slip" if next_state[0] < state[0] else "up"
                chance.children.append(
                    (f"{how} {prob:.2f}\nr {reward:+g}", outcome(next_state, terminated, action_reach * prob))
                )
            node.children.append((edge, chance))
        return node


def _layout(node: _Node, depth: int, next_x: list[float]) -> None:
    """Leaves left to right, each parent centred above its children."""
    node.depth = depth
    if not node.children:
        node.x = next_x[0]
        next_x[0] += 1.0
        return
    for _, child in node.children:
        _layout(child, depth + 1, next_x)
    node.x = float(np.mean([child.x for _, child in node.children]))


def plot_tree(
    env: str | gym.Env = "PGToy-v0",
    policy: Any = None,
    path: str | Path | None = None,
    depth: int = 3,
    gamma: float = 1.0,
    title: str | None = None,
    gaussians: Mapping[State, tuple[float, float]] | None = None,
) -> Figure:
    """
    Draw the game tree of ``policy`` on ``env`` as in the walk-through, down to ``depth`` decisions.

    Decision nodes show the state, the time, the probability of reaching them and their value; on the
    continuous variant (``continuous=True``) also P(right) and, for a Gaussian policy, its mean and sigma.
    Action edges show the action's probability, its Q-value and the partial derivative of the
    expected return with respect to that probability (reach x Q, as in the walk-through); a dot
    splits a slippery step into its outcomes; every edge into a state shows the reward.

    :param env: an id or instance of the tree-game family
    :param policy: anything :mod:`gym_pgtoy.exact` accepts (dict, callable, SB3 model or policy made
        for the env's spaces); default: the walk-through's policy on a hill of one cell (PGToy-v0),
        else the uniform policy (on the continuous variant, as Gaussians of sigma 1 with those P(right))
    :param path: where to save the PNG (optional)
    :param depth: how many decisions deep to draw (PGToy-v0 has 3), an integer >= 1; the tree may
        have at most :data:`MAX_TREE_NODES` nodes
    :param gamma: discount factor of the values shown
    :param title: the figure's title (default: the expected return)
    :param gaussians: ``{state: (mu, sigma)}`` to show on the continuous variant; default: those of an SB3
        Gaussian policy, or of the default policy
    """
    depth = check_integer("depth", depth, 1, MAX_TREE_NODES)
    env = gym.make(env) if isinstance(env, str) else env
    game = env.unwrapped
    if not isinstance(game, SlipperyHillEnv):
        raise TypeError(f"env must be PGToy-v0, SlipperyHill-v0 or a SlipperyHillEnv, got {env!r}")
    if policy is None and game.continuous:
        if gaussians is None:
            uniform = dict.fromkeys(exact.uniform_policy(game.hill_length), (0.0, 1.0))
            gaussians = exact.WALKTHROUGH_GAUSSIAN if game.hill_length == 1 else uniform
        policy = exact.gaussian_policy(gaussians)
    elif policy is None:
        policy = exact.WALKTHROUGH_POLICY if game.hill_length == 1 else exact.uniform_policy(game.hill_length)
    analysis = exact.analyze(env, policy, gamma)
    if gaussians is None and game.continuous:
        from reinforce_sb3.analysis.policy_adapter import gaussian_parameters

        states = sorted(analysis.policy)
        parameters = gaussian_parameters(policy, np.array(states, dtype=np.int64))
        gaussians = None if parameters is None else dict(zip(states, parameters, strict=True))
    root = _TreeBuilder(analysis, game, depth, gaussians, gamma).subtree(game.start_state, 0, 1.0)
    plt = figures.pyplot()
    _layout(root, 0, [0.0])

    nodes: list[_Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(child for _, child in node.children)
    width = max(node.x for node in nodes) + 1
    levels = max(node.depth for node in nodes) + 1
    figure, ax = plt.subplots(figsize=(max(8.0, 2.0 * width), (2.5 if game.continuous else 2.1) * levels))
    for node in nodes:
        y = -node.depth
        for edge, child in node.children:
            ax.plot([node.x, child.x], [y, -child.depth], color="0.6", lw=_edge_width(child.reach), zorder=1)
            ax.text((node.x + child.x) / 2, (y - child.depth) / 2, edge, ha="center", va="center", fontsize=7,
                    color=EDGE_TEXT, zorder=2, bbox=dict(fc="white", ec="none", alpha=0.85))  # fmt: skip
        if node.kind == "chance":
            ax.plot(node.x, y, "o", color=CHANCE_DOT, ms=6, zorder=3)
        else:
            ax.text(node.x, y, node.label, ha="center", va="center", fontsize=7.5, zorder=3,
                    bbox=dict(boxstyle="round", **NODE_STYLES[node.kind]))  # fmt: skip
    ax.set_xlim(-0.8, width - 0.2)
    ax.set_ylim(-levels + 0.5, 0.6)
    ax.axis("off")
    ax.set_title(title or f"Expected return {analysis.expected_return:.3f} (exact, gamma={gamma:g})")
    _add_legend(ax, game, gamma)
    _widen_until_labels_are_apart(figure)
    return figures.save(figure, path)


EDGE_TEXT = "tab:blue"
CHANCE_DOT = "0.4"
NODE_STYLES: dict[str, dict[str, Any]] = {
    "decision": {"fc": "#f0f0f0", "ec": "0.4"},
    "flag": {"fc": "#e5f5e0", "ec": "0.4"},
    "pit": {"fc": "#fde0dd", "ec": "0.4"},
    "end": {"fc": "white", "ec": "0.4", "ls": "--"},
}
"""The look of each kind of node's box: decisions grey, the flag green, the fire pit red, the ends by time dashed."""


def _edge_width(reach: float) -> float:
    """The line width of an edge into a node reached with probability ``reach``: 0.8 points, plus 3 at reach 1."""
    return 0.8 + 3.0 * reach


def legend_entries(game: SlipperyHillEnv, gamma: float = 1.0) -> list[tuple[str, str]]:
    """What every mark of the tree means: ``(mark, meaning)`` pairs, the marks being ``"text"`` (a number's
    name, as the tree writes it) or the kinds of lines, dots and boxes :func:`plot_tree` draws."""
    discount = "" if gamma == 1.0 else f" x gamma^t (gamma={gamma:g})"
    slip = f"up ({1 - game.slip_prob:.2f}) or slip ({game.slip_prob:.2f}) one cell down"
    entries = [
        ("text", "reach: probability that an episode passes through the node"),
        ("text", "V: expected return from the node on = sum over actions of P(action) x Q"),
        ("edge text", "left, right and a number: the action and the policy's probability of taking it"),
        ("edge text", "Q = r + V': expected return after the action (V': of the next node, averaged over up and slip)"),
        ("edge text", f"dJ/dpi: rate of J as this probability alone grows = reach x Q{discount}"),
        ("text", "left→right: rate of J as P(right) grows and P(left) shrinks as much = dJ/dpi(right) - dJ/dpi(left)"),
        ("edge text", "r: reward on entering the next state"),
    ]
    if game.continuous:
        entries.append(("text", "P(right): P(action >= 0); mu, sigma: mean and standard deviation of the Gaussian"))
    entries += [
        ("edge", "edge width: probability that an episode takes the edge (this wide: 1)"),
        ("chance", f"dot: the hill's chance, not the policy: {slip}"),
        ("decision", "a decision: the state's name, its observation (cell, diamond) and the time t"),
        ("flag", f"flag ({game.flag_reward:+g}): the episode ends"),
        ("pit", f"fire pit ({game.pit_reward:+g}): the episode ends"),
        ("end", "dashed: out of time (the time limit ends the episode), or not drawn deeper ('...')"),
    ]
    return entries


def _add_legend(ax: Any, game: SlipperyHillEnv, gamma: float) -> None:
    """The legend under the tree: one entry per number (no mark) and per kind of mark."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch

    def handle(mark: str) -> Any:
        if mark == "edge":
            return Line2D([], [], color="0.6", lw=_edge_width(1.0))
        if mark == "chance":
            return Line2D([], [], ls="none", marker="o", color=CHANCE_DOT, ms=6)
        if mark in NODE_STYLES:
            return FancyBboxPatch((0, 0), 1, 1, boxstyle="round", **NODE_STYLES[mark])
        return Line2D([], [], ls="none")  # a number: its name starts the entry, in the colour it has in the tree

    entries = legend_entries(game, gamma)
    legend = ax.legend([handle(mark) for mark, _ in entries], [meaning for _, meaning in entries],
                       loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=8, frameon=False,
                       title="How to read the tree (exact numbers, no sampling)", title_fontsize=9,
                       alignment="left", handlelength=2.0)  # fmt: skip
    for text, (mark, _) in zip(legend.get_texts(), entries, strict=True):
        text.set_color(EDGE_TEXT if mark == "edge text" else "black")


def _label_boxes(figure: Figure) -> np.ndarray:
    """The boxes ``(x0, y0, x1, y1)`` in pixels of every text of the figure's first axes, frame included."""
    figure.canvas.draw()  # sizes the frames of the texts
    boxes = []
    for text in figure.axes[0].texts:
        patch = text.get_bbox_patch()
        extent = (patch if patch is not None else text).get_window_extent()
        boxes.append((extent.x0, extent.y0, extent.x1, extent.y1))
    return np.array(boxes, dtype=float).reshape(-1, 4)


def overlapping_labels(figure: Figure, gap: float = 2.0) -> list[tuple[str, str]]:
    """The pairs of texts of a tree picture whose boxes come closer than ``gap`` pixels (none, once drawn)."""
    texts = figure.axes[0].texts
    boxes = _label_boxes(figure)
    first, second = np.nonzero(np.triu(_overlaps(boxes, gap), k=1))
    return [(texts[int(i)].get_text(), texts[int(j)].get_text()) for i, j in zip(first, second, strict=True)]


def _overlaps(boxes: np.ndarray, gap: float) -> np.ndarray:
    """``[i, j]``: whether boxes i and j, grown by ``gap / 2`` on every side, overlap (False on the diagonal)."""
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    apart = (x1[:, None] + gap <= x0[None, :]) | (x1[None, :] + gap <= x0[:, None])
    apart |= (y1[:, None] + gap <= y0[None, :]) | (y1[None, :] + gap <= y0[:, None])
    overlaps: np.ndarray = ~apart
    np.fill_diagonal(overlaps, False)
    return overlaps


def _widen_until_labels_are_apart(figure: Figure, gap: float = 4.0, tries: int = 8) -> None:
    """Stretch the figure until no two labels overlap: the texts keep their size in points while the tree's
    positions stretch with the figure, so each try widens it by what the closest pair lacks (long numbers, as
    ``dJ/dpi 2.89e-06``, need more room than the default spacing of two inches per leaf)."""
    for _ in range(tries):
        boxes = _label_boxes(figure)
        first, second = np.nonzero(np.triu(_overlaps(boxes, gap), k=1))
        if len(first) == 0:
            return
        centres, widths = (boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 2] - boxes[:, 0]
        distance = np.abs(centres[first] - centres[second])
        needed = (widths[first] + widths[second]) / 2 + gap
        stretch = float(np.max(needed / np.maximum(distance, 1.0)))
        width, height = figure.get_size_inches()
        figure.set_size_inches(width * min(max(stretch, 1.1), 3.0), height)
