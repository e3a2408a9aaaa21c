"""A send answer's fast path (issue 19): its ids read once, one state lookup when all agree.

``decode_send`` reads the ids once for the uniqueness check and the results; ``answered_results``
builds the results in C-level passes. These pin what must not change on the way: a repeated id
is still refused, mixed states still land on the right messages, an unknown state stays a plain
int, an entry without an id is still a refusal or ``DeliveryUnknownError``, and the results are
still untracked ``SendResult``s.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import respx
from core_helpers import BASE, make_client

from mysms_async import DeliveryUnknownError, Message, MessageState, ResponseError, SendResult
from mysms_async._decoders import check_unique_ids, decode_send
from mysms_async._operations import answered_results

MESSAGES = [Message(f"7911222333{i}", f"text {i}") for i in range(4)]


def json_answer(*entries: tuple[str | None, int | str]) -> bytes:
    data = [{"id": i, "state": str(s)} for i, s in entries]
    return msgspec.json.encode({"state": "0", "data": data})


def xml_answer(*entries: tuple[str | None, int | str]) -> bytes:
    items = "".join(f"<message><id>{i or ''}</id><state>{s}</state></message>" for i, s in entries)
    return f"<sendSMS><state>0</state><data>{items}</data></sendSMS>".encode()


ANSWERS = {"json": json_answer, "xml": xml_answer}


# ---------------------------------------------------------------------------------------------
# decode_send


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_decode_send_reads_the_ids_in_order(fmt: str) -> None:
    answer = decode_send(ANSWERS[fmt](("a", 2), ("b", -12), ("c", "3")), fmt)  # type: ignore[arg-type]
    assert answer.state == 0
    assert answer.ids == ["a", "b", "c"]
    assert [entry.id for entry in answer.data or []] == answer.ids
    assert [entry.state for entry in answer.data or []] == [2, -12, 3]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_decode_send_still_refuses_a_repeated_id(fmt: str) -> None:
    body = ANSWERS[fmt](("a", 2), ("b", 2), ("a", 2))
    with pytest.raises(ResponseError, match="more than once") as refused:
        decode_send(body, fmt)  # type: ignore[arg-type]
    assert refused.value.status_code == 200


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_decode_send_lets_entries_without_an_id_repeat(fmt: str) -> None:
    answer = decode_send(ANSWERS[fmt](("", -12), ("", -12), ("a", 2)), fmt)  # type: ignore[arg-type]
    assert answer.ids == ["", "", "a"]


def test_decode_send_without_data_has_no_ids() -> None:
    answer = decode_send(b'{"state": "-1"}', "json")
    assert (answer.state, answer.data, answer.ids) == (-1, None, [])


def test_check_unique_ids_rules() -> None:
    check_unique_ids(["a", "b", None, None, "", ""])  # no id may repeat: refused messages
    with pytest.raises(ResponseError, match="more than once"):
        check_unique_ids(["a", None, "b", "a"])


# ---------------------------------------------------------------------------------------------
# answered_results


def results_for(*entries: tuple[str | None, int | str]) -> list[SendResult]:
    answer = decode_send(json_answer(*entries), "json")
    assert answer.data is not None
    return answered_results(MESSAGES[: len(entries)], answer.data, answer.ids)


def test_one_state_for_all_is_looked_up_once_and_still_an_enum() -> None:
    results = results_for(("a", 2), ("b", 2), ("c", 2), ("d", 2))
    assert [r.message for r in results] == MESSAGES
    assert [r.id for r in results] == ["a", "b", "c", "d"]
    assert all(r.state is MessageState.QUEUED for r in results)
    assert all(r.ok and r.error is None for r in results)


def test_mixed_states_land_on_their_own_messages() -> None:
    results = results_for(("a", 2), ("b", -12), ("c", 4), ("d", 7))
    assert [r.state for r in results] == [2, -12, 4, 7]
    assert results[0].state is MessageState.QUEUED
    assert results[1].state is MessageState.INVALID_DESTINATION
    assert results[2].state is MessageState.DELIVERED
    assert type(results[3].state) is int  # a code the document lacks stays a plain int
    assert [r.ok for r in results] == [True, False, True, True]


def test_one_unknown_state_for_all_stays_a_plain_int() -> None:
    results = results_for(("a", 9), ("b", 9))
    assert [type(r.state) for r in results] == [int, int]
    assert [r.state for r in results] == [9, 9]


def test_entries_without_an_id_are_refusals_or_unknown() -> None:
    results = results_for(("a", 2), ("", -12), (None, 2), ("d", 2))
    assert results[0].ok and results[3].ok
    assert results[1].id is None and results[1].state is MessageState.INVALID_DESTINATION
    assert results[1].error is None and not results[1].ok
    assert isinstance(results[2].error, DeliveryUnknownError)
    assert results[2].id is None and results[2].state is None
    assert list(results[2].error.messages) == [MESSAGES[2]]


def test_results_are_untracked_send_results_equal_to_the_public_type() -> None:
    results = results_for(("a", 2), ("b", 3))
    for result, message, message_id in zip(results, MESSAGES, ["a", "b"], strict=False):
        assert isinstance(result, SendResult)
        assert not gc.is_tracked(result)
        assert result == SendResult(message, message_id, result.state)
        assert repr(result).startswith("SendResult(")


# ---------------------------------------------------------------------------------------------
# Through the client


@pytest.fixture
def gw() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def entries(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"state": "0", "data": [{"id": i, "state": s} for i, s in pairs]}


async def test_send_many_with_mixed_states(gw: respx.MockRouter) -> None:
    gw.post("send/json").respond(200, json=entries(("a", "2"), ("b", "-11"), ("c", "2")))
    async with make_client(sender="MySMS") as client:
        results = await client.send_many(MESSAGES[:3])
    assert [(r.id, r.state) for r in results] == [("a", 2), ("b", -11), ("c", 2)]
    assert results[1].state is MessageState.INVALID_SENDER
    assert [r.ok for r in results] == [True, False, True]


async def test_send_many_refuses_an_answer_that_repeats_an_id(gw: respx.MockRouter) -> None:
    route = gw.post("send/json").respond(200, json=entries(("a", "2"), ("a", "2")))
    async with make_client(sender="MySMS") as client:
        results = await client.send_many(MESSAGES[:2])
    assert route.call_count == 1  # not retried: the messages may have been accepted
    assert all(r.id is None and r.state is None and r.error is not None for r in results)
    assert all("more than once" in str(r.error) for r in results)
