"""``mysms campaign``: the pinned command names, JSON keys, exit codes and signals."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from shared_helpers import CAMPAIGN_COUNT_KEYS

from mysms_async._cli import main
from mysms_async.testing import (
    DEMO_USERNAME,
    DropAfterRead,
    FakeGateway,
    Latency,
)

COUNT_KEYS = CAMPAIGN_COUNT_KEYS  # one home: tests/shared_helpers.py


@pytest.fixture
def mysms(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> object:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a sandbox that remembers
    for name in ("MYSMS_JOURNAL", "MYSMS_USERNAME", "MYSMS_PASSWORD", "MYSMS_BASE_URL"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    lines = ["destination,text"] + [f"7911000{i:04d},hello {i}" for i in range(30)]
    lines.append(",no destination")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def served(served_demo: tuple[FakeGateway, str]) -> tuple[FakeGateway, str]:
    """The session's emulator (tests/conftest.py), reset, the demo account in the environment,
    with money for every campaign (``reset`` restores the starting balance after each test)."""
    served_demo[0].set_balance(DEMO_USERNAME, 10**6)
    return served_demo


def test_the_sandbox_shows_the_whole_life_cycle(mysms, rows: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = mysms("--sandbox", "campaign", "create", "spring", rows)
    assert code == 1 and "30 added, 1 invalid" in err  # one invalid row: exit 1, as for bulk
    assert mysms("--sandbox", "campaign", "create", "spring", rows)[2].count("31 already there")
    code, out, _ = mysms("--sandbox", "--json", "campaign", "run", "spring")
    document = json.loads(out)
    assert code == 1  # the invalid row is not accepted
    assert set(document["counts"]) == COUNT_KEYS
    assert document["counts"]["delivered"] == 30 and document["counts"]["invalid"] == 1
    assert sum(document["counts"].values()) == document["total"] == 31
    assert document["cost"] == "45.00"  # 30 parts at the sandbox's 1.50
    assert (tmp_path / "mysms-sandbox-campaigns.db").exists()
    assert not (tmp_path / "mysms-campaigns.db").exists()

    code, out, _ = mysms("campaign", "status", "spring", "--json", "--sandbox")
    assert json.loads(out)["counts"] == document["counts"]
    code, out, _ = mysms("--sandbox", "campaign", "export", "spring")
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 31
    assert {"key", "destination", "outcome", "id", "state"} <= set(table[0])
    assert Counter(row["outcome"] for row in table) == {"delivered": 30, "invalid": 1}
    code, _, err = mysms("--sandbox", "campaign", "resolve", "spring", "--skip-unknown")
    assert code == 0 and "0 unknown" in err


def test_usage_and_configuration_errors_exit_2(mysms, rows: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = mysms("campaign", "status", "nope")
    assert code == 2 and "no journal at" in err  # a mistyped path makes no file
    code, _, err = mysms("campaign", "status", "x", "--journal", "mysql://h/db")
    assert code == 2 and "not supported" in err
    assert mysms("campaign")[0] == 2
    assert mysms("campaign", "resolve", "x")[0] == 2  # --resend-unknown or --skip-unknown
    code, _, err = mysms("campaign", "create", "x", tmp_path / "missing.csv")
    assert code == 2 and "no such file" in err
    newer = tmp_path / "newer.db"
    assert mysms("campaign", "create", "x", rows, "--journal", f"sqlite:///{newer}")[0] == 1
    with sqlite3.connect(newer) as db:
        db.execute("INSERT INTO mysms_schema VALUES (9, 0)")
    code, _, err = mysms("campaign", "status", "x", "--journal", f"sqlite:///{newer}")
    assert code == 2 and "newer" in err


def test_journal_from_the_environment(
    mysms, rows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MYSMS_JOURNAL", f"sqlite:///{tmp_path / 'env.db'}")
    mysms("campaign", "create", "e", rows)
    assert (tmp_path / "env.db").exists()


def test_unknown_exits_1_until_resolved_then_resend_is_explicit(  # type: ignore[no-untyped-def]
    mysms, rows: Path, served: tuple[FakeGateway, str]
) -> None:
    gateway, base_url = served
    gateway.inject(DropAfterRead(), endpoint="send")
    mysms("campaign", "create", "c", rows)
    run = ("campaign", "run", "c", "--base-url", base_url)
    code, out, _ = mysms(*run, "--json", "--batch-size", "10")
    counts = json.loads(out)["counts"]
    assert code == 1 and counts["unknown"] == 10 and counts["accepted"] == 20
    # Running again sends nothing.
    before = len(gateway.requests)
    assert mysms("campaign", "run", "c", "--base-url", base_url)[0] == 1
    assert len(gateway.requests) == before
    code, out, _ = mysms("campaign", "resolve", "c", "--resend-unknown", "--json")
    assert code == 0 and json.loads(out)["messages"] == 10
    code, out, _ = mysms("campaign", "run", "c", "--base-url", base_url, "--json")
    assert json.loads(out)["counts"]["unknown"] == 0
    gateway.advance(2)
    track = ("campaign", "track", "c", "--base-url", base_url, "--json", "--until-final")
    code, out, _ = mysms(*track, "--timeout", "5")
    document = json.loads(out)
    assert document["counts"]["delivered"] == 30 and document["not_final"] == 0


def _count(db: Path, outcome: int) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute("SELECT count(*) FROM messages WHERE outcome = ?", (outcome,)).fetchone()[
                0
            ]
        )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_lets_the_batch_in_flight_finish(
    signum: int, rows: Path, tmp_path: Path, served: tuple[FakeGateway, str]
) -> None:
    gateway, base_url = served
    gateway.inject(Latency(0.8), endpoint="send", times=None)
    journal = tmp_path / "sig.db"
    env = {**os.environ, "MYSMS_JOURNAL": f"sqlite:///{journal}"}
    command = [sys.executable, "-m", "mysms_async", "campaign"]
    subprocess.run([*command, "create", "s", str(rows)], env=env, check=False, capture_output=True)
    worker = subprocess.Popen(
        [*command, "run", "s", "--base-url", base_url, "--batch-size", "5", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while _count(journal, 1) == 0 and time.monotonic() < deadline:  # a batch is sending
        time.sleep(0.02)
    worker.send_signal(signum)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 128 + signum, err.decode()
    document = json.loads(out)
    assert document["stopped"] is True
    # The batch in flight was answered and recorded; nothing is left sending or unknown.
    assert _count(journal, 1) == 0 and _count(journal, 8) == 0
    assert 5 <= _count(journal, 2) < 30
    assert len(gateway.messages) == _count(journal, 2)


def test_skip_is_final_and_resend_takes_a_selection(  # type: ignore[no-untyped-def]
    mysms, rows: Path, served: tuple[FakeGateway, str]
) -> None:
    gateway, base_url = served
    gateway.inject(DropAfterRead(), endpoint="send")
    mysms("campaign", "create", "c", rows)
    mysms("campaign", "run", "c", "--base-url", base_url, "--batch-size", "10")
    code, out, _ = mysms("campaign", "resolve", "c", "--skip-unknown", "--json")
    assert code == 0 and json.loads(out)["messages"] == 10
    code, out, _ = mysms("campaign", "resolve", "c", "--resend-unknown", "--json")
    assert code == 0 and json.loads(out)["messages"] == 0  # skipped stays skipped
    code, out, _ = mysms("campaign", "status", "c", "--json")
    assert json.loads(out)["counts"]["skipped"] == 10
    code, _, err = mysms("campaign", "resolve", "c", "--resend-unknown", "--since", "2026-12-04")
    assert code == 2 and "offset" in err
    code, out, _ = mysms("campaign", "resolve", "c", "--resend-unknown", "--key", "nope", "--json")
    assert code == 0 and json.loads(out)["messages"] == 0


def test_status_and_resolve_show_what_a_crashed_worker_left(  # type: ignore[no-untyped-def]
    mysms, rows: Path, journal_url: str
) -> None:
    """No run needed: on SQLite the free run lock proves the worker dead; on PostgreSQL its lease
    ran out. Either way status says unknown, not in flight, and resolve finds them."""
    from mysms_async.campaigns._open import open_store

    mysms("campaign", "create", "c", rows, "--journal", journal_url)
    store = open_store(journal_url)
    cid = store.campaign("c").id  # type: ignore[union-attr]
    lease = 600.0 if journal_url.startswith("sqlite") else -0.001
    store.claim(cid, "dead/0123456789ab", 5, lease)  # then the worker was killed
    store.close()
    code, out, _ = mysms("campaign", "status", "c", "--journal", journal_url, "--json")
    counts = json.loads(out)["counts"]
    assert code == 1 and counts["sending"] == 0 and counts["unknown"] == 5
    code, out, _ = mysms(
        "campaign", "resolve", "c", "--journal", journal_url, "--skip-unknown", "--json"
    )
    assert code == 0 and json.loads(out)["messages"] == 5


def test_rate_limit_is_the_campaigns_and_the_run_says_so(  # type: ignore[no-untyped-def]
    mysms, rows: Path, served: tuple[FakeGateway, str]
) -> None:
    _, base_url = served
    mysms("campaign", "create", "c", rows)
    code, out, err = mysms("campaign", "run", "c", "--base-url", base_url, "--rate-limit", "500")
    assert code == 1  # the one row without a destination is invalid
    assert (
        "rate limit 500 requests/s for all its workers" in out + err and "(was none)" in out + err
    )
