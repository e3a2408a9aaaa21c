"""Fixtures for the campaign journal: a throwaway PostgreSQL 15 cluster, a fresh database per test.

The cluster is started once per session from the server binaries of the ``postgresql-15``
package (``initdb`` then ``pg_ctl start`` on 127.0.0.1 and a free port, fsync off) and stopped at
the end. ``initdb`` refuses to run as root, and CI runs as root: then the cluster runs as the
``postgres`` system user, in a data directory it owns. When the binaries are absent the PostgreSQL
tests skip, and the terminal summary says so in capitals, so that a green run cannot hide them.
Fault tests that stop and restart the server get a small cluster of their own
(:func:`restartable_postgres`), so the session's cluster never goes down under other tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pg_cluster import _SKIPPED, Cluster, _binaries_or_skip, _new_database


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a throwaway cluster's ``postgres`` database (user ``mysms``, trust auth)."""
    cluster = Cluster(_binaries_or_skip(), max_connections=60)
    try:
        yield cluster.url
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def restartable_postgres() -> Iterator[Cluster]:
    """A small cluster of the module's own, that its tests may stop, restart and kill."""
    cluster = Cluster(_binaries_or_skip(), max_connections=12, small=True)
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database in the session's cluster, for one test."""
    return _new_database(postgres_server)


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


@pytest.fixture
def mysms(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., tuple[int, str, str]]:
    """Run the ``mysms`` command in-process in ``tmp_path``, with no journal or credentials from
    the environment; returns (exit code, stdout, stderr) and fails on any traceback."""
    from mysms_async._cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("MYSMS_JOURNAL", "MYSMS_USERNAME", "MYSMS_PASSWORD", "MYSMS_BASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err, captured.err
        return code, captured.out, captured.err

    return run
