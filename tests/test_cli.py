"""The command-line contract of every tool: bad input is one line on stderr and exit status 2; --debug shows more.

The contract itself (gym_pgtoy.cli.run_cli) is tested in-process; each tool's bad inputs are tested in-process
through its own entry point (fast), and a few per tool as real ``python -m`` subprocesses.
"""

import argparse
import re
import subprocess
import sys

import pytest

from gym_pgtoy.cli import int_at_least, run_cli
from reinforce_sb3 import REINFORCE


def one_line_error(capsys, call, *argv):
    """Run ``call(list(argv))``; check it exits with status 2 and one stderr line without a traceback; return it."""
    with pytest.raises(SystemExit) as exit_info:
        call(list(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def failing(error):
    def main(argv):
        raise error

    return main


# the contract: gym_pgtoy.cli.run_cli


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (ValueError("n_episodes must be >= 1"), "prog: error: ValueError: n_episodes must be >= 1\n"),
        (KeyError("gamme"), "prog: error: KeyError: 'gamme'\n"),
        (AssertionError(), "prog: error: AssertionError\n"),
        (RuntimeError("first line\n  second   line\n"), "prog: error: RuntimeError: first line second line\n"),
    ],
)
def test_an_error_is_one_line_naming_its_type(capsys, error, line):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(failing(error), "prog", [])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == line


def test_debug_shows_the_original_error_and_is_not_passed_on():
    seen = []

    def main(argv):
        seen.append(argv)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_cli(main, "prog", ["--x", "1", "--debug"])
    assert seen == [["--x", "1"]]


def test_argparse_errors_are_one_line_and_argparse_is_restored(capsys):
    original = argparse.ArgumentParser.error

    def main(argv):
        parser = argparse.ArgumentParser(prog="prog")
        parser.add_argument("--n", type=int_at_least(2))
        parser.parse_args(argv)

    err = one_line_error(capsys, lambda argv: run_cli(main, "prog", argv), "--n", "1")
    assert err == "prog: error: argument --n: must be an integer >= 2, got '1' (see --help)\n"
    assert one_line_error(capsys, lambda argv: run_cli(main, "prog", argv), "--m").startswith(
        "prog: error: unrecognized arguments: --m"
    )
    assert argparse.ArgumentParser.error is original
    with pytest.raises(SystemExit) as exit_info:  # --help still prints the usage and exits 0
        run_cli(main, "prog", ["--help"])
    assert exit_info.value.code == 0 and "usage: prog" in capsys.readouterr().out
    run_cli(main, "prog", ["--n", "2"])  # good input: no exit


