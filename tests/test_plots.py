"""The pictures are written and show the right things (their texts and data are checked, not just the files)."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.analysis.diagnostics import ESTIMATORS, learning_curves
from reinforce_sb3.analysis.plots import gradient_errors, main, plot_gradient_error, plot_learning_curves, plot_tree


def png_size(path):
    from matplotlib.image import imread

    return imread(path).shape


def test_tree_of_the_walkthrough(tmp_path):
    figure = plot_tree("PGToy-v0", path=tmp_path / "tree.png")
    assert png_size(tmp_path / "tree.png")[0] > 300
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert figure.axes[0].get_title() == "Expected return 2.636 (exact, gamma=1)"
    # the six partial derivatives of the walk-through, each on its action's edge
    for derivative in ("dJ/dpi -0.52", "dJ/dpi 10", "dJ/dpi -7", "dJ/dpi 0.56", "dJ/dpi 0\n", "dJ/dpi 3.78"):
        assert any(derivative in text for text in texts), derivative
    assert any(text.startswith("(1, 0)  t=1\nreach 0.7") for text in texts)
    assert any(text.startswith("(2, 0)  t=2\nreach 0.378") for text in texts)
    assert (
        sum(text.startswith("slip 0.10") for text in texts) == 1
        and sum(text.startswith("up 0.90") for text in texts) == 1
    )
    assert sum(text.startswith("pit") for text in texts) == 2 and sum(text.startswith("flag") for text in texts) == 2


def test_tree_of_a_learned_policy_on_a_longer_hill(tmp_path):
    model = REINFORCE("MlpPolicy", "SlipperyHill-v0", seed=0)
    figure = plot_tree("SlipperyHill-v0", model, tmp_path / "tree.png", depth=2)
    value = exact.expected_return("SlipperyHill-v0", model)
    assert figure.axes[0].get_title() == f"Expected return {value:.3f} (exact, gamma=1)"
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert any(text.startswith("(4, 1)  t=0") for text in texts) and any(text.endswith("...") for text in texts)


def test_learning_curves(tmp_path):
    curves = learning_curves("PGToy-v0", seeds=[0, 1], timesteps=3000)
    figure = plot_learning_curves(curves, exact.optimal_return("PGToy-v0"), tmp_path / "curves.png")
    assert (tmp_path / "curves.png").exists()
    lines = figure.axes[0].get_lines()
    assert len(lines) == 2 + 2  # two seeds, the optimum and the trap
    for timesteps, returns in curves.values():
        assert timesteps[0] == 0 and len(timesteps) == len(returns) > 50
        assert returns[-1] > returns[0]
    assert lines[2].get_ydata()[0] == 11.0


def test_gradient_error_falls_like_one_over_sqrt_n_for_unbiased_estimators(tmp_path):
    model = REINFORCE("MlpPolicy", "PGToy-v0", seed=0, policy_kwargs=dict(net_arch=[16], ortho_init=False))
    errors = gradient_errors(model, "PGToy-v0", n_episodes=(4, 64), total_episodes=512, estimators=ESTIMATORS[:4])
    figure = plot_gradient_error(errors, tmp_path / "errors.png")
    assert (tmp_path / "errors.png").exists()
    assert len(figure.axes[0].get_lines()) == 4 + 1
    for name in ("log-prob, reward-to-go, sum/episodes", "whole-episode return"):
        n, error = errors[name]
        slope = np.log(error[1] / error[0]) / np.log(n[1] / n[0])
        assert -0.8 < slope < -0.3, (name, slope)  # -0.5 expected
    n, error = errors["normalized returns"]
    assert error[1] > 0.5 * error[0]  # a rescaled gradient: its error does not vanish


def test_command_line(tmp_path, capsys):
    main(["tree", "--out", str(tmp_path / "tree.png")])
    assert (tmp_path / "tree.png").exists() and "wrote" in capsys.readouterr().out
