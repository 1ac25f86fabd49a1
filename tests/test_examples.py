"""The main job (`make train`) trains, reports the exact check and saves the model."""

import runpy
import sys
from pathlib import Path

from reinforce_sb3 import REINFORCE

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_pgtoy.py"


def test_train_pgtoy_example(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--timesteps", "3000", "--seed", "1", "--folder", str(tmp_path)])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "Learned action probabilities at each decision point:" in out
    for state in ("(2, 1)", "(1, 0)", "(2, 0)"):
        assert state in out
    assert "Exact optimum: 11.000" in out
    model = REINFORCE.load(tmp_path / "reinforce_pgtoy.zip")
    assert model.num_timesteps >= 3000
    assert any(tmp_path.glob("REINFORCE_*"))  # TensorBoard run folder
