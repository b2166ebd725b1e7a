"""A private PostgreSQL 15 cluster for the tests (initdb and pg_ctl, as user postgres when run as root), on a
free loopback port with trust authentication, and a fresh database for each test."""

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from tests.support.server import free_port

PG_BIN = Path(os.environ.get("PALLETIZER_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PostgresServer:
    """A running cluster: its port, and databases made for tests."""

    directory: Path
    port: int
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database, whose default collation is ICU's English one (not byte order, which only
        the columns that ask for it may get): its URL."""
        name = f"test_{next(self._numbers)}"
        with self.admin() as admin:
            admin.execute(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        return self.url(name)

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        """A superuser's connection (autocommit) to `database`."""
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=10)

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
            timeout=60,
        )


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster in a new temporary directory, stopped and deleted at the end."""
    directory = Path(tempfile.mkdtemp(prefix="palletizer-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    data, port = directory / "data", free_port()
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        server = PostgresServer(directory, port)
        try:
            subprocess.run(
                _as_postgres(
                    [
                        str(PG_BIN / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(directory / "log"),
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        f"-k {directory} -p {port} -h 127.0.0.1",
                        "start",
                    ]
                ),
                check=True,
                capture_output=True,
                timeout=120,
            )
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole session, deleted at the end."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's cluster."""
    return postgres_server.create_database()
