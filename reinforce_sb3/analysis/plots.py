"""Pictures of the policy gradient at work on the tree game (matplotlib, the ``plots`` extra).

- :func:`plot_tree`: the game tree of the walk-through for any policy: action probabilities on
  the edges, slip probabilities, rewards, reach probabilities and Q-values, the expected return.
- :func:`plot_learning_curves`: the exact expected return of the learned policy after every
  update, for several seeds, with the optimum drawn in (possible only because it is known).
- :func:`plot_gradient_error`: the error of the gradient estimate against the number of
  episodes, per estimator, on log-log axes.

    python -m reinforce_sb3.analysis.plots tree --out tree.png [--model model.zip]
    python -m reinforce_sb3.analysis.plots curves --out curves.png --seeds 5 --timesteps 20000
    python -m reinforce_sb3.analysis.plots errors --out errors.png
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from gym_pgtoy import LEFT, RIGHT, exact

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reinforce_sb3.analysis.diagnostics import Estimator


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("pictures need matplotlib: pip install 'reinforce-sb3[plots]'") from error
    return plt


def _save(figure: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        figure.savefig(path, dpi=120, bbox_inches="tight")
    return figure


class _Node:
    """A node of the drawn tree: a decision (state at time t), a chance node, or an end."""

    def __init__(self, label: str, reach: float, kind: str = "decision") -> None:
        self.label = label
        self.reach = reach
        self.kind = kind  # "decision", "chance", "pit", "flag" or "end"
        self.children: list[tuple[str, _Node]] = []
        self.x = 0.0
        self.depth = 0


def _build_tree(analysis: exact.PolicyAnalysis, game: Any, state: tuple[int, int], t: int, reach: float,
                horizon: int, depth: int) -> _Node:  # fmt: skip
    """The subtree below ``state`` at time ``t``, reached with probability ``reach``."""
    if t >= horizon:
        return _Node(f"{state}\nout of time", reach, "end")
    if t >= depth:
        return _Node(f"{state}\n...", reach, "end")
    probs, q = analysis.policy[state], analysis.q_values[t][state]
    node = _Node(f"{state}  t={t}\nreach {reach:.3g}\nV = {probs @ q:.3g}", reach)

    def outcome(prob: float, next_state: tuple[int, int], terminated: bool, child_reach: float) -> _Node:
        if terminated:
            kind = "flag" if next_state[0] == game.flag else "pit"
            return _Node(f"{kind}\nreach {child_reach:.3g}", child_reach, kind)
        return _build_tree(analysis, game, next_state, t + 1, child_reach, horizon, depth)

    for action, name in ((LEFT, "left"), (RIGHT, "right")):
        # the walk-through's punchline: dJ/dpi(a|s) = P(reach s) * Q(s, a)
        edge = f"{name} {probs[action]:.2f}\nQ {q[action]:.3g}\ndJ/dpi {reach * q[action]:.3g}"
        action_reach = reach * probs[action]
        transitions = game.P[state][action]
        if len(transitions) == 1:
            _, next_state, reward, terminated = transitions[0]
            node.children.append((f"{edge}\nr {reward:+g}", outcome(1.0, next_state, terminated, action_reach)))
            continue
        chance = _Node("", action_reach, "chance")
        for prob, next_state, reward, terminated in transitions:
            how = "slip" if next_state[0] < state[0] else "up"
            chance.children.append(
                (f"{how} {prob:.2f}\nr {reward:+g}", outcome(prob, next_state, terminated, action_reach * prob))
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
) -> Figure:
    """
    Draw the game tree of ``policy`` on ``env`` as in the walk-through, down to ``depth`` decisions.

    Decision nodes show the state, the time, the probability of reaching them and their value.
    Action edges show the action's probability, its Q-value and the partial derivative of the
    expected return with respect to that probability (reach x Q, as in the walk-through); a dot
    splits a slippery step into its outcomes; every edge into a state shows the reward.

    :param env: an id or instance of the tree-game family
    :param policy: anything :mod:`gym_pgtoy.exact` accepts (dict, callable, SB3 model or policy);
        default: the walk-through's policy on PGToy-v0
    :param path: where to save the PNG (optional)
    :param depth: how many decisions deep to draw (PGToy-v0 has 3)
    :param gamma: discount factor of the values shown
    :param title: the figure's title (default: the expected return)
    """
    plt = _pyplot()
    if policy is None:
        policy = {(2, 1): (0.7, 0.3), (1, 0): (0.4, 0.6), (2, 0): (0.8, 0.2)}
    env = gym.make(env) if isinstance(env, str) else env
    analysis = exact.analyze(env, policy, gamma)
    game = env.unwrapped
    horizon = len(analysis.reach)
    root = _build_tree(analysis, game, game.start_state, 0, 1.0, horizon, depth)
    _layout(root, 0, [0.0])

    nodes: list[_Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(child for _, child in node.children)
    width = max(node.x for node in nodes) + 1
    levels = max(node.depth for node in nodes) + 1
    figure, ax = plt.subplots(figsize=(max(8.0, 2.0 * width), 1.9 * levels))
    colours = {"pit": "#fde0dd", "flag": "#e5f5e0", "decision": "#f0f0f0", "end": "#f0f0f0"}
    for node in nodes:
        y = -node.depth
        for edge, child in node.children:
            ax.plot([node.x, child.x], [y, -child.depth], color="0.6", lw=0.8 + 3 * child.reach, zorder=1)
            ax.text((node.x + child.x) / 2, (y - child.depth) / 2, edge, ha="center", va="center", fontsize=7,
                    color="tab:blue", zorder=2, bbox=dict(fc="white", ec="none", alpha=0.85))  # fmt: skip
        if node.kind == "chance":
            ax.plot(node.x, y, "o", color="0.4", ms=6, zorder=3)
        else:
            ax.text(node.x, y, node.label, ha="center", va="center", fontsize=7.5, zorder=3,
                    bbox=dict(boxstyle="round", fc=colours[node.kind], ec="0.4"))  # fmt: skip
    ax.set_xlim(-0.8, width - 0.2)
    ax.set_ylim(-levels + 0.5, 0.6)
    ax.axis("off")
    ax.set_title(title or f"Expected return {analysis.expected_return:.3f} (exact, gamma={gamma:g})")
    return _save(figure, path)


def plot_learning_curves(
    curves: dict[str, tuple[Sequence[float], Sequence[float]]],
    optimum: float,
    path: str | Path | None = None,
    trap: float | None = 10.0,
    title: str = "Exact expected return of the learned policy",
) -> Figure:
    """
    Learning curves of the exact expected return, one per run, with the optimum drawn in.

    :param curves: ``{label: (timesteps, exact expected returns)}``, e.g. from
        :class:`reinforce_sb3.analysis.diagnostics.ExactReturnCallback`
    :param optimum: the optimal expected return (``gym_pgtoy.exact.optimal_return``)
    :param path: where to save the PNG (optional)
    :param trap: a level to mark as the trap ("always right" earns 10), or None
    :param title: the figure's title
    """
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(8, 4.5))
    for label, (timesteps, returns) in curves.items():
        ax.plot(timesteps, returns, lw=1.2, label=label)
    ax.axhline(optimum, color="k", ls="--", lw=1, label=f"optimum {optimum:.3g}")
    if trap is not None:
        ax.axhline(trap, color="tab:red", ls=":", lw=1, label=f"'always right' {trap:g}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("exact expected return")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return _save(figure, path)


def plot_gradient_error(
    errors: dict[str, tuple[Sequence[int], Sequence[float]]],
    path: str | Path | None = None,
    title: str = "Error of one batch's gradient estimate",
) -> Figure:
    """
    Relative error of the gradient estimate against the number of episodes, one line per estimator.

    :param errors: ``{estimator name: (episodes per batch, mean relative error of one batch's estimate)}``
    :param path: where to save the PNG (optional)
    :param title: the figure's title
    """
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(7, 4.5))
    for name, (n_episodes, error) in errors.items():
        ax.loglog(n_episodes, error, marker="o", lw=1.2, label=name)
    n = np.array(next(iter(errors.values()))[0], dtype=float)
    ax.loglog(n, np.array(next(iter(errors.values()))[1])[0] * np.sqrt(n[0] / n), "k:", lw=1, label="1/sqrt(n)")
    ax.set_xlabel("episodes per batch")
    ax.set_ylabel("|estimate - exact| / |exact|")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(figure, path)


def gradient_errors(
    policy: Any,
    env: str | gym.Env = "PGToy-v0",
    n_episodes: Sequence[int] = (4, 16, 64, 256),
    total_episodes: int = 4096,
    estimators: Sequence[Estimator] | None = None,
    seed: int = 0,
) -> dict[str, tuple[list[int], list[float]]]:
    """For each estimator, the mean relative error of one batch's estimate at each batch size."""
    from reinforce_sb3.analysis.diagnostics import ESTIMATORS, compare_estimators

    estimators = ESTIMATORS if estimators is None else estimators
    errors: dict[str, tuple[list[int], list[float]]] = {e.name: ([], []) for e in estimators}
    for n in n_episodes:
        for check in compare_estimators(policy, env, n, max(2, total_episodes // n), estimators, seed=seed):
            norms = np.linalg.norm(check.estimates - check.exact, axis=1) / np.linalg.norm(check.exact)
            errors[check.estimator.name][0].append(n)
            errors[check.estimator.name][1].append(float(norms.mean()))
    return errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reinforce_sb3.analysis.plots", description=__doc__.splitlines()[0])
    parser.add_argument("picture", choices=["tree", "curves", "errors"])
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--env", default="PGToy-v0")
    parser.add_argument(
        "--model", default=None, help="tree: a saved REINFORCE model (default: the walk-through policy)"
    )
    parser.add_argument("--seeds", type=int, default=5, help="curves: number of seeds")
    parser.add_argument("--timesteps", type=int, default=20_000, help="curves: steps per run")
    args = parser.parse_args(argv)

    from reinforce_sb3 import REINFORCE
    from reinforce_sb3.analysis.diagnostics import learning_curves

    if args.picture == "tree":
        policy = REINFORCE.load(args.model, device="cpu") if args.model else None
        plot_tree(args.env, policy, args.out)
    elif args.picture == "curves":
        curves = learning_curves(args.env, seeds=range(args.seeds), timesteps=args.timesteps)
        plot_learning_curves(curves, exact.optimal_return(args.env), args.out)
    else:
        model = REINFORCE("MlpPolicy", args.env, seed=0, device="cpu", policy_kwargs=dict(ortho_init=False))
        plot_gradient_error(gradient_errors(model, args.env), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
