"""Fuzz the response decoders: whatever the body, ``ResponseError`` or a typed value, quickly.

Random bytes, and near-valid bodies: real answers from the emulator's writers, then truncated,
with bytes flipped, with a DOCTYPE, a BOM, invalid UTF-8, NaN, huge numbers or deep nesting
spliced in, or with a field replaced by a value of the wrong type. Each call must return the
documented types or raise ``ResponseError`` (nothing else), within a second. Deeply nested bodies
(100,000 levels) must not crash the interpreter with a recursion error.

``fuzz_decoders_atheris.py`` beside this file runs the same check under atheris, by hand.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, example, given, settings
from hypothesis import strategies as st

from mysms_async import ResponseError
from mysms_async._decoders import WireBalance, WireBatch, decode_balance, decode_batch
from mysms_async.testing import _wire as gateway_wire

FORMATS = ("json", "xml")
#: One call's budget: generous for a loaded CI machine, far below a hang.
MAX_SECONDS = 1.0
DEEP = 100_000


def check_decoders(body: bytes, *, budget: float = MAX_SECONDS) -> None:
    """Both decoders, both formats: a typed value or ``ResponseError``, within ``budget``."""
    for wire_format in FORMATS:
        for decode in (decode_batch, decode_balance):
            started = time.perf_counter()
            try:
                value = decode(body, wire_format)  # type: ignore[arg-type]
            except ResponseError:
                value = None
            elapsed = time.perf_counter() - started
            assert elapsed < budget, (decode.__name__, wire_format, elapsed, body[:80])
            if currently_in_test_context():
                event(f"{decode.__name__} {wire_format}: {'error' if value is None else 'value'}")
            if isinstance(value, WireBatch):
                assert type(value.state) is int
                for entry in value.data or []:
                    assert type(entry.state) is int
                    assert entry.id is None or type(entry.id) is str
            elif isinstance(value, WireBalance):
                assert type(value.state) is int
                assert value.amount is None or (
                    type(value.amount) is Decimal and value.amount.is_finite()
                )
            else:
                assert value is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"\xff\xfe<\x00")
@example(b"null")
@example(b"[]")
@example(b'"state"')
@example(b"<a/>")
@example(b"<?xml version='1.0'?>")
def test_random_bytes(body: bytes) -> None:
    check_decoders(body)


# --- near-valid bodies ------------------------------------------------------------------------

ids = st.one_of(st.just(""), st.uuids().map(str))
data = st.lists(st.tuples(ids, st.integers(-20, 5)), max_size=4)
amounts = st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False)
methods = st.sampled_from(["GET", "POST"])
wire_formats = st.sampled_from(FORMATS)

valid_bodies = st.one_of(
    st.builds(
        gateway_wire.render_data, st.sampled_from(["send", "status"]), wire_formats, methods, data
    ),
    st.builds(
        gateway_wire.render_state,
        st.sampled_from(["send", "status", "credit"]),
        wire_formats,
        methods,
        st.sampled_from([-1, -50, -51, -52, 0]),
    ),
    st.builds(gateway_wire.render_balance, wire_formats, methods, amounts),
)

SPLICES = [
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b"<!ENTITY",
    b"&a;",
    b"&#0;",
    b"&#xD800;",
    b"&#x110000;",
    b"<![CDATA[<state>0</state>]]>",
    b"]]>",
    b"<?pi data?>",
    b"<!-- comment -->",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\x00",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"NaN",
    b"-Infinity",
    b"1e999999999",
    b"-0.0",
    b"9" * 400,
    b'"' + b"9" * 400 + b'"',
    b"[" * 64,
    b"{" * 64,
    b"<a>" * 64,
    b"null",
    b"true",
    b"[]",
    b"{}",
    b'"',
    b"<",
    b"</data>",
    b"<message>",
    b"<state>",
    b"<state>0</state>",
    b'<?xml version="1.0" encoding="utf-16"?>',
    b'<?xml version="1.0" encoding="no-such-codec"?>',
    b' xmlns:x="urn:x" x:a="1"',
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(valid_bodies))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "splice", "delete", "encode"]))
        at = draw(st.integers(0, len(body)))
        if kind == "truncate":
            del body[at:]
        elif kind == "flip" and at < len(body):
            body[at] ^= draw(st.integers(1, 255))
        elif kind == "splice":
            body[at:at] = draw(st.sampled_from(SPLICES))
        elif kind == "delete":
            del body[at : at + draw(st.integers(1, 8))]
        elif kind == "encode":
            codec = draw(st.sampled_from(["utf-16", "utf-16-be", "utf-32", "latin-1"]))
            body = bytearray(body.decode("utf-8", "replace").encode(codec, "replace"))
    return bytes(body)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_answers(body: bytes) -> None:
    check_decoders(body)


# --- right shape, wrong types -----------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**64, max_value=2**200),
        st.floats(),
        st.text(max_size=20),
        st.sampled_from(["0", "-1", "2", "77212,0000", "1 000,50", "NaN", "Infinity", "1e999999"]),
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
#: Mostly plausible values, sometimes anything: so that decoding gets past ``state``.
plausible_states = st.one_of(st.sampled_from(["0", 0, "2", "-1", "-50", " 4 "]), json_values)
entries = st.one_of(
    json_values,
    st.fixed_dictionaries({"state": plausible_states}, optional={"id": json_values}),
)
json_answers = st.fixed_dictionaries(
    {"state": plausible_states},
    optional={
        "data": st.one_of(json_values, st.lists(entries, max_size=4)),
        "balance": json_values,
    },
)


def to_xml(name: str, value: Any) -> str:
    """A JSON-like value as XML elements: lists repeat the element, dicts nest."""
    if isinstance(value, list):
        return "".join(to_xml(name, item) for item in value)
    if isinstance(value, dict):
        inner = "".join(to_xml(key, item) for key, item in value.items() if key.isidentifier())
        return f"<{name}>{inner}</{name}>"
    if value is None:
        return f"<{name}/>"
    text = str(value).replace("&", "&amp;").replace("<", "&lt;")
    return f"<{name}>{text}</{name}>"


def json_body(answer: dict[str, Any]) -> bytes:
    try:
        return msgspec.json.encode(answer)
    except (msgspec.EncodeError, OverflowError):
        return repr(answer).encode()  # e.g. NaN: not JSON, which is the point


@settings(max_examples=300, deadline=None)
@given(json_answers, st.sampled_from(["sendSMS", "checkSMS", "getBalance", "x"]))
def test_answers_of_the_right_shape_with_the_wrong_types(answer: dict[str, Any], root: str) -> None:
    check_decoders(json_body(answer))
    xml_data = answer.get("data")
    if isinstance(xml_data, list):
        answer = {**answer, "data": {"message": xml_data}}
    check_decoders(to_xml(root, answer).encode())


# --- deep nesting -----------------------------------------------------------------------------


def nested(outside: bytes, opening: bytes, closing: bytes, inside: bytes = b"") -> bytes:
    """``outside`` with ``DEEP`` levels of ``opening ... closing`` where its ``%s`` is."""
    return outside.replace(b"%s", opening * DEEP + inside + closing * DEEP)


DEEP_BODIES = {
    "json open": b"[" * DEEP,
    "json closed": nested(b"%s", b"[", b"]"),
    "json in data": nested(b'{"state":"0","data":%s}', b"[", b"]"),
    "json in entry": nested(b'{"state":"0","data":[{"id":%s}]}', b'{"a":', b"}", b"1"),
    "json balance": nested(b'{"state":"0","balance":%s}', b"[", b"]"),
    "xml open": b"<a>" * DEEP,
    "xml closed": nested(b"%s", b"<a>", b"</a>"),
    "xml in data": nested(b"<r><state>0</state><data>%s</data></r>", b"<message>", b"</message>"),
    "xml in state": nested(b"<r><state>%s</state></r>", b"<s>", b"</s>"),
    "xml in balance": nested(b"<r><state>0</state><balance>%s</balance></r>", b"<b>", b"</b>"),
}


@pytest.mark.parametrize("name", list(DEEP_BODIES))
def test_deep_nesting_is_refused_without_a_crash(name: str) -> None:
    # 100,000 levels take a parser some time: a hang is what must not happen.
    check_decoders(DEEP_BODIES[name], budget=5.0)
