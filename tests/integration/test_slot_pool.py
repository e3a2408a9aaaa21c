"""The client's connection slots: one connection per request in flight, reused, all closed."""

from __future__ import annotations

import anyio

from mysms_async import Message
from mysms_async._pool import SlotPool
from mysms_async.testing import FakeGateway, Latency


async def test_connections_never_exceed_requests_in_flight_and_are_reused() -> None:
    gateway = FakeGateway()
    gateway.inject(Latency(0.01), times=None)
    with gateway.serve() as base_url:
        client = gateway.client(
            base_url=base_url, http_client=None, max_concurrency=3, batch_size=2
        )
        pool = client._transport.exchange.client._transport  # type: ignore[union-attr]
        assert isinstance(pool, SlotPool)
        async with client:
            results = await client.send_many([Message("79112223333", f"m{i}") for i in range(30)])
            assert all(r.ok for r in results)
            assert 1 < len(pool.connections) <= 3  # concurrent, and bounded
            opened = {id(c) for c in pool.connections}
            await client.send_many([Message("79112223333", f"again {i}") for i in range(12)])
            assert {id(c) for c in pool.connections} == opened  # kept alive and reused
        assert pool.connections == []


async def test_more_concurrent_callers_than_slots_wait_their_turn() -> None:
    gateway = FakeGateway()
    gateway.inject(Latency(0.02), times=None)
    with gateway.serve() as base_url:
        async with gateway.client(base_url=base_url, http_client=None, max_concurrency=2) as c:
            pool = c._transport.exchange.client._transport  # type: ignore[union-attr]
            async with anyio.create_task_group() as group:
                for _ in range(10):
                    group.start_soon(c.balance)
            assert len(pool.connections) <= 2


def test_one_tls_context_is_shared_by_every_slot() -> None:
    pool = SlotPool(4)
    first, second = pool._take(), pool._take()
    assert first is not second
    assert first._pool._ssl_context is second._pool._ssl_context is pool.ssl_context
