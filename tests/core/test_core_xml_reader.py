"""The XML answer reader: the document's shapes in, plain fields out, anything else refused."""

from __future__ import annotations

import pytest

from mysms_async import ResponseError
from mysms_async._decoders import WireBatch, WireEntry, decode_balance, decode_batch


def test_the_root_name_does_not_matter_and_whitespace_is_trimmed() -> None:
    body = (
        b'<anything xmlns:i="x">\n <state> 0 </state>\n <data>\n'
        b"  <message><id> a </id><state>2</state></message>\n"
        b"  <message><id/><state>-12</state></message>\n </data>\n</anything >"
    )
    assert decode_batch(body, "xml") == WireBatch(
        state=0, data=[WireEntry(state=2, id="a"), WireEntry(state=-12, id="")]
    )


def test_only_message_entries_under_data_count() -> None:
    body = (
        b"<r><state>0</state><extra><message><id>x</id><state>2</state></message></extra>"
        b"<data><note>hi</note><message><id>y</id><state>3</state></message></data></r>"
    )
    assert decode_batch(body, "xml").data == [WireEntry(state=3, id="y")]


@pytest.mark.parametrize(
    "body",
    [
        b"<r><state>0</state><state>-1</state></r>",
        b"<r><state>0</state><data><message><id>a</id><id>b</id><state>2</state></message></data></r>",
        b"<r><state>0</state><data/><data/></r>",
    ],
)
def test_a_repeated_field_is_refused_not_overwritten(body: bytes) -> None:
    with pytest.raises(ResponseError, match="repeats"):
        decode_batch(body, "xml")


def test_declarations_are_refused_even_where_the_byte_check_cannot_see_them() -> None:
    bomb = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<r><state>0</state><balance>&b;</balance></r>"
    ).encode("utf-16")
    with pytest.raises(ResponseError, match="DOCTYPE"):
        decode_balance(bomb, "xml")


def test_an_empty_data_element_is_an_empty_list() -> None:
    assert decode_batch(b"<r><state>0</state><data></data></r>", "xml").data == []
