"""Issue 17.5, structurally: the event loop never waits for the journal, and a batch's answers
and the next claim are one journal transaction (several lanes' answers may share it).

Each test runs on SQLite and on PostgreSQL. The store is wrapped so that every call records the
thread it ran on and its arguments; nothing here measures time (speed lives in
``benchmarks/campaign_bench.py``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from mysms_async.campaigns import Journal
from mysms_async.testing import FakeGateway


class Recording:
    """A store whose every method call is recorded: (name, thread id, args)."""

    def __init__(self, store: Any, pause_first: str | None = None) -> None:
        self._store = store
        self.calls: list[tuple[str, int, tuple[Any, ...]]] = []
        self._pause_first = pause_first
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                first = not any(c[0] == name for c in self.calls)
                self.calls.append((name, threading.get_ident(), args))
            if first and name == self._pause_first:
                # Hold the journal busy (in this worker thread) so that the other lanes' answers
                # arrive meanwhile and wait for it: a pause, not a timed assertion.
                time.sleep(1.0)
            return value(*args, **kwargs)

        return call

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


def _gateway() -> FakeGateway:
    gateway = FakeGateway()
    gateway.set_balance("demo", 10**9)
    return gateway


def _rows(count: int) -> list[dict[str, str]]:
    return [{"destination": f"79{i:09d}", "text": f"m{i}"} for i in range(count)]


def _wrap(journal: Journal, **kwargs: Any) -> Recording:
    recording = Recording(journal._store, **kwargs)
    journal._store = recording  # type: ignore[assignment]
    return recording


async def test_store_calls_never_run_on_the_event_loop_thread(journal_url: str) -> None:
    loop_thread = threading.get_ident()
    gateway = _gateway()
    with Journal(journal_url) as journal:
        recording = _wrap(journal)
        campaign = await journal.create("c", _rows(250))
        async with gateway.client(batch_size=50) as client:
            summary = await campaign.run(client, batch_size=50, lanes=3)
            await campaign.track(client)
        names = set(recording.names())
        calls = list(recording.calls)
        journal._store = recording._store
        assert campaign.report().counts["accepted"] == 250
    assert sum(summary.outcomes.values()) == 250
    # create, run and track each went to the journal, and none of it on the loop's thread
    assert {"begin_load", "insert_rows", "end_load", "settle_and_claim", "due"} <= names
    on_loop = [name for name, thread, _ in calls if thread == loop_thread]
    assert on_loop == []


@pytest.mark.parametrize("lanes", [1, 4])
async def test_a_batch_costs_one_journal_transaction(journal_url: str, lanes: int) -> None:
    """After the first claim, each batch's answers go in with the next claim: no separate
    ``settle`` or ``claim`` per batch, and every message is settled once."""
    gateway = _gateway()
    with Journal(journal_url) as journal:
        recording = _wrap(journal)
        campaign = await journal.create("c", _rows(1000))
        async with gateway.client(batch_size=100) as client:
            summary = await campaign.run(client, batch_size=100, lanes=lanes)
        journal._store = recording._store
        assert campaign.report().counts["accepted"] == 1000
    assert summary.outcomes["accepted"] == 1000
    names = recording.names()
    assert "settle" not in names
    # a first claim per lane, and one more each once the merged claim found nothing left
    assert names.count("claim") <= 2 * lanes
    settled = [
        s.id for name, _, args in recording.calls if name == "settle_and_claim" for s in args[1]
    ]
    assert sorted(settled) == sorted(set(settled)) and len(settled) == 1000
    claimed_after = sum(
        args[6] > 0 for name, _, args in recording.calls if name == "settle_and_claim"
    )
    assert claimed_after >= 1
    # the requests: 10 batches of 100; journal transactions for them: at most one per batch
    assert names.count("settle_and_claim") <= 10


async def test_lanes_that_finish_while_the_journal_is_busy_share_one_transaction(
    journal_url: str,
) -> None:
    gateway = _gateway()
    with Journal(journal_url) as journal:
        recording = _wrap(journal, pause_first="settle_and_claim")
        campaign = await journal.create("c", _rows(800))
        async with gateway.client(batch_size=100) as client:
            summary = await campaign.run(client, batch_size=100, lanes=4)
        journal._store = recording._store
        counts = campaign.report().counts
    assert counts["accepted"] == 800 and summary.outcomes["accepted"] == 800
    sizes = [len(args[1]) for name, _, args in recording.calls if name == "settle_and_claim"]
    # the first lane's write was held: the answers of the three others went in together next,
    # with a claim for each of them
    assert max(sizes) >= 300, sizes
    grouped = next(
        args
        for name, _, args in recording.calls
        if name == "settle_and_claim" and len(args[1]) >= 300
    )
    assert grouped[4] == 100 and grouped[6] == len(grouped[1]) // 100
