"""Multi-seed optuna studies of the zoo wrapper (reinforce_sb3.zoo.tuning): objective, pruning, storage, options."""

import math

import numpy as np
import pytest

pytest.importorskip("rl_zoo3")
pytest.importorskip("optuna")

import optuna
import rl_zoo3.exp_manager
from optuna.storages import JournalStorage, RDBStorage

from gym_pgtoy import exact
from reinforce_sb3 import REINFORCE
from reinforce_sb3.zoo import cli, run, split_tuning_options, zoo_experiment_manager
from reinforce_sb3.zoo.study import TuningOptions, make_storage, robust_score
from reinforce_sb3.zoo.tuning import MultiSeedExperimentManager


def test_robust_score_is_the_mean_minus_one_standard_error():
    # mean 12, sample standard deviation 2, standard error 2 / sqrt(3)
    assert robust_score([10.0, 12.0, 14.0]) == pytest.approx(12 - 2 / math.sqrt(3))
    assert robust_score([7.5]) == 7.5
    assert robust_score([5.0, 5.0]) == 5.0
    # one seed that fails costs more than every seed a little worse
    assert robust_score([500.0, 500.0, 100.0]) < robust_score([400.0, 400.0, 400.0])
    with pytest.raises(ValueError, match="non-empty"):
        robust_score([])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_seeds": 0}, "--n-seeds must be an integer >= 1, got 0"),
        ({"first_seed": -1}, "--first-seed must be an integer >= 0"),
        ({"heartbeat_interval": 1.5}, "--heartbeat-interval must be an integer >= 0"),
        ({"trial_retries": True}, "--trial-retries must be an integer >= 0"),
        ({"score": "best"}, "--score must be one of final, curve, got 'best'"),
        ({"stochastic_eval": 1}, "--stochastic-eval must be True or False, got 1"),
    ],
)
def test_bad_tuning_options(options, message):
    with pytest.raises(ValueError, match=message):
        TuningOptions(**options)


def test_tuning_options_are_taken_out_of_the_zoo_arguments():
    argv = ["--algo", "reinforce", "-n", "300", "--n-seeds", "2", "--eval-freq", "-1", "--score=curve", "-optimize"]
    options, rest = split_tuning_options([*argv, "--stochastic-eval"])
    assert options == TuningOptions(n_seeds=2, score="curve", stochastic_eval=True) and options.seeds == [0, 1]
    assert rest == ["--algo", "reinforce", "-n", "300", "--eval-freq", "-1", "-optimize"]
    assert TuningOptions(n_seeds=3, first_seed=10).seeds == [10, 11, 12]
    with pytest.raises(ValueError, match="--n-seeds, --first-seed only apply to hyperparameter studies: add -optimize"):
        split_tuning_options(["--algo", "reinforce", "--n-seeds", "2", "--first-seed", "4"])


