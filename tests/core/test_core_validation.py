"""Validation happens before any I/O: each rule raises ``ValidationError`` naming its field, and
the mocked gateway sees no request at all. Accepted forms are checked on the wire."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from core_helpers import PASSWORD, USERNAME, make_client

from mysms_async import Message, MySMSClient, ValidationError
from mysms_async import _constants as C
from mysms_async._config import Credentials
from mysms_async._request import (
    RequestBuilder,
    WireMessage,
    format_date,
    normalise_destination,
    to_wire,
    validate_message_id,
    validate_sender,
    wire_many,
)

BASE_URL = "https://my-sms.ru/rest/sms/"


@pytest.fixture
def gateway() -> Iterator[respx.MockRouter]:
    """Answers every request with success, so the only way to fail is validation."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.route().mock(side_effect=accept_all)
        yield gw


def accept_all(request: httpx.Request) -> httpx.Response:
    """Success for every message of a send or every id of a status, one distinct id each."""
    path = request.url.path
    body = request.content
    if request.method == "GET":
        count = 1
    elif path.endswith("/xml"):
        count = body.count(b"<message>")
    else:
        count = body.count(b'"destination"') or body.count(b'"id"')
    state = "2" if "/send/" in path else "4"
    if path.endswith("/xml"):
        entries = "".join(
            f"<message><id>id-{i}</id><state>{state}</state></message>" for i in range(count)
        )
        return httpx.Response(200, content=f"<r><state>0</state><data>{entries}</data></r>")
    data = [{"id": f"id-{i}", "state": state} for i in range(count)]
    return httpx.Response(200, json={"state": "0", "data": data})


async def sent_message(gw: respx.MockRouter, **send: Any) -> dict[str, Any]:
    """Send one message over POST JSON and return the one message of the body, as sent."""
    args = {"destination": "79112223333", "text": "Hi", **send}
    async with make_client() as client:
        await client.send(args.pop("destination"), args.pop("text"), **args)
    assert gw.calls.call_count == 1
    body = json.loads(gw.calls.last.request.content)
    (message,) = body["data"]
    return message  # type: ignore[no-any-return]


def assert_rejected(error: ValidationError, field: str) -> None:
    assert isinstance(error, ValueError)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert error.rule and error.rule in str(error)


# ---------------------------------------------------------------------------------------------
# Rejected before any request

BAD_SENDS: list[tuple[str, dict[str, Any]]] = [
    # sender: at most 11 Latin characters, or at most 15 digits
    ("sender", {"sender": "ABCDEFGHIJKL"}),  # 12 Latin
    ("sender", {"sender": "1234567890123456"}),  # 16 digits
    ("sender", {"sender": "Отправитель"}),  # Cyrillic, 11 letters
    ("sender", {"sender": "Ötzi"}),
    ("sender", {"sender": "My@SMS"}),
    ("sender", {"sender": ""}),
    ("sender", {"sender": " MySMS"}),
    ("sender", {"sender": 12345}),
    # destination: 10 to 15 digits once decoration is removed
    ("destination", {"destination": "123456789"}),  # 9 digits
    ("destination", {"destination": "1234567890123456"}),  # 16 digits
    ("destination", {"destination": "7911abc2233"}),
    ("destination", {"destination": ""}),
    ("destination", {"destination": "   "}),
    ("destination", {"destination": "++79112223333"}),
    ("destination", {"destination": "79112223333+"}),
    ("destination", {"destination": "٧٩١١٢٢٢٣٣٣٣"}),  # Arabic-Indic digits
    ("destination", {"destination": "７９１１２２２３３３３"}),  # full-width digits
    ("destination", {"destination": None}),
    ("destination", {"destination": True}),
    ("destination", {"destination": 79112223333.0}),
    # text: non-empty, no control characters but tab, newline and carriage return
    ("text", {"text": ""}),
    ("text", {"text": " "}),  # blank is empty (issue 14 item 8)
    ("text", {"text": "   \t\n\r\u3000"}),
    ("text", {"text": "я" * 5000}),  # 75 parts, over max_parts=10 (issue 14 item 8)
    ("text", {"text": "x" * 1531}),  # 11 parts
    ("text", {"text": "a\x00b"}),
    ("text", {"text": "a\x0bb"}),
    ("text", {"text": "\x1b[31mred"}),
    ("text", {"text": "form\x0cfeed"}),
    ("text", {"text": "del\x7f"}),
    ("text", {"text": "c1\x85"}),
    ("text", {"text": "lone \ud800 surrogate"}),
    ("text", {"text": "not a character \uffff"}),
    ("text", {"text": b"bytes"}),
    ("text", {"text": None}),
    # date: a datetime
    ("date", {"date": "24.11.2026 18:30:00"}),
    ("date", {"date": dt.date(2026, 11, 24)}),
    ("date", {"date": 1_795_000_000}),
    # ttl: a positive int
    ("ttl", {"ttl": 0}),
    ("ttl", {"ttl": -1}),
    ("ttl", {"ttl": True}),
    ("ttl", {"ttl": False}),
    ("ttl", {"ttl": "10"}),
    ("ttl", {"ttl": 1.5}),
    ("ttl", {"ttl": 10.0}),
]


