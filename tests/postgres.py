"""A real PostgreSQL server for tests, from the machine's binaries (initdb/pg_ctl), on a free port.

PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` user and
its data directory is handed to that user. ``wal_level=logical`` so that change capture works.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not versions:
        raise RuntimeError("PostgreSQL binaries not found: install postgresql (apt-get install postgresql)")
    return Path(versions[-1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """One running cluster; ``url(db)`` gives a SQLAlchemy/psycopg2 URL for a database on it."""

    data_dir: Path
    port: int
    user: str = "bus"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh database for one test; returns its SQLAlchemy URL."""
        self._psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast", "-w")

    def start(self) -> None:
        log = self.data_dir.parent / "postgres.log"
        self._ctl("start", "-w", "-l", str(log), "-o", f"-p {self.port} -k {self.data_dir}")

    def restart(self) -> None:
        self.stop()
        self.start()

    def _psql(self, sql: str) -> None:
        self._run(
            [
                str(_bin_dir() / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ]
        )

    def _ctl(self, *args: str) -> None:
        self._run([str(_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), *args])

    def _run(self, argv: list[str]) -> None:
        subprocess.run(argv, check=True, capture_output=True, user=_os_user(), timeout=120)


def _os_user() -> str | None:
    """Run the server as ``postgres`` when we are root (initdb refuses root)."""
    return "postgres" if os.geteuid() == 0 else None


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """initdb + start on a free loopback port; stopped and removed afterwards.

    The cluster lives in its own directory under /tmp because pytest's tmp_path is private to
    root and the server user could not enter it.
    """
    base = Path(tempfile.mkdtemp(prefix="bus-pg-"))
    data_dir = base / "data"
    owner = _os_user()
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(data_dir, _free_port())
    server._run(
        [
            str(_bin_dir() / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            server.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ]
    )
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write(
            "listen_addresses = '127.0.0.1'\nwal_level = logical\nmax_replication_slots = 10\n"
            "max_wal_senders = 10\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
    with (data_dir / "pg_hba.conf").open("a") as hba:
        hba.write("host replication all 127.0.0.1/32 trust\n")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            server._ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(base, ignore_errors=True)
