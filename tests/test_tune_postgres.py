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
import sqlalchemy
from optuna.trial import TrialState

from reinforce_sb3.zoo import postgres
from reinforce_sb3.zoo.study import make_storage
from tests.waiting import cpu_ticks, tail, wait_for_exit, wait_until

# No wall-clock deadline: every wait below goes on while the trials change or the processes use CPU
# time (tests/waiting.py), and a wait for something that should already have happened fails on
# the trials it saw, not on a clock.
HEARTBEAT = 1  # seconds between heartbeats of the workers
GRACE = 2 * HEARTBEAT  # a running trial without a heartbeat for longer is stale (make_storage)
KILL_ATTEMPTS = 3  # workers killed until one dies mid-trial (one killed between two trials leaves none running)
MAX_TRIALS_BEFORE_KILL = 20  # finished trials of a worker never seen running one: something is wrong


@pytest.fixture(scope="module")
def database():
    reason = postgres.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with postgres.throwaway_server() as url:
        yield url


class Workers:
    """Zoo worker processes of the study "shared", each with its folder, output file and database connection name."""

    def __init__(self, url, folder):
        self.url, self.folder = url, folder
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name, seed):
        """A worker of tiny PGToy-v0 trials (2 seeds x 300 steps), heartbeat every second."""
        folder = self.folder / name
        folder.mkdir()
        url = f"{self.url}?application_name=worker-{name}"  # its connections, as pg_stat_activity shows them
        command = [
            sys.executable, "-m", "reinforce_sb3.zoo.train", "--algo", "reinforce", "--env", "PGToy-v0", "-optimize",
            "-n", "300", "--n-evaluations", "2", "--n-seeds", "2", "--pruner", "none", "--n-trials", "500",
            "--storage", url, "--study-name", "shared", "--seed", str(seed), "--heartbeat-interval", str(HEARTBEAT),
            "--no-optim-plots", "-f", "logs", "--verbose", "0",
        ]  # fmt: skip
        with (folder / "output.txt").open("w") as log:
            process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, text=True)
        self.processes[name] = process
        return process

    def running(self):
        return [process for process in self.processes.values() if process.poll() is None]

    def cpu(self):
        return cpu_ticks(process.pid for process in self.running())

    def describe(self):
        return "\n".join(
            f"worker {name} (pid {process.pid}): "
            + ("running" if process.poll() is None else f"exited with status {process.returncode}")
            + f", output ends:\n{tail(self.folder / name / 'output.txt', 1500)}"
            for name, process in self.processes.items()
        )

    def stop_all(self):
        for process in self.running():
            process.kill()
            process.wait()


class Study:
    """What the test sees of the study "shared": its trials, read through one storage, and the workers' connections."""

    def __init__(self, url, workers):
        self.storage = make_storage(url, heartbeat_interval=0, trial_retries=0)  # retried while workers make tables
        self.engine = sqlalchemy.create_engine(url)
        self.workers = workers

    def trials(self):
        try:
            study_id = self.storage.get_study_id_from_name("shared")
        except KeyError:  # no worker has created it yet
            return []
        return self.storage.get_all_trials(study_id, deepcopy=False)

    def connections(self, name):
        """How many connections the worker ``name`` holds to the database."""
        with self.engine.connect() as connection:
            query = sqlalchemy.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
            return connection.execute(query, {"name": f"worker-{name}"}).scalar_one()

    def describe(self, trials=None):
        trials = self.trials() if trials is None else trials
        lines = [
            f"  #{t.number} {t.state.name} by {t.user_attrs.get('worker', '?')}, started {t.datetime_start:%H:%M:%S.%f}"
            + (f", ended {t.datetime_complete:%H:%M:%S.%f}" if t.datetime_complete else "")
            + (f", retry of #{t.system_attrs['failed_trial']}" if "failed_trial" in t.system_attrs else "")
            for t in trials[-40:]
        ]
        return "trials (the last 40):\n" + "\n".join(lines) + "\n" + self.workers.describe()

    def until(self, waiting_for, condition, alive):
        """Wait until ``condition(trials)`` is true, failing at once if one of the processes ``alive`` exits."""

        def check():
            for process in alive:
                if process.poll() is not None:
                    pytest.fail(f"worker {process.pid} exited while waiting for {waiting_for}\n{self.describe()}")
            return condition(self.trials())

        return wait_until(
            check,
            waiting_for=waiting_for,
            progress=lambda: ([(t.number, t.state) for t in self.trials()], self.workers.cpu()),
            describe=self.describe,
        )