@pytest.mark.parametrize(("field", "bad"), BAD_SENDS, ids=[repr(b)[:40] for _, b in BAD_SENDS])
async def test_send_rejects_bad_input_without_a_request(
    gateway: respx.MockRouter, field: str, bad: dict[str, Any]
) -> None:
    args: dict[str, Any] = {"destination": "79112223333", "text": "Hi", **bad}
    async with make_client() as client:
        with pytest.raises(ValidationError) as caught:
            await client.send(args.pop("destination"), args.pop("text"), **args)
    assert_rejected(caught.value, field)
    assert gateway.calls.call_count == 0


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_every_forbidden_control_character_is_rejected(
    gateway: respx.MockRouter, method: str
) -> None:
    forbidden = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\x7f"]
    async with make_client(http_method=method) as client:
        for char in forbidden:
            with pytest.raises(ValidationError) as caught:
                await client.send("79112223333", f"before{char}after")
            assert_rejected(caught.value, "text")
            assert f"U+{ord(char):04X}" in str(caught.value)
    assert gateway.calls.call_count == 0


BAD_IDS: list[Any] = ["", "a b", "x" * 129, "abc\x00", "abc\n", "\tabc", 123, None, b"id"]


@pytest.mark.parametrize("bad", BAD_IDS, ids=[repr(b)[:20] for b in BAD_IDS])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_status_rejects_a_bad_message_id_without_a_request(
    gateway: respx.MockRouter, bad: Any, method: str
) -> None:
    async with make_client(http_method=method) as client:
        with pytest.raises(ValidationError) as caught:
            await client.status(bad)
    assert_rejected(caught.value, "message_id")
    assert gateway.calls.call_count == 0


@pytest.mark.parametrize("sender", ["ABCDEFGHIJKL", "Отправитель", "1234567890123456", ""])
def test_a_bad_default_sender_is_rejected_at_construction(sender: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MySMSClient(USERNAME, PASSWORD, sender=sender)
    assert_rejected(caught.value, "sender")


async def test_send_many_sends_nothing_when_every_message_is_invalid(
    gateway: respx.MockRouter,
) -> None:
    messages = [Message("123", "Hi"), Message("79112223333", ""), Message("79112223333", "x\x00")]
    async with make_client() as client:
        results = await client.send_many(messages)
    assert gateway.calls.call_count == 0
    assert [type(r.error) for r in results] == [ValidationError] * 3
    assert [r.error.field for r in results if isinstance(r.error, ValidationError)] == [
        "destination",
        "text",
        "text",
    ]
    assert [r.message for r in results] == messages
    assert not any(r.ok for r in results)


BAD_SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("username", {"username": ""}),
    ("password", {"password": ""}),
    ("password", {"password": None}),
    ("timeout", {"timeout": 0}),
    ("timeout", {"timeout": -1}),
    ("timeout", {"timeout": "10"}),
    ("max_retries", {"max_retries": -1}),
    ("max_retries", {"max_retries": True}),
    ("max_retries", {"max_retries": 1.5}),
    ("retry_backoff", {"retry_backoff": -0.5}),
    ("retry_backoff", {"retry_backoff": "fast"}),
    ("wire_format", {"wire_format": "yaml"}),
    ("wire_format", {"wire_format": None}),
    ("http_method", {"http_method": "PUT"}),
    ("http_method", {"http_method": 1}),
    ("base_url", {"base_url": "ftp://my-sms.ru/"}),
    ("base_url", {"base_url": "my-sms.ru/rest/sms/"}),
    ("timezone", {"timezone": "Mars/Olympus_Mons"}),
    ("max_response_bytes", {"max_response_bytes": 10}),
    ("transport", {"transport": httpx.MockTransport(lambda r: httpx.Response(200))}),
]


