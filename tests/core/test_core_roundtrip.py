"""Any text the client accepts survives request building and parsing back unchanged, in the JSON
body, the XML body and the GET query; any text it refuses is refused with ``field == "text"``.

The rule is restated here on its own terms (XML 1.0 characters, minus the C0/C1 controls other
than tab, newline and carriage return), not imported from the package.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs

import httpx
import msgspec
import pytest
import xmltodict
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mysms_async import Message, ValidationError
from mysms_async._config import Credentials
from mysms_async._request import RequestBuilder, to_wire

BASE_URL = "https://my-sms.ru/rest/sms/"
CREDENTIALS = Credentials("alice", "S3cr3t-p@ss word&more")
MOSCOW = dt.timezone(dt.timedelta(hours=3))


def allowed(char: str) -> bool:
    code = ord(char)
    return (
        char in "\t\n\r"
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or code >= 0x10000
    )


def acceptable(text: str) -> bool:
    # Not empty, and not blank either (issue 14 item 8: only whitespace counts as empty).
    return bool(text) and not text.isspace() and all(allowed(c) for c in text)


SPECIAL_CHARS = "&<>\"';%+=#?/\\ \t\r\n]😀Ё\u00a0"
SPECIAL_CHUNKS = [*SPECIAL_CHARS, "]]>", "&amp;", "&#13;", "Привет", "\r\n", "  "]
texts = st.one_of(
    st.text(),
    st.text(alphabet=SPECIAL_CHARS),
    st.lists(st.sampled_from(SPECIAL_CHUNKS), min_size=1, max_size=12).map("".join),
)
acceptable_texts = texts.filter(acceptable)

EXAMPLES = [
    "& < > \" '",
    "<b>bold</b> &amp; &lt;not an entity&gt;",
    "]]> <![CDATA[x]]> <!-- comment --> <?pi?>",
    "Привет, мир! Ёлка, щука, подъезд.",
    "😀👍🏽 family: 👨‍👩‍👧 flag: 🇷🇺",
    " leading and trailing spaces ",
    "\rx",
    "x\r\n",
    "line one\r\nline two\rline three\n",
    "\ttabbed\t",
    "   .   ",
    "p=1&u=2&t=%20+%2B",
    "a\u2028b\u2029c",
    "\ufeffstarts with a BOM",
    "\U0010fffd last plane",
]

SETTINGS = settings(max_examples=150, deadline=None)


def wire(text: str) -> Any:
    return to_wire(Message("79112223333", text, sender="MySMS"), None, MOSCOW)


def with_examples(test: Any) -> Any:
    for text in EXAMPLES:
        test = example(text)(test)
    return test


# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(texts)
@example("")
@example("   ")  # blank is empty
@example("\r\n\t")
@example("\x00")
@example("ok\x0bno")
@example("\x1b[0m")
@example("\x7f")
@example("\x85")
@example("\ufffe")
@example("\ud83d")
def test_the_text_rule(text: str) -> None:
    if acceptable(text):
        assert wire(text).text == text
    else:
        with pytest.raises(ValidationError) as caught:
            wire(text)
        assert caught.value.field == "text"


@SETTINGS
@with_examples
@given(acceptable_texts)
def test_text_survives_the_json_body(text: str) -> None:
    prepared = RequestBuilder(CREDENTIALS, "json", "POST").send([wire(text)])
    assert prepared.content is not None
    body = msgspec.json.decode(prepared.content)
    assert body["data"][0]["text"] == text
    assert body["auth"] == {"username": "alice", "password": "S3cr3t-p@ss word&more"}
    prepared.content.decode("utf-8")  # the body is UTF-8


@SETTINGS
@with_examples
@given(acceptable_texts)
def test_text_survives_the_xml_body(text: str) -> None:
    prepared = RequestBuilder(CREDENTIALS, "xml", "POST").send([wire(text)])
    assert prepared.content is not None
    document = xmltodict.parse(prepared.content, strip_whitespace=False)
    assert document["sendSMS"]["data"]["message"]["text"] == text
    assert document["sendSMS"]["auth"]["password"] == "S3cr3t-p@ss word&more"


@SETTINGS
@with_examples
@given(acceptable_texts)
def test_text_survives_the_get_query(text: str) -> None:
    for fmt in ("json", "xml"):
        prepared = RequestBuilder(CREDENTIALS, fmt, "GET").send([wire(text)])
        request = httpx.Request("GET", BASE_URL + prepared.path, params=prepared.params)
        # Parsed back the way a server would: from the URL's text.
        url = httpx.URL(str(request.url))
        assert url.params["t"] == text
        query = parse_qs(url.query.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        assert query["t"] == [text]
        assert query["p"] == ["S3cr3t-p@ss word&more"]
        assert list(query) == ["u", "p", "s", "d", "t"]


@SETTINGS
@given(st.lists(acceptable_texts, min_size=1, max_size=4))
def test_several_messages_survive_in_order(batch: list[str]) -> None:
    wires = [wire(t) for t in batch]
    as_json = RequestBuilder(CREDENTIALS, "json", "POST").send(wires)
    as_xml = RequestBuilder(CREDENTIALS, "xml", "POST").send(wires)
    assert as_json.content is not None
    assert as_xml.content is not None
    assert [m["text"] for m in msgspec.json.decode(as_json.content)["data"]] == batch
    document = xmltodict.parse(as_xml.content, strip_whitespace=False, force_list=("message",))
    assert [m["text"] for m in document["sendSMS"]["data"]["message"]] == batch
    assert as_json.count == as_xml.count == len(batch)


def acceptable_id(text: str) -> bool:
    return 0 < len(text) <= 128 and not any(c.isspace() or ord(c) < 0x20 for c in text)


ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1
).filter(lambda t: acceptable_id(t) and all(allowed(c) for c in t))


@SETTINGS
@given(st.lists(ids, min_size=1, max_size=3))
@example(["e061d23c-34dc-4903-88f0-e6a6f5f3a570"])
@example(["<&>\"'", "ид-сообщения", "😀"])
def test_message_ids_survive_every_status_form(message_ids: list[str]) -> None:
    as_json = RequestBuilder(CREDENTIALS, "json", "POST").status(message_ids)
    as_xml = RequestBuilder(CREDENTIALS, "xml", "POST").status(message_ids)
    assert as_json.content is not None
    assert as_xml.content is not None
    assert msgspec.json.decode(as_json.content)["data"] == [{"id": i} for i in message_ids]
    document = xmltodict.parse(as_xml.content, strip_whitespace=False, force_list=("message",))
    assert document["checkSMS"]["data"]["message"] == [{"id": i} for i in message_ids]
    for message_id in message_ids:
        prepared = RequestBuilder(CREDENTIALS, "json", "GET").status([message_id])
        request = httpx.Request("GET", BASE_URL + prepared.path, params=prepared.params)
        assert httpx.URL(str(request.url)).params["id"] == message_id
