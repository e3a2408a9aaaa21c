"""The PostgreSQL journal's password never appears, and need not be on the command line.

A raw ``/``, ``@`` or ``%`` in a URL's password makes libpq quote the URL from there on; the
journal refuses such a URL before libpq sees it, and redacts the driver's messages by every form
the password takes. ``PGPASSWORD``, ``~/.pgpass`` (libpq's, when the URL has no password) and
``--journal-password-file`` keep it out of ``ps``. Those run against a small cluster of this
module's own where one role needs a password (SCRAM).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pg_cluster import Cluster

from mysms_async._cli import main
from mysms_async.campaigns import Journal, JournalError

PASSWORD = "S3cret/@:%pw"


def _fragments(secret: str) -> set[str]:
    return {secret[i : i + 4] for i in range(len(secret) - 3)}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:Pg-Secr3t/@:%pw@127.0.0.1:1/db",  # the issue's: libpq quoted the tail
        "postgresql://u:ab%zzSecretTail@127.0.0.1:1/db",  # a bad percent-escape
        "postgresql://u:Sup3r%2FS3cret@127.0.0.1:1/db",  # well encoded, nobody listening
        "postgresql://u:Sup3rS3cretPw@127.0.0.1:1/db?sslmode=bogus",
    ],
)
def test_no_part_of_the_password_appears(url: str) -> None:
    raw = url.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)[1]
    with pytest.raises(JournalError) as caught:
        Journal(url)
    shown = f"{caught.value} {caught.value!r}"
    from urllib.parse import unquote

    for secret in (raw, unquote(raw)):
        assert not any(piece in shown for piece in _fragments(secret)), shown


@pytest.fixture(scope="module")
def password_db(restartable_postgres: Cluster) -> str:
    """A database owned by role ``pw``, which must log in with ``PASSWORD``: its URL, no
    password in it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(restartable_postgres.url, autocommit=True) as db:
        db.execute(sql.SQL("CREATE ROLE pw LOGIN PASSWORD {}").format(sql.Literal(PASSWORD)))
        db.execute("CREATE DATABASE pwdb OWNER pw")
        hba = Path(db.execute("SHOW hba_file").fetchone()[0])  # type: ignore[index]
        hba.write_text(
            "host all pw 127.0.0.1/32 scram-sha-256\n" + hba.read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        db.execute("SELECT pg_reload_conf()")
    return f"postgresql://pw@127.0.0.1:{restartable_postgres.port}/pwdb"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PGPASSWORD", "PGPASSFILE", "MYSMS_JOURNAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("clean_env")
def test_without_a_password_the_journal_says_so_without_one(password_db: str) -> None:
    with pytest.raises(JournalError, match="cannot connect"):
        Journal(password_db)


@pytest.mark.usefixtures("clean_env")
def test_pgpassword_and_pgpass_reach_libpq(
    password_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    Journal(password_db).close()
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / ".pgpass"
    escaped = PASSWORD.replace("\\", "\\\\").replace(":", "\\:")
    pgpass.write_text(f"127.0.0.1:*:pwdb:pw:{escaped}\n", encoding="utf-8")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    Journal(password_db).close()


@pytest.mark.usefixtures("clean_env")
def test_journal_password_file(
    password_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("destination,text\n79110000001,hi\n", encoding="utf-8")
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    journal = ("--journal", password_db, "--journal-password-file", str(secret))
    assert main(["campaign", "create", "c", str(rows), *journal]) == 0
    with Journal(password_db, password=PASSWORD) as opened:
        assert opened.campaign("c").report().total == 1
    secret.write_text("wrong-" + PASSWORD + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["campaign", "status", "c", *journal]) == 2
    shown = "".join(capsys.readouterr())
    assert "cannot connect" in shown
    assert not any(piece in shown for piece in _fragments(PASSWORD))
    assert os.environ.get("PGPASSWORD") is None
