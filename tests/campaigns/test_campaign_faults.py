"""A journal fault never loses an answer: the worker holds what the gateway said and retries.

The fault strikes after the gateway's answer is in the worker's hands and before its outcome is
committed (a client wrapper runs it between the two). PostgreSQL: the backend terminated, the
server restarted (immediate and fast) or down for a while; SQLite: another process holds the
write lock past the busy timeout. When the journal stays unusable past the retry budget the
outcomes go to a fallback file, and ``restore`` / ``resolve --import`` puts them back.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from pg_cluster import Cluster

from mysms_async import MySMSClient
from mysms_async.campaigns import Journal, JournalError
from mysms_async.campaigns import _sqlite as sqlite_backend
from mysms_async.testing import FakeGateway


class AnswerThenFault:
    """A client whose ``send_many`` gets the gateway's answer, then runs ``fault`` (once)."""

    def __init__(self, client: MySMSClient, fault: Callable[[], Awaitable[None]]) -> None:
        self.client = client
        self.fault: Callable[[], Awaitable[None]] | None = fault

    def __getattr__(self, name: str) -> Any:  # everything else is the client's
        return getattr(self.client, name)

    async def send_many(self, messages: Any) -> Any:
        results = await self.client.send_many(messages)
        if self.fault is not None:
            fault, self.fault = self.fault, None
            await fault()
        return results


class Retries(logging.Handler):
    """Sets ``seen`` once the worker has logged ``count`` retries of a journal write."""

    def __init__(self, count: int, then: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.count = count
        self.then = then
        self.seen = threading.Event()
        self.tries = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "again in" in record.getMessage():
            self.tries += 1
            if self.tries == self.count and not self.seen.is_set():
                self.seen.set()
                if self.then is not None:
                    self.then()


@pytest.fixture
def retries() -> Iterator[Callable[..., Retries]]:
    logger = logging.getLogger("mysms_async.campaigns")
    handlers: list[Retries] = []

    def make(count: int, then: Callable[[], None] | None = None) -> Retries:
        handler = Retries(count, then)
        logger.addHandler(handler)
        handlers.append(handler)
        return handler

    yield make
    for handler in handlers:
        logger.removeHandler(handler)


def _gateway() -> FakeGateway:
    gateway = FakeGateway()
    gateway.set_balance("demo", 10**9)
    return gateway


def _rows(count: int) -> list[dict[str, str]]:
    return [{"destination": f"79{i:09d}", "text": f"m{i}", "key": f"k{i}"} for i in range(count)]


def _accepted_ids(journal: Journal) -> dict[str, str]:
    return {
        r["key"]: r["id"] for r in journal.campaign("c").export_records() if r["id"] is not None
    }


async def _run_with_fault(
    url: str, fault: Callable[[], Awaitable[None]], count: int = 20, **options: Any
) -> tuple[FakeGateway, Journal]:
    gateway = _gateway()
    journal = Journal(url)
    campaign = await journal.create("c", _rows(count))
    async with gateway.client(batch_size=count) as client:
        await campaign.run(
            AnswerThenFault(client, fault),  # type: ignore[arg-type]
            batch_size=count,
            **options,
        )
    return gateway, journal


def _gateway_ids(gateway: FakeGateway) -> dict[str, str]:
    return {f"k{m.text[1:]}": m.id for m in gateway.messages.values()}


# --- SQLite: a write lock held past the busy timeout ---------------------------------------------


async def test_sqlite_lock_held_past_the_busy_timeout_loses_no_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retries: Callable[..., Retries]
) -> None:
    monkeypatch.setattr(sqlite_backend, "BUSY_TIMEOUT", 0.1)
    path = tmp_path / "j.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def take_the_write_lock() -> None:
        holder.execute("BEGIN IMMEDIATE")  # a big `create` in another process, say

    retries(3, then=lambda: holder.execute("COMMIT"))  # held across three busy timeouts
    gateway, journal = await _run_with_fault(f"sqlite:///{path}", take_the_write_lock)
    with journal:
        assert journal.campaign("c").report().counts["accepted"] == 20
        assert _accepted_ids(journal) == _gateway_ids(gateway)
    holder.close()


