"""The soak test's gateway, run as a process of its own: ``python soak_gateway.py SEED RATE``.

It serves a :class:`FakeGateway` on a loopback port with random faults, prints the base URL as
its first line, waits for a line on stdin, and then writes a JSON report of what it saw: every
accepted message (id, text), and every request's fault.

Why a process and not the usual thread: the emulator keeps every accepted message (about 1 kB
each), which would swamp the client's own memory in a shared RSS, and tracemalloc, the other way
to tell them apart, makes the run ten times slower. Apart, the client's RSS is the client's alone,
and the two sides use both cores.
"""

from __future__ import annotations

import sys
from collections import Counter
from decimal import Decimal

import msgspec

from mysms_async.testing import (
    DEMO_USERNAME,
    ConnectRefused,
    DataLength,
    DropAfterRead,
    ErrorState,
    FakeGateway,
    Fault,
    HTTPErrorStatus,
    Latency,
    TruncatedBody,
)

#: What a gateway on the internet does now and then. ``Latency(1.5)`` outlasts the soak client's
#: one-second timeout: the gateway carries the send out and the client never hears of it.
SOAK_FAULTS: tuple[Fault, ...] = (
    DropAfterRead(),
    HTTPErrorStatus(500),
    HTTPErrorStatus(502),
    HTTPErrorStatus(503),
    HTTPErrorStatus(429),
    HTTPErrorStatus(429, retry_after=0),
    ErrorState(-50),
    ErrorState(-51),
    ErrorState(-52),
    TruncatedBody(),
    TruncatedBody(close=True),
    DataLength(-1),
    Latency(0.02),
    Latency(1.5),
    ConnectRefused(),
)


def fault_name(fault: Fault) -> str:
    """A short, stable label: ``HTTPErrorStatus(429, retry_after=0)`` is ``HTTP 429 Retry-After``"""
    if isinstance(fault, HTTPErrorStatus):
        return f"HTTP {fault.code}" + (" Retry-After" if fault.retry_after is not None else "")
    if isinstance(fault, ErrorState):
        return f"state {fault.code}"
    if isinstance(fault, Latency):
        return f"latency {fault.seconds:g}s"
    if isinstance(fault, TruncatedBody):
        return "truncated body (connection closed)" if fault.close else "truncated body"
    if isinstance(fault, DataLength):
        return f"data {fault.delta:+d} entry"
    if isinstance(fault, DropAfterRead):
        return "dropped after read"
    if isinstance(fault, ConnectRefused):
        return "dropped before read"
    return type(fault).__name__


class Report(msgspec.Struct):
    """What the gateway saw, sent back to the test as JSON."""

    requests: int
    faults: dict[str, int]
    #: (id, text) of every accepted message, in order of acceptance.
    messages: list[tuple[str, str]]


def main(seed: int, rate: float) -> None:
    gateway = FakeGateway(seed=seed, price_per_part=Decimal("0.01"))
    gateway.set_balance(DEMO_USERNAME, Decimal(10**9))
    gateway.random_faults(rate=rate, kinds=SOAK_FAULTS, seed=seed)
    with gateway.serve() as base_url:
        print(base_url, flush=True)
        sys.stdin.readline()
    requests = gateway.requests
    faults = Counter(fault_name(r.fault) for r in requests if r.fault is not None)
    if gateway.refused:
        faults[fault_name(ConnectRefused())] += gateway.refused
    report = Report(
        requests=len(requests) + gateway.refused,
        faults=dict(faults.most_common()),
        messages=[(m.id, m.text) for m in gateway.messages.values()],
    )
    sys.stdout.buffer.write(msgspec.json.encode(report))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
