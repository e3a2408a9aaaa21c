"""A campaign-wide rate limit across worker processes, and a run stopped halfway that resumes.

The rate is measured on the emulator's side: a thin ASGI wrapper stamps each send request with
its arrival time on the test process's monotonic clock before handing it to the gateway.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import uvicorn

from mysms_async.campaigns import Journal, RunSummary
from mysms_async.testing import FakeGateway

WORKER = str(Path(__file__).with_name("campaign_worker.py"))


class ArrivalClock:
    """ASGI middleware: the arrival time of every request to a send endpoint."""

    def __init__(self, app: FakeGateway) -> None:
        self.app = app
        self.arrivals: list[float] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "/send/" in scope["path"]:
            self.arrivals.append(time.monotonic())
        await self.app(scope, receive, send)


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/rest/sms/"
    finally:
        server.should_exit = True
        thread.join(10)


def test_rate_limit_holds_across_three_worker_processes(postgres_url: str) -> None:
    rate, batch, requests = 20, 50, 70
    with Journal(postgres_url) as journal:
        rows = ({"destination": f"79{i:09d}", "text": f"r{i}"} for i in range(batch * requests))
        asyncio.run(journal.create("paced", rows))
    gateway = FakeGateway()
    gateway.set_balance("demo", 10**9)
    clock = ArrivalClock(gateway)
    with _serve(clock) as base_url:
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

    # At most `rate` requests in any one-second window, on the gateway's own clock; the one
    # burst allowed is at the start, where each worker's first request also opens its
    # connection, so may arrive late and bunch with the next ones: one extra per worker there.
    def in_window(i: int) -> int:
        return sum(1 for later in arrivals[i:] if later < arrivals[i] + 1.0)

    start = [in_window(i) for i, at in enumerate(arrivals) if at < arrivals[0] + 1.0]
    steady = [in_window(i) for i, at in enumerate(arrivals) if at >= arrivals[0] + 1.0]
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(arrivals)]
    assert max(start) <= rate + 3, f"start burst of {max(start)}; gaps: {gaps}"
    assert max(steady) <= rate, f"{max(steady)} requests in one second; gaps: {gaps}"
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
