"""The pictures are written and show the right things (their texts and data are checked, not just the files)."""

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis.estimators import BASELINE_ESTIMATORS, ESTIMATORS
from reinforce_sb3.analysis.learning import learning_curves
from reinforce_sb3.analysis.plots import (
    GRADIENT_ERROR_PANELS,
    MAX_TREE_NODES,
    baseline_checks,
    gradient_errors,
    main,
    play_episode,
    plot_baselines,
    plot_frames,
    plot_gradient_error,
    plot_learning_curves,
    plot_tree,
)
from reinforce_sb3.analysis.tree import legend_entries, overlapping_labels, rate_towards_right, state_name


@pytest.fixture(autouse=True)
def close_figures():
    """The pictures return their figures; close them after each test (pyplot keeps them open)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def png_size(path):
    from matplotlib.image import imread

    return imread(path).shape


def test_tree_of_the_walkthrough(tmp_path):
    figure = plot_tree("PGToy-v0", path=tmp_path / "tree.png")
    assert png_size(tmp_path / "tree.png")[0] > 300
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert figure.axes[0].get_title() == "Expected return 2.636 (exact, gamma=1)"
    analysis = exact.analyze("PGToy-v0", exact.WALKTHROUGH_POLICY)
    # the six partial derivatives of the walk-through, each on its action's edge
    for derivatives in analysis.gradient.values():
        for name, derivative in zip(("left", "right"), derivatives, strict=True):
            assert sum(text.startswith(name) and f"dJ/dpi {derivative:.3g}" in text.split("\n") for text in texts) == 1
    # the states by the walk-through's names, then as observations, with the time and the reach
    assert any(text.startswith("hilltop, diamond there\n(2, 1)  t=0\nreach 1\n") for text in texts)
    assert any(text.startswith("hillside, diamond taken\n(1, 0)  t=1\nreach 0.7\n") for text in texts)
    assert any(text.startswith("hilltop, diamond taken\n(2, 0)  t=2\nreach 0.378\n") for text in texts)
    # the leaf the time limit ends, with its reach: P(left, right, up, left) = 0.7 x 0.6 x 0.9 x 0.8
    assert [text for text in texts if "out of time" in text] == [
        f"hillside, diamond taken\n(1, 0)  t=3\nout of time\nreach {0.7 * 0.6 * 0.9 * 0.8:.3g}"
    ]
    assert (
        sum(text.startswith("slip 0.10") for text in texts) == 1
        and sum(text.startswith("up 0.90") for text in texts) == 1
    )
    assert sum(text.startswith("fire pit\nreach") for text in texts) == 2
    assert sum(text.startswith("flag\nreach") for text in texts) == 2


def test_tree_shows_the_rate_along_the_simplex():
    """At the hilltop, moving probability from left to right raises J at 10 - (-0.52) = 10.52 per unit, not 10:
    P(left) falls as P(right) rises. The rate on each node is that of J itself, by finite differences."""
    texts = [t.get_text() for t in plot_tree("PGToy-v0").axes[0].texts]
    policy = {state: np.array(p) for state, p in exact.WALKTHROUGH_POLICY.items()}
    analysis = exact.analyze("PGToy-v0", policy)
    for state, derivatives in analysis.gradient.items():
        assert rate_towards_right(derivatives) == pytest.approx(derivatives[1] - derivatives[0])
        step = 1e-6
        moved = {**policy, state: policy[state] + np.array([-step, step])}
        rate = (exact.expected_return("PGToy-v0", moved) - analysis.expected_return) / step
        assert rate_towards_right(derivatives) == pytest.approx(rate, abs=1e-4)
        node = [text for text in texts if text.startswith(f"{state_name_of(state)}\n{state}") and "V =" in text]
        assert len(node) == 1 and f"\nleft→right {rate:+.4g}" in node[0], (node, rate)
    assert f"{rate_towards_right(analysis.gradient[(2, 1)]):.2f}" == "10.52"


def state_name_of(state):
    return state_name(gym.make("PGToy-v0").unwrapped, state)


def test_state_names_follow_the_walkthrough():
    short, long = gym.make("PGToy-v0").unwrapped, gym.make("SlipperyHill-v0").unwrapped
    assert [state_name(short, s) for s in [(0, 0), (1, 0), (2, 1), (2, 0), (3, 0)]] == [
        "fire pit",
        "hillside, diamond taken",
        "hilltop, diamond there",
        "hilltop, diamond taken",
        "flag",
    ]
    assert [state_name(long, s) for s in [(1, 0), (3, 1), (4, 1), (5, 0)]] == [
        "hillside 1, diamond taken",
        "hillside 3, diamond there",
        "hilltop, diamond there",
        "flag",
    ]


@pytest.mark.parametrize(("env", "kwargs"), [("PGToy-v0", {}), ("SlipperyHill-v0", {"continuous": True})])
def test_tree_legend_explains_every_mark(env, kwargs):
    """The legend names every number the tree writes and every kind of mark it draws, in the tree's colours."""
    game = gym.make(env, **kwargs)
    policy = dict.fromkeys(exact.uniform_policy(game.unwrapped.hill_length), (0.25, 0.75))
    ax = plot_tree(game, policy, depth=2).axes[0]
    legend = ax.get_legend()
    entries = [text.get_text() for text in legend.get_texts()]
    assert entries == [meaning for _, meaning in legend_entries(game.unwrapped)]
    names = ["reach:", "V:", "Q = r + V':", "dJ/dpi:", "left→right:", "r:", "edge width:", "dot:", "flag (+10)"]
    names.append("fire pit (-10)")
    for name in names + (["P(right):"] if kwargs else []):
        assert sum(entry.startswith(name) for entry in entries) == 1, name
    assert any("out of time" in entry for entry in entries)
    # each number the tree writes is named in the legend
    texts = [t.get_text() for t in ax.texts]
    for word in ("reach", "V =", "Q", "dJ/dpi", "left→right", "r +"):
        assert any(word in text for text in texts), word
    # the legend's marks look like the tree's: the widest edge, the chance dot, the boxes
    widths = {line.get_linewidth() for line in ax.get_lines() if line.get_marker() in ("None", "")}
    handles = legend.legend_handles
    reach_one = handles[entries.index(next(e for e in entries if e.startswith("edge width")))].get_linewidth()
    # the edges out of the start (reach 1) are as wide as the legend's line scaled by their probabilities
    assert {0.8 + (reach_one - 0.8) * p for p in (0.25, 0.75)} <= widths and "(this wide: 1)" in entries[-6]
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert dots and handles[entries.index(next(e for e in entries if e.startswith("dot")))].get_marker() == "o"
    kinds = {  # the legend's entry of each kind of box, and how to find such boxes in the tree
        "flag": lambda text: text.startswith("flag"),
        "a decision": lambda text: "V =" in text,
        "dashed": lambda text: text.endswith("...") or "out of time" in text,
    }
    for entry, is_kind in kinds.items():
        boxes = [text.get_bbox_patch() for text in ax.texts if is_kind(text.get_text())]
        legend_box = handles[entries.index(next(e for e in entries if e.startswith(entry)))]
        assert boxes and {box.get_facecolor() for box in boxes} == {legend_box.get_facecolor()}, entry
        assert {box.get_linestyle() for box in boxes} == {"--" if entry == "dashed" else "solid"}, entry
    blue = [text.get_text().split(":")[0] for text in legend.get_texts() if text.get_color() == "tab:blue"]
    # the numbers written on the edges, in blue
    assert blue == ["left, right and a number", "Q = r + V'", "dJ/dpi", "r"]


