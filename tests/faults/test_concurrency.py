"""One client shared by 200 concurrent tasks, as a FastAPI app shares it, with a quarter of them
cancelled while their requests are in flight; then ``aclose()``.

Over a real loopback port, so that connections are real sockets: after ``aclose()`` the pool is
empty and no socket of this process is still connected to the emulator's port.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import anyio
import anyio.abc
import anyio.lowlevel
import pytest
from fault_cases import DESTINATION, make_client, make_gateway, open_connections
from shared_helpers import wait_until

from mysms_async import ClientClosedError, Message, SendResult, StatusResult
from mysms_async.testing import FakeGateway, Latency

TASKS = 200
CANCELLED = 50
SEEDED = 20
_ESTABLISHED = "01"


def connected_to(port: int) -> list[str]:
    """This machine's IPv4/IPv6 TCP sockets in ESTABLISHED state whose *remote* port is ``port``:
    the client ends of connections to the emulator (its own ends have ``port`` as local port)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if state == _ESTABLISHED and int(remote.rsplit(":", 1)[1], 16) == port:
                found.append(line.strip())
    return found


async def test_200_tasks_share_one_client_with_some_cancelled(
    backend: str, served: tuple[FakeGateway, str]
) -> None:
    gateway, base_url = served
    port = int(base_url.split(":")[2].split("/")[0])
    client = make_client(
        gateway, "json", "POST", base_url=base_url, max_concurrency=50, backend=backend
    )
    seeded = await client.send_many([Message(DESTINATION, f"seed {i}") for i in range(SEEDED)])
    ids = [r.id for r in seeded if r.ok and r.id is not None]
    assert len(ids) == SEEDED

    # Every request now takes 50 ms at the gateway, so that cancellations find them in flight.
    gateway.inject(Latency(0.05), times=None)
    rng = random.Random(20260524)
    to_cancel = set(rng.sample(range(TASKS), CANCELLED))
    delays = {i: rng.uniform(0.005, 0.06) for i in to_cancel}
    results: dict[int, SendResult | StatusResult] = {}
    cancelled: set[int] = set()

    async def cancel_later(scope: anyio.CancelScope, delay: float) -> None:
        await anyio.sleep(delay)
        scope.cancel()

    async def task(i: int, group: anyio.abc.TaskGroup) -> None:
        with anyio.CancelScope() as scope:
            if i in to_cancel:
                group.start_soon(cancel_later, scope, delays[i])
            if i % 2 == 0:
                results[i] = await client.send(DESTINATION, f"task {i}")
            else:
                results[i] = await client.status(ids[i % SEEDED])
        if scope.cancelled_caught:
            cancelled.add(i)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for i in range(TASKS):
                group.start_soon(task, i, group)
    gateway.clear_faults()

    # Cancellation really happened mid-flight for most of those chosen, and only for them.
    assert cancelled <= to_cancel
    assert len(cancelled) >= CANCELLED // 2
    assert set(results) == set(range(TASKS)) - cancelled

    messages = gateway.messages
    texts = Counter(m.text for m in messages.values())
    for i, result in results.items():
        assert result.ok and result.error is None, (i, result)
        if isinstance(result, SendResult):
            assert result.id is not None and messages[result.id].text == f"task {i}"
            assert texts[f"task {i}"] == 1
        else:
            assert result.requested_id == ids[i % SEEDED] and result.id == result.requested_id
    # No duplicate: each send at most once at the gateway, cancelled ones included; and the
    # gateway was asked to send each text at most once (nothing was resent).
    assert max(texts.values()) == 1
    asked = Counter(m.text for r in gateway.requests if r.endpoint == "send" for m in r.messages)
    assert max(asked.values()) == 1
    assert all(texts[f"task {i}"] <= 1 for i in cancelled if i % 2 == 0)

    # Still usable after the cancellations; then closed for good.
    assert (await client.balance()).amount > 0
    assert 0 < open_connections(client) <= 50, "the check below would be vacuous"
    assert connected_to(port), "the socket check below would be vacuous"

    await client.aclose()
    assert client.is_closed
    assert open_connections(client) == 0
    # close() moves a socket out of ESTABLISHED at once; a leaked connection would stay.
    assert connected_to(port) == []
    await anyio.lowlevel.checkpoint()
    assert asyncio.all_tasks() == {asyncio.current_task()}

    requests = len(gateway.requests)
    closed = pytest.raises(ClientClosedError, match="closed")
    with closed:
        await client.send(DESTINATION, "too late")
    with closed:
        await client.status(ids[0])
    with closed:
        await client.balance()
    with closed:
        await client.send_many([Message(DESTINATION, "too late")])
    with closed:
        await client.status_many(ids)
    with closed:
        client.iter_send([Message(DESTINATION, "too late")])
    with closed:
        await client.wait_for_delivery(ids, timeout=1)
    with closed:
        async with client:
            pass
    assert len(gateway.requests) == requests
    await client.aclose()  # closing twice is harmless


