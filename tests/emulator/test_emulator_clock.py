"""Scheduled messages: a ``date`` ahead keeps a message queued until the clock gets there.

The emulator reads ``date`` in the gateway's time zone (Moscow), and ``advance(by=...)`` moves its
clock; ``start`` pins where that clock begins, so these tests do not depend on today's date.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from emulator_wire import BASE, Clock, send_one, status

from mysms_async.testing import FakeGateway

# 12:00 in Moscow (UTC+3) on 1 December 2026.
START = datetime(2026, 12, 1, 9, 0, 0, tzinfo=timezone.utc)


async def _state(http: httpx.AsyncClient, message_id: str) -> str:
    answer = await status(http, "POST", "json", message_id)
    assert answer.data is not None
    ((_, state),) = answer.data
    return state


@pytest.fixture
def clock() -> Clock:
    return Clock(500.0)


@pytest.fixture
async def scheduled(clock: Clock) -> AsyncIterator[tuple[FakeGateway, httpx.AsyncClient]]:
    gateway = FakeGateway(delivery_delay=3, clock=clock, start=START)
    async with httpx.AsyncClient(transport=gateway.transport(), base_url=BASE) as http:
        yield gateway, http


async def test_a_message_for_next_month_stays_queued_until_its_date(
    scheduled: tuple[FakeGateway, httpx.AsyncClient], clock: Clock
) -> None:
    gateway, http = scheduled
    later = await send_one(http, date="05.01.2027 12:00:00")
    now = await send_one(http)
    clock.now += 60  # a minute: twenty delivery delays
    assert await _state(http, now) == "4"
    assert await _state(http, later) == "2"
    gateway.advance(5)  # steps do not move a message whose date is ahead
    assert await _state(http, later) == "2"
    gateway.advance(by=timedelta(days=35) - timedelta(minutes=1, seconds=1))
    assert await _state(http, later) == "2"  # 11:59:59 Moscow time on its day
    gateway.advance(by=1)
    assert await _state(http, later) == "2"  # due now: it is queued, then moves on
    gateway.advance(by=3)
    assert await _state(http, later) == "3"
    gateway.advance(by=timedelta(seconds=3))
    assert await _state(http, later) == "4"
    assert gateway.message(later).state == 4


async def test_the_date_is_read_in_moscow_time(
    scheduled: tuple[FakeGateway, httpx.AsyncClient],
) -> None:
    gateway, http = scheduled
    assert gateway.now() == START  # 12:00 in Moscow
    # 11:30 in Moscow has passed (it would still be ahead read as UTC: 11:30 UTC is 14:30 MSK).
    past = await send_one(http, date="01.12.2026 11:30:00")
    ahead = await send_one(http, date="01.12.2026 12:30:00")
    gateway.advance()
    assert (await _state(http, past), await _state(http, ahead)) == ("3", "2")
    gateway.advance(by=timedelta(minutes=30))
    gateway.advance(2)
    assert await _state(http, ahead) == "4"


async def test_advance_by_moves_delayed_delivery_too(
    scheduled: tuple[FakeGateway, httpx.AsyncClient],
) -> None:
    gateway, http = scheduled
    message_id = await send_one(http)
    gateway.advance(by=3)
    assert await _state(http, message_id) == "3"
    assert gateway.now() == START + timedelta(seconds=3)


def test_advance_rejects_moving_back() -> None:
    gateway = FakeGateway()
    with pytest.raises(ValueError, match="forward"):
        gateway.advance(by=-1)
