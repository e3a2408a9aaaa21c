"""Soak: 30,000 messages through ``iter_send`` to the emulator over a loopback port, with faults,
on each engine (httpx, aiohttp).

The gateway spoils about 5% of requests (see ``soak_gateway.SOAK_FAULTS``). Afterwards:

* every input message has exactly one outcome, in input order;
* every message the gateway accepted is reported accepted (with its id) or delivery-unknown,
  never as failed; every message reported accepted is at the gateway under that id;
* the gateway accepted nothing twice;
* no task and no connection is left once the client is closed;
* the client's memory stayed flat while it streamed.

``MYSMS_SOAK_MESSAGES`` sets the number of messages per engine (30,000 by default: a few seconds
each on an idle two-core machine, up to twenty on a busy one), ``MYSMS_SOAK_SEED`` the faults'
seed; ``pytest tests/soak -s`` prints a summary. The checks read ``/proc``, so the test runs on
Linux.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest

from mysms_async import (
    DeliveryUnknownError,
    GatewayError,
    Message,
    MySMSClient,
    ValidationError,
)
from mysms_async.testing import DEMO_PASSWORD, DEMO_SENDER, DEMO_USERNAME

MESSAGES = int(os.environ.get("MYSMS_SOAK_MESSAGES", "30000"))
SEED = int(os.environ.get("MYSMS_SOAK_SEED", "20260524"))
FAULT_RATE = 0.05
BATCH_SIZE = 100
MAX_CONCURRENCY = 4
#: One attempt's deadline: shorter than the gateway's slowest fault (``Latency(1.5)``).
TIMEOUT = 1.0
#: RSS may grow this much between 20% and 100% of the run.
MAX_RSS_GROWTH = 4 * 1024 * 1024
RSS_SAMPLES = 20

GATEWAY_SCRIPT = Path(__file__).with_name("soak_gateway.py")
INDEX = re.compile(r"#(\d+)#")

# One byte per message: its outcome.
UNSET, ACCEPTED, REJECTED, INVALID, UNKNOWN, FAILED = range(6)
OUTCOME_NAMES = {
    ACCEPTED: "accepted",
    REJECTED: "rejected by the gateway",
    INVALID: "invalid (not sent)",
    UNKNOWN: "delivery unknown",
    FAILED: "failed (not sent)",
}


class Report(msgspec.Struct):
    """The gateway's side, as ``soak_gateway.py`` writes it."""

    requests: int
    faults: dict[str, int]
    messages: list[tuple[str, str]]


def index_of(text: str) -> int:
    found = INDEX.search(text)
    assert found is not None, text
    return int(found.group(1))


def make_message(i: int) -> Message:
    """Mostly plain messages, and a few of each kind the client or the gateway must refuse."""
    if i % 1000 == 999:
        return Message("12345", f"#{i}# a destination too short to send")  # ValidationError
    if i % 1000 == 500:
        return Message("79112223333", f"#{i}# from a sender not registered", sender="Nobody")
    if i % 7 == 0:
        return Message("+7 (911) 222-33-33", f"#{i}# Привет, это проверка связи & <ok>")
    if i % 11 == 0:
        date = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
        return Message("79112223333", f"#{i}# later", date=date, ttl=60)
    return Message("79112223333", f"#{i}# soak message")


async def messages(count: int) -> AsyncIterator[Message]:
    for i in range(count):
        yield make_message(i)


def error_label(error: Exception) -> str:
    """``DeliveryUnknownError (gateway answered HTTP 500)``: the kind, without ids or sizes."""
    if isinstance(error, GatewayError):
        return f"GatewayError (request state {error.state})"
    text = str(error)
    if isinstance(error, DeliveryUnknownError):
        text = text.partition("unknown: ")[2].partition(";")[0]
    return f"{type(error).__name__} ({text.partition(' (')[0].partition(':')[0][:60]})"


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_connections(port: int) -> int:
    """Sockets of this process connected to ``port``, in any TCP state (CLOSE_WAIT included)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    if remote_port == port and fields[9] in inodes:
                        count += 1
        except FileNotFoundError:
            continue
    return count


@dataclass
class Run:
    """The client's side, kept compact: one byte per message and 16 bytes per accepted id."""

    count: int
    outcomes: bytearray = field(init=False)
    ids: bytearray = field(init=False)
    errors: Counter[str] = field(default_factory=Counter)
    out_of_order: list[tuple[int, int]] = field(default_factory=list)
    odd_ids: list[str] = field(default_factory=list)
    results: int = 0
    rss: list[int] = field(default_factory=list)
    max_connections: int = 0
    tasks_left: int = 0
    connections_left: int = -1
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self.outcomes = bytearray(self.count)
        self.ids = bytearray(16 * self.count)


