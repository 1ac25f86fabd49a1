"""Pictures of the policy gradient at work on the tree game (matplotlib, the ``plots`` extra).

- :func:`~reinforce_sb3.analysis.tree.plot_tree`: the game tree of the walk-through for any policy:
  action probabilities on the edges, slip probabilities, rewards, reach probabilities and Q-values,
  the expected return; on the continuous variant P(right) and the Gaussian's mean and sigma.
- :func:`plot_learning_curves`: the exact expected return of the learned policy after every
  update, for several seeds, with the optimum drawn in (possible only because it is known).
- :func:`plot_gradient_error`: the error of the gradient estimate against the number of
  episodes, per estimator, on log-log axes.
- :func:`plot_baselines`: the bias (scale, relative error of the average beside its noise floor) and
  the variance of every baseline against the exact gradient, discrete beside continuous.
- :func:`plot_frames`: the ``"rgb_array"`` frames of one episode (what a recorded video shows), one
  under the other, each with the move that led to it.

    python -m reinforce_sb3.analysis.plots tree [--out tree.png] [--env SlipperyHill-v0] [--model model.zip | --optimal]
    python -m reinforce_sb3.analysis.plots curves [--out curves.png] --seeds 5 --timesteps 20000
    python -m reinforce_sb3.analysis.plots errors [--out errors.png]
    python -m reinforce_sb3.analysis.plots baselines [--out baselines.png] --n-episodes 4 --n-batches 2000 --seed 0
    python -m reinforce_sb3.analysis.plots frames [--out frames.png] [--env SlipperyHill-v0] [--optimal] --seed 0

``--continuous`` draws on the continuous variant (for ``baselines``, which draws both, it does nothing).
Without ``--out`` each picture goes to ``<picture>.png`` in the current folder; the path written is
printed (``baselines`` prints its two tables too). The tree shows the walk-through's policy on a hill
of one cell (``PGToy-v0``), the uniform policy on longer hills, a saved model's policy (``--model``,
made for the same variant) or the optimal one (``--optimal``); ``frames`` plays one episode of the same
policy (sampled with ``--seed``). A tree has at most 400 nodes (:data:`MAX_TREE_NODES`); draw fewer
decisions (``--depth``) beyond that.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from gym_pgtoy import exact
from gym_pgtoy.cli import add_debug_flag, int_at_least, run_cli
from reinforce_sb3.analysis import figures
from reinforce_sb3.analysis.cli import add_env_arguments, env_from_args, load_model, torch_device
from reinforce_sb3.analysis.estimators import BASELINE_ESTIMATORS, ESTIMATORS, Estimator
from reinforce_sb3.analysis.frames import play_episode as play_episode
from reinforce_sb3.analysis.frames import plot_frames as plot_frames
from reinforce_sb3.analysis.tree import MAX_TREE_NODES as MAX_TREE_NODES
from reinforce_sb3.analysis.tree import plot_tree

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reinforce_sb3.analysis.diagnostics import GradientCheck

PROG = "python -m reinforce_sb3.analysis.plots"


LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot_learning_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    optimum: float,
    path: str | Path | None = None,
    trap: float | None = 10.0,
    title: str = "Exact expected return of the learned policy",
) -> Figure:
    """
    Learning curves of the exact expected return, one per run, with the optimum drawn in.

    The steps run on a logarithmic axis (linear from 0 to the first update), so the first few thousand steps, where
    the curves rise, take most of the width. Every run stays visible where runs coincide (on the optimum or the
    trap): each has its own colour, line style and marker, its final return in its label, and a narrow panel on
    the right shows the final return of each run side by side.

    :param curves: ``{label: (timesteps, exact expected returns)}``, e.g. from
        :class:`reinforce_sb3.analysis.learning.ExactReturnCallback`
    :param optimum: the optimal expected return (``gym_pgtoy.exact.optimal_return``)
    :param path: where to save the PNG (optional)
    :param trap: a level to mark as the trap ("always right" earns 10), or None
    :param title: the figure's title
    """
    if not curves or any(len(returns) == 0 for _, returns in curves.values()):
        raise ValueError("curves must hold at least one run, each with at least one return")
    plt = figures.pyplot()
    figure, (ax, final) = plt.subplots(
        1, 2, figsize=(9.5, 4.8), sharey=True, gridspec_kw={"width_ratios": [5, 1], "wspace": 0.04}
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, (timesteps, returns)) in enumerate(curves.items()):
        style = {
            "color": colours[i % len(colours)],
            "marker": MARKERS[i % len(MARKERS)],
            "label": f"{label}: {returns[-1]:.2f}",
        }
        ax.plot(timesteps, returns, lw=1.4, ls=LINE_STYLES[i % len(LINE_STYLES)], ms=5, zorder=3, **style,
                markevery=(i / (2 * len(curves)), 0.1), markerfacecolor="none")  # fmt: skip
        final.plot([i], [returns[-1]], ls="none", ms=7, zorder=3, **style)
    for axis in (ax, final):
        axis.axhline(optimum, color="k", ls=(0, (6, 3)), lw=1, zorder=1, label=f"optimum {optimum:.3g}")
        if trap is not None:
            axis.axhline(trap, color="0.45", ls=(0, (1, 1.5)), lw=1.6, zorder=1, label=f"'always right' {trap:g}")
    first = min((t for timesteps, _ in curves.values() for t in timesteps if t > 0), default=None)
    if first is not None:
        # linear up to the first update, logarithmic beyond: the start (step 0) stays on the axis
        last = max(t for timesteps, _ in curves.values() for t in timesteps)
        ax.set_xscale("symlog", linthresh=first, linscale=0.3)
        powers = [10**k for k in range(int(np.ceil(np.log10(2 * first))), int(np.log10(last)) + 1)]
        ax.set_xticks([0, *powers], ["0", *(f"{p:,}" for p in powers)])
        ax.set_xlim(0, last)
        ax.grid(True, which="major", axis="x", color="0.9", lw=0.8, zorder=0)
    ax.set_xlabel("environment steps (log scale)")
    ax.set_ylabel("exact expected return")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right", title="run: final return", title_fontsize=8)
    final.set_xlim(-0.7, len(curves) - 0.3)
    final.set_xticks(range(len(curves)), [str(i) for i in range(len(curves))], fontsize=8)
    final.set_xlabel("run")
    final.set_title("final", fontsize=10)
    final.tick_params(axis="y", left=False)
    return figures.save(figure, path)


def _rescaled(estimator: Estimator) -> bool:
    return estimator.normalize_returns or estimator.loss_reduction != "episodes"


GRADIENT_ERROR_PANELS: dict[str, tuple[str, ...]] = {
    "no baseline": tuple(e.name for e in ESTIMATORS if e.baseline == "none" and not _rescaled(e)),
    "baselines": tuple(e.name for e in ESTIMATORS if e.baseline != "none" and not _rescaled(e)),
    "rescaled returns or loss: the error stays": tuple(e.name for e in ESTIMATORS if _rescaled(e)),
}
"""The panels of :func:`plot_gradient_error`: a title, then the estimators drawn in it (:data:`ESTIMATORS`'s names).
Each panel also shows the first estimator (the textbook one) in grey and the ``1/sqrt(n)`` slope."""


def plot_gradient_error(
    errors: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    path: str | Path | None = None,
    title: str = "Error of one batch's gradient estimate against the exact gradient",
    panels: Mapping[str, Sequence[str]] | None = None,
) -> Figure:
    """
    Relative error of the gradient estimate against the number of episodes, one line per estimator, in panels.

    Both axes are logarithmic, with a tick at every batch size measured. Each panel holds a few estimators, the
    first estimator of ``errors`` (the reference, in grey, unless the panel holds it) and ``1/sqrt(n)`` through its
    first point; estimators in no panel get a panel of their own.

    :param errors: ``{estimator name: (episodes per batch, mean relative error of one batch's estimate)}``
    :param path: where to save the PNG (optional)
    :param title: the figure's title
    :param panels: ``{panel title: estimator names}`` (default :data:`GRADIENT_ERROR_PANELS`); names not in
        ``errors`` are skipped, and so are panels left empty
    """
    if not errors:
        raise ValueError("errors must hold at least one estimator")
    chosen = {
        panel: [name for name in names if name in errors]
        for panel, names in (GRADIENT_ERROR_PANELS if panels is None else panels).items()
    }
    chosen = {panel: names for panel, names in chosen.items() if names}
    rest = [name for name in errors if not any(name in names for names in chosen.values())]
    if rest:
        chosen["other estimators"] = rest
    plt = figures.pyplot()
    from matplotlib.ticker import FuncFormatter, LogLocator

    figure, axes = plt.subplots(1, len(chosen), figsize=(3.6 * len(chosen), 4.4), sharey=True, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    reference = next(iter(errors))
    n_reference = np.array(errors[reference][0], dtype=float)
    sizes = sorted({int(n) for n_episodes, _ in errors.values() for n in n_episodes})
    for ax, (panel, names) in zip(axes[0], chosen.items(), strict=True):
        if reference not in names:
            ax.loglog(*errors[reference], color="0.7", lw=2.5, zorder=1, label=f"{reference} (reference)")
        for i, name in enumerate(names):
            # estimators with the same gradient (the log-prob and ratio forms) lie on each other: each keeps its
            # own colour, line style and hollow marker, so both show
            index = list(errors).index(name)
            ax.loglog(*errors[name], lw=1.4, ls=LINE_STYLES[i % len(LINE_STYLES)], marker=MARKERS[index % len(MARKERS)],
                      ms=8 - 1.5 * i, markerfacecolor="none", color=colours[index % len(colours)], zorder=3,
                      label=name)  # fmt: skip
        slope = errors[reference][1][0] * np.sqrt(n_reference[0] / n_reference)
        ax.loglog(n_reference, slope, "k:", lw=1, zorder=2, label="1/sqrt(n)")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set_xlabel("episodes per batch, n")
        ax.set_title(panel, fontsize=10)
        ax.grid(True, color="0.92", lw=0.8, zorder=0)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2))  # under the panel, off the lines
    axes[0][0].set_ylabel("|estimate - exact| / |exact|")
    figure.suptitle(title)
    figure.tight_layout()
    return figures.save(figure, path)


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

    estimators = ESTIMATORS if estimators is None else estimators
    errors: dict[str, tuple[list[int], list[float]]] = {e.name: ([], []) for e in estimators}
    for n in n_episodes:
        for check in compare_estimators(policy, env, n, max(2, total_episodes // n), estimators, seed=seed):
            norms = np.linalg.norm(check.estimates - check.exact, axis=1) / np.linalg.norm(check.exact)
            errors[check.estimator.name][0].append(n)
            errors[check.estimator.name][1].append(float(norms.mean()))
    return errors


def baseline_checks(
    env: str = "PGToy-v0",
    n_episodes: int = 4,
    n_batches: int = 2000,
    seed: int = 0,
    estimators: Sequence[Estimator] = BASELINE_ESTIMATORS,
    device: str = "cpu",
) -> dict[str, list[GradientCheck]]:
    """Every baseline on the discrete and on the continuous variant of ``env``, each with a fresh REINFORCE
    policy (seed ``seed``, one hidden layer of 16 units, PyTorch's default initialisation) beside the exact
    gradient: ``{"discrete": checks, "continuous": checks}``."""
    from reinforce_sb3 import REINFORCE
    from reinforce_sb3.analysis.diagnostics import compare_estimators

    checks = {}
    for variant, game in (("discrete", gym.make(env)), ("continuous", gym.make(env, continuous=True))):
        policy_kwargs = {"net_arch": [16], "ortho_init": False}
        model = REINFORCE("MlpPolicy", game, seed=seed, device=device, policy_kwargs=policy_kwargs)
        checks[variant] = compare_estimators(model, game, n_episodes, n_batches, estimators, seed=seed)
    return checks


def plot_baselines(
    checks: Mapping[str, Sequence[GradientCheck]],
    path: str | Path | None = None,
    title: str | None = None,
) -> Figure:
    """
    Bias and variance of each estimator against the exact gradient, one bar per variant (discrete, continuous).

    Three panels one under the other, with horizontal bars so that the estimators' names read level at page
    width: the scale ``|average| / |exact|`` (1 unbiased; the batch mean's ``1 - 1/N`` drawn in); the relative
    error of the average estimate with its noise floor (a bar well beyond its mark is bias); the noise of one
    batch's estimate (its variance over ``|average|^2``).

    :param checks: ``{variant: checks}``, the same estimators in each, as :func:`baseline_checks` returns
    :param path: where to save the PNG (optional)
    :param title: the figure's title (default: the budget)
    """
    variants = list(checks.values())
    names = [check.estimator.name for check in variants[0]] if variants else []
    if not names or any([check.estimator.name for check in v] != names for v in variants):
        raise ValueError("checks must hold the same estimators, in the same order, for every variant (at least one)")
    plt = figures.pyplot()
    panel_height = 0.7 + 0.16 * len(names) * len(checks)  # inches: 0.16 per bar
    figure, axes = plt.subplots(3, 1, figsize=(8.0, 0.5 + 3 * panel_height), layout="constrained")
    y, height = np.arange(len(names)), 0.8 / len(checks)
    for i, (variant, variant_checks) in enumerate(checks.items()):
        at = y + (i - (len(checks) - 1) / 2) * height
        axes[0].barh(at, [c.scale for c in variant_checks], height, label=variant)
        axes[1].barh(at, [c.relative_error for c in variant_checks], height, label=variant)
        floor_label = "noise floor" if i == 0 else None
        axes[1].plot([c.noise_floor for c in variant_checks], at, "k|", ms=11, mew=2.2, label=floor_label)
        axes[2].barh(at, [c.relative_variance for c in variant_checks], height, label=variant)
    n_episodes, n_batches = variants[0][0].n_episodes, len(variants[0][0].estimates)
    axes[0].axvline(1.0, color="k", lw=0.8)
    axes[0].axvline(1 - 1 / n_episodes, color="tab:red", ls=":", lw=1.5, label=f"1 - 1/N = {1 - 1 / n_episodes:g}")
    axes[0].set_xlim(0.0, 1.25)
    labels = (
        ("scale |average| / |exact| (1: as long as the exact gradient)", "linear"),
        ("relative error of the average |average - exact| / |exact| (log scale)", "log"),
        ("noise of one batch: variance / |average|^2", "linear"),
    )
    for ax, (label, xscale) in zip(axes, labels, strict=True):
        ax.set_yticks(y, names, fontsize=10)
        ax.invert_yaxis()  # the first estimator on top
        ax.set_xscale(xscale)
        ax.set_title(label, fontsize=11, loc="left")
        ax.tick_params(axis="x", labelsize=10)
        ax.grid(True, axis="x", color="0.9", lw=0.8)
        ax.set_axisbelow(True)
    handles = {}
    for ax in axes:  # one legend for the three panels, under them
        handles.update({label: handle for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)})
    figure.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=len(handles), fontsize=10)
    axes[1].set_xlim(right=2 * max(c.relative_error for v in variants for c in v))
    axes[2].set_xlim(0.0, 1.1 * max(c.relative_variance for v in variants for c in v))
    figure.suptitle(
        title or f"Baselines against the exact gradient: {n_batches} batches of N = {n_episodes} episodes",
        fontsize=12,
    )
    return figures.save(figure, path)


def main(argv: list[str] | None = None, prog: str = PROG) -> None:
    """The command line (see the module docstring); bad input raises, and :func:`cli` makes it one line."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("picture", choices=["tree", "curves", "errors", "baselines", "frames"])
    parser.add_argument("--out", type=Path, default=None, help="the PNG to write (default: <picture>.png)")
    add_env_arguments(parser)
    policy = parser.add_mutually_exclusive_group()
    policy.add_argument("--model", default=None, help="tree, frames: a saved REINFORCE model made for --env")
    policy.add_argument(
        "--optimal", action="store_true", help="tree, frames: the optimal policy (gym_pgtoy.exact.solve)"
    )
    parser.add_argument("--depth", type=int_at_least(1), default=3, help="tree: decisions drawn")
    parser.add_argument("--seeds", type=int_at_least(1), default=5, help="curves: number of seeds")
    parser.add_argument("--timesteps", type=int_at_least(1), default=20_000, help="curves: steps per run")
    parser.add_argument("--n-episodes", type=int_at_least(2), default=4, help="baselines: episodes per batch")
    parser.add_argument("--n-batches", type=int_at_least(2), default=2000, help="baselines: batches per estimator")
    parser.add_argument(
        "--seed", type=int_at_least(0), default=0, help="errors, baselines, frames: policy and sampling"
    )
    parser.add_argument("--device", type=torch_device, default="cpu", help="torch device of the models")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else Path(f"{args.picture}.png")
    env = env_from_args(args)

    from reinforce_sb3 import REINFORCE
    from reinforce_sb3.analysis.diagnostics import format_table
    from reinforce_sb3.analysis.learning import learning_curves

    if args.picture in ("tree", "frames"):
        if args.model:
            tree_policy: Any = load_model(args.model, env, args.device)
        elif args.optimal:
            tree_policy = exact.solve(env).policy
            if tree_policy is None:
                raise ValueError(f"{args.env} has no stationary optimal policy to draw (the optimum depends on time)")
        else:
            tree_policy = None
        if args.picture == "tree":
            plot_tree(env, tree_policy, out, depth=args.depth)
        else:
            plot_frames(*play_episode(env, tree_policy, args.seed), path=out)
    elif args.picture == "curves":
        optimum = exact.optimal_return(env)  # an env of another family fails here, before any training
        curves = learning_curves(env, seeds=range(args.seeds), timesteps=args.timesteps, device=args.device)
        plot_learning_curves(curves, optimum, out)
    elif args.picture == "errors":
        kwargs = {"seed": args.seed, "device": args.device, "policy_kwargs": {"ortho_init": False}}
        model = REINFORCE("MlpPolicy", env, **kwargs)
        plot_gradient_error(gradient_errors(model, env, seed=args.seed), out)
    else:
        exact.optimal_return(args.env)  # an env of another family fails here, before any sampling
        checks = baseline_checks(args.env, args.n_episodes, args.n_batches, args.seed, device=args.device)
        for variant, variant_checks in checks.items():
            print(f"{args.env}, {variant} actions (seed {args.seed}):\n\n{format_table(variant_checks)}\n")
        plot_baselines(checks, out)
    print(f"wrote {out}")


def cli(argv: list[str] | None = None, prog: str = PROG) -> None:
    """``main`` as a command-line tool: bad input is one line on stderr and exit status 2 (see :mod:`gym_pgtoy.cli`)."""
    run_cli(lambda args: main(args, prog), prog, argv)


if __name__ == "__main__":
    cli()
