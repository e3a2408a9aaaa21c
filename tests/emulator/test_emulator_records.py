"""What the emulator keeps: ``max_records`` bounds it for load tests; ids stay unique and
gateway-shaped while costing no ``uuid4`` per message."""

from __future__ import annotations

import gc
import re
import tracemalloc
import uuid

import httpx
import pytest
from emulator_wire import BASE, credit_json, post, send_json, send_one, status
from emulator_wire import message as one

from mysms_async.testing import FakeGateway

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


async def test_max_records_keeps_the_latest_requests_and_messages() -> None:
    gateway = FakeGateway(max_records=3)
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        ids = [await send_one(http, f"text {n}") for n in range(5)]
        assert list(gateway.messages) == ids[2:]
        assert len(gateway.requests) == 3
        forgotten = await status(http, "POST", "json", ids[0])
        kept = await status(http, "POST", "json", ids[4])
    assert forgotten.data == [("", "-10")]  # answered like an unknown id
    assert kept.data == [(ids[4], "2")]
    assert gateway.balance_of("demo") == 1000 - 5 * gateway.price_per_part  # all were charged


async def test_max_records_0_records_nothing_and_memory_stays_flat() -> None:
    gateway = FakeGateway(max_records=0)
    gateway.set_balance("demo", 10_000)
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        body = send_json(*[one(f"message {n}") for n in range(100)])

        async def burst() -> None:
            for _ in range(10):
                response = await post(http, "send/json", body)
                assert response.status_code == 200

        await burst()  # warm up: caches, interned strings
        tracemalloc.start()
        try:
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            await burst()  # 1,000 messages
            gc.collect()  # cyclic garbage of the requests themselves is not kept
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert (await post(http, "credit/json", credit_json())).status_code == 200
    assert gateway.messages == {} and gateway.requests == []
    assert gateway.balance_of("demo") == 10_000 - 2000 * gateway.price_per_part
    # Recording everything costs ~1 KB a message (1 MB here); nothing kept must stay far below.
    assert grown < 100_000


def test_max_records_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="max_records"):
        FakeGateway(max_records=-1)


async def test_ids_are_unique_uuid4_shaped_and_cost_no_uuid4_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway = FakeGateway()
    calls = 0
    real = uuid.uuid4

    def counted() -> uuid.UUID:
        nonlocal calls
        calls += 1
        return real()

    monkeypatch.setattr(uuid, "uuid4", counted)
    gateway.set_balance("demo", 100_000)
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        body = send_json(*[one() for _ in range(500)])
        for _ in range(4):
            await post(http, "send/json", body)
    ids = list(gateway.messages)
    assert len(ids) == len(set(ids)) == 2000
    assert all(UUID4.fullmatch(i) and uuid.UUID(i).version == 4 for i in ids)
    assert calls == 0
    other = FakeGateway()
    async with httpx.AsyncClient(transport=other.transport(), base_url=BASE) as http:
        assert await send_one(http) not in gateway.messages  # another gateway, other ids


async def test_seeded_ids_repeat() -> None:
    async def first_ids(seed: int) -> list[str]:
        gateway = FakeGateway(seed=seed)
        async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
            return [await send_one(http) for _ in range(3)]

    assert await first_ids(7) == await first_ids(7)
    assert await first_ids(7) != await first_ids(8)