async def run_client(base_url: str, run: Run, backend: str) -> None:
    port = int(base_url.split(":")[2].split("/")[0])
    sample_every = max(run.count // RSS_SAMPLES, 1)
    started = time.perf_counter()
    async with MySMSClient(
        DEMO_USERNAME,
        DEMO_PASSWORD,
        sender=DEMO_SENDER,
        base_url=base_url,
        batch_size=BATCH_SIZE,
        max_concurrency=MAX_CONCURRENCY,
        retry_backoff=0,
        timeout=TIMEOUT,
        backend=backend,  # type: ignore[arg-type]
    ) as client:
        position = 0
        async for result in client.iter_send(messages(run.count)):
            index = index_of(result.message.text)
            if index != position and len(run.out_of_order) < 10:
                run.out_of_order.append((position, index))
            if position < run.count:
                if result.error is None and result.id is not None and result.state is not None:
                    outcome = ACCEPTED if result.state >= 0 else REJECTED
                    try:
                        run.ids[16 * position : 16 * position + 16] = uuid.UUID(result.id).bytes
                    except ValueError:
                        run.odd_ids.append(result.id)
                elif result.error is None and result.state is not None and result.state < 0:
                    outcome = REJECTED
                elif isinstance(result.error, ValidationError):
                    outcome = INVALID
                elif isinstance(result.error, DeliveryUnknownError):
                    outcome = UNKNOWN
                else:
                    outcome = FAILED
                run.outcomes[position] = outcome
                if result.error is not None:
                    run.errors[error_label(result.error)] += 1
            position += 1
            if position % sample_every == 0:
                run.rss.append(rss_bytes())
                run.max_connections = max(run.max_connections, open_connections(port))
        run.results = position
    run.seconds = time.perf_counter() - started
    run.tasks_left = len(asyncio.all_tasks() - {asyncio.current_task()})
    run.connections_left = open_connections(port)


def start_gateway() -> tuple[subprocess.Popen[bytes], str]:
    gateway = subprocess.Popen(
        [sys.executable, str(GATEWAY_SCRIPT), str(SEED), str(FAULT_RATE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert gateway.stdout is not None
    base_url = gateway.stdout.readline().decode().strip()
    if not base_url.startswith("http://127.0.0.1:"):
        gateway.kill()
        gateway.wait()
        pytest.fail(f"the soak gateway did not start (first line {base_url!r})")
    return gateway, base_url


def stop_gateway(gateway: subprocess.Popen[bytes]) -> Report:
    out, _ = gateway.communicate(b"stop\n", timeout=120)
    assert gateway.returncode == 0, "the soak gateway failed; see its stderr above"
    return msgspec.json.decode(out, type=Report)


def summary(run: Run, report: Report, at_gateway: bytearray) -> str:
    """The numbers for the README: messages, faults injected by kind, outcomes."""
    outcomes = Counter(OUTCOME_NAMES.get(o, "none") for o in run.outcomes)
    unknown_reached = sum(
        1 for i in range(run.count) if run.outcomes[i] == UNKNOWN and at_gateway[i]
    )
    faults = ", ".join(f"{name} {count}" for name, count in report.faults.items())
    baseline = run.rss[len(run.rss) // 5 - 1]
    growth = max(run.rss[len(run.rss) // 5 :]) - baseline
    return (
        f"soak: {run.count} messages in {run.seconds:.1f}s ({run.count / run.seconds:.0f}/s),"
        f" {report.requests} requests, {sum(report.faults.values())} faults injected"
        f" ({faults}); outcomes: {', '.join(f'{k} {v}' for k, v in outcomes.most_common())}"
        f" ({unknown_reached} of the unknown had reached the gateway);"
        f" gateway accepted {len(report.messages)};"
        f" client RSS {baseline / 2**20:.1f} MB at 20%, {growth / 2**10:+.0f} kB by the end;"
        f" at most {run.max_connections} connections open, {run.connections_left} after"
        f" aclose(); errors: {dict(run.errors.most_common())}"
    )


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
def test_soak_iter_send_loses_nothing_and_sends_nothing_twice(backend: str) -> None:
    run = Run(MESSAGES)
    gateway, base_url = start_gateway()
    try:
        asyncio.run(run_client(base_url, run, backend))
    finally:
        report = stop_gateway(gateway)
    at_gateway = bytearray(MESSAGES)
    for _, text in report.messages:
        at_gateway[index_of(text)] = 1
    print("\n" + summary(run, report, at_gateway))

    # The faults did happen (the draw is seeded: the same ones every run).
    assert report.requests < 200 or sum(report.faults.values()) > 0

    # Exactly one outcome per input message, in input order.
    assert run.results == MESSAGES
    assert run.out_of_order == []
    assert UNSET not in run.outcomes
    assert run.odd_ids == []

    # The gateway accepted nothing twice.
    texts = Counter(text for _, text in report.messages)
    assert [text for text, seen in texts.items() if seen > 1] == []

    # What the gateway accepted, the client reports as accepted under the same id, or unknown.
    wrong: list[str] = []
    for message_id, text in report.messages:
        index = index_of(text)
        outcome = run.outcomes[index]
        if outcome == UNKNOWN:
            continue
        if outcome != ACCEPTED:
            wrong.append(f"#{index} accepted by the gateway, reported {OUTCOME_NAMES[outcome]}")
        elif bytes(run.ids[16 * index : 16 * index + 16]) != uuid.UUID(message_id).bytes:
            wrong.append(f"#{index} accepted as {message_id}, reported under another id")
    assert wrong[:10] == []
    # ... and every message the client reports accepted is at the gateway.
    missing = [i for i in range(MESSAGES) if run.outcomes[i] == ACCEPTED and not at_gateway[i]]
    assert missing[:10] == []

    # Nothing is left behind.
    assert run.tasks_left == 0
    assert run.connections_left == 0
    assert 0 < run.max_connections <= MAX_CONCURRENCY

    # The client streamed in bounded memory: RSS flat from 20% of the run to its end.
    baseline = run.rss[len(run.rss) // 5 - 1]
    growth = max(run.rss[len(run.rss) // 5 :]) - baseline
    assert growth < MAX_RSS_GROWTH, [sample >> 10 for sample in run.rss]
