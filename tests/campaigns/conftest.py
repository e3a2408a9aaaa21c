"""Fixtures for the campaign journal: a throwaway PostgreSQL 15 cluster, a fresh database per test.

The cluster is started once per session from the server binaries of the ``postgresql-15``
package (``initdb`` then ``pg_ctl start`` on 127.0.0.1 and a free port, fsync off) and stopped at
the end. ``initdb`` refuses to run as root, and CI runs as root: then the cluster runs as the
``postgres`` system user, in a data directory it owns. When the binaries are absent the PostgreSQL
tests skip, and the terminal summary says so in capitals, so that a green run cannot hide them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_SKIPPED: list[str] = []


def _server_binaries() -> Path | None:
    override = os.environ.get("MYSMS_PG_BIN")
    candidates = [override] if override else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a throwaway cluster's ``postgres`` database (user ``mysms``, trust auth)."""
    binaries = _server_binaries()
    if binaries is None:
        reason = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb)"
        _SKIPPED.append(reason)
        pytest.skip(reason)
    root = tempfile.mkdtemp(prefix="mysms-pg-")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
    data = os.path.join(root, "data")
    port = _free_port()

    def run(*argv: str) -> None:
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=120)

    try:
        run(
            str(binaries / "initdb"),
            "-D",
            data,
            "-U",
            "mysms",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-p {port} -h 127.0.0.1 -k {root} -F -c max_connections=60"
        run(
            str(binaries / "pg_ctl"),
            "-D",
            data,
            "-o",
            options,
            "-l",
            os.path.join(root, "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
    except subprocess.CalledProcessError as error:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(
            f"could not start the throwaway PostgreSQL: {error.stderr.decode(errors='replace')}"
        ) from None
    try:
        yield f"postgresql://mysms@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(binaries / "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database in the session's cluster, for one test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return postgres_server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that asks for it runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SKIPPED:
        terminalreporter.write_sep("!", "POSTGRESQL TESTS SKIPPED", red=True, bold=True)
        terminalreporter.write_line(
            f"{_SKIPPED[0]}: the campaign journal's PostgreSQL backend was NOT tested."
            " Install postgresql-15 (or set MYSMS_PG_BIN) to run them.",
            red=True,
        )
