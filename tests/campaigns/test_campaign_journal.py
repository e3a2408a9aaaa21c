"""The campaign journal on both backends: create, run, resolve, leases, schema, track, report.

Each test that takes ``journal_url`` runs on SQLite and on a throwaway PostgreSQL database.
The gateway is the in-process emulator; faults are injected one request at a time.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from shared_helpers import CAMPAIGN_COUNT_KEYS

from mysms_async import Message, ValidationError, segments
from mysms_async.campaigns import DuplicateKeyError, Journal, JournalError, Outcome, RunSummary
from mysms_async.campaigns._load import count_parts
from mysms_async.campaigns._open import open_store
from mysms_async.campaigns._run import now_ms
from mysms_async.campaigns._store import Settled
from mysms_async.testing import (
    ConnectRefused,
    DropAfterRead,
    ErrorState,
    FakeGateway,
    HTTPErrorStatus,
    Latency,
)

COUNT_KEYS = CAMPAIGN_COUNT_KEYS  # one home: tests/shared_helpers.py


def _gateway(**kwargs: object) -> FakeGateway:
    gateway = FakeGateway(**kwargs)  # type: ignore[arg-type]
    gateway.set_balance("demo", 10**9)
    return gateway


async def _until(condition: Callable[[], bool]) -> None:
    """Poll state that another component keeps (the emulator, the journal): it has no event."""
    with anyio.fail_after(30):
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.01)


def _rows(count: int, start: int = 0) -> list[dict[str, str]]:
    return [{"destination": f"79{i:09d}", "text": f"m{i}"} for i in range(start, start + count)]


def _write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- create ------------------------------------------------------------------------------------


async def test_loading_the_same_file_twice_adds_nothing(journal_url: str, tmp_path: Path) -> None:
    csv_file = _write_csv(
        tmp_path / "rows.csv",
        ["destination,text,sender", *(f"7911000000{i},hello {i}," for i in range(10))],
    )
    with Journal(journal_url) as journal:
        first = await journal.create("spring", csv_file)
        again = await journal.create("spring", csv_file)
        assert first.loaded == {"added": 10, "invalid": 0, "skipped": 0}
        assert again.loaded == {"added": 0, "invalid": 0, "skipped": 10}
        assert journal.campaign("spring").report().total == 10


async def test_a_different_row_with_the_same_key_names_both_lines_and_keeps_nothing(
    journal_url: str, tmp_path: Path
) -> None:
    csv_file = _write_csv(
        tmp_path / "rows.csv",
        [
            "key,destination,text",
            "a,79110000001,hello",
            "b,79110000002,hello",
            "c,79110000003,hello",
            "a,79110000001,HELLO",
        ],
    )
    with Journal(journal_url) as journal:
        with pytest.raises(DuplicateKeyError) as caught:
            await journal.create("spring", csv_file)
        assert "line 5" in str(caught.value) and "line 2" in str(caught.value)
        assert (caught.value.first_line, caught.value.line) == (2, 5)
        # The load was one transaction: nothing of it stays, not even the campaign.
        with pytest.raises(JournalError, match="no campaign 'spring'"):
            journal.campaign("spring")


async def test_a_row_repeated_in_a_later_chunk_is_skipped_and_lines_keep_their_order(
    journal_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk whose key is taken goes the slow way (PostgreSQL: its straight COPY fails in a
    savepoint and leaves nothing), and so does every chunk after it: a file loaded twice."""
    from mysms_async.campaigns import _journal

    monkeypatch.setattr(_journal, "LOAD_CHUNK", 3)
    rows = [f"7911000000{i},hello {i}" for i in range(7)]
    csv_file = _write_csv(
        tmp_path / "rows.csv",
        ["destination,text", *rows, "79110000001,hello 1", "79110000009,last"],
    )
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", csv_file)
        assert campaign.loaded == {"added": 8, "invalid": 0, "skipped": 1}
        lines = [record["line"] for record in campaign.export_records()]
        assert lines == [2, 3, 4, 5, 6, 7, 8, 10]  # ids follow the file: the order of sending
        again = await journal.create("c", csv_file)
        assert again.loaded == {"added": 0, "invalid": 0, "skipped": 9}
        assert journal.campaign("c").report().total == 8