def test_a_bad_tuning_option_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli("train", argv=["--algo", "reinforce", "--env", "PGToy-v0", "-optimize", "--n-seeds", "0"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "argument --n-seeds: must be an integer >= 1, got '0'" in error


def test_the_zoo_gets_its_own_class_back():
    original = rl_zoo3.exp_manager.ExperimentManager
    with pytest.raises(RuntimeError), zoo_experiment_manager(TuningOptions(n_seeds=5)):
        manager = rl_zoo3.exp_manager.ExperimentManager
        assert issubclass(manager, MultiSeedExperimentManager) and manager.tuning.n_seeds == 5
        raise RuntimeError
    assert rl_zoo3.exp_manager.ExperimentManager is original


def test_storages(tmp_path):
    assert make_storage(None, 60, 1) is None
    assert isinstance(make_storage(str(tmp_path / "journal" / "study.log"), 60, 1), JournalStorage)
    storage = make_storage(f"sqlite:///{tmp_path / 'study.db'}", 7, 2)
    assert isinstance(storage, RDBStorage) and storage.get_heartbeat_interval() == 7
    assert storage.get_heartbeat_stale_trial_callback() is not None
    assert make_storage(f"sqlite:///{tmp_path / 'study.db'}", 0, 2).get_heartbeat_interval() is None
    with pytest.raises(ValueError, match="--storage must be a database URL"):
        make_storage("study.db", 60, 1)


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed_and_retried(tmp_path):
    """Optuna alone never fails a running trial without a heartbeat: a worker killed just after starting one."""
    import time

    from optuna.distributions import FloatDistribution
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    study = optuna.create_study(storage=make_storage(f"sqlite:///{tmp_path / 'study.db'}", 1, 1), study_name="s")
    zombie = study.ask({"x": FloatDistribution(0, 1)})  # RUNNING, and its worker never beats: it died
    fail_stale_trials(study)  # seen for the first time
    assert study.trials[zombie.number].state == TrialState.RUNNING
    time.sleep(3.5)  # the grace period (twice the heartbeat interval) and SQLite now()'s whole seconds
    fail_stale_trials(study)
    failed, retry = study.get_trials(deepcopy=False)
    assert failed.state == TrialState.FAIL
    assert retry.state == TrialState.WAITING and retry.params == zombie.params
    assert retry.system_attrs["failed_trial"] == zombie.number


def optimize(folder, *args, seed=1, study="pgtoy"):
    """A tiny multi-seed study of PGToy-v0 in a SQLite file of ``folder``; the study."""
    storage = f"sqlite:///{folder / 'study.db'}"
    run(
        "train",
        [
            "--algo", "reinforce", "--env", "PGToy-v0", "-optimize", "-n", "400", "--n-evaluations", "2",
            "--pruner", "none", "--no-optim-plots", "-f", str(folder / "logs"), "--verbose", "0",
            "--storage", storage, "--study-name", study, "--seed", str(seed), *args,
        ],
    )  # fmt: skip
    return optuna.load_study(study_name=study, storage=storage)


def test_the_tree_game_objective_is_the_exact_return_of_every_seed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = optimize(
        tmp_path, "--n-trials", "2", "--n-seeds", "3", "--first-seed", "5", "--optimization-log-path", "opt"
    )
    assert study.user_attrs["tuning"] == {"trial_seeds": [5, 6, 7], "score": "final", "stochastic_eval": False}
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE and trial.user_attrs["seeds"] == [5, 6, 7]
        # each seed's score is the exact expected return of its final policy, saved by --optimization-log-path
        returns = [
            exact.expected_return("PGToy-v0", REINFORCE.load(tmp_path / "opt" / f"trial_{trial.number}" / f"seed_{s}"))
            for s in (5, 6, 7)
        ]
        assert trial.user_attrs["seed_scores"] == pytest.approx(returns)
        assert trial.value == pytest.approx(np.mean(returns) - np.std(returns, ddof=1) / np.sqrt(3))
        # two evaluations per seed, at steps 1-2 (seed 5), 3-4 (seed 6), 5-6 (seed 7); the last is the value
        assert sorted(trial.intermediate_values) == [1, 2, 3, 4, 5, 6]
        assert trial.intermediate_values[2] == pytest.approx(returns[0])
        assert trial.intermediate_values[6] == pytest.approx(trial.value)
    # trials are seeded: the same sampler seed gives the same parameters and the same scores
    again = optimize(tmp_path, "--n-trials", "1", "--n-seeds", "3", "--first-seed", "5", study="again")
    assert again.trials[0].params == study.trials[0].params
    assert again.trials[0].user_attrs["seed_scores"] == pytest.approx(study.trials[0].user_attrs["seed_scores"])


def test_the_curve_score_averages_a_seeds_evaluations(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trial = optimize(tmp_path, "--n-trials", "1", "--n-seeds", "2", "--score", "curve").trials[0]
    per_seed = [np.mean(trial.user_attrs[f"seed_{s}_evaluations"]) for s in (0, 1)]
    assert all(len(trial.user_attrs[f"seed_{s}_evaluations"]) == 2 for s in (0, 1))
    assert trial.user_attrs["seed_scores"] == pytest.approx(per_seed)
    assert trial.value == pytest.approx(min(per_seed))  # for two seeds, mean - standard error is the smaller


def test_a_worker_with_other_seeds_cannot_join_a_study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    optimize(tmp_path, "--n-trials", "1", "--n-seeds", "1")
    with pytest.raises(ValueError, match="give every worker the same --n-seeds, --first-seed, --score and --stoch"):
        optimize(tmp_path, "--n-trials", "1", "--n-seeds", "2", seed=2)


def test_a_worker_whose_settings_a_racing_first_worker_overwrote_records_no_trial(tmp_path, monkeypatch):
    """Two first workers both find the study without settings and write theirs: the earlier writer refuses."""
    monkeypatch.chdir(tmp_path)
    train_seed = MultiSeedExperimentManager._train_seed
    racing = {"trial_seeds": [0, 1], "score": "final", "stochastic_eval": False}

    def overwritten_while_training(self, trial, *args):
        trial.study.set_user_attr("tuning", racing)  # the other worker's write, from its read before ours
        return train_seed(self, trial, *args)

    monkeypatch.setattr(MultiSeedExperimentManager, "_train_seed", overwritten_while_training)
    with pytest.raises(ValueError, match=r"was run with \{'trial_seeds': \[0, 1\].*would use \{'trial_seeds': \[0\]"):
        optimize(tmp_path, "--n-trials", "1", "--n-seeds", "1")
    study = optuna.load_study(study_name="pgtoy", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.FAIL]
    assert study.user_attrs["tuning"] == racing


def test_a_cartpole_study_prunes_on_the_zoo_evaluation(tmp_path, monkeypatch):
    """Off the tree game a seed's score is the zoo's evaluation; the median pruner stops bad trials early."""
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    run(
        "train",
        [
            "--algo", "reinforce", "--env", "CartPole-v1", "-optimize", "-n", "1000", "--n-evaluations", "2",
            "--eval-episodes", "2", "--n-trials", "5", "--n-startup-trials", "2", "--n-seeds", "2",
            "--no-optim-plots", "-f", "logs", "--verbose", "0", "--storage", storage, "--study-name", "cp",
            "--seed", "3",
        ],
    )  # fmt: skip
    trials = optuna.load_study(study_name="cp", storage=storage).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(complete) + len(pruned) == 5 and pruned  # (the trials are seeded: the same ones every time)
    for trial in complete:
        assert sorted(trial.intermediate_values) == [1, 2, 3, 4] and len(trial.user_attrs["seed_scores"]) == 2
        assert all(1 <= value <= 500 for value in trial.intermediate_values.values())
    for trial in pruned:  # stopped below the median of the earlier completed trials at the same step
        step = max(trial.intermediate_values)
        earlier = [t.intermediate_values[step] for t in complete if t.number < trial.number]
        assert step < 4 and trial.intermediate_values[step] < np.median(earlier)


def test_a_study_can_ask_its_workers_to_stop(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    optimize(tmp_path, "--n-trials", "1", "--n-seeds", "1").set_user_attr("stop_workers", True)
    study = optimize(tmp_path, "--n-trials", "3", "--n-seeds", "1", seed=2)
    assert len(study.trials) == 1  # the second worker ran none
    assert "The study asks its workers to stop" in capsys.readouterr().out
    study.set_user_attr("stop_workers", False)
    assert len(optimize(tmp_path, "--n-trials", "2", "--n-seeds", "1", seed=3).trials) == 3


def test_a_late_worker_whose_trial_another_failed_goes_on_with_the_next(tmp_path, monkeypatch):
    """Another worker may fail a live trial whose heartbeat came late, and queue it again: this one keeps working."""
    from optuna.trial import TrialState

    monkeypatch.chdir(tmp_path)
    train_seed = MultiSeedExperimentManager._train_seed
    failed_by_another = []

    def train_seed_of_a_late_worker(self, trial, *args, **kwargs):
        if not failed_by_another:  # as fail_stale_trials in another worker does, while this one trains
            trial.study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            failed_by_another.append(trial.number)
        return train_seed(self, trial, *args, **kwargs)

    monkeypatch.setattr(MultiSeedExperimentManager, "_train_seed", train_seed_of_a_late_worker)
    study = optimize(tmp_path, "--n-trials", "2", "--n-seeds", "1")
    assert failed_by_another == [0]
    assert [trial.state for trial in study.trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert "seed_scores" not in study.trials[0].user_attrs  # its evaluation found the trial failed and stopped it
    assert list((tmp_path / "logs" / "reinforce").glob("report_PGToy-v0_*.csv"))  # the worker ended normally