async def test_sqlite_lock_never_released_writes_the_fallback_then_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mysms_cli: Callable[..., Any]
) -> None:
    monkeypatch.setattr(sqlite_backend, "BUSY_TIMEOUT", 0.05)
    path = tmp_path / "j.db"
    fallback = tmp_path / "held.jsonl"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def take_the_write_lock() -> None:
        holder.execute("BEGIN IMMEDIATE")

    with pytest.raises(JournalError) as caught:
        await _run_with_fault(
            f"sqlite:///{path}", take_the_write_lock, journal_retry=0.5, fallback=fallback
        )
    message = str(caught.value)
    assert str(fallback) in message and "--import" in message and "20 messages" in message
    held = [json.loads(line) for line in fallback.read_text().splitlines()]
    assert len(held) == 20 and all(r["outcome"] == "accepted" and r["id"] for r in held)
    holder.execute("COMMIT")
    holder.close()
    code, out = mysms_cli(
        "campaign", "resolve", "c", "--journal", f"sqlite:///{path}", "--import", fallback
    )
    assert code == 0 and "20 messages" in out
    with Journal(f"sqlite:///{path}") as journal:
        assert journal.campaign("c").report().counts["accepted"] == 20
        assert _accepted_ids(journal) == {r["key"]: r["id"] for r in held}


@pytest.fixture
def mysms_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., tuple[int, str]]:
    from mysms_async._cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MYSMS_JOURNAL", raising=False)

    def run(*argv: str | Path) -> tuple[int, str]:
        capsys.readouterr()
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def test_a_bad_fallback_file_is_refused_naming_the_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    with Journal(url) as journal:
        anyio.run(journal.create, "c", _rows(1))
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"campaign": "c", "key": "k0"}\n', encoding="utf-8")
        with pytest.raises(JournalError, match="line 1: not a held outcome"):
            journal.campaign("c").restore(bad)
        bad.write_text(json.dumps({"campaign": "other"}) + "\n", encoding="utf-8")
        with pytest.raises(JournalError, match="line 1: campaign 'other'"):
            journal.campaign("c").restore(bad)


# --- PostgreSQL: the connection cut, the server restarted or down ---------------------------------