@pytest.mark.parametrize(("field", "bad"), BAD_SETTINGS, ids=[f for f, _ in BAD_SETTINGS])
async def test_bad_settings_are_rejected_at_construction(field: str, bad: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {"username": USERNAME, "password": PASSWORD, **bad}
    if field == "transport":
        kwargs["http_client"] = httpx.AsyncClient()
    with pytest.raises(ValidationError) as caught:
        MySMSClient(kwargs.pop("username"), kwargs.pop("password"), **kwargs)
    assert_rejected(caught.value, field)
    if "http_client" in kwargs:
        await kwargs["http_client"].aclose()


def test_settings_accept_timedelta_and_case_insensitive_choices() -> None:
    client = MySMSClient(
        USERNAME,
        PASSWORD,
        timeout=dt.timedelta(seconds=3),
        retry_backoff=dt.timedelta(milliseconds=10),
        wire_format="XML",  # type: ignore[arg-type]
        http_method="get",  # type: ignore[arg-type]
    )
    assert "wire_format='xml'" in repr(client)
    assert "http_method='GET'" in repr(client)


# ---------------------------------------------------------------------------------------------
# Accepted, and spelled on the wire as the gateway wants


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("+7 (911) 222-33-33", "79112223333"),
        ("8 (911) 222-33-33", "89112223333"),
        ("7.911.222.33.33", "79112223333"),
        (" 79112223333 ", "79112223333"),
        ("7 911 222\u00a033 33", "79112223333"),
        ("79112223333", "79112223333"),
        (79112223333, "79112223333"),
        ("1234567890", "1234567890"),  # 10 digits: the minimum
        ("123456789012345", "123456789012345"),  # 15 digits: the maximum
    ],
)
async def test_destination_is_normalised_to_digits(
    gateway: respx.MockRouter, given: Any, sent: str
) -> None:
    message = await sent_message(gateway, destination=given)
    assert message["destination"] == sent


@pytest.mark.parametrize(
    "sender", ["ABCDEFGHIJK", "My SMS-1._x", "A", "123456789012345", "1", "MySMS"]
)
async def test_valid_senders_are_sent_unchanged(gateway: respx.MockRouter, sender: str) -> None:
    message = await sent_message(gateway, sender=sender)
    assert message["source"] == sender


@pytest.mark.parametrize("text", ["tab\there", "line\nbreak", "cr\rlf\r\n", "\t\n\rx", " x "])
async def test_tab_newline_and_carriage_return_are_allowed(
    gateway: respx.MockRouter, text: str
) -> None:
    message = await sent_message(gateway, text=text)
    assert message["text"] == text


@pytest.mark.parametrize(
    ("date", "timezone", "sent"),
    [
        # naive: sent as written, whatever the client's zone
        (dt.datetime(2026, 11, 24, 18, 30), "Europe/Moscow", "24.11.2026 18:30:00"),
        (dt.datetime(2026, 1, 2, 3, 4, 5), "Asia/Yekaterinburg", "02.01.2026 03:04:05"),
        # aware: converted into the client's zone (Moscow by default, UTC+3)
        (
            dt.datetime(2026, 11, 24, 15, 30, tzinfo=dt.timezone.utc),
            None,
            "24.11.2026 18:30:00",
        ),
        (
            dt.datetime(2026, 11, 24, 20, 30, 59, tzinfo=dt.timezone(dt.timedelta(hours=5))),
            None,
            "24.11.2026 18:30:59",
        ),
        (
            dt.datetime(2026, 12, 31, 22, 0, tzinfo=dt.timezone.utc),
            None,
            "01.01.2027 01:00:00",
        ),
        (
            dt.datetime(2026, 11, 24, 15, 30, tzinfo=dt.timezone.utc),
            "Asia/Yekaterinburg",
            "24.11.2026 20:30:00",
        ),
    ],
)
async def test_date_format_and_time_zone(
    gateway: respx.MockRouter, date: dt.datetime, timezone: str | None, sent: str
) -> None:
    kwargs: dict[str, Any] = {} if timezone is None else {"timezone": timezone}
    async with make_client(**kwargs) as client:
        await client.send("79112223333", "Hi", date=date)
    (message,) = json.loads(gateway.calls.last.request.content)["data"]
    assert message["date"] == sent


