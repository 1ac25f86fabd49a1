"""``python -m build`` makes a wheel that installs into a fresh virtual environment and works from another folder.

Reinstalling torch and the rest into the fresh environment would take minutes, so the test installs the
wheel alone (``--no-deps``) and then lets the environment see this one's dependencies through a ``.pth``
file placed *after* its own site-packages: every module of the two packages comes from the wheel (the test
checks the paths), while ``pip check`` confirms that the wheel's requirements are met.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("build")

CHECK = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import gym_pgtoy, reinforce_sb3
    from gym_pgtoy import exact
    from reinforce_sb3 import REINFORCE
    from reinforce_sb3.zoo import HYPERPARAMS_FILE

    venv = Path(sys.prefix).resolve()
    for module in (gym_pgtoy, reinforce_sb3):
        assert venv in Path(module.__file__).resolve().parents, module.__file__
    assert venv in HYPERPARAMS_FILE.resolve().parents and "PGToy-v0:" in HYPERPARAMS_FILE.read_text()
    model = REINFORCE("MlpPolicy", "PGToy-v0", seed=0, device="cpu").learn(300)
    print(f"exact {exact.expected_return('PGToy-v0', model):.3f}")  # through the entry-point policy adapter
    """
)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MPLBACKEND"] = "Agg"
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_works_from_another_folder(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)], tmp_path)
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for packaged in ("reinforce_sb3/zoo/hyperparams/reinforce.yml", "reinforce_sb3/py.typed", "gym_pgtoy/py.typed"):
        assert packaged in names
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/", "docs/", "examples/"))]

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = str(venv / "bin" / "python")
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = Path(_run([python, "-c", purelib], tmp_path).stdout.strip())
    pip = [sys.executable, "-m", "pip", "--python", python]  # this environment's pip, installing into the new one
    _run([*pip, "install", "--no-deps", "--no-index", str(wheel)], tmp_path)
    (site_packages / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([*pip, "check"], tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "exact " in _run([python, "-c", CHECK], elsewhere).stdout
    train = [python, "-m", "reinforce_sb3.zoo.train", "--algo", "reinforce", "--env", "PGToy-v0", "-n", "300"]
    out = _run([*train, "-f", "logs", "--verbose", "0"], elsewhere).stdout
    assert f"Loading hyperparameters from: {site_packages}" in out
    assert (elsewhere / "logs" / "reinforce" / "PGToy-v0_1" / "PGToy-v0.zip").is_file()
