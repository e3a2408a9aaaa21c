"""Messages move 2 → 3 → 4 (or -14), by advance() or on a clock, read lazily."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from emulator_wire import BASE, Clock, send_one, status

from mysms_async.testing import FakeGateway


async def _states(http: httpx.AsyncClient, *ids: str) -> list[str]:
    answer = await status(http, "POST", "json", *ids)
    assert answer.data is not None
    return [state for _, state in answer.data]


async def test_advance_moves_every_message(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    first, second = await send_one(http), await send_one(http)
    assert await _states(http, first, second) == ["2", "2"]
    gateway.advance()
    assert await _states(http, first, second) == ["3", "3"]
    gateway.advance()
    assert await _states(http, first, second) == ["4", "4"]
    gateway.advance(5)
    assert await _states(http, first, second) == ["4", "4"]
    assert [m.state for m in gateway.messages.values()] == [4, 4]


async def test_advance_chosen_ids(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    first, second = await send_one(http), await send_one(http)
    gateway.advance(2, ids=[second])
    assert await _states(http, first, second) == ["2", "4"]
    with pytest.raises(KeyError):
        gateway.advance(ids=["unknown"])
    with pytest.raises(ValueError, match="negative"):
        gateway.advance(-1)


async def test_set_state_pins_any_code(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    message_id = await send_one(http)
    gateway.set_state(message_id, 99)
    gateway.advance(2)
    assert await _states(http, message_id) == ["99"]
    assert gateway.message(message_id).state == 99


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def timed(clock: Clock) -> AsyncIterator[tuple[FakeGateway, httpx.AsyncClient]]:
    gateway = FakeGateway(delivery_delay=timedelta(seconds=30), clock=clock)
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        yield gateway, http


async def test_clock_moves_messages_one_state_per_delay(
    timed: tuple[FakeGateway, httpx.AsyncClient], clock: Clock
) -> None:
    gateway, http = timed
    message_id = await send_one(http)
    assert gateway.message(message_id).accepted_at == 1000.0
    clock.now += 29.9
    assert await _states(http, message_id) == ["2"]
    clock.now += 0.1
    assert await _states(http, message_id) == ["3"]
    assert gateway.message(message_id).state == 3
    clock.now += 30
    assert await _states(http, message_id) == ["4"]
    clock.now += 3000
    assert await _states(http, message_id) == ["4"]


async def test_clock_and_advance_add_up(
    timed: tuple[FakeGateway, httpx.AsyncClient], clock: Clock
) -> None:
    gateway, http = timed
    early = await send_one(http)
    clock.now += 30
    late = await send_one(http)
    assert await _states(http, early, late) == ["3", "2"]
    gateway.advance(ids=[late])
    assert await _states(http, early, late) == ["3", "3"]
    clock.now += 30
    assert await _states(http, early, late) == ["4", "4"]


async def test_zero_delay_delivers_at_once() -> None:
    gateway = FakeGateway(delivery_delay=0)
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        message_id = await send_one(http)  # the send itself still answers 2
        assert await _states(http, message_id) == ["4"]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="delivery_delay"):
        FakeGateway(delivery_delay=-1)
    with pytest.raises(ValueError, match="fail_share"):
        FakeGateway(fail_share=1.5)


async def _final_states(gateway: FakeGateway, count: int) -> list[str]:
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        ids = [await send_one(http) for _ in range(count)]
        gateway.advance()
        assert set(await _states(http, *ids)) == {"3"}  # failures go through 3 as well
        gateway.advance()
        return await _states(http, *ids)


async def test_fail_share_ends_that_share_in_minus_14() -> None:
    states = await _final_states(FakeGateway(fail_share=0.25, seed=5), 400)
    assert set(states) == {"4", "-14"}
    assert 60 <= states.count("-14") <= 140
    assert states == await _final_states(FakeGateway(fail_share=0.25, seed=5), 400)
    assert states != await _final_states(FakeGateway(fail_share=0.25, seed=6), 400)


async def test_fail_share_extremes() -> None:
    assert set(await _final_states(FakeGateway(fail_share=1.0), 20)) == {"-14"}
    assert set(await _final_states(FakeGateway(fail_share=0.0), 20)) == {"4"}


async def test_messages_are_snapshots_with_every_field(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    # A date already past: the message is due at once.
    message_id = await send_one(http, "Привет", date="01.11.2026 09:00:00", ttl="60")
    snapshot = gateway.messages[message_id]
    gateway.advance()
    assert snapshot.state == 2
    assert gateway.messages[message_id].state == 3
    assert (snapshot.username, snapshot.source, snapshot.destination) == (
        "demo",
        "MySMS",
        "79112223333",
    )
    assert (snapshot.text, snapshot.date, snapshot.ttl) == ("Привет", "01.11.2026 09:00:00", "60")
    assert (snapshot.parts, snapshot.encoding) == (1, "UCS-2")
    with pytest.raises(KeyError):
        gateway.message("unknown")
