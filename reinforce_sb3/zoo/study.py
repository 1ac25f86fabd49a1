"""What a multi-seed study is made of: its options, the robust score of a trial, and its storage.

See :mod:`reinforce_sb3.zoo.tuning` for the experiment manager that runs such studies.
"""

from __future__ import annotations

import datetime
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import sqlalchemy.exc
import sqlalchemy.orm
from optuna.storages import BaseStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._rdb import models  # the tables, to find running trials without a heartbeat
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

EVAL_SEED_OFFSET = 10_000  # evaluation envs of training seed s are seeded with s + this
SCORES = ("final", "curve")
SETTINGS_ATTRIBUTE = "tuning"  # a study user attribute: the trial seeds, score and evaluation every worker uses
STOP_ATTRIBUTE = "stop_workers"  # a study user attribute: when true, every worker stops after its current trial
SCHEMA_ATTEMPTS = 5  # tries to open a database whose tables other workers may be creating
COUNTED_STATES = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED)  # as the zoo counts --max-total-trials


@dataclass(frozen=True)
class TuningOptions:
    """
    The options of our wrapper for ``-optimize``, beside the zoo's own.

    :param n_seeds: training seeds per trial
    :param first_seed: every trial trains with the seeds ``first_seed .. first_seed + n_seeds - 1`` (the zoo's
        ``--seed`` still seeds the sampler, so workers sharing a study should each have their own ``--seed``)
    :param heartbeat_interval: seconds between a running trial's heartbeats in a database storage; a trial
        without a heartbeat for twice as long is marked FAIL. 0: no heartbeat (a dead worker's trial stays RUNNING)
    :param trial_retries: how many times the parameters of a trial whose worker died are queued again
    :param score: a seed's score: "final", the evaluation of its final policy, or "curve", the mean of its
        ``n_evaluations`` evaluations (the area under its learning curve, which rewards learning fast and staying good)
    :param stochastic_eval: evaluate episodes with sampled actions, as the policy acts (the zoo plays the most
        likely actions, except on Atari and MiniGrid); the tree game's exact return is always the stochastic policy's
    """

    n_seeds: int = 3
    first_seed: int = 0
    heartbeat_interval: int = 60
    trial_retries: int = 1
    score: str = "final"
    stochastic_eval: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.stochastic_eval, bool):
            raise ValueError(f"--stochastic-eval must be True or False, got {self.stochastic_eval!r}")
        if self.score not in SCORES:
            raise ValueError(f"--score must be one of {', '.join(SCORES)}, got {self.score!r}")
        for name, low in (("n_seeds", 1), ("first_seed", 0), ("heartbeat_interval", 0), ("trial_retries", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"--{name.replace('_', '-')} must be an integer >= {low}, got {value!r}")

    @property
    def seeds(self) -> list[int]:
        """The training seeds of every trial."""
        return list(range(self.first_seed, self.first_seed + self.n_seeds))


def robust_score(scores: Sequence[float]) -> float:
    """
    The mean of ``scores`` minus one standard error of that mean, ``mean - std / sqrt(n)`` (``std`` with ``n - 1``).

    A setting that only some seeds solve scores below one that every seed solves a little worse.
    With one score, the score itself.
    """
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"scores must be a non-empty sequence of numbers, got {scores!r}")
    if len(values) == 1:
        return float(values[0])
    return float(values.mean() - values.std(ddof=1) / np.sqrt(len(values)))


def make_storage(storage: str | None, heartbeat_interval: int, trial_retries: int) -> str | BaseStorage | None:
    """
    Optuna's storage for ``--storage``: None (in memory), a journal file (``*.log``) or a database URL.

    A database gets heartbeats every ``heartbeat_interval`` seconds (none for 0), a grace period of
    twice that, and ``trial_retries`` retries of a trial whose worker died. Connections are checked
    before use (``pool_pre_ping``), as a worker may wait long between two trials.
    """
    if storage is None:
        return None
    if storage.endswith(".log"):
        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(storage))
    if "://" not in storage:
        raise ValueError(
            f"--storage must be a database URL such as sqlite:///study.db or postgresql+psycopg://user@host/db, "
            f"or a journal file ending in .log, got {storage!r}"
        )
    engine_kwargs = {} if storage.startswith("sqlite") else {"pool_pre_ping": True}
    if heartbeat_interval == 0:
        return _rdb_storage(storage, engine_kwargs=engine_kwargs)
    with warnings.catch_warnings():  # heartbeats are "experimental" in optuna 5; we rely on them deliberately
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=trial_retries) if trial_retries else None
        return _rdb_storage(
            storage,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            heartbeat_stale_trial_callback=retry,
        )


class HeartbeatFromStartStorage(RDBStorage):
    """
    Optuna's RDB storage, whose stale-trial check also fails a trial that never got a heartbeat.

    Optuna counts a running trial as stale once its last heartbeat is older than the grace period,
    but a worker records the first heartbeat from a thread it starts after the trial is RUNNING: a
    worker killed in between leaves a trial with no heartbeat, which optuna never fails nor retries.
    This storage notes, by the database's clock, when it first sees a running trial without a
    heartbeat, and counts it as stale once it has stayed without one for the grace period (a live
    worker records its first heartbeat within milliseconds).
    """

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._first_seen_without_heartbeat: dict[int, datetime.datetime] = {}

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        stale = super()._get_stale_trial_ids(study_id)
        assert self.heartbeat_interval is not None  # only called with heartbeats on
        grace = datetime.timedelta(seconds=self.grace_period or 2 * self.heartbeat_interval)
        with _create_scoped_session(self.scoped_session) as session:
            database_now = session.execute(sqlalchemy.func.now()).scalar()
            assert database_now is not None
            now = database_now.replace(tzinfo=None)  # as optuna does: PostgreSQL's now() has a time zone
            running = (
                session.query(models.TrialModel)
                .options(sqlalchemy.orm.selectinload(models.TrialModel.heartbeats))
                .filter(models.TrialModel.state == TrialState.RUNNING, models.TrialModel.study_id == study_id)
                .all()
            )
            without_heartbeat: set[int] = {int(trial.trial_id) for trial in running if not trial.heartbeats}
        seen = self._first_seen_without_heartbeat
        for trial_id in set(seen) - without_heartbeat:
            del seen[trial_id]
        for trial_id in sorted(without_heartbeat):
            if now - seen.setdefault(trial_id, now) > grace:
                stale.append(trial_id)
        return stale


def _rdb_storage(url: str, **kwargs: Any) -> RDBStorage:
    """
    ``RDBStorage(url, **kwargs)``, retried while other workers are creating optuna's tables.

    Workers started together on an empty database all try to create the tables, and all but one
    fail ("duplicate key value violates unique constraint", "relation already exists": optuna
    issue #1092, whose advice is to create the study first); a worker that loses the race waits a
    moment and connects to the tables the winner made.
    """
    for _ in range(SCHEMA_ATTEMPTS - 1):
        try:
            return HeartbeatFromStartStorage(url, **kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):
            time.sleep(0.2 + random.random())
    return HeartbeatFromStartStorage(url, **kwargs)


def stop_when_asked(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """
    After each trial: stop this worker if the study's user attribute ``stop_workers`` is true.

    Every worker of a shared study, on every machine, then stops after its current trial and
    writes its report: ``optuna.load_study(study_name=..., storage=...).set_user_attr("stop_workers", True)``.
    """
    if study.user_attrs.get(STOP_ATTRIBUTE):
        study.stop()