def by(pid, trials, *states):
    return [
        t for t in trials if t.user_attrs.get("worker", "").endswith(f":{pid}") and (not states or t.state in states)
    ]


def start(trial):
    return trial.datetime_start.timestamp()


def kill_a_worker_mid_trial(study, workers, b):
    """
    Start a worker A; once A and B have each completed a trial, kill A while it runs another.

    Return A's trial that was running when it died and the time of the kill. A trial of A seen
    running may end before the signal lands: then A (killed between two trials) left none, and
    another A is started.
    """
    seen = []
    for attempt in range(1, KILL_ATTEMPTS + 1):
        name = f"a{attempt}"
        a = workers.start(name, seed=2 * attempt - 1)

        def a_runs_a_trial(trials, a=a):
            if len(by(a.pid, trials, TrialState.COMPLETE, TrialState.PRUNED)) > MAX_TRIALS_BEFORE_KILL:
                pytest.fail(f"worker {a.pid} finished {MAX_TRIALS_BEFORE_KILL} trials, never seen running one")
            return (
                by(a.pid, trials, TrialState.COMPLETE)
                and by(b.pid, trials, TrialState.COMPLETE)
                and by(a.pid, trials, TrialState.RUNNING)
            )

        study.until(
            f"workers {a.pid} and {b.pid} to complete a trial each, and {a.pid} to run one", a_runs_a_trial, [a, b]
        )
        assert study.connections(name) > 0, f"no connection of worker {name} seen in pg_stat_activity"
        killed_at = time.time()
        a.send_signal(signal.SIGKILL)
        wait_for_exit(a, what=f"worker {a.pid}, killed", describe=workers.describe)
        # Its connections close once the server has run what they had sent (a trial's end, say): only
        # then are A's trials as A left them.
        wait_until(
            lambda name=name: study.connections(name) == 0,
            waiting_for=f"the connections of the killed worker {a.pid} to close",
            progress=lambda name=name: study.connections(name),
            describe=study.describe,
        )
        last = max(by(a.pid, study.trials()), key=lambda t: t.number)
        if last.state in (TrialState.RUNNING, TrialState.FAIL):  # FAIL: B has already found it stale
            return last, killed_at
        seen.append(f"worker {a.pid} died between two trials (its last, #{last.number}, is {last.state.name})")
    pytest.fail(f"no worker of {KILL_ATTEMPTS} was killed mid-trial: {'; '.join(seen)}\n{study.describe()}")


def stale_check_after_grace(b_trials, killed_at):
    """
    A trial that B started after a check for stale trials that must have found the dead one, or None.

    B checks just before it starts a trial. The check before the second trial B started after the
    kill came after the first had ended, and saw the dead trial: its last heartbeat, or the moment
    B first saw it without one, is earlier than that second start. So a check made after a B trial
    ended more than the grace period (plus a second for the clocks) after that second start, that
    is the check of any trial B started after that end, found the dead trial stale.
    """
    started = sorted((t for t in b_trials if start(t) > killed_at), key=start)
    if len(started) < 2:
        return None
    late_ends = [
        t.datetime_complete.timestamp()
        for t in started
        if t.datetime_complete is not None and t.datetime_complete.timestamp() > start(started[1]) + GRACE + 1
    ]
    after = [t for t in started if late_ends and start(t) > min(late_ends)]
    return after[0] if after else None


