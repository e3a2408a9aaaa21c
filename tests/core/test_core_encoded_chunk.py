"""``wire_many(json=True)`` (issue 19, second step): a plain chunk's JSON ``data`` array is
written by joining its checked values, byte for byte what msgspec writes for ``to_wire``'s
structs, with no ``WireMessage`` made. A text that needs JSON escaping (a quote, a backslash, a
control character) and a chunk of several senders are still built as structs; anything
``wire_many`` cannot vouch for goes to ``to_wire``, as before.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from core_helpers import make_client

from mysms_async import Message
from mysms_async._request import (
    EncodedWires,
    RequestBuilder,
    WireMessage,
    to_wire,
    wire_many,
)

MOSCOW = dt.timezone(dt.timedelta(hours=3))

#: Written raw: no character msgspec would escape.
RAW_TEXTS = [
    "plain",
    "Привет, мир! emoji \U0001f600 ёЁ",
    "x" * 700,
    "<tag> & entity &amp; ' apostrophe {braces} [brackets] :,",
    "tilde \x7e and a space",
]
#: Each needs escaping (or a closer look): the chunk is built as structs.
ESCAPED_TEXTS = [
    'a "quote"',
    "a back\\slash",
    "\\u0000 spelled",
    "line\nbreak",
    "tab\there",
    "carriage\rreturn",
    'Привет, "мир"',
    "Привет\nмир",
    "\u2028 \u00a0 \u3000 unicode spaces (not printable: a closer look)",
    "a\x85 C1 control",  # refused by is_xml_safe, on the struct path
]


class Text(str):
    """A str subclass: the slow path copies it to a plain str."""


def struct_json(chunk: list[Message], sender: str | None) -> bytes:
    return msgspec.json.encode([to_wire(m, sender, MOSCOW) for m in chunk])


def fast(chunk: list[Any], sender: Any, **options: Any) -> Any:
    return wire_many(chunk, sender, MOSCOW, json=True, **options)


@pytest.mark.parametrize("sender", ["MySMS", "12345", "a.b-c_d e", None])
def test_the_bytes_are_what_the_structs_make(sender: str | None) -> None:
    chunk = [Message(f"7911222{i:04d}", text) for i, text in enumerate(RAW_TEXTS)]
    encoded = fast(chunk, sender)
    assert type(encoded) is EncodedWires
    assert encoded.json == struct_json(chunk, sender)
    assert encoded == wire_many(chunk, sender, MOSCOW)
    assert list(encoded) == [to_wire(m, sender, MOSCOW) for m in chunk]


def test_one_shared_own_sender_is_the_source() -> None:
    chunk = [Message(f"7911222333{i}", f"t{i}", sender="Shop") for i in range(3)]
    encoded = fast(chunk, "MySMS")
    assert type(encoded) is EncodedWires
    assert encoded.json == struct_json(chunk, "MySMS")
    assert {w.source for w in encoded} == {"Shop"}


def test_several_senders_are_built_as_structs() -> None:
    chunk = [Message("79112223330", "a", sender="Shop"), Message("79112223331", "b")]
    wires = fast(chunk, "MySMS")
    assert type(wires) is list
    assert wires == [to_wire(m, "MySMS", MOSCOW) for m in chunk]


@pytest.mark.parametrize("text", ESCAPED_TEXTS)
def test_a_text_that_needs_escaping_is_built_as_structs(text: str) -> None:
    chunk = [Message("79112223330", "plain"), Message("79112223331", text)]
    wires = fast(chunk, "MySMS")
    if "\x85" in text:
        assert wires is None  # not XML-safe: to_wire names it
        return
    assert type(wires) is list
    assert wires == [to_wire(m, "MySMS", MOSCOW) for m in chunk]


def test_the_structs_are_made_on_demand_from_the_same_values() -> None:
    chunk = [Message("79112223330", "a"), Message("79112223331", "b")]
    encoded = fast(chunk, "MySMS")
    assert type(encoded) is EncodedWires
    assert len(encoded) == 2
    assert encoded[1] == WireMessage("MySMS", "79112223331", "b")
    assert encoded[:1] == [WireMessage("MySMS", "79112223330", "a")]
    assert encoded == fast(chunk, "MySMS")
    assert encoded != "not a chunk"
    assert "79112223330" in repr(encoded)


@pytest.mark.parametrize(
    "odd",
    [
        Message("79112223339", "hi", sender="bad sender!"),
        Message("79112223339", "hi", sender=["unhashable"]),  # type: ignore[arg-type]
        Message("79112223339", "hi", sender=Text("MySMS")),
        Message("79112223339", "hi", sender=12345),  # type: ignore[arg-type]
        Message("79112223339", "   "),
        Message("79112223339", "\u3000"),  # blank beyond ASCII
        Message("79112223339", ""),
        Message("79112223339", "a\x00b"),
        Message("79112223339", "a\x7fb"),
        Message("79112223339", "a\ud800b"),  # a lone surrogate
        Message("79112223339", "a\uffffb"),
        Message("79112223339", Text("hi")),
        Message(Text("79112223339"), "hi"),
        Message(79112223339, "hi"),  # type: ignore[arg-type]
        Message("79112223339", 42),  # type: ignore[arg-type]
        Message("7911222333\u0669", "hi"),
        Message("+7 911 222-33-39", "hi"),
        Message("791", "hi"),
        Message("7911222333912345", "hi"),  # 16 digits
        Message("79112223339", "hi", ttl=60),
        Message("79112223339", "hi", date=dt.datetime(2030, 1, 1, 12)),
        ("79112223339", "hi"),
    ],
)
def test_anything_unusual_leaves_the_fast_path(odd: Any) -> None:
    plain = [Message(f"7911222333{i}", f"text {i}") for i in range(3)]
    assert fast([*plain, odd], "MySMS") is None
    assert fast([odd, *plain], "MySMS") is None


def test_a_subclassed_message_leaves_the_fast_path() -> None:
    class Mine(Message, frozen=True):
        pass

    assert fast([Mine("79112223339", "hi")], "MySMS") is None


def test_a_bad_default_sender_and_an_empty_chunk() -> None:
    plain = [Message("79112223330", "a")]
    assert fast(plain, "not a sender!") is None
    assert fast(plain, 12345) is None
    assert fast([], "MySMS") == []


def test_max_parts_is_still_checked() -> None:
    long = Message("79112223339", "x" * 2000)
    assert fast([long], "MySMS", max_parts=2) is None
    assert type(fast([long], "MySMS", max_parts=None)) is EncodedWires
    assert type(fast([long], "MySMS", max_parts=20)) is EncodedWires


def test_a_get_budget_keeps_the_structs() -> None:
    wires = fast([Message("79112223330", "a")], "MySMS", query_budget=1000)
    assert type(wires) is list


@pytest.mark.parametrize("wire_format", ["json", "xml"])
def test_the_body_is_the_same_either_way(wire_format: str) -> None:
    from mysms_async._config import Credentials

    chunk = [Message(f"7911222{i:04d}", text) for i, text in enumerate(RAW_TEXTS)]
    builder = RequestBuilder(Credentials("alice", "pw"), wire_format, "POST")  # type: ignore[arg-type]
    encoded = fast(chunk, "MySMS")
    assert type(encoded) is EncodedWires
    structs = [to_wire(m, "MySMS", MOSCOW) for m in chunk]
    assert builder.send(encoded).content == builder.send(structs).content


async def test_the_client_takes_the_fast_path_only_for_json_post() -> None:
    chunk = [Message(f"7911222333{i}", f"text {i}") for i in range(3)]
    async with make_client(sender="MySMS") as client:
        assert type(client._ops.prepare_chunk(chunk).wires) is EncodedWires
    async with make_client(sender="MySMS", wire_format="xml") as client:
        assert type(client._ops.prepare_chunk(chunk).wires) is list
    async with make_client(sender="MySMS", http_method="GET") as client:
        assert type(client._ops.prepare_chunk(chunk[:1]).wires) is list


async def test_a_chunk_the_fast_path_refuses_is_still_checked_per_message() -> None:
    chunk = [
        Message("79112223330", "a"),
        Message("79112223339", "   "),
        Message("79112223331", "b"),
    ]
    async with make_client(sender="MySMS") as client:
        prepared = client._ops.prepare_chunk(chunk)
    assert list(prepared.failed) == [1]
    assert prepared.failed[1].error is not None
    assert prepared.failed[1].error.field == "text"  # type: ignore[attr-defined]
    assert list(prepared.wires) == [to_wire(m, "MySMS", MOSCOW) for m in (chunk[0], chunk[2])]
