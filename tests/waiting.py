"""
Waiting in tests for events instead of fixed deadlines: a wait gives up only once nothing has moved for a while.

On a loaded machine every step is slower but keeps moving, and a fixed deadline fails such a test
for nothing. A wait here polls its condition and restarts its clock at every sign of progress (a
trial that changes state, a process that uses CPU time), so it fails only a test that is stuck,
and its message says what it waited for, how long, and what it saw.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

PATIENCE = 120.0  # seconds without any progress before a wait gives up
POLL = 0.2  # seconds between two looks at the condition


def cpu_ticks(pids: Iterable[int]) -> int:
    """
    The CPU time, in clock ticks, used so far by the processes ``pids`` and all their descendants.

    It counts the children they have already reaped too; processes that are gone count 0. Read
    from ``/proc`` (Linux); 0 where there is none.
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (command) "; fields[0] is field 3 of proc(5)
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    total, family = 0, set(pids)
    while family:
        total += sum(ticks.get(pid, 0) for pid in family)
        family = {pid for pid, parent in parents.items() if parent in family}
    return total


def wait_until(
    condition: Callable[[], T],
    *,
    waiting_for: str,
    progress: Callable[[], Hashable],
    describe: Callable[[], str],
    patience: float = PATIENCE,
) -> T:
    """
    Poll ``condition()`` until it returns a true value, and return that value.

    :param condition: what is awaited; it may call ``pytest.fail`` itself on a state that cannot lead there
    :param waiting_for: what is awaited, in words, for the failure message
    :param progress: any value that changes while things move (states of trials, CPU ticks): each change
        restarts the clock
    :param describe: what the failure message shows of the situation
    :param patience: seconds without any change of ``progress()`` before the test fails
    """
    if patience <= 0:
        raise ValueError(f"patience must be a positive number of seconds, got {patience!r}")
    started = last_move = time.monotonic()
    seen = progress()
    while True:
        result = condition()
        if result:
            return result
        now = progress()
        if now != seen:
            seen, last_move = now, time.monotonic()
        elif time.monotonic() - last_move > patience:
            pytest.fail(
                f"waited {time.monotonic() - started:.0f} s for {waiting_for}, and nothing moved in the last "
                f"{patience:.0f} s:\n{describe()}"
            )
        time.sleep(POLL)


def wait_for_exit(
    process: subprocess.Popen[str],
    *,
    what: str,
    describe: Callable[[], str] = lambda: "",
    patience: float = PATIENCE,
) -> int:
    """Wait until ``process`` exits, for as long as it or its children keep using CPU time; its exit status."""
    wait_until(
        lambda: process.poll() is not None,
        waiting_for=f"{what} (pid {process.pid}) to exit",
        progress=lambda: cpu_ticks([process.pid]),
        describe=describe,
        patience=patience,
    )
    return int(process.returncode)


def tail(path: Path, size: int = 2000) -> str:
    """The last ``size`` characters of the text file ``path`` (nothing if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return text[-size:]