# --- aclose() while requests wait (issue 8, item 4) --------------------------------------------


@pytest.mark.parametrize("where", ["in-process", "loopback-httpx", "loopback-aiohttp"])
async def test_aclose_while_requests_wait_for_a_slot_or_the_rate_limiter(
    where: str, served: tuple[FakeGateway, str]
) -> None:
    """One slot, a rate limit, a slow gateway: one send on the wire, two waiting for the slot,
    two for the rate limiter. ``aclose()`` lets the first end with its real outcome (accepted)
    and fails the others with ``ClientClosedError`` (nothing of theirs was sent), never with the
    HTTP library's own "client has been closed" ``RuntimeError``."""
    gateway, base_url = served
    options: dict[str, object] = {"max_concurrency": 1}
    if where != "in-process":
        options.update(base_url=base_url, backend=where.split("-")[1])
    else:
        gateway = make_gateway()
    client = make_client(gateway, "json", "POST", **options)  # type: ignore[arg-type]
    await client.balance()  # connected
    gateway.inject(Latency(0.3), times=None)
    outcomes: dict[int, object] = {}

    async def send(i: int) -> None:
        try:
            outcomes[i] = await client.send(DESTINATION, f"closing {i}")
        except Exception as error:  # the type is what is checked
            outcomes[i] = error

    async with anyio.create_task_group() as group:
        for i in range(3):
            group.start_soon(send, i)
        # 0 is at the gateway (recorded before its Latency), 1 and 2 wait for the slot.
        await wait_until(lambda: any(r.endpoint == "send" for r in gateway.requests))
        await anyio.wait_all_tasks_blocked()
        await client.aclose()
    gateway.clear_faults()

    first = outcomes[0]
    assert isinstance(first, SendResult) and first.ok, first
    assert first.id in gateway.messages
    for i in (1, 2):
        assert type(outcomes[i]) is ClientClosedError, outcomes[i]
    assert [m.text for m in gateway.messages.values()].count("closing 1") == 0
    assert [m.text for m in gateway.messages.values()].count("closing 2") == 0


async def test_aclose_while_a_request_waits_for_the_rate_limiter() -> None:
    gateway = make_gateway()
    client = make_client(gateway, "json", "POST", rate_limit=2)
    await client.balance()  # spends the one-token burst
    outcome: list[object] = []

    async def waiting() -> None:
        try:
            outcome.append(await client.send(DESTINATION, "rate limited"))
        except Exception as error:  # the type is what is checked
            outcome.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(waiting)
        await anyio.wait_all_tasks_blocked()  # the send waits for the rate limiter
        await client.aclose()
    assert len(outcome) == 1 and type(outcome[0]) is ClientClosedError, outcome
    assert "rate limited" not in [m.text for m in gateway.messages.values()]