def test_tree_discounts_the_partial_derivatives():
    """With gamma < 1 each edge's dJ/dpi is gamma^t x reach x Q, and they sum, per state, to exact's gradient."""
    gamma = 0.5
    texts = [t.get_text() for t in plot_tree("SlipperyHill-v0", depth=2, gamma=gamma).axes[0].texts]
    analysis = exact.analyze("SlipperyHill-v0", exact.uniform_policy(3), gamma)
    edges = [text for text in texts if text.startswith(("left", "right"))]
    assert len(edges) == 4  # from the hilltop at t=0 (reach 1) and from hillside 3 at t=1 (reach 0.5)
    start, hillside = analysis.q_values[0][(4, 1)], analysis.q_values[1][(3, 1)] * 0.5 * gamma
    for name, value in (("left", start[0]), ("right", start[1]), ("left", hillside[0]), ("right", hillside[1])):
        assert any(text.startswith(name) and f"dJ/dpi {value:.3g}" in text.split("\n") for text in edges), (name, value)


def test_learning_curves(tmp_path):
    curves = learning_curves("PGToy-v0", seeds=[0, 1], timesteps=3000)
    figure = plot_learning_curves(curves, exact.optimal_return("PGToy-v0"), tmp_path / "curves.png")
    assert (tmp_path / "curves.png").exists()
    for timesteps, returns in curves.values():
        assert timesteps[0] == 0 and len(timesteps) == len(returns) > 50
        assert returns[-1] > returns[0]
    ax, final = figure.axes
    runs = [line for line in ax.get_lines() if line.get_label().startswith("seed")]
    assert [line.get_label() for line in runs] == [f"{label}: {r[-1]:.2f}" for label, (_, r) in curves.items()]
    for line, (timesteps, returns) in zip(runs, curves.values(), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), timesteps)
        np.testing.assert_array_equal(line.get_ydata(), returns)
    finals = [line.get_ydata()[0] for line in final.get_lines() if line.get_label().startswith("seed")]
    assert finals == [returns[-1] for _, returns in curves.values()]
    levels = sorted(line.get_ydata()[0] for line in ax.get_lines() if line not in runs)
    assert levels == [10.0, 11.0]  # the trap and the optimum
    # a log axis for the steps, linear up to the first update so that the start (step 0) stays on it
    first = min(t for timesteps, _ in curves.values() for t in timesteps if t > 0)
    assert ax.get_xscale() == "symlog" and ax.xaxis.get_transform().linthresh == first
    assert ax.get_xlim() == (0, max(timesteps[-1] for timesteps, _ in curves.values()))
    assert ax.get_xticks()[0] == 0 and all(np.log10(t).is_integer() for t in ax.get_xticks()[1:])


