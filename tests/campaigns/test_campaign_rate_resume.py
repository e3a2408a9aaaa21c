"""A campaign-wide rate limit across worker processes, and a run stopped halfway that resumes.

The rate is measured on the emulator's side: a thin ASGI wrapper stamps each send request with
its arrival time on the test process's monotonic clock before handing it to the gateway.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
from pg_cluster import ArrivalClock, serve_asgi

from mysms_async import MySMSClient
from mysms_async.campaigns import Journal, RunSummary
from mysms_async.campaigns._open import open_store
from mysms_async.testing import DEMO_PASSWORD, DEMO_SENDER, DEMO_USERNAME, FakeGateway

WORKER = str(Path(__file__).with_name("campaign_worker.py"))


def test_rate_limit_holds_across_three_worker_processes(postgres_url: str) -> None:
    rate, batch, requests = 20, 50, 70
    with Journal(postgres_url) as journal:
        rows = ({"destination": f"79{i:09d}", "text": f"r{i}"} for i in range(batch * requests))
        asyncio.run(journal.create("paced", rows))
    gateway = FakeGateway()
    gateway.set_balance("demo", 10**9)
    clock = ArrivalClock(gateway)
    with serve_asgi(clock) as base_url:
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    WORKER,
                    postgres_url,
                    "paced",
                    base_url,
                    f"p{n}",
                    "--batch",
                    str(batch),
                    "--lanes",
                    "2",
                    "--rate",
                    str(rate),
                    "--lease",
                    "10",
                ],
                stderr=subprocess.PIPE,
            )
            for n in range(3)
        ]
        for worker in workers:
            _, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err.decode(errors="replace")[-2000:]
    assert len(gateway.messages) == batch * requests
    arrivals = sorted(clock.arrivals)
    assert len(arrivals) == requests

    # At most `rate` requests in any one-second window, on the gateway's own clock, the start
    # included: each lane's first request (it opens a connection, so may arrive late) keeps a
    # little time free after it, so that it cannot bunch with the next ones.
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(arrivals)]
    assert most_in_one_second(arrivals) <= rate, f"gaps: {gaps}"
    # And the workers together did use the rate: not three times it, not a trickle.
    span = arrivals[-1] - arrivals[0]
    assert (requests - 1) / rate <= span < 3 * (requests - 1) / rate


def _rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for i in range(600):
        row = {"destination": f"79{i:09d}", "text": f"resume {i}"}
        if i % 50 == 7:
            row["sender"] = "Stranger"  # refused by the gateway (-11)
        if i % 75 == 11:
            row["destination"] = "12"  # invalid: refused by the client before sending
        rows.append(row)
    return rows


async def test_a_run_stopped_halfway_resumes_to_the_same_counts(journal_url: str) -> None:
    with Journal(journal_url) as journal:
        straight = await journal.create("straight", _rows())
        resumed = await journal.create("resumed", _rows())
        gateway = FakeGateway()
        gateway.set_balance("demo", 10**9)
        async with gateway.client(batch_size=20) as client:
            await straight.run(client, batch_size=20)
        expected = straight.report().counts

        gateway = FakeGateway()
        gateway.set_balance("demo", 10**9)
        stop = anyio.Event()

        def halfway(summary: RunSummary) -> None:
            if sum(summary.outcomes.values()) >= 300:
                stop.set()

        async with gateway.client(batch_size=20) as client:
            first = await resumed.run(client, batch_size=20, lanes=2, stop=stop, on_batch=halfway)
            assert first.stopped
            middle = resumed.report().counts
            assert 300 <= 600 - middle["pending"] < 600 and middle["sending"] == 0
            await resumed.run(client, batch_size=20, lanes=2)
        assert resumed.report().counts == expected
        assert expected["refused"] == 12 and expected["invalid"] == 8
        assert max(Counter(m.text for m in gateway.messages.values()).values()) == 1


def most_in_one_second(arrivals: list[float]) -> int:
    """The most requests that arrived within any one-second window."""
    arrivals = sorted(arrivals)
    return max(
        (sum(1 for later in arrivals[i:] if later < at + 1.0) for i, at in enumerate(arrivals)),
        default=0,
    )


def _mixed_rows(count: int) -> list[dict[str, str]]:
    """Messages with mixed options: a sender the gateway refuses, a date, a ttl."""
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
    rows: list[dict[str, str]] = []
    for i in range(count):
        row = {"destination": f"79{i:09d}", "text": f"g{i}"}
        if i % 4 == 1:
            row["sender"] = "Stranger"
        if i % 4 == 2:
            row["date"] = later
        if i % 4 == 3:
            row["ttl"] = "60"
        rows.append(row)
    return rows


async def test_get_is_paced_per_request_with_mixed_options(tmp_path: Path) -> None:
    """GET sends one message per request: each request takes its own slot."""
    rate, count = 10, 20
    gateway = FakeGateway()
    gateway.set_balance("demo", 10**9)
    clock = ArrivalClock(gateway)
    with Journal(f"sqlite:///{tmp_path / 'j.db'}") as journal:
        campaign = await journal.create("g", _mixed_rows(count))
        with serve_asgi(clock) as base_url:
            client = MySMSClient(
                DEMO_USERNAME,
                DEMO_PASSWORD,
                sender=DEMO_SENDER,
                base_url=base_url,
                http_method="GET",
                batch_size=5,
                max_concurrency=5,
            )
            async with client:
                summary = await campaign.run(client, batch_size=5, lanes=2, rate_limit=rate)
        assert summary.requests == count == len(clock.arrivals)
        assert campaign.report().counts["refused"] == count // 4
    assert most_in_one_second(clock.arrivals) <= rate


async def test_a_rate_set_by_another_worker_holds_at_once(journal_url: str) -> None:
    """The rate is read from the journal before every request, not once at the start."""
    rate, count = 10, 24
    gateway = FakeGateway()
    gateway.set_balance("demo", 10**9)
    clock = ArrivalClock(gateway)
    set_at: list[float] = []
    with Journal(journal_url) as journal:
        campaign = await journal.create(
            "r", [{"destination": f"79{i:09d}", "text": f"r{i}"} for i in range(count)]
        )
        assert campaign.rate_limit is None
        other = open_store(journal_url)
        cid = other.campaign("r").id  # type: ignore[union-attr]

        def another_worker_sets_the_rate(summary: RunSummary) -> None:
            if not set_at:
                other.set_rate_limit(cid, float(rate))  # as `run --rate-limit 10` elsewhere
                set_at.append(time.monotonic())

        with serve_asgi(clock) as base_url:
            client = MySMSClient(
                DEMO_USERNAME, DEMO_PASSWORD, sender=DEMO_SENDER, base_url=base_url, batch_size=1
            )
            async with client:
                await campaign.run(client, batch_size=1, on_batch=another_worker_sets_the_rate)
        other.close()
        assert campaign.rate_limit == rate
    later = [at for at in clock.arrivals if at > set_at[0]]
    assert len(later) == count - 1
    assert most_in_one_second(later) <= rate
