"""One optuna study on a real PostgreSQL server, shared by two zoo worker processes, one of which is killed mid-trial.

The server is a throwaway one on loopback (``reinforce_sb3.zoo.postgres``); the test is skipped,
saying why, where PostgreSQL or psycopg is missing.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("rl_zoo3")
pytest.importorskip(
    "psycopg", reason="the PostgreSQL driver comes with the tune extra: pip install 'reinforce-sb3[tune]'"
)
pytest.importorskip("optuna")

import optuna
from optuna.trial import TrialState

from reinforce_sb3.zoo import postgres

TIMEOUT = 90  # seconds for the whole scenario; it takes about 20 on two busy cores


@pytest.fixture(scope="module")
def database():
    reason = postgres.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with postgres.throwaway_server() as url:
        yield url


def worker(url, seed, folder):
    """A zoo worker on the study "shared": tiny PGToy-v0 trials (2 seeds x 300 steps), heartbeat every second."""
    folder.mkdir()
    command = [
        sys.executable, "-m", "reinforce_sb3.zoo.train", "--algo", "reinforce", "--env", "PGToy-v0", "-optimize",
        "-n", "300", "--n-evaluations", "2", "--n-seeds", "2", "--pruner", "none", "--n-trials", "500",
        "--storage", url, "--study-name", "shared", "--seed", str(seed), "--heartbeat-interval", "1",
        "--no-optim-plots", "-f", "logs", "--verbose", "0",
    ]  # fmt: skip
    log = (folder / "output.txt").open("w")
    return subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, text=True)


def trials_until(url, condition, deadline, processes):
    """Poll the study until ``condition(trials)`` holds; fail at the deadline or if a worker exits early."""
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"worker {process.pid} exited early with status {process.returncode}"
        try:
            trials = optuna.load_study(study_name="shared", storage=url).get_trials(deepcopy=False)
        except KeyError:  # the study is not created yet
            trials = []
        if condition(trials):
            return trials
        time.sleep(0.2)
    pytest.fail(f"timed out after {TIMEOUT} s waiting for the study")


def by(pid, trials, state):
    return [t for t in trials if t.user_attrs.get("worker", "").endswith(f":{pid}") and t.state == state]


def test_two_workers_share_a_study_and_a_killed_worker_loses_nothing(database, tmp_path):
    deadline = time.monotonic() + TIMEOUT
    a, b = worker(database, 1, tmp_path / "a"), worker(database, 2, tmp_path / "b")
    try:
        # Both contribute trials; then A is killed while it runs one.
        trials = trials_until(
            database,
            lambda ts: by(a.pid, ts, TrialState.COMPLETE) and by(b.pid, ts, TrialState.COMPLETE)
            and by(a.pid, ts, TrialState.RUNNING),
            deadline,
            [a, b],
        )  # fmt: skip
        a.send_signal(signal.SIGKILL)
        killed_at = time.time()
        a.wait()
        running = by(a.pid, trials, TrialState.RUNNING)[0]
        # B marks the dead trial FAIL once its heartbeat is 2 s old, runs its parameters again and goes on.
        trials = trials_until(
            database,
            lambda ts: ts[running.number].state == TrialState.FAIL
            and any(t.system_attrs.get("failed_trial") == running.number and t.state == TrialState.COMPLETE for t in ts)
            and any(t.datetime_start.timestamp() > killed_at for t in by(b.pid, ts, TrialState.COMPLETE)),
            deadline,
            [b],
        )  # fmt: skip
        # Every worker stops after its current trial when the study asks, and writes the zoo's report.
        optuna.load_study(study_name="shared", storage=database).set_user_attr("stop_workers", True)
        assert b.wait(timeout=60) == 0, (tmp_path / "b" / "output.txt").read_text()[-3000:]
    finally:
        for process in (a, b):
            if process.poll() is None:
                process.kill()
    retried = next(t for t in trials if t.system_attrs.get("failed_trial") == running.number)
    assert retried.params == running.params
    assert retried.user_attrs["worker"].endswith(f":{b.pid}")
    assert len(retried.user_attrs["seed_scores"]) == 2
    # A's finished trials are all still there, with their values.
    assert all(t.value is not None for t in by(a.pid, trials, TrialState.COMPLETE))
    assert os.path.getsize(next((tmp_path / "b" / "logs" / "reinforce").glob("report_PGToy-v0_*.csv"))) > 0