def test_learning_curves_keep_every_run_visible_on_the_same_level():
    """Runs that all sit on the trap line differ in colour, line style and marker, are drawn above the reference
    lines, and each has its own point in the panel of final returns."""
    flat = {f"seed {i}": ([0, 1000, 2000], [5.0, 10.0, 10.0]) for i in range(5)}
    ax, final = plot_learning_curves(flat, 11.0).axes
    runs = [line for line in ax.get_lines() if line.get_label().startswith("seed")]
    references = [line for line in ax.get_lines() if line not in runs]
    looks = {(line.get_color(), line.get_linestyle(), line.get_marker()) for line in runs}
    assert len(runs) == 5 and len(looks) == 5
    assert min(line.get_zorder() for line in runs) > max(line.get_zorder() for line in references)
    points = [line for line in final.get_lines() if line.get_label().startswith("seed")]
    assert sorted(float(p.get_xdata()[0]) for p in points) == [0, 1, 2, 3, 4]
    assert all(p.get_ydata()[0] == 10.0 for p in points)
    with pytest.raises(ValueError, match="curves must hold at least one run"):
        plot_learning_curves({}, 11.0)


def test_gradient_error_falls_like_one_over_sqrt_n_for_unbiased_estimators(tmp_path):
    model = REINFORCE("MlpPolicy", "PGToy-v0", seed=0, policy_kwargs=dict(net_arch=[16], ortho_init=False))
    errors = gradient_errors(model, "PGToy-v0", n_episodes=(4, 64), total_episodes=512, estimators=ESTIMATORS[:4])
    plot_gradient_error(errors, tmp_path / "errors.png")
    assert (tmp_path / "errors.png").exists()
    for name in ("log-prob, reward-to-go, sum/episodes", "whole-episode return"):
        n, error = errors[name]
        slope = np.log(error[1] / error[0]) / np.log(n[1] / n[0])
        assert -0.8 < slope < -0.3, (name, slope)  # -0.5 expected
    n, error = errors["normalized returns"]
    assert error[1] > 0.5 * error[0]  # a rescaled gradient: its error does not vanish


def test_gradient_error_panels():
    """Each estimator is drawn once, in its panel, with its own look; every panel has the textbook estimator
    (grey where it is not one of the panel's), the 1/sqrt(n) slope, and a tick at every batch size measured."""
    sizes = [4, 16, 64, 256]
    errors = {e.name: (sizes, [0.5 / (i + 1) / np.sqrt(n / 4) for n in sizes]) for i, e in enumerate(ESTIMATORS)}
    figure = plot_gradient_error(errors)
    assert [ax.get_title() for ax in figure.axes] == list(GRADIENT_ERROR_PANELS)
    drawn = {}
    for ax, names in zip(figure.axes, GRADIENT_ERROR_PANELS.values(), strict=True):
        labels = [line.get_label() for line in ax.get_lines()]
        reference = ESTIMATORS[0].name
        assert labels[-1] == "1/sqrt(n)"
        assert labels[:-1] == ([] if reference in names else [f"{reference} (reference)"]) + list(names)
        for line in ax.get_lines():
            if line.get_label() in names:
                drawn[line.get_label()] = line
        assert [tick.get_text() for tick in ax.get_xticklabels()] == [str(n) for n in sizes]
        np.testing.assert_allclose(ax.get_xticks(), sizes)
        assert [text.get_text() for text in ax.get_legend().get_texts()] == labels
    assert sorted(drawn) == sorted(errors)  # every estimator, once
    for name, line in drawn.items():
        np.testing.assert_array_equal(line.get_ydata(), errors[name][1])
    assert len({(line.get_color(), line.get_linestyle(), line.get_marker()) for line in drawn.values()}) == len(drawn)
    # estimators in no panel get one of their own; empty panels are left out
    other = plot_gradient_error({"mine": (sizes, [1.0, 0.5, 0.25, 0.125])}, panels={"empty": ("absent",)})
    assert [ax.get_title() for ax in other.axes] == ["other estimators"]
    with pytest.raises(ValueError, match="errors must hold at least one estimator"):
        plot_gradient_error({})