async def test_the_same_key_against_an_earlier_load(journal_url: str) -> None:
    with Journal(journal_url) as journal:
        await journal.create("c", [{"key": "k1", "destination": "79110000001", "text": "one"}])
        with pytest.raises(DuplicateKeyError, match="line 3: key 'k1' is already used by line 1"):
            await journal.create(
                "c",
                [
                    {"key": "k2", "destination": "79110000002", "text": "two"},
                    {"key": "k3", "destination": "79110000003", "text": "three"},
                    {"key": "k1", "destination": "79110000001", "text": "changed"},
                ],
            )
        assert journal.campaign("c").report().total == 1


async def test_invalid_rows_are_journaled_with_their_reason(
    journal_url: str, tmp_path: Path
) -> None:
    csv_file = _write_csv(
        tmp_path / "rows.csv",
        [
            "destination,text,date,ttl",
            "79110000001,fine,,",
            ",no destination,,",
            "79110000002,,,",
            "79110000003,bad date,yesterday,",
            "79110000004,bad ttl,,0",
            "79110000005,too,many,fields,here",
        ],
    )
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", csv_file)
        assert campaign.loaded == {"added": 1, "invalid": 5, "skipped": 0}
        out = io.StringIO()
        campaign.export(out, fmt="jsonl")
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        reasons = {r["line"]: r["reason"] for r in records if r["outcome"] == "invalid"}
        assert reasons[3] == "destination: is required"
        assert reasons[4].startswith("text:")
        assert reasons[5].startswith("date:")
        assert reasons[6].startswith("ttl:")
        assert "fields" in reasons[7]
        # Loading it again adds nothing, invalid rows included.
        assert (await journal.create("c", csv_file)).loaded["skipped"] == 6


async def test_jsonl_messages_and_async_iterables(journal_url: str, tmp_path: Path) -> None:
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text(
        '{"destination": "79110000001", "text": "a", "ttl": 5}\n[1, 2]\n\n'
        '{"destination": "79110000002", "text": "b"}\n',
        encoding="utf-8",
    )

    async def produce() -> object:
        for i in range(3):
            yield Message(f"7912000000{i}", f"async {i}")

    with Journal(journal_url) as journal:
        from_file = await journal.create("f", jsonl)
        assert from_file.loaded == {"added": 2, "invalid": 1, "skipped": 0}
        from_messages = await journal.create("m", [Message("79110000009", "x")])
        assert from_messages.loaded["added"] == 1
        from_async = await journal.create("a", produce())  # type: ignore[arg-type]
        assert from_async.loaded["added"] == 3


def test_part_counting_fast_path_agrees_with_segments() -> None:
    texts = [
        "",
        "a" * 160,
        "a" * 161,
        "a" * 306,
        "a" * 307,
        "price: 10$ @home_now!",
        "curly {brace}",
        "tilde ~",
        "back`tick",
        "Привет",
        "x" * 159 + "€",
        "line\nbreak\r",
        "tab\there",
    ]
    for text in texts:
        assert count_parts(text) == segments(text).parts, text


# --- run ---------------------------------------------------------------------------------------


