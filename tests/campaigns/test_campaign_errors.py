"""``mysms campaign``: every failure is one clear line and the documented exit status (2 for a
usage or configuration error, an unusable journal included), never a traceback; nothing half-made
is left behind (issue 17, item 2)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mysms_async.campaigns import _sqlite
from mysms_async.testing import DEMO_PASSWORD, DEMO_USERNAME, FakeGateway

Mysms = Callable[..., tuple[int, str, str]]


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    lines = ["destination,text"] + [f"7911000{i:04d},hello {i}" for i in range(40)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _journal(tmp_path: Path, name: str = "j.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def test_a_corrupt_journal_and_a_file_that_is_not_a_database(
    mysms: Mysms, rows: Path, tmp_path: Path
) -> None:
    # Before: sqlite3.DatabaseError tracebacks, exit 1.
    code, _, err = mysms("campaign", "status", "c", "--journal", f"sqlite:///{rows}")
    assert code == 2 and "is not a SQLite database" in err
    journal = _journal(tmp_path)
    assert mysms("campaign", "create", "c", rows, "--journal", journal)[0] == 0
    with open(tmp_path / "j.db", "r+b") as stream:  # garble every page after the first
        stream.seek(4096)
        stream.write(b"\xa5" * (os.path.getsize(tmp_path / "j.db") - 4096))
    for action in ("status", "export", "run"):
        code, _, err = mysms("campaign", action, "c", "--journal", journal)
        assert code == 2 and ("corrupt" in err or "not a SQLite database" in err), err


def test_status_on_a_mistyped_journal_makes_no_file(mysms: Mysms, tmp_path: Path) -> None:
    for action in ("status", "export", "run", "track"):
        code, _, err = mysms("campaign", action, "c", "--journal", _journal(tmp_path, "typo.db"))
        assert code == 2 and "no journal at" in err
    assert not (tmp_path / "typo.db").exists()  # before: an empty journal was made


@pytest.mark.parametrize(
    "url", ["postgresql://[", "postgresql://u@[::1/db", "postgresql://u:p[w@127.0.0.1:1/db"]
)
def test_a_journal_url_with_a_bracket(mysms: Mysms, url: str) -> None:
    code, _, err = mysms("campaign", "status", "c", "--journal", url)
    assert code == 2 and "journal" in err


def test_bad_names_are_refused_before_anything_is_made(
    mysms: Mysms, rows: Path, tmp_path: Path
) -> None:
    journal = _journal(tmp_path)
    code, _, err = mysms("campaign", "create", "n" * 201, rows, "--journal", journal)
    assert code == 2 and "name: must be a string of 1 to 200 characters" in err  # was exit 1
    code, _, err = mysms("campaign", "create", "\x1b[31mred", rows, "--journal", journal)
    assert code == 2 and "name: must not contain control characters" in err
    assert "\x1b" not in err
    with sqlite3.connect(tmp_path / "j.db") as db:
        assert db.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0


def test_an_empty_or_unreadable_file_makes_no_campaign(mysms: Mysms, tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    code, _, err = mysms("campaign", "create", "c", empty, "--journal", journal)
    assert code == 2 and "is empty" in err
    workbook = tmp_path / "book.csv"
    workbook.write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    code, _, err = mysms("campaign", "create", "c", workbook, "--journal", journal)
    assert code == 2 and "not a text file" in err
    # Before: the campaign was made first, so `status` exited 0 and `run` sent "0 messages".
    code, _, err = mysms("campaign", "status", "c", "--journal", journal)
    assert code == 2 and "no campaign 'c'" in err


def test_a_huge_field_a_nul_and_cp1251_are_invalid_rows(mysms: Mysms, tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_bytes(
        b"destination,text\n"
        + b"".join(b"79110000000,filler %d\n" % i for i in range(300))
        + b"79110000001,"
        + b"y" * 140_000
        + b"\n"
        + b"79110000002,a\x00b\n"
        + b"79110000003,"
        + "Привет".encode("cp1251")
        + b"\n"
        + b"79110000004,fine\n"
    )
    journal = _journal(tmp_path)
    code, _, err = mysms("campaign", "create", "c", source, "--journal", journal)
    assert code == 1 and "invalid" in err  # before: a csv.Error traceback, exit 1
    code, out, _ = mysms(
        "campaign", "export", "c", "--journal", journal, "--output-format", "jsonl"
    )
    reasons = [json.loads(line)["reason"] for line in out.splitlines()]
    invalid = [reason for reason in reasons if reason]
    assert any("131,072" in reason for reason in invalid)
    assert "text: contains a NUL byte, which no SMS can carry" in invalid
    assert "text: is not valid UTF-8 (save the file as CSV UTF-8)" in invalid
    assert "\ufffd" not in out


def test_export_out_is_checked_and_written_whole(mysms: Mysms, rows: Path, tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    mysms("campaign", "create", "c", rows, "--journal", journal)
    export = ("campaign", "export", "c", "--journal", journal, "--out")
    code, _, err = mysms(*export, tmp_path)
    assert code == 2 and "is a directory" in err  # before: IsADirectoryError traceback
    code, _, err = mysms(*export, tmp_path / "missing" / "x.csv")
    assert code == 2 and "does not exist" in err
    target = tmp_path / "out.csv"
    assert mysms(*export, target)[0] == 0
    assert len(list(csv.DictReader(io.StringIO(target.read_text())))) == 40
    target.write_text("keep me")
    code, _, err = mysms(*export, target)
    assert code == 2 and "--overwrite" in err and target.read_text() == "keep me"
    assert mysms(*export, target, "--overwrite")[0] == 0
    assert target.read_text().startswith("key,")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_a_killed_export_leaves_nothing_at_the_final_name(
    mysms: Mysms, rows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = _journal(tmp_path)
    mysms("campaign", "create", "c", rows, "--journal", journal)
    seen: list[int] = []

    def dies(self: object, stream: io.TextIOBase, *, fmt: str = "csv") -> int:
        stream.write("key,line\nhalf,1\n")
        seen.append(1)
        raise KeyboardInterrupt  # the process is stopped mid-export

    monkeypatch.setattr("mysms_async.campaigns._journal.Campaign.export", dies)
    code, _, _ = mysms("campaign", "export", "c", "--journal", journal, "--out", "o.csv")
    assert seen and code == 130
    assert not (tmp_path / "o.csv").exists()  # before: the partial rows at the final name
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".o.csv")] == []


@contextlib.contextmanager
def _read_only_copy(journal: Path, tmp_path: Path) -> Iterator[Path]:
    """``journal`` copied to a tmpfs at ``tmp_path/ro`` that is then made read-only; skips
    LOUDLY where mounting is not permitted."""
    point = tmp_path / "ro"
    point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(
            "READ-ONLY FILE SYSTEM NOT TESTED: mounting a tmpfs is not permitted here"
            f" ({mounted.stderr.decode(errors='replace').strip()})"
        )
    try:
        for part in journal.parent.glob(journal.name + "*"):
            shutil.copy(part, point / part.name)
        remount = ["mount", "-o", "remount,ro", str(point)]
        assert subprocess.run(remount, capture_output=True, check=False).returncode == 0
        yield point / journal.name
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def test_a_read_only_file_system(mysms: Mysms, rows: Path, tmp_path: Path) -> None:
    assert mysms("campaign", "create", "c", rows, "--journal", _journal(tmp_path))[0] == 0
    with _read_only_copy(tmp_path / "j.db", tmp_path) as copy:
        journal = f"sqlite:///{copy}"
        for action in ("status", "export", "run", "create"):
            argv = ["campaign", action, "c", "--journal", journal]
            if action == "create":
                argv.append(str(rows))
            code, _, err = mysms(*argv)
            assert code == 2 and "read-only" in err and "journal" in err, (action, err)
        new = f"sqlite:///{copy.parent / 'new.db'}"
        code, _, err = mysms("campaign", "create", "d", rows, "--journal", new)
        assert code == 2 and "journal" in err


def test_disk_full_during_run_is_a_clear_error_and_loses_no_answer(
    mysms: Mysms, rows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk, simulated with ``PRAGMA max_page_count`` (no privileges needed): the run
    stops with exit 2 and one line, and every message the gateway took is in the journal or in
    the fallback file that line names."""
    journal = _journal(tmp_path)
    many = tmp_path / "many.csv"
    many.write_text("destination,text\n" + "".join(f"7911{i:07d},hello {i}\n" for i in range(3000)))
    mysms("campaign", "create", "c", many, "--journal", journal)
    opened = _sqlite.SQLiteConnector.__init__

    def small_disk(self: _sqlite.SQLiteConnector, *args: object, **kwargs: object) -> None:
        opened(self, *args, **kwargs)  # type: ignore[arg-type]
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        self._db.execute(f"PRAGMA max_page_count={pages + 2}")

    monkeypatch.setattr(_sqlite.SQLiteConnector, "__init__", small_disk)
    gateway = FakeGateway()
    gateway.set_balance("demo", 10**6)
    with gateway.serve() as base_url:
        monkeypatch.setenv("MYSMS_USERNAME", DEMO_USERNAME)
        monkeypatch.setenv("MYSMS_PASSWORD", DEMO_PASSWORD)
        monkeypatch.setenv("MYSMS_SENDER", "MySMS")
        run = ("campaign", "run", "c", "--journal", journal, "--base-url", base_url, "-q")
        code, _, err = mysms(*run, "--batch-size", "100")
    assert code == 2 and "disk is full" in err, err
    taken = set(gateway.messages)
    monkeypatch.setattr(_sqlite.SQLiteConnector, "__init__", opened)
    code, out, _ = mysms(
        "campaign", "export", "c", "--journal", journal, "--output-format", "jsonl"
    )
    recorded = {json.loads(line)["id"] for line in out.splitlines()}
    held = set()
    for path in tmp_path.glob("mysms-held-*.jsonl"):
        held |= {json.loads(line)["id"] for line in path.read_text().splitlines()}
        assert str(path) in err or path.name in err
    assert taken <= recorded | held


