"""``wire_many``, the builder of a plain chunk (issue 19): what its fast passes accept is exactly
what ``to_wire`` makes, and anything else goes the slow way, where the field is named.

Its checks moved into one comprehension that also collects the texts, and the chunk's senders
are checked once each; these pin that a bad sender, a subclass, a blank text, a date or ttl, a
foreign object or a non-ASCII digit still leave the fast path, and that the client then names
the field of each bad message while the good ones are still sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from core_helpers import make_client

from mysms_async import Message, ValidationError
from mysms_async._request import to_wire, wire_many

MOSCOW = dt.timezone(dt.timedelta(hours=3))
PLAIN = [Message(f"7911222333{i}", f"text {i}") for i in range(5)]


class Text(str):
    """A str subclass: the slow path copies it to a plain str."""


def slow(chunk: list[Any], sender: str | None) -> list[Any]:
    return [to_wire(m, sender, MOSCOW) for m in chunk]


@pytest.mark.parametrize("sender", ["MySMS", "12345", None])
def test_a_plain_chunk_is_what_to_wire_makes(sender: str | None) -> None:
    assert wire_many(PLAIN, sender, MOSCOW) == slow(PLAIN, sender)


def test_each_message_keeps_its_own_sender() -> None:
    chunk = [
        Message("79112223330", "a", sender="Shop"),
        Message("79112223331", "b"),
        Message("79112223332", "c", sender="12345"),
    ]
    wires = wire_many(chunk, "MySMS", MOSCOW)
    assert wires is not None
    assert [w.source for w in wires] == ["Shop", "MySMS", "12345"]
    assert wires == slow(chunk, "MySMS")


def test_an_empty_chunk() -> None:
    assert wire_many([], "MySMS", MOSCOW) == []


@pytest.mark.parametrize(
    "odd",
    [
        Message("79112223339", "hi", sender="bad sender!"),  # not a valid sender
        Message("79112223339", "hi", sender=["unhashable"]),  # type: ignore[arg-type]
        Message("79112223339", "hi", sender=Text("Shop")),  # a subclass
        Message("79112223339", "   "),  # blank
        Message("79112223339", ""),  # empty
        Message("79112223339", "a\x00b"),  # a control character
        Message("79112223339", Text("hi")),  # a subclass text
        Message(Text("79112223339"), "hi"),  # a subclass destination
        Message("7911222333\u0669", "hi"),  # an Arabic-Indic digit
        Message("+7 911 222-33-39", "hi"),  # decorated: to_wire normalises it
        Message("791", "hi"),  # too short
        Message("79112223339", "hi", ttl=60),
        Message("79112223339", "hi", date=dt.datetime(2030, 1, 1, 12)),
        ("79112223339", "hi"),  # not a Message
    ],
)
def test_anything_unusual_leaves_the_fast_path(odd: Any) -> None:
    assert wire_many([*PLAIN, odd], "MySMS", MOSCOW) is None


def test_a_bad_default_sender_leaves_the_fast_path() -> None:
    assert wire_many(PLAIN, "not a sender!", MOSCOW) is None
    assert wire_many(PLAIN, 12345, MOSCOW) is None  # type: ignore[arg-type]


async def test_a_bad_sender_is_named_and_the_others_are_still_built() -> None:
    chunk = [*PLAIN[:2], Message("79112223339", "hi", sender="bad sender!"), PLAIN[2]]
    async with make_client(sender="MySMS") as client:
        prepared = client._ops.prepare_chunk(chunk)
    assert list(prepared.failed) == [2]
    error = prepared.failed[2].error
    assert isinstance(error, ValidationError)
    assert error.field == "sender"
    assert prepared.valid == [*PLAIN[:2], PLAIN[2]]
    assert list(prepared.wires) == slow([*PLAIN[:2], PLAIN[2]], "MySMS")


async def test_an_unhashable_sender_is_named_sender() -> None:
    chunk = [PLAIN[0], Message("79112223339", "hi", sender=["x"])]  # type: ignore[arg-type]
    async with make_client(sender="MySMS") as client:
        prepared = client._ops.prepare_chunk(chunk)
    assert list(prepared.failed) == [1]
    error = prepared.failed[1].error
    assert isinstance(error, ValidationError)
    assert error.field == "sender"


async def test_subclassed_values_are_sent_as_plain_str() -> None:
    chunk = [Message(Text("79112223339"), Text("hi"), sender=Text("Shop"))]
    async with make_client(sender="MySMS") as client:
        prepared = client._ops.prepare_chunk(chunk)
    assert not prepared.failed
    (wire,) = prepared.wires
    assert (wire.source, wire.destination, wire.text) == ("Shop", "79112223339", "hi")
    assert {type(wire.source), type(wire.destination), type(wire.text)} == {str}
