"""The main job (`make train`): trains through the zoo wrappers, reports the exact check, saves the model."""

import runpy
import sys
from pathlib import Path

import pytest

from reinforce_sb3 import REINFORCE

pytest.importorskip("rl_zoo3")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_pgtoy.py"


def test_train_pgtoy_example(tmp_path, capsys, monkeypatch):
    argv = [str(EXAMPLE), "--seed", "1", "--folder", str(tmp_path), "-n", "3000"]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "Learned action probabilities at each decision point:" in out
    for state in ("(2, 1)", "(1, 0)", "(2, 0)"):
        assert state in out
    assert "Exact optimum: 11.000" in out
    run = tmp_path / "reinforce" / "PGToy-v0_1"
    assert f"Model: {run / 'PGToy-v0.zip'}" in out
    model = REINFORCE.load(run / "PGToy-v0.zip")
    assert model.num_timesteps >= 3000
    assert (run / "0.monitor.csv").exists()
    assert f"Game tree of the learned policy: {run / 'tree.png'}" in out and (run / "tree.png").stat().st_size > 0


def test_train_pgtoy_example_bad_flags_are_one_line(tmp_path, capsys, monkeypatch):
    argv = [str(EXAMPLE), "--folder", str(tmp_path), "--hyperparams", "n_episodes:0"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    prog = "python examples/train_pgtoy.py"
    assert err == f"{prog}: error: ValueError: --hyperparams: n_episodes must be an integer in [1, 1_000_000], got 0\n"