def test_the_command_itself_exits_2_on_a_journal_that_is_not_one(tmp_path: Path) -> None:
    """The real process: one line on stderr, exit 2."""
    bogus = tmp_path / "notes.txt"
    bogus.write_text("these are not the droids\n" * 200)
    done = subprocess.run(
        [sys.executable, "-m", "mysms_async", "campaign", "status", "c", "--journal", str(bogus)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "is not a SQLite database" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_create_that_failed_or_was_killed_leaves_no_campaign(
    mysms: Mysms, rows: Path, tmp_path: Path
) -> None:
    from mysms_async.campaigns._load import row_of
    from mysms_async.campaigns._open import open_store

    journal = _journal(tmp_path)
    header_only = tmp_path / "header.csv"
    header_only.write_text("destination,text\n")
    code, _, err = mysms("campaign", "create", "c", header_only, "--journal", journal)
    assert code == 2 and "has no rows" in err  # before: exit 0, an empty campaign
    clash = tmp_path / "clash.csv"
    clash.write_text("destination,text,key\n79110000001,a,k\n79110000002,b,k\n")
    code, _, err = mysms("campaign", "create", "c", clash, "--journal", journal)
    assert code == 2 and "k" in err
    # What `kill -9` during a first create leaves: the campaign's row and staged rows.
    store = open_store(journal)
    killed = store.create_campaign("k", 0).id
    store.begin_load(killed)
    store.insert_rows(killed, [row_of(2, {"destination": "79110000001", "text": "x"})])
    store.close()  # no end_load: the process died
    for name in ("c", "k"):
        for action in ("status", "run", "export"):
            code, out, err = mysms("campaign", action, name, "--journal", journal)
            assert code == 2 and f"no campaign '{name}'" in err, (name, action, out, err)
    assert mysms("campaign", "create", "k", rows, "--journal", journal)[0] == 0
    code, out, _ = mysms("campaign", "status", "k", "--journal", journal)
    assert code == 1 and "40 messages" in out  # the staged row of the dead load is gone