def test_two_workers_share_a_study_and_a_killed_worker_loses_nothing(database, tmp_path):
    workers = Workers(database, tmp_path)
    study = Study(database, workers)
    b = workers.start("b", seed=2)
    try:
        # Both contribute trials; then A is killed while it runs one.
        dead, killed_at = kill_a_worker_mid_trial(study, workers, b)

        # B marks the dead trial FAIL once its heartbeat is 2 s old (or, killed before its first heartbeat, once it has
        # been 2 s without one), runs its parameters again and goes on.
        def retried(trials):
            now = {t.number: t for t in trials}
            state = now[dead.number].state
            b_trials = by(b.pid, trials)
            if state == TrialState.RUNNING:
                late = stale_check_after_grace(b_trials, killed_at)
                if late is not None:
                    pytest.fail(f"B started #{late.number} after a check that must have failed #{dead.number}, which "
                                f"is still RUNNING\n{study.describe(trials)}")  # fmt: skip
                return None
            if state != TrialState.FAIL:
                pytest.fail(f"the dead trial #{dead.number} became {state.name}\n{study.describe(trials)}")
            retries = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
            if not retries:
                # B queues the retry before it starts its next trial
                failed_at = now[dead.number].datetime_complete.timestamp()
                if any(start(t) > failed_at + 1 for t in b_trials):
                    pytest.fail(f"#{dead.number} failed but not queued again\n{study.describe(trials)}")
                return None
            if retries[0].state.is_finished() and retries[0].state != TrialState.COMPLETE:
                pytest.fail(f"the retry of #{dead.number} ended {retries[0].state.name}\n{study.describe(trials)}")
            return trials if retries[0].state == TrialState.COMPLETE else None

        study.until(f"worker {b.pid} to fail the dead trial #{dead.number} and complete its retry", retried, [b])
        # Every worker stops after its current trial when the study asks, and writes the zoo's report.
        study.storage.set_study_user_attr(study.storage.get_study_id_from_name("shared"), "stop_workers", True)
        status = wait_for_exit(b, what=f"worker {b.pid}, asked to stop", describe=study.describe)
        assert status == 0, study.describe()
    finally:
        workers.stop_all()
        study.engine.dispose()
    trials = study.trials()
    retried_trial = next(t for t in trials if t.system_attrs.get("failed_trial") == dead.number)
    assert retried_trial.params == dead.params
    assert retried_trial.user_attrs["worker"].endswith(f":{b.pid}")
    assert len(retried_trial.user_attrs["seed_scores"]) == 2
    # The killed workers' finished trials are all still there, with their values.
    killed = [process.pid for name, process in workers.processes.items() if name != "b"]
    assert all(t.value is not None for pid in killed for t in by(pid, trials, TrialState.COMPLETE))
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
        status = wait_for_exit(process, what="the server command, sent SIGTERM")
        assert status == 0, process.stderr.read()
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


def test_workers_started_together_on_an_empty_database_all_connect(database, tmp_path):
    """optuna issue #1092: workers racing to create optuna's tables on a new database; the losers retry."""
    engine = sqlalchemy.create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("CREATE DATABASE race"))
    engine.dispose()
    url = database.rsplit("/", 1)[0] + "/race"
    go = tmp_path / "go"
    # every process imports first and says so; once all have, they open the storage at once
    code = (
        "import pathlib, sys, time, optuna; from reinforce_sb3.zoo.study import make_storage; "
        f"pathlib.Path(sys.argv[1]).touch(); go = pathlib.Path({str(go)!r})\n"
        "while not go.exists(): time.sleep(0.005)\n"
        f"storage = make_storage({url!r}, heartbeat_interval=60, trial_retries=1); "
        "optuna.create_study(study_name='race', storage=storage, load_if_exists=True)"
    )
    processes = []
    for i in range(4):
        with (tmp_path / f"stderr-{i}.txt").open("w") as stderr:
            processes.append(
                subprocess.Popen([sys.executable, "-c", code, str(tmp_path / f"ready-{i}")], stderr=stderr)
            )

    def describe():
        return "\n".join(
            f"process {i}: " + ("running" if p.poll() is None else f"exit status {p.returncode}")
            + f", stderr ends:\n{tail(tmp_path / f'stderr-{i}.txt')}"
            for i, p in enumerate(processes)
        )  # fmt: skip

    def moving():
        return cpu_ticks(p.pid for p in processes), [p.poll() for p in processes]

    def all_ready():
        if any(p.poll() is not None for p in processes):
            pytest.fail(f"a process exited before the start\n{describe()}")
        return all((tmp_path / f"ready-{i}").exists() for i in range(4))

    wait_until(all_ready, waiting_for="the four processes to import", progress=moving, describe=describe)
    go.touch()
    wait_until(
        lambda: all(p.poll() is not None for p in processes),
        waiting_for="the four processes to open the storage",
        progress=moving,
        describe=describe,
    )
    assert [p.returncode for p in processes] == [0] * 4, describe()
    assert optuna.get_all_study_names(storage=url) == ["race"]
