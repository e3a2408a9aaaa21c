"""A send answer's common state (issue 19, second step): ``decode_send`` reads the ids and checks
that every entry shares the first one's state in the same pass, and ``answered_results`` then
looks that state up once. These pin that the shortcut gives exactly the results of the full
path, for one state, mixed states, an unknown state and entries without an id.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mysms_async import DeliveryUnknownError, Message, MessageState
from mysms_async._decoders import decode_send
from mysms_async._operations import answered_results

MESSAGES = [Message(f"7911222333{i}", f"text {i}") for i in range(4)]


def json_answer(*entries: tuple[str | None, int]) -> bytes:
    data = [{"id": i, "state": str(s)} for i, s in entries]
    return msgspec.json.encode({"state": "0", "data": data})


def xml_answer(*entries: tuple[str | None, int]) -> bytes:
    items = "".join(f"<message><id>{i or ''}</id><state>{s}</state></message>" for i, s in entries)
    return f"<sendSMS><state>0</state><data>{items}</data></sendSMS>".encode()


def fields(results: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.message, r.id, r.state, type(r.state), type(r.error), type(r)) for r in results]


CASES = [
    ((("a", 2), ("b", 2), ("c", 2), ("d", 2)), 2),
    ((("a", 3), ("b", 3)), 3),
    ((("a", 77), ("b", 77)), 77),  # a state the document does not list: a plain int
    ((("a", 2), ("b", -12), ("c", 2), ("d", 4)), None),
    ((("a", 2), ("b", 2), ("c", 2), ("d", -12)), None),  # the odd one out is the last
    ((("", -12), ("", -12)), -12),  # refusals, no ids
    ((("a", 2), ("", 2)), 2),  # no id and not a refusal: DeliveryUnknownError
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("entries", "common"), CASES)
def test_the_common_state_is_found_and_gives_the_same_results(
    fmt: str, entries: tuple[tuple[str | None, int], ...], common: int | None
) -> None:
    body = (json_answer if fmt == "json" else xml_answer)(*entries)
    answer = decode_send(body, fmt)  # type: ignore[arg-type]
    assert answer.data is not None
    assert answer.common_state == common
    assert answer.ids == [entry.id for entry in answer.data]
    messages = MESSAGES[: len(entries)]
    fast = answered_results(messages, answer.data, answer.ids, answer.common_state)
    full = answered_results(messages, answer.data, answer.ids)
    assert fields(fast) == fields(full)  # errors are compared by type: each is a new one
    if all(answer.ids):
        assert fast == full


def test_a_common_known_state_is_still_the_enum() -> None:
    answer = decode_send(json_answer(("a", 2), ("b", 2)), "json")
    assert answer.data is not None
    results = answered_results(MESSAGES[:2], answer.data, answer.ids, answer.common_state)
    assert all(r.state is MessageState.QUEUED for r in results)
    assert [r.id for r in results] == ["a", "b"]


def test_an_entry_without_an_id_is_still_unknown_with_a_common_state() -> None:
    answer = decode_send(json_answer(("a", 2), ("", 2)), "json")
    assert answer.data is not None and answer.common_state == 2
    results = answered_results(MESSAGES[:2], answer.data, answer.ids, answer.common_state)
    assert results[0].ok
    assert isinstance(results[1].error, DeliveryUnknownError)
    assert results[1].id is None and results[1].state is None


def test_no_data_has_no_common_state() -> None:
    answer = decode_send(b'{"state": "-1"}', "json")
    assert answer.common_state is None
