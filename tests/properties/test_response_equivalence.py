"""Property: any answer the emulator can give decodes to the same values in JSON and in XML.

Two levels. The emulator's answer writers (``testing/_wire.py``) feed random ids, states and
balances straight to ``decode_batch`` / ``decode_balance`` in both formats. And random scripts
(sends of valid and refused messages, status checks of known and unknown ids, states moved on or
pinned to codes the document does not list, balances) run against four emulators with the same
seed, one per form (POST/GET x JSON/XML): the client's results must be the same in all four.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mysms_async import Message, MySMSError, ResponseError
from mysms_async._decoders import WireBatch, decode_balance, decode_batch
from mysms_async.testing import DEMO_USERNAME, FakeGateway
from mysms_async.testing import _wire as gateway_wire

FORMS = [("POST", "json"), ("POST", "xml"), ("GET", "json"), ("GET", "xml")]
INT64 = 2**63

# --- the answer writers, straight into the decoders ------------------------------------------

#: Ids as a gateway might write them: UUIDs, or any printable text without spaces.
ids = st.one_of(
    st.just(""),
    st.uuids().map(str),
    st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=40),
)
states = st.one_of(
    st.sampled_from([2, 3, 4, -10, -11, -12, -13, -14, -15, -16]),
    st.integers(-(2**31), 2**31),
    st.integers(-(2**70), 2**70),  # past 64 bits: refused, the same way in both formats
)


def decoded_batch(body: bytes, wire_format: str, *, unique_ids: bool = True) -> tuple[Any, ...]:
    """A decoded answer, with an empty id read as "none" as the client reads it."""
    try:
        batch = decode_batch(body, wire_format, unique_ids=unique_ids)  # type: ignore[arg-type]
    except ResponseError:
        return ("ResponseError",)
    assert isinstance(batch, WireBatch)
    data = None if batch.data is None else [(e.id or None, e.state) for e in batch.data]
    return ("ok", batch.state, data)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["send", "status"]),
    st.sampled_from(["GET", "POST"]),
    st.lists(st.tuples(ids, states), min_size=1, max_size=8),
)
def test_data_answers_decode_alike_in_json_and_xml(
    endpoint: Any, method: str, data: list[tuple[str, int]]
) -> None:
    # A send answer must not name one id twice; a status answer may (its request may repeat one).
    unique = endpoint == "send"
    json_body = gateway_wire.render_data(endpoint, "json", method, data)
    xml_body = gateway_wire.render_data(endpoint, "xml", method, data)
    as_json = decoded_batch(json_body, "json", unique_ids=unique)
    as_xml = decoded_batch(xml_body, "xml", unique_ids=unique)
    assert as_json == as_xml
    named = [i for i, _ in data if i]
    if unique and len(set(named)) != len(named):
        assert as_json == ("ResponseError",)
    elif all(-INT64 <= state < INT64 for _, state in data):
        assert as_json == ("ok", 0, [(i or None, s) for i, s in data])


@pytest.mark.parametrize("endpoint", ["send", "status"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_empty_data_list_decodes_alike_in_json_and_xml(endpoint: Any, method: str) -> None:
    """``"data": []`` and ``<data></data>`` are both an empty list (a request with no messages)."""
    as_json = decoded_batch(gateway_wire.render_data(endpoint, "json", method, []), "json")
    as_xml = decoded_batch(gateway_wire.render_data(endpoint, "xml", method, []), "xml")
    assert as_json == ("ok", 0, [])
    assert as_xml == as_json


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["send", "status", "credit"]),
    st.sampled_from(["GET", "POST"]),
    st.one_of(st.sampled_from([-1, -50, -51, -52]), states),
)
def test_state_answers_decode_alike_in_json_and_xml(endpoint: Any, method: str, state: int) -> None:
    json_body = gateway_wire.render_state(endpoint, "json", method, state)
    xml_body = gateway_wire.render_state(endpoint, "xml", method, state)
    assert decoded_batch(json_body, "json") == decoded_batch(xml_body, "xml")
    if -INT64 <= state < INT64:
        assert decoded_batch(json_body, "json") == ("ok", state, None)
        assert decode_balance(json_body, "json") == decode_balance(xml_body, "xml")


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["GET", "POST"]),
    st.decimals(min_value=0, max_value=10**15, places=4, allow_nan=False, allow_infinity=False),
)
def test_balance_answers_decode_alike_in_json_and_xml(method: str, amount: Decimal) -> None:
    as_json = decode_balance(gateway_wire.render_balance("json", method, amount), "json")
    as_xml = decode_balance(gateway_wire.render_balance("xml", method, amount), "xml")
    assert as_json == as_xml
    assert as_json.state == 0 and as_json.amount == amount


# --- whole scripts, through the client, against four emulators --------------------------------

TEXTS = {
    "plain": "Hello",
    "cyrillic": "Привет, это длинное сообщение " * 4,  # several parts: costs more
    "symbols": "a & b < c > d \"e\" 'f' 😀",
}
sends = st.tuples(
    st.just("send"),
    st.lists(
        st.tuples(st.sampled_from(sorted(TEXTS)), st.sampled_from(["MySMS", "Unknown"])),
        min_size=1,
        max_size=4,
    ),
)
statuses = st.tuples(
    st.just("status"),
    st.lists(st.one_of(st.integers(0, 30), st.sampled_from(["no-such-id", "x&<y>", "00000"]))),
)
steps = st.one_of(
    sends,
    statuses,
    st.tuples(st.just("advance"), st.integers(1, 2)),
    st.tuples(st.just("set_state"), st.integers(0, 30), states),
    st.tuples(st.just("balance")),
    st.tuples(st.just("set_balance"), st.decimals(0, 100, places=2)),
)
#: Scripts start with a send, so that there are ids to ask about and states to move.
script = st.tuples(sends, st.lists(steps, max_size=12)).map(lambda s: [s[0], *s[1]])


def outcome(result: Any) -> tuple[Any, ...]:
    state = result.state
    error = result.error
    return (
        result.id,
        None if state is None else (type(state).__name__, int(state)),
        None if error is None else (type(error).__name__, getattr(error, "status_code", None)),
    )


async def play(method: str, wire_format: str, steps: list[tuple[Any, ...]]) -> list[Any]:
    gateway = FakeGateway(seed=7, fail_share=0.5)
    known: list[str] = []
    trace: list[Any] = []
    async with gateway.client(
        http_method=method, wire_format=wire_format, retry_backoff=0, max_concurrency=1
    ) as client:
        for step in steps:
            kind = step[0]
            if kind == "send":
                batch = [Message("79112223333", TEXTS[t], sender=s) for t, s in step[1]]
                results = await client.send_many(batch)
                known.extend(r.id for r in results if r.id)
                trace.append([outcome(r) for r in results])
            elif kind == "status":
                asked = [
                    known[i % len(known)] if isinstance(i, int) and known else str(i)
                    for i in step[1]
                ]
                results = await client.status_many(asked)
                trace.append([(r.requested_id, *outcome(r)) for r in results])
            elif kind == "advance":
                gateway.advance(step[1])
            elif kind == "set_state":
                if known:
                    gateway.set_state(known[step[1] % len(known)], step[2])
            elif kind == "balance":
                try:
                    trace.append(("balance", (await client.balance()).amount))
                except MySMSError as error:
                    trace.append(("balance", type(error).__name__))
            else:
                gateway.set_balance(DEMO_USERNAME, step[1])
    return trace


@settings(max_examples=80, deadline=None)
@given(script)
def test_the_client_sees_the_same_answers_in_every_form(steps: list[tuple[Any, ...]]) -> None:
    traces = {f"{m} {f}": asyncio.run(play(m, f, steps)) for m, f in FORMS}
    first = traces["POST json"]
    for form, trace in traces.items():
        assert trace == first, form
