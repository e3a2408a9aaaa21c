"""Properties of validation and the request builder, for hostile input.

* No text makes the XML body unparseable: either ``to_wire`` refuses it with a ``ValidationError``
  naming ``text``, or the body parses (expat, xmltodict) and carries the text exactly. The same
  for message ids in a status body and for credentials in every body.
* Validation only ever raises ``ValidationError``, whatever the fields hold: the bulk engine
  relies on it to give a bad message its own outcome instead of failing the whole run.
* Dates are spelled ``dd.MM.yyyy HH:mm:ss`` (a four-digit year), or refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import xmltodict
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from property_strategies import MOSCOW, expected_date

from mysms_async import Message, ValidationError
from mysms_async._config import make_credentials
from mysms_async._request import (
    RequestBuilder,
    WireMessage,
    to_wire,
    validate_message_id,
    wire_many,
)
from mysms_async.testing import FakeGateway
from mysms_async.testing import _wire as gateway_wire

T = TypeVar("T")
DESTINATION = "79112223333"
SENDER = "MySMS"
CREDENTIALS = make_credentials("user & <co>", "pa\"ss' ]]> word")
DATE = re.compile(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}")

#: Characters that have broken XML builders: controls, lone surrogates, non-characters.
HOSTILE = ["\x00", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\ud800", "\udfff", "\ufffe", "\uffff"]
hostile_texts = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from([*HOSTILE, "&", "<", ">", "]", "\r", "\t", "\n", " "]),
        st.integers(0xD800, 0xDFFF).map(chr),
    )
)


def attempt(check: Callable[..., T], *args: Any) -> tuple[T | None, ValidationError | None]:
    """``check(*args)``, with a ``ValidationError`` returned rather than raised."""
    try:
        return check(*args), None
    except ValidationError as error:
        return None, error


def xml_send_body(wire: WireMessage) -> bytes:
    content = RequestBuilder(CREDENTIALS, "xml", "POST").send([wire]).content
    assert content is not None
    return content


def parses_everywhere(body: bytes) -> None:
    """The body is well-formed XML to expat (through the emulator's parser) and to xmltodict."""
    xmltodict.parse(body)


@settings(max_examples=300, deadline=None)
@given(hostile_texts)
@example("\x00")
@example("\x0b")
@example("\ud800")
@example("\ufffe")
@example("a]]>b & <c> \r\n")
def test_no_text_makes_the_xml_body_unparseable(text: str) -> None:
    wire, error = attempt(to_wire, Message(DESTINATION, text), SENDER, MOSCOW)
    if error is not None:
        assert error.field == "text"
        return
    assert wire is not None
    body = xml_send_body(wire)
    parses_everywhere(body)
    parsed = gateway_wire.parse_post("send", "xml", body)
    assert [m.text for m in parsed.messages] == [text]
    assert (parsed.username, parsed.password) == (CREDENTIALS.username, CREDENTIALS.password)


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\x0c", "\x1f", "\x7f", "\ud800", "\ufffe"])
def test_characters_xml_cannot_carry_are_refused_naming_text(bad: str) -> None:
    with pytest.raises(ValidationError) as raised:
        to_wire(Message(DESTINATION, f"before{bad}after"), SENDER, MOSCOW)
    assert raised.value.field == "text"
    assert f"U+{ord(bad):04X}" in str(raised.value)


@settings(max_examples=200, deadline=None)
@given(hostile_texts)
@example("\ufffe")
@example("\ud800")
def test_no_message_id_makes_a_status_body_unparseable(message_id: str) -> None:
    checked, error = attempt(validate_message_id, message_id)
    if error is not None:
        assert error.field == "message_id"
        return
    assert checked is not None
    xml = RequestBuilder(CREDENTIALS, "xml", "POST").status([checked]).content
    assert xml is not None
    parses_everywhere(xml)
    assert gateway_wire.parse_post("status", "xml", xml).ids == (message_id,)
    body = RequestBuilder(CREDENTIALS, "json", "POST").status([checked]).content
    assert body is not None
    assert json.loads(body)["data"] == [{"id": message_id}]


@settings(max_examples=200, deadline=None)
@given(hostile_texts, hostile_texts)
@example("user", "pass\x00word")
@example("user\x0b", "password")
@example("user", "pass\ud800")
def test_no_credentials_make_a_body_unparseable(username: str, password: str) -> None:
    credentials, error = attempt(make_credentials, username, password)
    if error is not None:
        assert error.field in ("username", "password")
        return
    assert credentials is not None
    xml = RequestBuilder(credentials, "xml", "POST").credit().content
    assert xml is not None
    parses_everywhere(xml)
    parsed = gateway_wire.parse_post("credit", "xml", xml)
    assert (parsed.username, parsed.password) == (username, password)
    body = RequestBuilder(credentials, "json", "POST").credit().content
    assert body is not None
    assert json.loads(body)["auth"] == {"username": username, "password": password}


# --- validation raises only ValidationError ------------------------------------------------

anything = st.one_of(
    st.none(),
    st.text(),
    st.from_regex(r"\+?[0-9 ()\-.]{10,20}", fullmatch=True),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.binary(max_size=8),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.dates(),
    st.lists(st.integers(), max_size=2),
)
AWARE_MAX = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
AWARE_MIN = dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=5)))
messages = st.builds(Message, anything, anything, anything, anything, anything)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_validation_raises_only_validation_error(message: Message) -> None:
    try:
        wire = to_wire(message, SENDER, MOSCOW)
    except ValidationError:
        return
    assert isinstance(wire, WireMessage)


