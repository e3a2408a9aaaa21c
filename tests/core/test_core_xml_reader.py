"""The answer readers (XML mostly): the document's shapes in, plain fields out, anything else
refused, and no error that quotes the body."""

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


# ---------------------------------------------------------------------------------------------
# Issue 8 item 5: a value split by elements, comments or processing instructions is not a value


@pytest.mark.parametrize(
    "body",
    [
        b"<r><state>0<b>1</b>2</state><data/></r>",
        b"<r><state>2<!-- -->0</state><data/></r>",
        b"<r><state><!-- x -->0</state><data/></r>",
        b"<r><state>2<?pi x?>0</state><data/></r>",
        b"<r><state><b/>0</state><data/></r>",
        b"<r><state>0</state><data><message><id>a<b>b</b>c</id><state>2</state></message></data></r>",
        b"<r><state>0</state><data><message><id>a<!---->b</id><state>2</state></message></data></r>",
        b"<r><state>0</state><data><message><id>a</id><state>2<!---->0</state></message></data></r>",
        b"<r><state>0</state><data><message><id>a</id><state>2<x>0</x></state></message></data></r>",
    ],
)
def test_a_value_split_by_markup_is_refused(body: bytes) -> None:
    with pytest.raises(ResponseError, match="split"):
        decode_batch(body, "xml")


@pytest.mark.parametrize(
    "body",
    [
        b"<r><state>0</state><balance>1<!-- -->2,5</balance></r>",
        b"<r><state>0</state><balance>1<i>2</i>,5</balance></r>",
    ],
)
def test_a_balance_split_by_markup_is_refused(body: bytes) -> None:
    with pytest.raises(ResponseError, match="split"):
        decode_balance(body, "xml")


def test_comments_between_elements_are_harmless() -> None:
    body = (
        b"<!-- head --><r><!-- a --><state>0</state><!-- b --><data><!-- c -->"
        b"<message><!-- d --><id>a</id><state>2</state></message></data></r>"
    )
    assert decode_batch(body, "xml") == WireBatch(state=0, data=[WireEntry(state=2, id="a")])


# ---------------------------------------------------------------------------------------------
# Issue 8 item 5: one id twice in a send answer


@pytest.mark.parametrize(
    ("body", "wire_format"),
    [
        (b'{"state":0,"data":[{"id":"a","state":2},{"id":"a","state":2}]}', "json"),
        (
            b'{"state":0,"data":[{"id":"a","state":2},{"id":"b","state":2},{"id":"a","state":3}]}',
            "json",
        ),
        (
            b"<r><state>0</state><data><message><id>x</id><state>2</state></message>"
            b"<message><id>x</id><state>2</state></message></data></r>",
            "xml",
        ),
    ],
)
def test_a_send_answer_naming_one_id_twice_is_refused(body: bytes, wire_format: str) -> None:
    with pytest.raises(ResponseError, match="more than once"):
        decode_batch(body, wire_format)  # type: ignore[arg-type]
    # A status answer may repeat an id the request repeated.
    assert len(decode_batch(body, wire_format, unique_ids=False).data or []) >= 2  # type: ignore[arg-type]


def test_entries_without_an_id_are_not_duplicates() -> None:
    body = (
        b'{"state":0,"data":[{"id":"","state":-12},{"id":"","state":-12},'
        b'{"state":-3},{"id":null,"state":-3}]}'
    )
    assert [e.state for e in decode_batch(body, "json").data or []] == [-12, -12, -3, -3]


# ---------------------------------------------------------------------------------------------
# Issue 8 item 9: the decoders never quote a body (an echoing proxy would put the password there)

ECHOED = [
    (b'{"auth":{"username":"user","password":"CorrectHorseBatteryStaple1"},"data":[]}', "json"),
    (
        b"<sendSMS><auth><username>user</username><password>CorrectHorseBatteryStaple1</password>"
        b"</auth><data/></sendSMS>",
        "xml",
    ),
    (b"<html>CorrectHorseBatteryStaple1 <b>", "xml"),
    (b"CorrectHorseBatteryStaple1", "json"),
]


@pytest.mark.parametrize(("body", "wire_format"), ECHOED)
def test_shape_errors_quote_nothing_of_the_body(body: bytes, wire_format: str) -> None:
    for decode in (decode_batch, decode_balance):
        with pytest.raises(ResponseError) as caught:
            decode(body, wire_format)  # type: ignore[operator]
        text = str(caught.value) + repr(caught.value.args)
        assert "Correct" not in text
        assert "body starts" not in text


def test_a_bad_balance_is_not_quoted() -> None:
    with pytest.raises(ResponseError, match="not a decimal amount") as caught:
        decode_balance(b'{"state":0,"balance":"CorrectHorseBatteryStaple1"}', "json")
    assert "Correct" not in str(caught.value)