async def test_each_failure_leads_to_its_outcome_and_unknown_is_never_resent(
    journal_url: str,
) -> None:
    gateway = _gateway()
    gateway.inject(ErrorState(-50), endpoint="send")  # batch 1: failed, nothing accepted
    gateway.inject(DropAfterRead(), endpoint="send")  # batch 2: accepted, answer lost: unknown
    gateway.inject(
        HTTPErrorStatus(429), endpoint="send", times=3
    )  # batch 3: not sent, back to pending
    rows = [
        *_rows(6),
        {"destination": "79110000077", "text": "from a stranger", "sender": "Stranger"},
        {"destination": "12", "text": "bad number"},
    ]
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", rows)
        async with gateway.client(batch_size=2, retry_backoff=0, max_retries=2) as client:
            summary = await campaign.run(client, batch_size=2)
        counts = campaign.report().counts
        assert counts["failed"] == 2 and counts["unknown"] == 2
        assert campaign.report().failed_by_state == {-50: 2}
        assert counts["refused"] == 1  # the gateway refused the unregistered sender (-11)
        assert counts["invalid"] == 1  # the client refused the number before sending
        assert counts["accepted"] == 2  # the 429'd batch went back to pending and was sent later
        assert summary.returned == 2
        assert sum(counts.values()) == 8
        unknown_texts = {"m2", "m3"}
        accepted_at_gateway = Counter(m.text for m in gateway.messages.values())
        assert all(accepted_at_gateway[t] == 1 for t in unknown_texts)

        # Another run sends nothing: unknown is final until an operator says otherwise.
        before = len(gateway.requests)
        async with gateway.client(batch_size=2) as client:
            await campaign.run(client, batch_size=2)
        assert len(gateway.requests) == before
        assert campaign.report().counts["unknown"] == 2

        # --resend-unknown sends them again, as ordered.
        assert campaign.resolve(resend_unknown=True) == 2
        async with gateway.client(batch_size=2) as client:
            await campaign.run(client, batch_size=2)
        assert campaign.report().counts["unknown"] == 0
        accepted_at_gateway = Counter(m.text for m in gateway.messages.values())
        assert all(accepted_at_gateway[t] == 2 for t in unknown_texts)  # as ordered


async def test_an_expired_lease_becomes_unknown_and_is_not_sent(journal_url: str) -> None:
    gateway = _gateway()
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", _rows(5))
        # A worker that died after its claim: rows sending, lease already over.
        store = open_store(journal_url)
        cid = store.campaign("c").id  # type: ignore[union-attr]
        claimed = store.claim(cid, "dead-worker", 3, -0.001)
        store.close()
        assert len(claimed) == 3
        async with gateway.client() as client:
            await campaign.run(client)
        counts = campaign.report().counts
        assert counts["unknown"] == 3 and counts["accepted"] == 2
        assert sorted(m.text for m in gateway.messages.values()) == ["m3", "m4"]