def titles_and_texts(figure):
    return figure.axes[0].get_title(), [t.get_text() for t in figure.axes[0].texts]


def test_default_policies_of_the_tree():
    """The walk-through's policy on a hill of one cell, the uniform policy on longer hills."""
    title, _ = titles_and_texts(plot_tree("PGToy-v0"))
    assert title == "Expected return 2.636 (exact, gamma=1)"
    uniform = exact.expected_return("SlipperyHill-v0", exact.uniform_policy(3))
    title, texts = titles_and_texts(plot_tree("SlipperyHill-v0", depth=2))
    assert title == f"Expected return {uniform:.3f} (exact, gamma=1)"
    assert any(text.startswith("left 0.50\n") for text in texts)


@pytest.mark.parametrize(
    ("env", "kwargs", "policy"),
    [
        ("PGToy-v0", {}, None),
        ("SlipperyHill-v0", {}, None),
        ("PGToy-v0", {"continuous": True}, None),
        ("SlipperyHill-v0", {"continuous": True}, None),
        # a nearly deterministic policy: reach probabilities and derivatives such as 2.9e-06 make long labels
        ("SlipperyHill-v0", {}, dict.fromkeys(exact.uniform_policy(3), (1e-5, 1 - 1e-5))),
    ],
)
def test_tree_labels_do_not_overlap(env, kwargs, policy):
    """At the depth the docs draw (3), no two labels of the tree touch."""
    figure = plot_tree(gym.make(env, **kwargs), policy, depth=3)
    assert len(figure.axes[0].texts) >= 16
    assert overlapping_labels(figure, gap=0.0) == []


def test_tree_limits():
    with pytest.raises(ValueError, match="depth must be an integer"):
        plot_tree("PGToy-v0", depth=0)
    with pytest.raises(ValueError, match=f"more than {MAX_TREE_NODES} nodes, too many to draw: use a smaller depth"):
        plot_tree("SlipperyHill-v0", depth=12)
    with pytest.raises(TypeError, match="env must be PGToy-v0, SlipperyHill-v0 or a SlipperyHillEnv"):
        plot_tree("CartPole-v1")


@pytest.mark.parametrize(("trained_on", "drawn_on"), [("PGToy-v0", "SlipperyHill-v0"), ("SlipperyHill-v0", "PGToy-v0")])
def test_tree_of_a_model_of_another_variant_is_refused(trained_on, drawn_on):
    model = REINFORCE("MlpPolicy", trained_on, seed=0, device="cpu")
    with pytest.raises(ValueError, match="analyse a policy on the game variant it was trained on"):
        plot_tree(drawn_on, model)


def test_command_line_writes_a_default_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(["tree"])
    assert capsys.readouterr().out == "wrote tree.png\n" and png_size(tmp_path / "tree.png")[0] > 300
    main(["tree", "--out", str(tmp_path / "walkthrough.png")])
    assert (tmp_path / "walkthrough.png").exists() and "wrote" in capsys.readouterr().out
    main(["tree", "--out", "docs/tree.png"])  # as make figures writes it, here from a folder without docs/
    assert (tmp_path / "docs" / "tree.png").exists() and capsys.readouterr().out == "wrote docs/tree.png\n"