# each tool, in-process


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A saved PGToy-v0 model, a file that is no model, and a path with nothing there."""
    folder = tmp_path_factory.mktemp("models")
    REINFORCE("MlpPolicy", "PGToy-v0", seed=0, device="cpu").save(folder / "pgtoy.zip")
    (folder / "garbage.zip").write_bytes(b"not a model")
    return {"pgtoy": str(folder / "pgtoy.zip"), "garbage": str(folder / "garbage.zip"), "missing": str(folder / "no")}


def test_gym_pgtoy(capsys):
    from gym_pgtoy.__main__ import PROG, main

    err = one_line_error(capsys, lambda argv: run_cli(main, PROG, argv), "--seed", "-1")
    assert err.startswith("python -m gym_pgtoy: error: argument --seed: must be an integer >= 0")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n-episodes", "0"], "argument --n-episodes: must be an integer >= 1, got '0'"),
        (["--n-batches", "1"], "argument --n-batches: must be an integer >= 2, got '1'"),
        (["--n-episodes", "1000", "--n-batches", "1000"], "ValueError: n_episodes x n_batches = 1000 x 1000"),
        (["--timesteps", "-5"], "argument --timesteps: must be an integer >= 1, got '-5'"),
        (["--gamma", "2"], r"ValueError: gamma must be in [0, 1], got 2.0"),
        (["--env", "NoSuchGame-v0"], "NameNotFound: Environment `NoSuchGame` doesn't exist"),
        (["--env", "CartPole-v1"], "TypeError: env must be PGToy-v0, SlipperyHill-v0 or a SlipperyHillEnv"),
        (["--device", "tpu"], "argument --device: must be a torch device such as cpu, cuda, cuda:0 or auto"),
        (["--model", "missing"], "FileNotFoundError: no saved model at"),
        (["--model", "garbage"], "ValueError:"),
        (["--env", "SlipperyHill-v0", "--model", "pgtoy"], "ValueError: policy was made for observation_space"),
        (["--continuous", "--model", "pgtoy"], "action_space=Discrete(2), but the env has MultiDiscrete([4 2]) and"),
    ],
)
def test_diagnostics(capsys, models, argv, message):
    from reinforce_sb3.analysis.diagnostics import cli

    argv = [models.get(arg, arg) for arg in argv]
    err = one_line_error(capsys, cli, *argv)
    assert err.startswith("python -m reinforce_sb3.analysis.diagnostics: error: ") and message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pie"], "argument picture: invalid choice: 'pie'"),
        (["tree", "--env", "NoSuchGame-v0"], "NameNotFound"),
        (["tree", "--model", "missing"], "FileNotFoundError: no saved model at"),
        (["tree", "--model", "garbage"], "ValueError:"),
        (["tree", "--env", "SlipperyHill-v0", "--model", "pgtoy"], "ValueError: policy was made for observation_space"),
        (["tree", "--model", "pgtoy", "--optimal"], "argument --optimal: not allowed with argument --model"),
        (["tree", "--env", "SlipperyHill-v0", "--depth", "12"], "ValueError: a tree of depth=12 on a hill of 3 cells"),
        (["curves", "--timesteps", "-1"], "argument --timesteps: must be an integer >= 1, got '-1'"),
        (["curves", "--env", "CartPole-v1"], "TypeError: env must be PGToy-v0"),
        (["errors", "--device", "tpu"], "argument --device: must be a torch device"),
        (["tree", "--continuous", "--model", "pgtoy"], "ValueError: policy was made for observation_space"),
        (["baselines", "--n-episodes", "1"], "argument --n-episodes: must be an integer >= 2, got '1'"),
        (["baselines", "--env", "CartPole-v1"], "TypeError: env must be PGToy-v0"),
    ],
)
def test_plots(capsys, models, argv, message):
    pytest.importorskip("matplotlib")
    from reinforce_sb3.analysis.plots import cli

    argv = [models.get(arg, arg) for arg in argv]
    err = one_line_error(capsys, cli, *argv)
    assert err.startswith("python -m reinforce_sb3.analysis.plots: error: ") and message in err


PGTOY = ["--algo", "reinforce", "--env", "PGToy-v0", "-f", "logs"]


@pytest.mark.parametrize(
    ("script", "argv", "message"),
    [
        ("train", ["--algo", "reinforce", "--env", "PGToy-v1"], "ValueError: PGToy-v1 not found in gym registry"),
        ("train", ["--algo", "reinforcee", "--env", "PGToy-v0"], "argument --algo: invalid choice: 'reinforcee'"),
        ("train", ["--algo", "reinforce", "--env", "FrozenLake-v1"], "Hyperparameters not found for reinforce-Froz"),
        ("train", [*PGTOY, "--hyperparams", "n_episodes:0"], "n_episodes must be an integer in [1, 1_000_000], got 0"),
        ("train", [*PGTOY, "--hyperparams", "gamma:"], "ValueError: --hyperparams: gamma has no value after the"),
        ("train", [*PGTOY, "--hyperparams", "gamme:0.5"], "ValueError: --hyperparams: unknown hyperparameter 'gamme'"),
        ("train", [*PGTOY, "--hyperparams", "gamma:2"], "ValueError: --hyperparams: gamma must be a finite number"),
        ("train", [*PGTOY, "--env-kwargs", "slip_prob"], "ValueError: --env-kwargs takes NAME:VALUE items, got 'sl"),
        ("train", [*PGTOY, "-params", "gamma"], "ValueError: -params takes NAME:VALUE items, got 'gamma'"),
        (
            "train",
            [*PGTOY, "--hyperparams", "normalize_returns:yes"],
            "ValueError: --hyperparams: the value of normalize_returns, 'yes', does not evaluate as Python (NameError: "
            "name 'yes' is not defined); a string needs quotes: normalize_returns:\"'yes'\"",
        ),
        ("train", [*PGTOY, "--hyperparams", "seed:3"], "ValueError: --hyperparams: seed is set with the zoo's option"),
        ("train", [*PGTOY, "--hyperparams", "learning_rate:'fast'"], "--hyperparams: learning_rate must be a number"),
        ("train", [*PGTOY, "--hyperparams", "n_timesteps:0"], "--hyperparams: n_timesteps must be a number >= 1, go"),
        (
            "train",
            [*PGTOY, "--conf-file", "bad_key.yml"],
            "ValueError: --conf-file bad_key.yml: PGToy-v0: unknown hyperparameter 'n_episode' of --algo reinforce "
            "(did you mean n_episodes?)",
        ),
        (
            "train",
            [*PGTOY, "--conf-file", "bad_value.yml"],
            "ValueError: --conf-file bad_value.yml: PGToy-v0: n_episodes must be an integer in [1, 1_000_000], got 0",
        ),
        ("train", [*PGTOY, "--conf-file", "bad_yaml.yml"], "ParserError: while parsing a flow sequence"),
        ("train", [*PGTOY, "--conf-file", "empty.yml"], "ValueError: --conf-file empty.yml must map env ids to"),
        ("train", [*PGTOY, "--conf-file", "flat.yml"], "ValueError: --conf-file flat.yml: the entry of PGToy-v0 must"),
        ("train", [*PGTOY, "--conf-file", "missing.yml"], "FileNotFoundError: [Errno 2] No such file or directory"),
        ("train", [*PGTOY, "--device", "tpu"], "ValueError: --device must be a torch device such as auto, cpu"),
        (
            "train",
            ["--algo", "reinforce", "--env", "SlipperyHill-v0", "-f", "logs", "-n", "10", "-i", "pgtoy"],
            "ValueError: Observation spaces do not match: MultiDiscrete([4 2]) != MultiDiscrete([6 2])",
        ),
        ("enjoy", [*PGTOY, "--no-render"], "AssertionError: The logs/reinforce folder was not found"),
        ("enjoy", [*PGTOY, "--no-render", "-f", "garbage_logs"], "ValueError:"),
        ("enjoy", [*PGTOY, "--env-kwargs", "slip_prob:x"], "ValueError: --env-kwargs: the value of slip_prob, 'x', "),
        ("record_video", [*PGTOY, "-f", "garbage_logs", "--device", "tpu"], "ValueError: --device must be"),
        (
            "record_video",
            [*PGTOY, "--exp-id", "7"],
            "AssertionError: The logs/reinforce/PGToy-v0_7 folder was not found",
        ),
    ],
)
def test_zoo(capsys, tmp_path, monkeypatch, models, script, argv, message):
    pytest.importorskip("rl_zoo3")
    from reinforce_sb3.zoo.scripts import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad_key.yml").write_text("PGToy-v0:\n  policy: MlpPolicy\n  n_timesteps: 100\n  n_episode: 8\n")
    (tmp_path / "bad_value.yml").write_text("PGToy-v0:\n  policy: MlpPolicy\n  n_timesteps: 100\n  n_episodes: 0\n")
    (tmp_path / "bad_yaml.yml").write_text("PGToy-v0:\n  policy: [MlpPolicy\n")
    (tmp_path / "empty.yml").write_text("")
    (tmp_path / "flat.yml").write_text("PGToy-v0: 3\n")
    garbage = tmp_path / "garbage_logs" / "reinforce" / "PGToy-v0_1" / "PGToy-v0.zip"
    garbage.parent.mkdir(parents=True)
    garbage.write_bytes(b"not a model")
    argv = [models.get(arg, arg) for arg in argv]
    err = one_line_error(capsys, lambda args: cli(script, argv=args), *argv)
    assert err.startswith(f"python -m reinforce_sb3.zoo.{script}: error: ") and message in err


# a few per tool as real subprocesses: the `python -m` entry points are wired to the contract


@pytest.mark.parametrize(
    ("module", "argv", "message"),
    [
        ("gym_pgtoy", ["--seed", "x"], "python -m gym_pgtoy: error: argument --seed: must be an integer >= 0"),
        ("reinforce_sb3.analysis.diagnostics", ["--n-batches", "1"], "argument --n-batches: must be an integer >= 2"),
        ("reinforce_sb3.analysis.plots", ["tree", "--model", "garbage"], "plots: error: ValueError:"),
        ("reinforce_sb3.zoo.train", [*PGTOY, "--hyperparams", "gamme:0.5"], "ValueError: --hyperparams: unknown hyp"),
        ("reinforce_sb3.zoo.train", [*PGTOY, "--device", "tpu"], "zoo.train: error: ValueError: --device must be"),
        ("reinforce_sb3.zoo.enjoy", [*PGTOY, "--no-render"], "zoo.enjoy: error: AssertionError: The logs/reinforce"),
        ("reinforce_sb3.zoo.record_video", [*PGTOY, "--exp-id", "x"], "argument --exp-id: invalid int value: 'x'"),
    ],
)
def test_python_m(tmp_path, models, module, argv, message):
    if "zoo" in module:
        pytest.importorskip("rl_zoo3")
    argv = [models.get(arg, arg) for arg in argv]
    result = subprocess.run(
        [sys.executable, "-m", module, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert message in result.stderr


def test_python_m_with_debug_shows_the_traceback(tmp_path, models):
    result = subprocess.run(
        [sys.executable, "-m", "reinforce_sb3.analysis.diagnostics", "--model", models["garbage"], "--debug"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1  # Python's own status for an uncaught exception
    assert "Traceback (most recent call last)" in result.stderr and "ValueError" in result.stderr


# the old module paths: deprecated aliases of the new ones, until 0.3.0


@pytest.mark.parametrize(
    ("alias", "new", "argv", "error"),
    [
        ("reinforce_sb3.diagnostics", "reinforce_sb3.analysis.diagnostics", ["--n-batches", "1"], "argument --n-batc"),
        ("reinforce_sb3.plots", "reinforce_sb3.analysis.plots", ["pie"], "argument picture: invalid choice: 'pie'"),
        ("reinforce_sb3.train", "reinforce_sb3.zoo.train", [*PGTOY, "--hyperparams", "gamma:"], "ValueError: --hyp"),
        ("reinforce_sb3.enjoy", "reinforce_sb3.zoo.enjoy", [*PGTOY, "--device", "tpu"], "ValueError: --device must"),
        ("reinforce_sb3.record_video", "reinforce_sb3.zoo.record_video", [*PGTOY, "--exp-id", "x"], "--exp-id: inv"),
    ],
)
def test_each_deprecated_alias_warns_and_still_works(tmp_path, monkeypatch, alias, new, argv, error):
    """Imported, the alias is the new module; run with python -m, it is the new tool; both warn, naming the new path
    and the release that removes the alias."""
    import importlib

    import reinforce_sb3

    if "zoo" in new:
        pytest.importorskip("rl_zoo3")
    for names, name in ((sys.modules, alias), (vars(reinforce_sb3), alias.rsplit(".", 1)[1])):
        monkeypatch.setitem(names, name, None)  # so that the import below is undone after the test
        monkeypatch.delitem(names, name)  # imported afresh
    removed = r"is deprecated and will be removed in 0\.3\.0: "
    with pytest.warns(DeprecationWarning, match=rf"^{re.escape(alias)} {removed}import {re.escape(new)}$"):
        module = importlib.import_module(alias)
    assert module is importlib.import_module(new)

    result = subprocess.run(
        [sys.executable, "-m", alias, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert re.search(rf"DeprecationWarning: python -m {re.escape(alias)} {removed}use python -m {re.escape(new)}\n",
                     result.stderr), result.stderr[-2000:]  # fmt: skip
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"python -m {new}: error: ") and error in last, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