async def test_a_live_lease_is_waited_for_on_postgres(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL another worker's rows in flight are left alone until the lease runs out."""
    gateway = _gateway()
    with Journal(postgres_url) as journal:
        campaign = await journal.create("c", _rows(4))
        store = open_store(postgres_url)
        cid = store.campaign("c").id  # type: ignore[union-attr]
        store.claim(cid, "slow-worker", 2, 60.0)
        # The worker's idle polls that find the other's rows still in flight: it is waiting.
        waits: list[tuple[int, int]] = []
        remaining = type(store).remaining

        def counted(self: Any, campaign_id: int) -> tuple[int, int]:
            left = remaining(self, campaign_id)
            if left[1]:
                waits.append(left)
            return left

        monkeypatch.setattr(type(store), "remaining", counted)
        async with gateway.client() as client, anyio.create_task_group() as group:

            async def cancel_once_the_rest_is_sent() -> None:
                await _until(lambda: campaign.report().counts["accepted"] >= 2)
                # The worker keeps waiting for the other's lease: it found the rows in flight
                # and came back to look again, without taking them.
                await _until(lambda: len(waits) >= 2)
                group.cancel_scope.cancel()

            group.start_soon(cancel_once_the_rest_is_sent)
            await campaign.run(client)
        counts = campaign.report().counts
        assert counts["sending"] == 2 and counts["accepted"] == 2
        # The slow worker's answer arrives: its outcome is written over its own claim.
        from mysms_async.campaigns._store import Settled

        ids = [row[0] for row in store._x("SELECT id FROM messages WHERE outcome = 1")]
        store.settle("slow-worker", [Settled(i, Outcome.ACCEPTED, "x", 2, None) for i in ids], 1)
        store.close()
        assert campaign.report().counts["accepted"] == 4


async def test_cancelled_in_flight_is_recorded_unknown(journal_url: str) -> None:
    gateway = _gateway()
    gateway.inject(Latency(5), endpoint="send")
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", _rows(3))
        async with gateway.client() as client, anyio.create_task_group() as group:

            async def cancel_once_sent() -> None:
                await _until(lambda: bool(gateway.requests))  # on the wire: answer in 5 s
                group.cancel_scope.cancel()

            group.start_soon(cancel_once_sent)
            await campaign.run(client)
        report = campaign.report()
        assert report.counts["unknown"] == 3
        out = io.StringIO()
        campaign.export(out, fmt="jsonl")
        assert all(
            "may have reached the gateway" in json.loads(line)["reason"]
            for line in out.getvalue().splitlines()
        )


async def test_stop_lets_the_request_in_flight_finish(journal_url: str) -> None:
    gateway = _gateway()
    gateway.inject(Latency(0.5), endpoint="send")
    stop = anyio.Event()
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", _rows(6))
        async with gateway.client(batch_size=2) as client, anyio.create_task_group() as group:

            async def stop_soon() -> None:
                await _until(lambda: bool(gateway.requests))  # arrived; its answer waits
                stop.set()

            group.start_soon(stop_soon)
            summary = await campaign.run(client, batch_size=2, stop=stop)
        assert summary.stopped
        counts = campaign.report().counts
        assert counts["accepted"] == 2 and counts["pending"] == 4 and counts["unknown"] == 0


async def test_auth_error_stops_the_run_and_sends_nothing_twice(journal_url: str) -> None:
    gateway = _gateway()
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", _rows(4))
        async with gateway.client(password="wrong", batch_size=2) as client:
            from mysms_async import AuthError

            with pytest.raises(AuthError):
                await campaign.run(client, batch_size=2)
        assert campaign.report().counts["pending"] == 4


async def test_connect_refused_goes_back_to_pending_then_is_sent(journal_url: str) -> None:
    gateway = _gateway()
    gateway.inject(ConnectRefused(), endpoint="send", times=3)
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", _rows(2))
        async with gateway.client(retry_backoff=0, max_retries=2) as client:
            summary = await campaign.run(client)
        assert summary.returned == 2
        assert campaign.report().counts["accepted"] == 2
        assert len(gateway.messages) == 2


@pytest.mark.parametrize("name", ["same", "hard link", "symlink"])
def test_a_second_sqlite_worker_is_refused(tmp_path: Path, name: str) -> None:
    """One SQLite file, one worker per campaign, whatever name the second one reaches it by."""
    url = f"sqlite:///{tmp_path / 'j.db'}"
    other = tmp_path / "elsewhere" / "other.db"
    other.parent.mkdir()
    with Journal(url) as journal:
        anyio.run(journal.create, "c", _rows(2))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from mysms_async.campaigns._open import open_store
                store = open_store({url!r})
                store.lock_worker(store.campaign("c").id, "other")
                print("locked", flush=True)
                time.sleep(30)
                """
            ),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"

        if name == "hard link":
            os.link(tmp_path / "j.db", other)
        elif name == "symlink":
            other.symlink_to(tmp_path / "j.db")
        second_url = url if name == "same" else f"sqlite:///{other}"

        async def second() -> None:
            with Journal(second_url) as journal:
                async with _gateway().client() as client:
                    await journal.campaign("c").run(client)

        with pytest.raises(JournalError, match="another worker is already running"):
            anyio.run(second)
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone (even by SIGKILL), the campaign runs.
    gateway = _gateway()

    async def third() -> None:
        with Journal(url) as journal:
            async with gateway.client() as client:
                await journal.campaign("c").run(client)

    anyio.run(third)
    assert len(gateway.messages) == 2


# --- schema ------------------------------------------------------------------------------------


def test_a_newer_journal_says_why_it_cannot_be_opened(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO mysms_schema VALUES (7, 0)")
    with pytest.raises(JournalError, match="schema version 7, newer than this library's 2"):
        Journal(f"sqlite:///{path}")


def test_a_database_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE messages (x)")
    with pytest.raises(JournalError, match="not a mysms campaign journal"):
        Journal(f"sqlite:///{path}")


def test_newer_postgres_journal_refused(postgres_url: str) -> None:
    Journal(postgres_url).close()
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("INSERT INTO mysms_schema VALUES (3, 0)")
    with pytest.raises(JournalError, match="schema version 3, newer"):
        Journal(postgres_url)


def test_unsupported_url_and_missing_campaign(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="not supported"):
        Journal("mysql://localhost/db")
    with (
        Journal(f"sqlite:///{tmp_path / 'nope.db'}") as journal,
        pytest.raises(JournalError, match="no campaign 'nope'"),
    ):
        journal.campaign("nope")


def test_password_in_postgres_url_is_not_shown() -> None:
    with pytest.raises(JournalError) as caught:
        Journal("postgresql://user:Sup3rS3cretPw@127.0.0.1:1/db")
    assert "Sup3rS3cretPw" not in str(caught.value)


# --- track and report --------------------------------------------------------------------------


async def test_track_stores_each_state_change_with_its_time(journal_url: str) -> None:
    gateway = _gateway(fail_share=0.5, seed=3)
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", _rows(20))
        async with gateway.client() as client:
            await campaign.run(client)
            gateway.advance(1)
            first = await campaign.track(client)
            assert first.changes == 20 and first.left == 20
            gateway.advance(1)
            started = now_ms()
            summary = await campaign.track(client, until_final=True, timeout=5, interval=0.05)
        assert summary.left == 0 and not summary.timed_out
        report = campaign.report()
        failing = sum(1 for m in gateway.messages.values() if m.state == -14)
        assert 0 < failing < 20
        assert report.counts["undelivered"] == failing
        assert report.undelivered_by_state == {-14: failing}
        assert report.counts["delivered"] == 20 - failing
        events = list(campaign.events())
        assert len(events) == 40
        by_key: dict[str, list[int]] = {}
        for key, at, state in events:
            by_key.setdefault(key, []).append(state)
            assert at >= started or state == 3
        assert all(states[0] == 3 and states[1] in (4, -14) for states in by_key.values())


async def test_two_trackers_on_postgres_never_ask_about_one_id_twice_in_a_round(
    postgres_url: str,
) -> None:
    gateway = _gateway()
    with Journal(postgres_url) as journal:
        campaign = await journal.create("c", _rows(400))
        async with gateway.client(batch_size=500) as client:
            await campaign.run(client, batch_size=200)
        with Journal(postgres_url) as other:
            second = other.campaign("c")
            async with (
                gateway.client(batch_size=20) as one,
                gateway.client(batch_size=20) as two,
                anyio.create_task_group() as group,
            ):
                group.start_soon(lambda: campaign.track(one, batch_size=20))
                group.start_soon(lambda: second.track(two, batch_size=20))
    asked = Counter(
        i for request in gateway.requests if request.endpoint == "status" for i in request.ids
    )
    assert len(asked) == 400 and max(asked.values()) == 1


async def test_report_counts_have_exactly_the_pinned_keys(journal_url: str) -> None:
    gateway = _gateway()
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", [*_rows(3), {"destination": "", "text": "x"}])
        async with gateway.client() as client:
            await campaign.run(client)
        document = campaign.report(price_per_part=gateway.price_per_part).as_dict()
        assert set(document["counts"]) == COUNT_KEYS
        assert all(isinstance(v, int) for v in document["counts"].values())
        assert sum(document["counts"].values()) == document["total"] == 4
        assert document["cost"] == str(3 * gateway.price_per_part)
        out = io.StringIO()
        campaign.export(out)
        header = out.getvalue().splitlines()[0].split(",")
        assert {"key", "destination", "outcome", "id", "state"} <= set(header)
        outcomes = [line.split(",")[3] for line in out.getvalue().splitlines()[1:]]
        assert sorted(outcomes) == ["accepted", "accepted", "accepted", "invalid"]
        assert Outcome.ACCEPTED.label == "accepted"


def test_the_public_names_are_few_and_exact() -> None:
    import mysms_async.campaigns as campaigns

    assert set(campaigns.__all__) == {
        "DEFAULT_JOURNAL",
        "ENV_JOURNAL",
        "Campaign",
        "DuplicateKeyError",
        "Journal",
        "JournalError",
        "Outcome",
        "Report",
        "RunSummary",
        "TrackSummary",
    }
    assert issubclass(campaigns.JournalError, __import__("mysms_async").MySMSError)


async def test_bad_options_are_validation_errors_before_any_request(journal_url: str) -> None:
    from mysms_async import ValidationError

    gateway = _gateway()
    with Journal(journal_url) as journal:
        with pytest.raises(ValidationError, match="name"):
            await journal.create("", [])
        campaign = await journal.create("c", _rows(1))
        async with gateway.client() as client:
            for options in ({"batch_size": 0}, {"lanes": 0}, {"rate_limit": 0}, {"lease": -1}):
                with pytest.raises(ValidationError):
                    await campaign.run(client, **options)  # type: ignore[arg-type]
    assert gateway.requests == []


# --- resolve: skipped stays skipped, resend only what it names, every id kept -------------------


def _unknown_batch(store: Any, cid: int, worker: str, count: int) -> list[int]:
    """A batch a dead worker left in flight, its lease over: the next expiry makes it unknown."""
    return [row.id for row in store.claim(cid, worker, count, -0.001)]


async def test_a_skipped_message_stays_skipped_and_resend_sends_only_what_it_names(
    journal_url: str,
) -> None:
    gateway = _gateway()
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", _rows(6))
        store = open_store(journal_url)
        cid = store.campaign("c").id  # type: ignore[union-attr]
        _unknown_batch(store, cid, "host-a/run1", 2)  # m0, m1: the first crash
        store.expire(cid, "lease expired")
        assert campaign.resolve(resend_unknown=False) == 2  # the operator: never resend these
        assert campaign.report().counts["skipped"] == 2
        _unknown_batch(store, cid, "host-b/run2", 2)  # m2, m3: a newer crash
        store.expire(cid, "lease expired")
        _unknown_batch(store, cid, "host-c/run3", 1)  # m4: a third one, not named below
        store.expire(cid, "lease expired")
        store.close()
        # A resend meant for the newer crash's unknowns, by the run's worker label.
        assert campaign.resolve(resend_unknown=True, run="host-b") == 2
        async with gateway.client() as client:
            await campaign.run(client)
        sent = sorted(m.text for m in gateway.messages.values())
        assert sent == ["m2", "m3", "m5"]  # never m0, m1 (skipped) nor m4 (not named)
        counts = campaign.report().counts
        assert counts["skipped"] == 2 and counts["unknown"] == 1 and counts["accepted"] == 3
        # A resend without selection still leaves skipped messages alone.
        assert campaign.resolve(resend_unknown=True) == 1  # m4 only
        # Only naming a skipped message by key reverses the decision.
        keys = [r["key"] for r in campaign.export_records() if r["outcome"] == "skipped"]
        assert campaign.resolve(resend_unknown=True, keys=keys[:1]) == 1
        async with gateway.client() as client:
            await campaign.run(client)
        assert campaign.report().counts["skipped"] == 1
        assert max(Counter(m.text for m in gateway.messages.values()).values()) == 1


async def test_resolve_by_time_and_bad_selections(journal_url: str) -> None:
    import datetime as dt

    with Journal(journal_url) as journal:
        campaign = await journal.create("c", _rows(3))
        store = open_store(journal_url)
        cid = store.campaign("c").id  # type: ignore[union-attr]
        _unknown_batch(store, cid, "w/1", 3)
        store.expire(cid, "lease expired")
        store.close()
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
        assert campaign.resolve(resend_unknown=True, since=later) == 0
        assert campaign.resolve(resend_unknown=False, until=later) == 3
        with pytest.raises(ValidationError, match="since"):
            campaign.resolve(resend_unknown=True, since=dt.datetime(2026, 1, 1))
        with pytest.raises(ValidationError, match="keys"):
            campaign.resolve(resend_unknown=True, keys="k1")


async def test_every_gateway_id_a_message_was_given_is_kept(journal_url: str) -> None:
    """A slow worker's answer arrives after its rows were resolved and sent again."""
    gateway = _gateway()
    with Journal(journal_url) as journal:
        campaign = await journal.create("c", _rows(1))
        store = open_store(journal_url)
        cid = store.campaign("c").id  # type: ignore[union-attr]
        (row,) = _unknown_batch(store, cid, "slow/1", 1)
        store.expire(cid, "lease expired")
        assert campaign.resolve(resend_unknown=True) == 1
        async with gateway.client() as client:
            await campaign.run(client)
        (second,) = [r["id"] for r in campaign.export_records()]
        store.settle("slow/1", [Settled(row, Outcome.ACCEPTED, "first-id", 1, None)], now_ms())
        store.close()
        (record,) = campaign.export_records()
        assert record["outcome"] == "accepted" and record["id"] == second
        assert record["ids"].split() == [second, "first-id"]


def test_a_version_1_sqlite_journal_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:  # what version 1 wrote
        db.execute("ALTER TABLE messages DROP COLUMN gateway_ids")
        db.execute("ALTER TABLE campaigns DROP COLUMN loading_above")
        db.execute("DELETE FROM mysms_schema WHERE version = 2")
    Journal(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT max(version) FROM mysms_schema").fetchone() == (2,)
        db.execute("SELECT gateway_ids FROM messages")


# --- one clock, unique runs ----------------------------------------------------------------------


async def test_a_worker_clock_ahead_leaves_live_leases_alone_on_postgres(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leases are computed on the server's clock: a worker 600 s ahead expires nothing live."""
    gateway = _gateway()
    with Journal(postgres_url) as journal:
        campaign = await journal.create("c", _rows(4))
        store = open_store(postgres_url)
        cid = store.campaign("c").id  # type: ignore[union-attr]
        store.claim(cid, "live/1", 2, 60.0)  # a live worker, its answer on the way
        store.close()
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 600)  # this worker's clock
        stop = anyio.Event()

        def once_the_rest_is_sent(summary: RunSummary) -> None:
            if sum(summary.outcomes.values()) >= 2:
                stop.set()

        with anyio.fail_after(20):
            async with gateway.client() as client:
                await campaign.run(client, stop=stop, on_batch=once_the_rest_is_sent)
        counts = campaign.report().counts
        assert counts["sending"] == 2 and counts["unknown"] == 0 and counts["accepted"] == 2


async def test_a_sqlite_slot_written_by_a_clock_ahead_is_said_and_not_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = _gateway()
    real = time.time
    with Journal(f"sqlite:///{tmp_path / 'j.db'}") as journal:
        campaign = await journal.create("c", _rows(4))
        monkeypatch.setattr(time, "time", lambda: real() + 600)  # a run on a clock ahead
        async with gateway.client(batch_size=2) as client:
            await campaign.run(client, batch_size=2, rate_limit=20)
        monkeypatch.setattr(time, "time", real)  # the clock set right
        await journal.create("c", _rows(4, start=4))
        with anyio.fail_after(10):  # before: the pace waited for the slot 600 s ahead
            async with gateway.client(batch_size=2) as client:
                await campaign.run(client, batch_size=2)
        assert campaign.report().counts["accepted"] == 8
    assert any("ahead of this machine's clock" in r.getMessage() for r in caplog.records)


async def test_a_reused_worker_label_takes_over_its_dead_runs_rows(postgres_url: str) -> None:
    gateway = _gateway()
    with Journal(postgres_url) as journal:
        campaign = await journal.create("c", _rows(4))
        store = open_store(postgres_url)
        cid = store.campaign("c").id  # type: ignore[union-attr]
        store.claim(cid, "pod-1/0123456789ab", 2, 60.0)  # pod-1's run, killed mid-request
        store.claim(cid, "pod-2/0123456789ab", 1, 0.5)  # another label's: left to its lease
        store.close()
        with anyio.fail_after(20):  # before: the dead run's leases were waited for (or renewed)
            async with gateway.client() as client:
                summary = await campaign.run(client, worker_id="pod-1")
        assert summary.worker.startswith("pod-1/") and summary.worker != "pod-1/0123456789ab"
        counts = campaign.report().counts
        assert counts["unknown"] == 3 and counts["accepted"] == 1
        reasons = {r["reason"] for r in campaign.export_records() if r["outcome"] == "unknown"}
        assert any("stopped" in reason for reason in reasons)  # the dead run's, at once
        with pytest.raises(ValidationError, match="worker_id"):
            await campaign.run(client, worker_id="pod/1")