def test_command_line_trees_of_slippery_hill(tmp_path, capsys, monkeypatch):
    """Without a model: the uniform policy; --optimal: exact.solve's policy; --model: a saved model's."""
    monkeypatch.chdir(tmp_path)
    figures = []
    monkeypatch.setattr("reinforce_sb3.analysis.figures.save", lambda figure, path: figures.append(figure) or figure)
    model = REINFORCE("MlpPolicy", "SlipperyHill-v0", seed=0, device="cpu")
    model.save(tmp_path / "model.zip")
    for argv in ([], ["--optimal"], ["--model", str(tmp_path / "model.zip")]):
        main(["tree", "--env", "SlipperyHill-v0", "--depth", "2", *argv])
    expected = [
        exact.expected_return("SlipperyHill-v0", exact.uniform_policy(3)),
        exact.optimal_return("SlipperyHill-v0"),
        exact.expected_return("SlipperyHill-v0", model),
    ]
    assert [titles_and_texts(f)[0] for f in figures] == [f"Expected return {v:.3f} (exact, gamma=1)" for v in expected]
    assert capsys.readouterr().out == "wrote tree.png\n" * 3


def test_baselines_picture_shows_the_checks(tmp_path):
    """One bar per variant and estimator in each panel, at the checks' scale, error and noise; the noise floors."""
    estimators = BASELINE_ESTIMATORS[:2]
    checks = baseline_checks("PGToy-v0", n_episodes=4, n_batches=30, seed=1, estimators=estimators)
    assert list(checks) == ["discrete", "continuous"]
    figure = plot_baselines(checks, tmp_path / "baselines.png")
    scale, error, noise = figure.axes
    for ax, value in ((scale, "scale"), (error, "relative_error"), (noise, "relative_variance")):
        lengths = [bar.get_width() for bar in ax.patches]
        expected = [getattr(check, value) for variant in checks.values() for check in variant]
        np.testing.assert_allclose(lengths, expected)
        assert [label.get_text() for label in ax.get_yticklabels()] == [e.name for e in estimators]
    floors = [line for line in error.get_lines() if line.get_label() == "noise floor"]
    np.testing.assert_allclose(floors[0].get_xdata(), [c.noise_floor for c in checks["discrete"]])
    assert [text.get_text() for text in figure.legends[0].get_texts()] == [
        "1 - 1/N = 0.75",
        "discrete",
        "continuous",
        "noise floor",
    ]
    # shown 800 pixels wide, the estimators' names are still as large as 8-point text at 100%
    width = png_size(tmp_path / "baselines.png")[1]
    assert all(label.get_fontsize() * 800 / width >= 8 for label in scale.get_yticklabels())
    assert "30 batches of N = 4 episodes" in figure.get_suptitle()
    with pytest.raises(ValueError, match="checks must hold the same estimators"):
        plot_baselines({"discrete": checks["discrete"], "continuous": checks["continuous"][:1]})


def test_command_line_baselines_prints_both_tables(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(["baselines", "--n-episodes", "2", "--n-batches", "3", "--seed", "4"])
    out = capsys.readouterr().out
    assert "PGToy-v0, discrete actions (seed 4):" in out and "PGToy-v0, continuous actions (seed 4):" in out
    for estimator in BASELINE_ESTIMATORS:
        assert out.count(f"| {estimator.name} |") == 2
    assert out.endswith("wrote baselines.png\n") and (tmp_path / "baselines.png").exists()


def test_frames_of_an_episode(tmp_path, monkeypatch):
    """The optimal episode of PGToy-v0 (left, right, right): its frames, drawn pixel for pixel, with the moves."""
    frames, captions = play_episode("PGToy-v0", exact.solve("PGToy-v0").policy, seed=0)
    assert captions == ["start", "step 1: left, reward +3", "step 2: right, reward +0", "step 3: right, reward +10"]
    env = gym.make("PGToy-v0", render_mode="rgb_array")
    env.reset(seed=0)
    expected = [env.render()]
    for action in (0, 1, 1):
        env.step(action)
        expected.append(env.render())
    for got, want in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    monkeypatch.chdir(tmp_path)
    main(["frames", "--optimal"])
    png = np.rint(matplotlib_image(tmp_path / "frames.png")[..., :3] * 255).astype(np.uint8)
    height, width, _ = frames[-1].shape
    assert width <= png.shape[1] < width + 40 and png.shape[0] > 4 * height
    found = [  # the last frame, unscaled, somewhere near the bottom of the picture
        (dy, dx)
        for dy in range(png.shape[0] - height - 40, png.shape[0] - height + 1)
        for dx in range(0, png.shape[1] - width + 1)
        if np.array_equal(png[dy : dy + height, dx : dx + width], frames[-1])
    ]
    assert len(found) == 1
    with pytest.raises(ValueError, match="frames must hold at least one image"):
        plot_frames([])
    with pytest.raises(ValueError, match="captions must hold one caption per frame"):
        plot_frames(frames, captions[:2])


def matplotlib_image(path):
    from matplotlib.image import imread

    return imread(path)