def _terminate_others(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        killed = db.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed is not None and killed[0] >= 1


async def test_postgres_backend_terminated_after_the_answer(postgres_url: str) -> None:
    async def terminate() -> None:
        _terminate_others(postgres_url)

    gateway, journal = await _run_with_fault(postgres_url, terminate)
    with journal:
        assert journal.campaign("c").report().counts["accepted"] == 20
        assert _accepted_ids(journal) == _gateway_ids(gateway)


@pytest.mark.parametrize("mode", ["immediate", "fast"])
async def test_postgres_restarted_after_the_answer(
    restartable_postgres: Cluster, mode: str
) -> None:
    url = restartable_postgres.database()

    async def restart() -> None:
        await anyio.to_thread.run_sync(restartable_postgres.restart, mode)

    gateway, journal = await _run_with_fault(url, restart)
    with journal:
        assert journal.campaign("c").report().counts["accepted"] == 20
        assert _accepted_ids(journal) == _gateway_ids(gateway)


async def test_postgres_down_for_a_while_then_back(
    restartable_postgres: Cluster, retries: Callable[..., Retries]
) -> None:
    url = restartable_postgres.database()
    back = retries(4)

    async def down() -> None:
        await anyio.to_thread.run_sync(restartable_postgres.stop, "fast")

        def start_once_retried() -> None:
            back.seen.wait(30)
            restartable_postgres.start()

        threading.Thread(target=start_once_retried, daemon=True).start()

    gateway, journal = await _run_with_fault(url, down, journal_retry=20)
    with journal:
        assert back.tries >= 4
        assert journal.campaign("c").report().counts["accepted"] == 20
        assert _accepted_ids(journal) == _gateway_ids(gateway)


async def test_postgres_down_past_the_budget_then_import(
    restartable_postgres: Cluster, tmp_path: Path
) -> None:
    url = restartable_postgres.database()
    fallback = tmp_path / "held.jsonl"

    async def down() -> None:
        await anyio.to_thread.run_sync(restartable_postgres.stop, "immediate")

    try:
        with pytest.raises(JournalError, match="--import") as caught:
            await _run_with_fault(url, down, journal_retry=0.5, fallback=fallback)
        assert "Traceback" not in str(caught.value)
    finally:
        restartable_postgres.start()
    held = [json.loads(line) for line in fallback.read_text().splitlines()]
    assert len(held) == 20
    with Journal(url) as journal:
        campaign = journal.campaign("c")
        assert campaign.report().counts["sending"] == 20
        assert campaign.restore(fallback) == 20
        assert campaign.report().counts["accepted"] == 20
        assert _accepted_ids(journal) == {r["key"]: r["id"] for r in held}


async def test_a_postgres_load_does_not_hold_the_rate_slot(postgres_url: str) -> None:
    """A load in progress (its transaction open) must not stop the send slots."""
    from mysms_async.campaigns._open import open_store
    from mysms_async.campaigns._store import NewRow

    with Journal(postgres_url) as journal:
        await journal.create("c", _rows(1))
    loader, worker = open_store(postgres_url), open_store(postgres_url)
    try:
        cid = loader.campaign("c").id  # type: ignore[union-attr]
        loader.set_rate_limit(cid, 10.0)
        loader.begin_load(cid)
        loader.insert_rows(cid, [NewRow("k9", 9, "79000000009", "x", None, None, None, 1, 0, None)])
        worker._x("SET lock_timeout = '1s'")  # type: ignore[attr-defined]
        assert worker.next_slot(cid, 0.15) is not None  # before: blocked behind the load
        loader.end_load(commit=True)
    finally:
        loader.close()
        worker.close()


# --- loading: short transactions, nothing of a failed load kept ---------------------------------


async def test_a_sqlite_load_commits_in_chunks_and_shows_nothing_before_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mysms_async.campaigns import _journal

    monkeypatch.setattr(_journal, "LOAD_CHUNK", 10)
    path = tmp_path / "j.db"
    seen: dict[str, int] = {}

    async def rows() -> AsyncIterator[dict[str, str]]:
        for i in range(35):
            if i == 25:  # two chunks are in: another process writes, without waiting
                other = sqlite3.connect(path, timeout=0)
                other.execute("UPDATE campaigns SET next_slot = next_slot")  # before: locked
                other.commit()
                other.close()
                with Journal(f"sqlite:///{path}") as reader:
                    seen["total"] = reader.campaign("c").report().total
                    seen["exported"] = sum(1 for _ in reader.campaign("c").export_records())
            yield {"destination": f"79{i:09d}", "text": f"m{i}"}

    with Journal(f"sqlite:///{path}") as journal:
        # (a campaign whose first load is still going on is not shown at all: start with one row)
        await journal.create("c", [{"destination": "79999999999", "text": "first"}])
        campaign = await journal.create("c", rows())
        assert seen == {"total": 1, "exported": 1}  # staged rows are nobody's yet
        assert campaign.loaded["added"] == 35 and campaign.report().counts["pending"] == 36


async def test_a_sqlite_load_that_fails_after_chunks_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mysms_async.campaigns import DuplicateKeyError, _journal
    from mysms_async.campaigns._open import open_store

    monkeypatch.setattr(_journal, "LOAD_CHUNK", 2)
    url = f"sqlite:///{tmp_path / 'j.db'}"
    rows = [*_rows(7), {"destination": "79000000001", "text": "changed", "key": "k1"}]
    with Journal(url) as journal:
        with pytest.raises(DuplicateKeyError):
            await journal.create("c", rows)
        with pytest.raises(JournalError, match="no campaign 'c'"):  # a failed first load
            journal.campaign("c")  # leaves no empty campaign behind
        # A load that died half-way leaves staged rows: invisible, and the next load clears them.
        store = open_store(url)
        cid = store.create_campaign("c", 0).id
        store.begin_load(cid)
        from mysms_async.campaigns._load import row_of

        store.insert_rows(cid, [row_of(i + 1, row) for i, row in enumerate(_rows(3))])
        store.close()  # no end_load: the process died
        with pytest.raises(JournalError, match="did not finish"):
            journal.campaign("c")
        again = await journal.create("c", _rows(7))
        assert again.loaded["added"] == 7 and again.report().total == 7


class LostClaimAnswer:
    """A store whose first claim commits and then fails as if the connection dropped."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.lost = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def claim(self, *args: Any) -> Any:
        rows = self.store.claim(*args)
        if not self.lost:
            self.lost = True
            raise sqlite3.OperationalError("database is locked")  # the commit went through
        return rows


async def test_a_claim_whose_answer_was_lost_is_released_not_waited_for(tmp_path: Path) -> None:
    gateway = _gateway()
    with Journal(f"sqlite:///{tmp_path / 'j.db'}") as journal:
        campaign = await journal.create("c", _rows(6))
        campaign._store = LostClaimAnswer(campaign._store)  # type: ignore[assignment]
        with anyio.fail_after(15):  # before: the worker renewed its stray claim and waited
            async with gateway.client(batch_size=2) as client:
                await campaign.run(client, batch_size=2)
        counts = campaign.report().counts
        assert counts["accepted"] == 6 and counts["sending"] == 0
        assert sorted(m.text for m in gateway.messages.values()) == [f"m{i}" for i in range(6)]
