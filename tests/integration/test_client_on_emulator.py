"""The client's whole API against the emulator: in-process, and over a real loopback port.

The emulator parses requests with its own code (not the client's builder), so each side checks
the other on all twelve endpoints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from shared_helpers import emulator_client

from mysms_async import (
    AuthError,
    Message,
    MessageRejectedError,
    MessageState,
    MySMSClient,
    segments,
)
from mysms_async.testing import DEMO_BALANCE, FakeGateway

FORMS = [
    pytest.param(fmt, method, id=f"{method}-{fmt}")
    for fmt in ("json", "xml")
    for method in ("POST", "GET")
]


@pytest.fixture(params=["in-process", "loopback"])
def where(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway(price_per_part=Decimal("2.00"))


@pytest.fixture
def base_url(where: str, gateway: FakeGateway) -> Iterator[str | None]:
    if where == "in-process":
        yield None
    else:
        with gateway.serve() as url:
            yield url


@pytest.fixture
async def client_factory(gateway: FakeGateway, base_url: str | None) -> AsyncIterator[Any]:
    made: list[MySMSClient] = []

    def factory(**kwargs: Any) -> MySMSClient:
        client = emulator_client(gateway, base_url, **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


@pytest.mark.parametrize(("fmt", "method"), FORMS)
async def test_send_status_balance_round_trip(
    client_factory: Any, gateway: FakeGateway, fmt: str, method: str
) -> None:
    client = client_factory(wire_format=fmt, http_method=method)
    text = "Привет & <b>'hi'</b> \"q\" 😀\r\n\tend "
    when = dt.datetime(2026, 11, 24, 15, 30, tzinfo=dt.timezone.utc)
    result = await client.send("+7 (911) 222-33-33", text, date=when, ttl=10)
    assert result.ok and result.state == MessageState.QUEUED
    assert result.id is not None
    stored = gateway.message(result.id)
    assert stored.text == text  # exactly, \r and edge spaces included, in all four forms
    assert stored.destination == "79112223333"
    assert stored.source == "MySMS"
    assert stored.date == "24.11.2026 18:30:00"  # UTC 15:30 is 18:30 in Moscow
    assert stored.ttl == "10"

    status = await client.status(result.id)
    assert status.id == result.id and status.state == MessageState.QUEUED
    gateway.advance(2)
    status = await client.status(result.id)
    assert status.state == MessageState.DELIVERED and status.is_final

    balance = await client.balance()
    cost = segments(text).parts * Decimal("2.00")
    assert balance.amount == DEMO_BALANCE - cost
    assert (await client.status("no-such-id")).state == MessageState.INVALID_ID


@pytest.mark.parametrize(("fmt", "method"), FORMS)
async def test_bulk_send_status_and_wait(
    client_factory: Any, gateway: FakeGateway, fmt: str, method: str
) -> None:
    client = client_factory(wire_format=fmt, http_method=method, batch_size=4, max_concurrency=3)
    messages = [Message(f"7911222{i:04d}", f"hello {i}") for i in range(10)]
    messages[3] = Message("79112220003", "unknown sender", sender="Nobody")
    messages[6] = Message("12", "invalid destination")
    results = await client.send_many(messages)
    assert [r.message for r in results] == messages
    assert results[3].state == MessageState.INVALID_SENDER
    with pytest.raises(MessageRejectedError):
        results[3].raise_for_state()
    assert results[6].error is not None and results[6].error.field == "destination"  # type: ignore[attr-defined]
    accepted = [r for r in results if r.ok]
    assert len(accepted) == 8 == len(gateway.messages)

    ids = [r.id for r in accepted if r.id is not None]
    statuses = await client.status_many(ids)
    assert [s.id for s in statuses] == ids
    assert all(s.state == MessageState.QUEUED for s in statuses)

    gateway.advance(2)
    final = await client.wait_for_delivery(ids, timeout=5, poll_interval=0.01)
    assert all(s.state == MessageState.DELIVERED for s in final)

    streamed = [r async for r in client.iter_send(messages[:5])]
    assert [r.message for r in streamed] == messages[:5]
    assert sum(r.ok for r in streamed) == 4


async def test_wrong_password_is_an_auth_error_everywhere(
    client_factory: Any, gateway: FakeGateway
) -> None:
    client = client_factory(password="wrong")
    with pytest.raises(AuthError):
        await client.balance()
    with pytest.raises(AuthError):
        await client.send("79112223333", "hi")
    with pytest.raises(AuthError):
        await client.send_many([Message("79112223333", "hi")] * 3)
    assert gateway.messages == {}


async def test_insufficient_funds_is_a_per_message_state(
    client_factory: Any, gateway: FakeGateway
) -> None:
    gateway.set_balance("demo", Decimal("3.00"))  # one part at 2.00
    client = client_factory()
    results = await client.send_many([Message("79112223333", "one"), Message("79112223334", "two")])
    assert results[0].ok
    assert results[1].state == MessageState.INSUFFICIENT_FUNDS
    assert (await client.balance()).amount == Decimal("1.00")
