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
        # B marks the dead trial FAIL once its heartbeat is 2 s old (or, killed before its first heartbeat, once it has
        # been 2 s without one), runs its parameters again and goes on.
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


def test_command_line_server_prints_its_url_and_deletes_itself_on_sigterm():
    """``python -m reinforce_sb3.zoo.postgres``: one URL line on stdout, a working server, nothing left after kill."""
    reason = postgres.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    command = [sys.executable, "-m", "reinforce_sb3.zoo.postgres"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("postgresql+psycopg://postgres@127.0.0.1:"), process.stderr.read()
        study = optuna.create_study(study_name="cli", storage=url)
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
        assert len(optuna.load_study(study_name="cli", storage=url).trials) == 2
        port = int(url.rsplit(":", 1)[1].split("/")[0])
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    assert not any(
        f"-p {port} " in line
        for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    )


def test_command_line_help_starts_no_server_and_bad_input_is_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        postgres.main(["--help"])
    assert stop.value.code == 0
    assert "throwaway PostgreSQL server" in capsys.readouterr().out
    result = subprocess.run(
        [sys.executable, "-c", "import runpy, shutil, sys; shutil.which = lambda name: None; "
         "import glob; glob.glob = lambda pattern: []; sys.argv = ['x']; "
         "runpy.run_module('reinforce_sb3.zoo.postgres', run_name='__main__')"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m reinforce_sb3.zoo.postgres: error: RuntimeError: PostgreSQL's initdb is not installed "
        "(Debian: apt-get install postgresql)"
    ]
    result = subprocess.run([sys.executable, "-m", "reinforce_sb3.zoo.postgres", "--port", "5"], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 2 and "unrecognized arguments: --port 5" in result.stderr


def test_workers_started_together_on_an_empty_database_all_connect(database):
    """optuna issue #1092: workers racing to create optuna's tables on a new database; the losers retry."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("CREATE DATABASE race"))
    engine.dispose()
    url = database.rsplit("/", 1)[0] + "/race"
    start = time.time() + 3  # every process imports first, then they all open the storage at once
    code = (
        "import time, optuna; from reinforce_sb3.zoo.study import make_storage; "
        f"time.sleep(max(0, {start} - time.time())); "
        f"storage = make_storage({url!r}, heartbeat_interval=60, trial_retries=1); "
        "optuna.create_study(study_name='race', storage=storage, load_if_exists=True)"
    )
    processes = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [process.communicate(timeout=TIMEOUT)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, errors
    assert optuna.get_all_study_names(storage=url) == ["race"]