#: Fields at the edges, which random draws rarely reach, and the field each must be refused for:
#: the two dates have no Moscow time (year 10000, year 0), and ``str()`` refuses an int of more
#: than 4300 digits. (Not in ``@example``: hypothesis cannot even print that ttl.)
EXTREMES = {
    "aware datetime.max": (Message(DESTINATION, "hi", date=AWARE_MAX), "date"),
    "aware datetime.min": (Message(DESTINATION, "hi", date=AWARE_MIN), "date"),
    "ttl of 5000 digits": (Message(DESTINATION, "hi", ttl=10**5000), "ttl"),
}


@pytest.mark.parametrize("name", list(EXTREMES))
def test_extreme_fields_are_refused_with_a_validation_error(name: str) -> None:
    message, field = EXTREMES[name]
    with pytest.raises(ValidationError) as raised:
        to_wire(message, SENDER, MOSCOW)
    assert raised.value.field == field


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=st.one_of(st.none(), st.timezones())))
@example(dt.datetime(999, 12, 31, 23, 59, 59))
@example(AWARE_MAX)
@example(AWARE_MIN)
def test_every_date_is_spelled_dd_mm_yyyy_or_refused(date: dt.datetime) -> None:
    wire, error = attempt(to_wire, Message(DESTINATION, "hi", date=date), SENDER, MOSCOW)
    if error is not None:
        assert error.field == "date"
        return
    assert wire is not None
    assert wire.date is not None and DATE.fullmatch(wire.date), wire.date
    assert wire.date == expected_date(date)


# --- bulk sends: a bad message gets its own outcome ---------------------------------------------

ok = Message(DESTINATION, "a good message")


def check_bulk_outcomes(batch: list[Message]) -> None:
    """``send_many`` and ``iter_send``: one result per message; only bad ones fail, validly."""

    async def send() -> list[object]:
        gateway = FakeGateway()
        async with gateway.client(retry_backoff=0) as client:
            sent = await client.send_many(batch)
            streamed = [result async for result in client.iter_send(batch)]
        return [sent, streamed]

    for results in asyncio.run(send()):
        assert isinstance(results, list) and len(results) == len(batch)
        for message, result in zip(batch, results, strict=True):
            assert result.message is message
            assert result.error is None or isinstance(result.error, ValidationError)
            if message is ok:
                assert result.ok


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.just(ok), messages), min_size=1, max_size=6))
def test_a_bad_message_gets_its_own_outcome_in_a_bulk_send(batch: list[Message]) -> None:
    """One malformed message must not sink its batch, nor the run."""
    check_bulk_outcomes(batch)


@pytest.mark.parametrize("name", list(EXTREMES))
def test_an_extreme_message_gets_its_own_outcome_in_a_bulk_send(name: str) -> None:
    check_bulk_outcomes([ok, EXTREMES[name][0], ok])


# --- the chunk-wide fast path never weakens a rule ---------------------------------------------


class Sub(str):
    """A str subclass: the fast path must hand it to the per-message path, never pass it on."""


plain_messages = st.builds(
    Message,
    st.one_of(
        st.from_regex(r"[0-9]{9,16}", fullmatch=True),
        st.from_regex(r"\+?[0-9 ()\-.]{10,20}", fullmatch=True),
        st.sampled_from(["٧٩١١٢٢٢٣٣٣٣", "7911222333\n3", "79112223333", ""]),
        st.from_regex(r"[0-9]{10,15}", fullmatch=True).map(Sub),
    ),
    st.one_of(
        hostile_texts,
        st.sampled_from(["Hi", "Привет", "😀\u200d", "", "line\nbreak", "a\x00b"]),
        st.text(min_size=1).map(Sub),
    ),
    st.one_of(
        st.none(),
        st.sampled_from(["MySMS", "Bad Sender!", "1234567890123456", "Other"]),
        st.just("MySMS").map(Sub),
    ),
    st.one_of(st.none(), st.none(), st.datetimes()),
    st.one_of(st.none(), st.none(), st.integers(-1, 10)),
)


valid_messages = st.builds(
    Message,
    st.from_regex(r"[0-9]{10,15}", fullmatch=True),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1),
    st.sampled_from([None, None, "MySMS", "Other", "123456"]),
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.lists(valid_messages, min_size=1, max_size=5),
        st.lists(st.one_of(valid_messages, valid_messages, plain_messages), min_size=1, max_size=4),
        st.lists(st.one_of(plain_messages, messages), min_size=1, max_size=5),
    ),
    st.sampled_from([None, SENDER]),
    st.sampled_from([None, 40, 8000]),
)
def test_wire_many_agrees_with_to_wire_or_defers_to_it(
    chunk: list[Message], default_sender: str | None, budget: int | None
) -> None:
    """``wire_many`` returns exactly what ``to_wire`` makes of each message, or None (the caller
    then validates message by message); it never accepts what ``to_wire`` refuses."""
    fast = wire_many(chunk, default_sender, MOSCOW, query_budget=budget)
    event("fast path" if fast is not None else "deferred")
    if fast is None:
        return
    slow = [to_wire(m, default_sender, MOSCOW, query_budget=budget) for m in chunk]
    assert fast == slow
    for wire in fast:
        fields = (wire.source, wire.destination, wire.text, wire.date, wire.ttl)
        assert all(value is None or type(value) is str for value in fields)
