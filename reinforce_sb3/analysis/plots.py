"""Pictures of the policy gradient at work on the tree game (matplotlib, the ``plots`` extra).

- :func:`plot_tree`: the game tree of the walk-through for any policy: action probabilities on
  the edges, slip probabilities, rewards, reach probabilities and Q-values, the expected return.
- :func:`plot_learning_curves`: the exact expected return of the learned policy after every
  update, for several seeds, with the optimum drawn in (possible only because it is known).
- :func:`plot_gradient_error`: the error of the gradient estimate against the number of
  episodes, per estimator, on log-log axes.

    python -m reinforce_sb3.analysis.plots tree [--out tree.png] [--env SlipperyHill-v0] [--model model.zip | --optimal]
    python -m reinforce_sb3.analysis.plots curves [--out curves.png] --seeds 5 --timesteps 20000
    python -m reinforce_sb3.analysis.plots errors [--out errors.png]

Without ``--out`` each picture goes to ``<picture>.png`` in the current folder; the path written is
printed. The tree shows the walk-through's policy on a hill of one cell (``PGToy-v0``), the uniform
policy on longer hills, a saved model's policy (``--model``, made for the same variant) or the
optimal one (``--optimal``). A tree has at most 400 nodes (:data:`MAX_TREE_NODES`); draw fewer
decisions (``--depth``) beyond that.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from gym_pgtoy import LEFT, RIGHT, SlipperyHillEnv, exact
from gym_pgtoy.cli import add_debug_flag, int_at_least, run_cli
from gym_pgtoy.validation import check_integer
from reinforce_sb3.analysis.cli import load_model, torch_device

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reinforce_sb3.analysis.estimators import Estimator

PROG = "python -m reinforce_sb3.analysis.plots"

MAX_TREE_NODES = 400
"""The most nodes :func:`plot_tree` draws (PGToy-v0's whole tree has 19)."""


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


class _TreeBuilder:
    """Builds the drawn tree of one analysis, refusing to make more than :data:`MAX_TREE_NODES` nodes."""

    def __init__(self, analysis: exact.PolicyAnalysis, game: SlipperyHillEnv, depth: int) -> None:
        self.analysis, self.game, self.depth = analysis, game, depth
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

    def subtree(self, state: tuple[int, int], t: int, reach: float) -> _Node:
        """The subtree below ``state`` at time ``t``, reached with probability ``reach``."""
        if t >= self.horizon:
            return self.node(f"{state}\nout of time", reach, "end")
        if t >= self.depth:
            return self.node(f"{state}\n...", reach, "end")
        probs, q = self.analysis.policy[state], self.analysis.q_values[t][state]
        node = self.node(f"{state}  t={t}\nreach {reach:.3g}\nV = {probs @ q:.3g}", reach)

        def outcome(next_state: tuple[int, int], terminated: bool, child_reach: float) -> _Node:
            if terminated:
                kind = "flag" if next_state[0] == self.game.flag else "pit"
                return self.node(f"{kind}\nreach {child_reach:.3g}", child_reach, kind)
            return self.subtree(next_state, t + 1, child_reach)

        for action, name in ((LEFT, "left"), (RIGHT, "right")):
            # the walk-through's punchline: dJ/dpi(a|s) = P(reach s) * Q(s, a)
            edge = f"{name} {probs[action]:.2f}\nQ {q[action]:.3g}\ndJ/dpi {reach * q[action]:.3g}"
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
) -> Figure:
    """
    Draw the game tree of ``policy`` on ``env`` as in the walk-through, down to ``depth`` decisions.

    Decision nodes show the state, the time, the probability of reaching them and their value.
    Action edges show the action's probability, its Q-value and the partial derivative of the
    expected return with respect to that probability (reach x Q, as in the walk-through); a dot
    splits a slippery step into its outcomes; every edge into a state shows the reward.

    :param env: an id or instance of the tree-game family
    :param policy: anything :mod:`gym_pgtoy.exact` accepts (dict, callable, SB3 model or policy made
        for the env's spaces); default: the walk-through's policy on a hill of one cell (PGToy-v0),
        else the uniform policy
    :param path: where to save the PNG (optional)
    :param depth: how many decisions deep to draw (PGToy-v0 has 3), an integer >= 1; the tree may
        have at most :data:`MAX_TREE_NODES` nodes
    :param gamma: discount factor of the values shown
    :param title: the figure's title (default: the expected return)
    """
    depth = check_integer("depth", depth, 1, MAX_TREE_NODES)
    env = gym.make(env) if isinstance(env, str) else env
    game = env.unwrapped
    if not isinstance(game, SlipperyHillEnv):
        raise TypeError(f"env must be PGToy-v0, SlipperyHill-v0 or a SlipperyHillEnv, got {env!r}")
    if policy is None:
        policy = exact.WALKTHROUGH_POLICY if game.hill_length == 1 else exact.uniform_policy(game.hill_length)
    analysis = exact.analyze(env, policy, gamma)
    root = _TreeBuilder(analysis, game, depth).subtree(game.start_state, 0, 1.0)
    plt = _pyplot()
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
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    optimum: float,
    path: str | Path | None = None,
    trap: float | None = 10.0,
    title: str = "Exact expected return of the learned policy",
) -> Figure:
    """
    Learning curves of the exact expected return, one per run, with the optimum drawn in.

    :param curves: ``{label: (timesteps, exact expected returns)}``, e.g. from
        :class:`reinforce_sb3.analysis.learning.ExactReturnCallback`
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
    errors: Mapping[str, tuple[Sequence[int], Sequence[float]]],
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
    from reinforce_sb3.analysis.diagnostics import compare_estimators
    from reinforce_sb3.analysis.estimators import ESTIMATORS

    estimators = ESTIMATORS if estimators is None else estimators
    errors: dict[str, tuple[list[int], list[float]]] = {e.name: ([], []) for e in estimators}
    for n in n_episodes:
        for check in compare_estimators(policy, env, n, max(2, total_episodes // n), estimators, seed=seed):
            norms = np.linalg.norm(check.estimates - check.exact, axis=1) / np.linalg.norm(check.exact)
            errors[check.estimator.name][0].append(n)
            errors[check.estimator.name][1].append(float(norms.mean()))
    return errors


def main(argv: list[str] | None = None, prog: str = PROG) -> None:
    """The command line (see the module docstring); bad input raises, and :func:`cli` makes it one line."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("picture", choices=["tree", "curves", "errors"])
    parser.add_argument("--out", type=Path, default=None, help="the PNG to write (default: <picture>.png)")
    parser.add_argument("--env", default="PGToy-v0", help="PGToy-v0, SlipperyHill-v0 (or another id of the family)")
    policy = parser.add_mutually_exclusive_group()
    policy.add_argument("--model", default=None, help="tree: a saved REINFORCE model made for --env")
    policy.add_argument("--optimal", action="store_true", help="tree: the optimal policy (gym_pgtoy.exact.solve)")
    parser.add_argument("--depth", type=int_at_least(1), default=3, help="tree: decisions drawn")
    parser.add_argument("--seeds", type=int_at_least(1), default=5, help="curves: number of seeds")
    parser.add_argument("--timesteps", type=int_at_least(1), default=20_000, help="curves: steps per run")
    parser.add_argument("--device", type=torch_device, default="cpu", help="torch device of the models")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else Path(f"{args.picture}.png")

    from reinforce_sb3 import REINFORCE
    from reinforce_sb3.analysis.learning import learning_curves

    if args.picture == "tree":
        if args.model:
            tree_policy: Any = load_model(args.model, args.env, args.device)
        elif args.optimal:
            tree_policy = exact.solve(args.env).policy
            if tree_policy is None:
                raise ValueError(f"{args.env} has no stationary optimal policy to draw (the optimum depends on time)")
        else:
            tree_policy = None
        plot_tree(args.env, tree_policy, out, depth=args.depth)
    elif args.picture == "curves":
        optimum = exact.optimal_return(args.env)  # an env of another family fails here, before any training
        curves = learning_curves(args.env, seeds=range(args.seeds), timesteps=args.timesteps, device=args.device)
        plot_learning_curves(curves, optimum, out)
    else:
        kwargs = {"seed": 0, "device": args.device, "policy_kwargs": {"ortho_init": False}}
        model = REINFORCE("MlpPolicy", args.env, **kwargs)
        plot_gradient_error(gradient_errors(model, args.env), out)
    print(f"wrote {out}")


def cli(argv: list[str] | None = None, prog: str = PROG) -> None:
    """``main`` as a command-line tool: bad input is one line on stderr and exit status 2 (see :mod:`gym_pgtoy.cli`)."""
    run_cli(lambda args: main(args, prog), prog, argv)


if __name__ == "__main__":
    cli()
