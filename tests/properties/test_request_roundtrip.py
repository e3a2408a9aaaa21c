"""Property: whatever passes validation reaches the gateway exactly as written, in all four forms.

Each example is a handful of messages (any Unicode text, senders, decorated destinations, aware
and naive dates, ttl) sent through the client to a fresh in-process emulator as POST JSON, POST
XML, GET JSON and GET XML. The emulator parses requests with its own code (``testing/_wire.py``),
so each field it records is what the wire carried.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from property_strategies import (
    EMULATOR_SENDER,
    dates,
    destinations,
    expected_date,
    sendable_texts,
    senders,
    ttls,
)

from mysms_async import Message, SendResult, ValidationError
from mysms_async._request import validate_text
from mysms_async.testing import Account, FakeGateway, MessageFields

FORMS = [("POST", "json"), ("POST", "xml"), ("GET", "json"), ("GET", "xml")]
USERNAME = "prop & <user>"
PASSWORD = "p@ss \"word\" & <'more'>"


def passes_text_rules(text: str) -> bool:
    try:
        validate_text(text)
    except ValidationError:
        return False
    return True


@st.composite
def outgoing(draw: st.DrawFn) -> tuple[str, list[Message], list[MessageFields]]:
    """A client's default sender, messages, and the fields each should arrive with."""
    default_sender = draw(senders)
    messages: list[Message] = []
    expected: list[MessageFields] = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        written, digits = draw(destinations())
        text = draw(sendable_texts.filter(passes_text_rules))
        sender = draw(st.one_of(st.none(), senders))
        date: dt.datetime | None = draw(dates)
        ttl: int | None = draw(ttls)
        messages.append(Message(written, text, sender=sender, date=date, ttl=ttl))
        expected.append(
            MessageFields(
                source=sender if sender is not None else default_sender,
                destination=digits,
                text=text,
                date=None if date is None else expected_date(date),
                ttl=None if ttl is None else str(ttl),
            )
        )
    return default_sender, messages, expected


async def send_through(
    method: str, wire_format: str, default_sender: str, messages: list[Message]
) -> tuple[FakeGateway, list[SendResult]]:
    registered = {
        m.sender for m in messages if m.sender and EMULATOR_SENDER.fullmatch(m.sender)
    } | ({default_sender} if EMULATOR_SENDER.fullmatch(default_sender) else set())
    account = Account(USERNAME, PASSWORD, Decimal(10**12), tuple(sorted(registered)) or ("MySMS",))
    gateway = FakeGateway([account], seed=1)
    async with gateway.client(
        sender=default_sender,
        http_method=method,
        wire_format=wire_format,
        retry_backoff=0,
        max_concurrency=1,  # GET sends one request per message: keep them in order
    ) as client:
        results = await client.send_many(messages)
    return gateway, results


@settings(max_examples=150, deadline=None)
@given(outgoing())
def test_validated_fields_arrive_unchanged_in_all_four_forms(
    case: tuple[str, list[Message], list[MessageFields]],
) -> None:
    default_sender, messages, expected = case
    for method, wire_format in FORMS:
        form = f"{method} {wire_format}"
        gateway, results = asyncio.run(send_through(method, wire_format, default_sender, messages))
        requests = gateway.requests
        assert [(r.status_code, r.error) for r in requests] == [(200, None)] * len(requests), form
        assert {(r.username, r.password) for r in requests} == {(USERNAME, PASSWORD)}, form
        arrived = [fields for r in requests for fields in r.messages]
        assert arrived == expected, form

        accepted = gateway.messages
        for result, fields in zip(results, expected, strict=True):
            assert result.error is None, (form, result.error)
            if not EMULATOR_SENDER.fullmatch(fields.source or ""):
                # The client lets '.', '-', '_' and spaces through; the emulator refuses them.
                assert (result.id, result.state) == (None, -11), form
                continue
            assert result.state == 2 and result.id is not None, (form, result)
            kept = accepted[result.id]
            assert (kept.source, kept.destination, kept.text, kept.date, kept.ttl) == (
                fields.source,
                fields.destination,
                fields.text,
                fields.date,
                fields.ttl,
            ), form


@pytest.mark.parametrize(("method", "wire_format"), FORMS)
def test_the_awkward_examples_arrive_unchanged(method: str, wire_format: str) -> None:
    """The cases the strategies are there to find, pinned so that every run has them."""
    aware = dt.datetime(2026, 3, 29, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=-9, minutes=-30)))
    cases = [
        (" <b>&amp;</b> \"quoted\" 'single' ]]> ", "+7 (911) 222-33-33", None, None),
        ("\r\n\rline\ttab\r", "7-911-222-33-33", dt.datetime(2026, 11, 24, 18, 30), 10),
        ("Привет 😀 \u00a0\u2028 👨\u200d👩", " 79112223333 ", aware, 1),
        ("   x   ", "(7) 911.222.33.33", None, 2**31 - 1),
    ]
    messages = [Message(d, t, date=date, ttl=ttl) for t, d, date, ttl in cases]
    gateway, results = asyncio.run(send_through(method, wire_format, "MySMS", messages))
    got = [(m.text, m.destination, m.date, m.ttl) for m in gateway.messages.values()]
    assert got == [
        (cases[0][0], "79112223333", None, None),
        (cases[1][0], "79112223333", "24.11.2026 18:30:00", "10"),
        (cases[2][0], "79112223333", "29.03.2026 15:00:00", "1"),
        ("   x   ", "79112223333", None, str(2**31 - 1)),
    ]
    assert [r.state for r in results] == [2, 2, 2, 2]
