"""A throwaway PostgreSQL server on loopback, for trying a shared study on one machine, the tests and the benchmarks.

:func:`throwaway_server` runs ``initdb`` and ``pg_ctl`` (Debian's ``postgresql`` package puts them
in ``/usr/lib/postgresql/<version>/bin``) in a temporary directory: the server listens on
127.0.0.1 at a free port, its unix socket stays inside that directory, it trusts local
connections, it does not fsync, and it is stopped and deleted on the way out. PostgreSQL refuses
to run as root; as root, the server runs as the ``postgres`` user through ``runuser``. A real
deployment is one server that every worker machine can reach: see docs/tuning.md.

    python -m reinforce_sb3.zoo.postgres      # start one, print its URL, stop it on Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gym_pgtoy.cli import run_cli

PROG = "python -m reinforce_sb3.zoo.postgres"


def find_program(name: str) -> str | None:
    """The path of PostgreSQL's ``name`` (``initdb``, ``pg_ctl``): on the PATH, else the newest Debian install."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda path: int(Path(path).parts[-3].split(".")[0])
    )
    return candidates[-1] if candidates else None


def unavailable_reason() -> str | None:
    """Why :func:`throwaway_server` cannot start a server here, or None if it can."""
    for program in ("initdb", "pg_ctl"):
        if find_program(program) is None:
            return f"PostgreSQL's {program} is not installed (Debian: apt-get install postgresql)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root, and runuser (to start PostgreSQL as another user) is missing"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no postgres user to run the server"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """
    Start a PostgreSQL server in a temporary directory; yield the SQLAlchemy URL of its (empty) database.

    :return: ``postgresql+psycopg://postgres@127.0.0.1:<port>/postgres``
    :raises RuntimeError: if the server cannot be started here (:func:`unavailable_reason`), or a command fails
    """
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(reason)
    folder = Path(tempfile.mkdtemp(prefix="reinforce-sb3-postgres-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    pg_ctl = str(find_program("pg_ctl"))
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"

    def command(*args: str) -> None:
        result = subprocess.run([*as_postgres, *args], capture_output=True, text=True, start_new_session=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {(result.stderr or result.stdout).strip()[-2000:]}")

    started = False
    try:
        command(
            str(find_program("initdb")), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
        )
        command(pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-o", options, "-w", "-t", "60", "start")
        started = True
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            with contextlib.suppress(RuntimeError):
                command(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Start a server, print its URL and wait for Ctrl-C (or SIGTERM), then stop and delete it."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Start a throwaway PostgreSQL server on 127.0.0.1, print its SQLAlchemy URL (for --storage) "
        "and delete it on Ctrl-C.",
    )
    parser.parse_args(argv)
    with throwaway_server() as url:
        print(url, flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill: stop and delete the server too
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    run_cli(main, PROG)
