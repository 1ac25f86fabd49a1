"""The RL Baselines3 Zoo wrappers: train, enjoy, record_video and optimize, with the zoo's flags and files."""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch as th
import yaml

pytest.importorskip("rl_zoo3")

from reinforce_sb3 import REINFORCE
from reinforce_sb3.zoo import HYPERPARAMS_FILE, convert_reinforce_params, run, sample_reinforce_params


def zoo(script, *args, cwd, check=True):
    """Run ``python -m reinforce_sb3.zoo.<script> *args`` in ``cwd``; return the completed process."""
    result = subprocess.run(
        [sys.executable, "-m", f"reinforce_sb3.zoo.{script}", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run of PGToy-v0 with evaluation, checkpoints and TensorBoard, shared by the tests."""
    folder = tmp_path_factory.mktemp("zoo")
    zoo(
        "train", "--algo", "reinforce", "--env", "PGToy-v0", "-n", 3000, "--seed", 0, "-f", "logs",
        "--eval-freq", 1000, "--eval-episodes", 5, "--save-freq", 1000, "--tensorboard-log", "tb", "--progress",
        cwd=folder,
    )  # fmt: skip
    return folder


def test_train_writes_the_zoo_files(trained):
    run = trained / "logs" / "reinforce" / "PGToy-v0_1"
    model = REINFORCE.load(run / "PGToy-v0.zip")
    assert model.num_timesteps >= 3000
    assert (run / "0.monitor.csv").read_text().count("\n") > 100  # one line per episode
    evaluations = np.load(run / "evaluations.npz")
    assert evaluations["timesteps"].tolist() == [1000, 2000, 3000]
    assert {p.name for p in run.glob("rl_model_*_steps.zip")} == {f"rl_model_{n}_steps.zip" for n in (1000, 2000, 3000)}
    assert (run / "best_model.zip").exists()
    config = yaml.unsafe_load((run / "PGToy-v0" / "config.yml").read_text())  # the zoo writes OrderedDicts
    assert dict(config)["n_episodes"] == 8  # from the shipped hyperparameter file
    assert any((trained / "tb").rglob("events.out.tfevents*"))


def test_enjoy(trained):
    args = ["--algo", "reinforce", "--env", "PGToy-v0", "-f", "logs", "--no-render", "-n", 100]
    result = zoo("enjoy", *args, cwd=trained)
    assert "Mean reward" in result.stdout


def test_record_video(trained):
    zoo("record_video", "--algo", "reinforce", "--env", "PGToy-v0", "-f", "logs", "-n", 30, cwd=trained)
    videos = list((trained / "logs" / "reinforce" / "PGToy-v0_1" / "videos").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 0


def test_continue_training_with_flags(trained):
    """-i continues from a saved agent; --hyperparams and --env-kwargs override the file."""
    zoo(
        "train", "--algo", "reinforce", "--env", "PGToy-v0", "-n", 500, "-f", "logs", "--eval-freq", -1,
        "-i", "logs/reinforce/PGToy-v0_1/PGToy-v0.zip", "--hyperparams", "n_episodes:4",
        "--env-kwargs", "slip_prob:0.0", cwd=trained,
    )  # fmt: skip
    run = trained / "logs" / "reinforce" / "PGToy-v0_2"
    model = REINFORCE.load(run / "PGToy-v0.zip")
    first = REINFORCE.load(trained / "logs" / "reinforce" / "PGToy-v0_1" / "PGToy-v0.zip")
    assert model._n_updates > first._n_updates  # the update count went on from the trained agent's
    assert model.num_timesteps >= 500  # (the zoo restarts the timestep count, for every algorithm)
    assert model.n_episodes == 4
    args = yaml.unsafe_load((run / "PGToy-v0" / "args.yml").read_text())
    assert dict(args)["env_kwargs"] == {"slip_prob": 0.0}


def test_optimize_with_the_reinforce_sampler(tmp_path):
    zoo(
        "train", "--algo", "reinforce", "--env", "CartPole-v1", "-optimize", "--n-trials", 2, "--n-jobs", 1,
        "-n", 2000, "--n-evaluations", 1, "--eval-episodes", 2, "--no-optim-plots", "-f", "logs", cwd=tmp_path,
    )  # fmt: skip
    reports = list((tmp_path / "logs" / "reinforce").glob("report_CartPole-v1_2-trials-2000-*.csv"))
    assert len(reports) == 1
    header = reports[0].read_text().splitlines()[0]
    for name in ("params_n_episodes", "params_learning_rate", "params_one_minus_gamma", "params_normalize_returns"):
        assert name in header


def test_a_time_aware_observation_and_bootstrapped_truncations_from_a_conf_file(tmp_path):
    """Gymnasium's TimeAwareObservation through the zoo's env_wrapper: the policy sees the time step beside the
    observation (flattened: PGToy-v0's one-hot cell and diamond, then the step, 0 to its limit of 3)."""
    entry = {"n_timesteps": 300, "policy": "MlpPolicy", "n_episodes": 4, "truncation": "bootstrap_mean",
             "env_wrapper": ["gymnasium.wrappers.TimeAwareObservation"]}  # fmt: skip
    (tmp_path / "time_aware.yml").write_text(yaml.safe_dump({"PGToy-v0": entry}))
    zoo("train", "--algo", "reinforce", "--env", "PGToy-v0", "--conf-file", "time_aware.yml", "-f", "logs",
        "--eval-freq", -1, "--seed", 0, cwd=tmp_path)  # fmt: skip
    model = REINFORCE.load(tmp_path / "logs" / "reinforce" / "PGToy-v0_1" / "PGToy-v0.zip")
    assert model.observation_space.shape == (7,) and model.observation_space.high[-1] == 3
    assert model.truncation == "bootstrap_mean" and model._n_updates > 0 and model.running_return_count > 0


def test_a2c_still_uses_the_zoo_hyperparameters(tmp_path):
    args = ["--algo", "a2c", "--env", "CartPole-v1", "-n", 200, "-f", "logs", "--eval-freq", -1]
    result = zoo("train", *args, cwd=tmp_path)
    assert "rl_zoo3/hyperparams/a2c.yml" in result.stdout


def test_sampler_gives_valid_reinforce_arguments():
    optuna = pytest.importorskip("optuna")
    from rl_zoo3.exp_manager import ExperimentManager

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: dict[str, set[object]] = {"baseline": set(), "lr_schedule": set(), "truncation": set(), "squash": set()}
    for index in range(16):
        n_actions = 2 if index % 3 == 0 else 0
        trial = study.ask()
        kwargs = sample_reinforce_params(trial, n_actions=n_actions, n_envs=4, additional_args={})
        assert kwargs["n_episodes"] >= 4 and 0.9 <= kwargs["gamma"] <= 1
        assert ("log_std_init" in kwargs["policy_kwargs"]) == (n_actions > 0)
        model = REINFORCE("MlpPolicy", "Pendulum-v1" if n_actions else "CartPole-v1", **kwargs)
        assert model.baseline == trial.params["baseline"]
        assert model.truncation == trial.params["truncation"]
        squash = trial.params.get("squash_output", False)
        assert model.policy.squash_output == squash and ("squash_output" in trial.params) == (n_actions > 0)
        # the squashed Gaussian has no entropy bonus (REINFORCE refuses one), so none is sampled for it
        assert ("ent_coef" in trial.params) != squash and model.ent_coef == trial.params.get("ent_coef", 0.0)
        seen["squash"].add(squash)
        seen["truncation"].add(trial.params["truncation"])
        betas = model.policy.optimizer.param_groups[0]["betas"]
        assert betas == (trial.params["adam_beta1"], trial.params["adam_beta2"])
        start, end = model.lr_schedule(1.0), model.lr_schedule(0.0)
        assert start == pytest.approx(trial.params["learning_rate"])
        assert end == (0.0 if trial.params["lr_schedule"] == "linear" else start)
        for name in ("baseline", "lr_schedule"):
            seen[name].add(trial.params[name])
    assert seen == {
        "baseline": {"none", "mean", "leave_one_out", "value"}, "lr_schedule": {"constant", "linear"},
        "truncation": {"end", "bootstrap_mean"}, "squash": {False, True},
    }  # fmt: skip
    converted = convert_reinforce_params(
        {"one_minus_gamma": 0.01, "net_arch": "small", "activation_fn": "relu", "learning_rate": 0.01}
    )
    assert converted["gamma"] == pytest.approx(0.99) and converted["policy_kwargs"]["net_arch"] == [64, 64]
    # a linear schedule in the zoo's own notation, so that loading a trial (--trial-id) makes the schedule
    linear = convert_reinforce_params(
        {"one_minus_gamma": 0.01, "net_arch": "wide", "activation_fn": "tanh", "learning_rate": 0.01,
         "lr_schedule": "linear", "adam_beta1": 0.5, "adam_beta2": 0.99}
    )  # fmt: skip
    assert linear["learning_rate"] == "lin_0.01" and linear["policy_kwargs"]["optimizer_kwargs"] == {
        "betas": (0.5, 0.99)
    }
    assert ExperimentManager._preprocess_schedules(dict(linear))["learning_rate"](0.5) == pytest.approx(0.005)


def test_shipped_hyperparameters_build_models():
    from rl_zoo3.exp_manager import ExperimentManager

    hyperparams = yaml.safe_load(HYPERPARAMS_FILE.read_text())
    mujoco = {
        "InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Hopper-v5", "Reacher-v5", "Swimmer-v5", "Walker2d-v5",
        "HalfCheetah-v5",
    }  # fmt: skip
    assert set(hyperparams) == {
        "PGToy-v0", "SlipperyHill-v0", "CartPole-v1", "Acrobot-v1", "LunarLander-v3", "Pendulum-v1",
        "LunarLanderContinuous-v3", *mujoco,
    }  # fmt: skip
    for env_id, entry in hyperparams.items():
        assert {"n_timesteps", "policy"} <= set(entry), env_id
        if env_id in mujoco and importlib.util.find_spec("mujoco") is None:
            continue  # the mujoco extra is not installed
        # the zoo's own keys (how many envs, VecNormalize's options) are not the algorithm's
        kwargs = {k: v for k, v in entry.items() if k not in ("n_timesteps", "policy", "n_envs", "normalize")}
        kwargs = ExperimentManager._preprocess_schedules(kwargs)  # "lin_0.01" -> a schedule, as the zoo does
        if "policy_kwargs" in kwargs:  # the zoo evaluates these strings with torch.nn as nn in scope
            kwargs["policy_kwargs"] = eval(kwargs["policy_kwargs"], {"nn": th.nn})
        REINFORCE(entry["policy"], env_id, **kwargs)


def test_run_raises_the_zoo_errors_for_python_callers(tmp_path, monkeypatch):
    """From Python, run() raises what the zoo raises (the command line makes it one line: tests/test_cli.py)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"^--hyperparams: n_episodes must be an integer .*, got 0$"):
        run("train", ["--algo", "reinforce", "--env", "PGToy-v0", "-f", "logs", "--hyperparams", "n_episodes:0"])
    assert not (tmp_path / "logs").exists()  # refused before the zoo made anything
    (tmp_path / "empty.yml").write_text("# nothing\n")
    with pytest.raises(ValueError, match=r"--conf-file empty\.yml must map env ids to hyperparameters"):
        run("train", ["--algo", "reinforce", "--env", "PGToy-v0", "--conf-file=empty.yml"])


def test_importing_reinforce_sb3_does_not_import_the_zoo():
    code = "import sys, reinforce_sb3; assert 'rl_zoo3' not in sys.modules and 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_progress_bar_is_the_default_output_on_a_terminal_only():
    from reinforce_sb3.zoo import with_default_config

    argv = ["--algo", "reinforce", "--env", "PGToy-v0"]
    assert "--progress" in with_default_config(argv, interactive=True)
    assert "--progress" not in with_default_config(argv, interactive=False)  # logs and CI: the zoo's own output
    for chosen in (["-P"], ["--verbose", "0"], ["--verbose=2"]):
        assert with_default_config([*argv, *chosen], interactive=True).count("--progress") == 0


PGTOY_TRAIN = ["--algo", "reinforce", "--env", "PGToy-v0", "-n", "100", "-f", "logs"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hyperparams", "gamma:"], "--hyperparams: gamma has no value after the colon (NAME:VALUE"),
        (
            ["-params", "policy_kwargs:dict(net_arch=["],
            "-params: the value of policy_kwargs, 'dict(net_arch=[', does not evaluate as Python (SyntaxError: ",
        ),
        (["--hyperparams", "gamme:0.5"], "--hyperparams: unknown hyperparameter 'gamme' of --algo reinforce (did you"),
        (["--hyperparams", "n_episodes:0"], "--hyperparams: n_episodes must be an integer in [1, 1_000_000], got 0"),
        (["--hyperparams", "gamma:2"], "--hyperparams: gamma must be a finite number in [0, 1], got 2"),
        (["--hyperparams", "normalize_returns:'yes'"], "--hyperparams: normalize_returns must be True or False, got"),
    ],
)
def test_option_errors_are_one_line_naming_the_option(tmp_path, argv, message):
    """A --hyperparams item without a value, with bad syntax, an unknown key or a bad value: one line on stderr
    naming the option, exit status 2, nothing made (more cases in-process: tests/test_cli.py)."""
    result = zoo("train", *PGTOY_TRAIN, *argv, cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.startswith("python -m reinforce_sb3.zoo.train: error: ValueError: ")
    assert message in result.stderr
    assert not (tmp_path / "logs").exists()


def test_dict_options_keep_the_zoo_meaning(tmp_path, monkeypatch):
    """Good items reach the zoo as its own StoreDict reads them (Python values, names in the zoo's scope), for
    --algo reinforce and for the zoo's algorithms, and the zoo's action is put back after the run."""
    import rl_zoo3.utils

    original = rl_zoo3.utils.StoreDict
    seen = {}

    def fake_main():  # the zoo's script, reduced to its parser
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--algo")
        parser.add_argument("-params", "--hyperparams", nargs="+", action=rl_zoo3.utils.StoreDict)
        parser.add_argument("--env-kwargs", nargs="+", action=rl_zoo3.utils.StoreDict)
        seen.update(vars(parser.parse_known_args()[0]))

    monkeypatch.setattr("runpy.run_module", lambda *args, **kwargs: fake_main())
    monkeypatch.chdir(tmp_path)
    argv = ["--algo", "reinforce", "--hyperparams", "policy_kwargs:dict(net_arch=[8])", "baseline:'value'",
            "learning_rate:'lin_0.01'", "--env-kwargs", "slip_prob:0.25", "label:'a:b'"]  # fmt: skip
    run("train", argv)
    assert seen["hyperparams"] == {"policy_kwargs": {"net_arch": [8]}, "baseline": "value", "learning_rate": "lin_0.01"}
    assert seen["env_kwargs"] == {"slip_prob": 0.25, "label": "a:b"}  # (only the first colon separates)
    run("enjoy", ["--algo", "a2c", "--hyperparams", "gamme:0.5", "n_steps:8"])  # other algos: the zoo's checks
    assert seen["hyperparams"] == {"gamme": 0.5, "n_steps": 8}
    assert rl_zoo3.utils.StoreDict is original


def test_a_conf_file_entry_is_checked_before_the_zoo_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    entry = yaml.safe_load(HYPERPARAMS_FILE.read_text())["CartPole-v1"]
    (tmp_path / "typo.yml").write_text(yaml.safe_dump({"CartPole-v1": {**entry, "ent_coeff": 0.01}}))
    with pytest.raises(ValueError, match=r"^--conf-file typo\.yml: CartPole-v1: unknown hyperparameter 'ent_coeff' "):
        run("train", ["--algo", "reinforce", "--env", "CartPole-v1", "--conf-file", "typo.yml"])
    (tmp_path / "lr.yml").write_text(yaml.safe_dump({"CartPole-v1": {**entry, "learning_rate": "lin_-1"}}))
    with pytest.raises(ValueError, match=r"^--conf-file lr\.yml: CartPole-v1: learning_rate must be a finite number"):
        run("train", ["--algo", "reinforce", "--env", "CartPole-v1", "--conf-file=lr.yml"])
    assert not (tmp_path / "logs").exists()


def test_mean_baseline_only_where_returns_are_not_standardised():
    """Standardising the weights subtracts their mean, so a batch-mean baseline beside it would do nothing."""
    for env_id, entry in yaml.safe_load(HYPERPARAMS_FILE.read_text()).items():
        normalized = entry.get("normalize_returns", True)  # REINFORCE's default
        assert not (normalized and entry.get("baseline") == "mean"), env_id