@pytest.mark.parametrize(("ttl", "sent"), [(1, "1"), (10, "10"), (10**6, "1000000")])
async def test_ttl_is_sent_as_a_decimal_string(
    gateway: respx.MockRouter, ttl: int, sent: str
) -> None:
    message = await sent_message(gateway, ttl=ttl)
    assert message["ttl"] == sent


@pytest.mark.parametrize("message_id", ["x" * 128, "e061d23c-34dc-4903-88f0-e6a6f5f3a570", "7"])
async def test_valid_message_ids_are_sent(gateway: respx.MockRouter, message_id: str) -> None:
    async with make_client(http_method="GET") as client:
        await client.status(message_id)
    assert gateway.calls.last.request.url.params["id"] == message_id


# ---------------------------------------------------------------------------------------------
# Issue 8 item 3: str subclasses are sent as plain strings; a GET too long for a URL is refused


class Tricky(str):
    """A str subclass that lies about itself: every override must be ignored."""

    def __str__(self) -> str:
        return "lie"

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


class Digits(int):
    def __str__(self) -> str:
        return "lie"

    def __repr__(self) -> str:
        return "lie"


class Stamp(dt.datetime):
    pass


@pytest.mark.parametrize("kind", [Tricky, type("Name", (str,), {})])
@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_str_subclasses_are_sent_as_the_plain_strings_they_hold(
    kind: type[str], fmt: str, method: str
) -> None:
    """Before: ``TypeError: Encoding objects of type Tricky is unsupported`` from msgspec."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.route().mock(side_effect=accept_all)
        async with make_client(wire_format=fmt, http_method=method, sender=kind("MySMS")) as client:
            sent = await client.send(kind("79112223333"), kind("Hi & <you>"), sender=kind("Me"))
            status = await client.status(kind("id-1"))
            many = await client.send_many(
                [Message(kind("79112223334"), kind("Bulk")), Message("79112223335", kind("x"))]
            )
        requests = [call.request for call in gw.calls]
    assert sent.ok and status.ok and all(r.ok for r in many)
    assert len(requests) == 3 if method == "POST" else 4
    first = requests[0]
    wire = first.content.decode() + str(first.url)
    for value in ("79112223333", "Hi", "Me", "%3Cyou%3E" if method == "GET" else "you"):
        assert value in wire
    assert "lie" not in "".join(r.content.decode() + str(r.url) for r in requests)


def test_validation_returns_plain_strings_and_numbers() -> None:
    wire = to_wire(
        Message(Tricky("+7 911 222-33-33"), Tricky("Hi"), sender=Tricky("MySMS"), ttl=Digits(60)),
        None,
        dt.timezone.utc,
    )
    assert wire == WireMessage("MySMS", "79112223333", "Hi", None, "60")
    assert all(type(v) is str for v in (wire.source, wire.destination, wire.text, wire.ttl))
    assert normalise_destination(Digits(79112223333)) == "79112223333"
    assert type(validate_message_id(Tricky("id-1"))) is str
    date = format_date(Stamp(2026, 1, 2, 3, 4, 5), dt.timezone.utc)
    assert date == "02.01.2026 03:04:05"
    # The sender cache must not answer for a subclass that claims to equal a checked value.
    validate_sender("MySMS")
    with pytest.raises(ValidationError):
        validate_sender(Tricky("not a valid sender!!"))
    # The chunk-wide path hands subclasses to the per-message path (which copies them out).
    chunk = [Message(Tricky("79112223333"), "Hi"), Message("79112223334", Tricky("Hi"))]
    assert wire_many(chunk, None, dt.timezone.utc) is None
    plain = [Message("79112223333", "Hi", sender="MySMS")]
    assert wire_many(plain, None, dt.timezone.utc) == [WireMessage("MySMS", "79112223333", "Hi")]


def test_credentials_given_as_str_subclasses_still_build_every_body() -> None:
    credentials = Credentials(Tricky("user"), Tricky("pa&ss"))
    for fmt in ("json", "xml"):
        builder = RequestBuilder(credentials, fmt, "POST")  # type: ignore[arg-type]
        assert b"pa&amp;ss" in (builder.credit().content or b"") or fmt == "json"
        assert b"lie" not in (builder.send([WireMessage(None, "79112223333", "x")]).content or b"")
    get = RequestBuilder(credentials, "json", "GET").credit()
    assert get.params == (("u", "user"), ("p", "pa&ss"))
    assert all(type(v) is str for _, v in get.params or ())


LONG_CYRILLIC = "Привет, мир! " * 850  # 11,050 characters: 117 KB of query once encoded


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_get_too_long_for_a_url_is_refused_naming_the_limit(
    gateway: respx.MockRouter, fmt: str
) -> None:
    """Before: ``httpx.InvalidURL: URL too long`` from inside the request."""
    async with make_client(http_method="GET", wire_format=fmt, max_parts=None) as client:
        with pytest.raises(ValidationError) as caught:
            await client.send("79112223333", LONG_CYRILLIC)
        results = await client.send_many(
            [Message("79112223333", "short"), Message("79112223334", LONG_CYRILLIC)]
        )
    assert_rejected(caught.value, "text")
    assert str(C.MAX_GET_QUERY_BYTES) in str(caught.value)
    assert "MAX_GET_QUERY_BYTES" in str(caught.value)
    assert results[0].ok
    assert isinstance(results[1].error, ValidationError)
    assert str(C.MAX_GET_QUERY_BYTES) in str(results[1].error)
    assert gateway.calls.call_count == 1  # only the short message went out
    # POST has no such limit (and no limit of parts with max_parts=None).
    async with make_client(http_method="POST", wire_format=fmt, max_parts=None) as client:
        assert (await client.send("79112223333", LONG_CYRILLIC)).ok


def test_the_get_limit_is_exact_and_checked_by_every_path() -> None:
    credentials = Credentials(USERNAME, PASSWORD)
    builder = RequestBuilder(credentials, "json", "GET")
    assert builder.query_budget is not None
    assert RequestBuilder(credentials, "json", "POST").query_budget is None

    def message(length: int) -> Message:
        return Message("79112223333", "Ж" * length, sender="MySMS")

    def query_bytes(text: str) -> int:
        params = {"u": USERNAME, "p": PASSWORD, "s": "MySMS", "d": "79112223333", "t": text}
        return len(str(httpx.QueryParams(params)))

    # The longest text that fits, measured by httpx itself, and one character more.
    fits = max(n for n in range(1000, 1400) if query_bytes("Ж" * n) <= C.MAX_GET_QUERY_BYTES)
    budget = builder.query_budget
    for path in (
        lambda m: to_wire(m, None, dt.timezone.utc, query_budget=budget),
        lambda m: (wire_many([m], None, dt.timezone.utc, query_budget=budget) or [None])[0],
    ):
        assert path(message(fits)) is not None
    wire = to_wire(message(fits), None, dt.timezone.utc, query_budget=budget)
    assert builder.send([wire]).params is not None
    with pytest.raises(ValidationError, match="MAX_GET_QUERY_BYTES"):
        to_wire(message(fits + 1), None, dt.timezone.utc, query_budget=budget)
    assert wire_many([message(fits + 1)], None, dt.timezone.utc, query_budget=budget) is None
    too_long = to_wire(message(fits + 1), None, dt.timezone.utc)
    with pytest.raises(ValidationError, match="MAX_GET_QUERY_BYTES"):
        builder.send([too_long])  # the builder checks too, whoever validated
    with pytest.raises(ValidationError, match="credentials"):
        RequestBuilder(Credentials(USERNAME, "x" * 9000), "json", "GET").credit()


# ---------------------------------------------------------------------------------------------
# Issue 14 item 8: max_parts, a guard against an expensive mistake, and blank text


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_text_over_max_parts_is_refused_naming_the_count_and_the_limit(
    gateway: respx.MockRouter, method: str
) -> None:
    """Before: ``send("7911...", "я" * 5000)`` went out as 75 parts; the library had no guard."""
    async with make_client(http_method=method) as client:
        with pytest.raises(ValidationError) as caught:
            await client.send("79112223333", "я" * 1000)  # 15 parts
    assert_rejected(caught.value, "text")
    assert "15 SMS parts" in str(caught.value)
    assert "max_parts=10" in str(caught.value)
    assert gateway.calls.call_count == 0


async def test_max_parts_counts_as_the_network_does_at_the_edge(gateway: respx.MockRouter) -> None:
    async with make_client(max_parts=2) as client:
        assert (await client.send("79112223333", "x" * 306)).ok  # 2 x 153 septets
        assert (await client.send("79112223333", "ж" * 134)).ok  # 2 x 67 units
        assert (await client.send("79112223333", "[" * 152)).ok  # 2 x 76 escaped pairs
        assert (await client.send("79112223333", "😀" * 66)).ok  # 2 x 33 surrogate pairs
        # A pair never straddles two parts: 153 "[" (306 septets) and 67 emoji need 3.
        for text in ("x" * 307, "ж" * 135, "[" * 153, "😀" * 67):
            with pytest.raises(ValidationError, match=r"needs 3 SMS parts.*max_parts=2"):
                await client.send("79112223333", text)
    async with make_client(max_parts=None) as client:
        assert (await client.send("79112223333", "я" * 5000)).ok
    assert gateway.calls.call_count == 5


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_max_parts_in_bulk_fails_only_that_message(
    gateway: respx.MockRouter, method: str
) -> None:
    """Each bulk path: the long message's own outcome is the ValidationError; the rest go out."""
    messages = [
        Message("79112223331", "short"),
        Message("79112223332", "я" * 5000),
        Message("79112223333", "   "),
        Message("79112223334", "also short"),
    ]
    async with make_client(http_method=method) as client:
        outcomes = [await client.send_many(messages)]
        async with client.stream_send(messages) as stream:
            outcomes.append([result async for result in stream])
        outcomes.append([result async for result in client.iter_send(messages)])
    for results in outcomes:
        assert [r.ok for r in results] == [True, False, False, True]
        assert isinstance(results[1].error, ValidationError)
        assert "75 SMS parts" in str(results[1].error)
        assert isinstance(results[2].error, ValidationError)
        assert "must not be empty" in str(results[2].error)
    sent = [json.loads(call.request.content or b"{}") for call in gateway.calls]
    if method == "POST":
        texts = [m["text"] for body in sent for m in body["data"]]
    else:
        texts = [dict(call.request.url.params)["t"] for call in gateway.calls]
    assert sorted(texts) == sorted(["short", "also short"] * 3)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_max_parts_is_checked_at_construction(bad: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        MySMSClient(USERNAME, PASSWORD, max_parts=bad)
    assert_rejected(caught.value, "max_parts")
    assert "None for no limit" in str(caught.value)


def test_the_fast_chunk_path_and_the_slow_path_agree_on_max_parts() -> None:
    chunk = [Message("79112223333", "x" * n) for n in (10, 1530, 1531)]
    assert wire_many(chunk[:2], None, dt.timezone.utc, max_parts=10) is not None
    assert wire_many(chunk, None, dt.timezone.utc, max_parts=10) is None
    assert wire_many(chunk, None, dt.timezone.utc, max_parts=None) is not None
    assert wire_many([Message("79112223333", " \n ")], None, dt.timezone.utc) is None
    to_wire(chunk[1], None, dt.timezone.utc, max_parts=10)
    with pytest.raises(ValidationError, match="11 SMS parts"):
        to_wire(chunk[2], None, dt.timezone.utc, max_parts=10)
