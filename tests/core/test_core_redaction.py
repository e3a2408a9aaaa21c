"""The password never escapes: not in an exception's text (causes and context included), a repr,
or any log record of any logger, even for a failing GET whose URL carries ``p=``.

Two paths: respx (httpx's own ``HTTP Request:`` INFO records still fire for answered requests,
and the errors can carry the full URL the way httpx's do), and a real socket on 127.0.0.1 so
that httpcore's DEBUG records are produced as well. Also: the client's one DEBUG line per request.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import logging
import re
import socket
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, quote_plus

import anyio
import anyio.abc
import core_helpers
import httpx
import pytest
import respx
import shared_helpers
from core_helpers import PASSWORD, USERNAME
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shared_helpers import spellings

from mysms_async import Message, MySMSClient, MySMSError, ValidationError
from mysms_async._config import Credentials
from mysms_async._redact import (
    _URL_LOGGERS,
    REDACTED,
    _spellings,
    describe_body,
    redact_text,
)
from mysms_async._request import RequestBuilder, WireMessage, to_wire

BASE_URL = "https://my-sms.ru/rest/sms/"
# Every spelling the password could take on its way out; "S3cr3t" alone catches any of them.
PASSWORD_FORMS = spellings(PASSWORD, "S3cr3t")


def assert_no_secret(text: str) -> None:
    shared_helpers.assert_no_secret(text, forms=PASSWORD_FORMS)


def exception_text(error: BaseException) -> str:
    """Everything a traceback printer or an error tracker would show, causes included."""
    parts = traceback.format_exception(type(error), error, error.__traceback__)
    parts += [repr(error), str(error), repr(error.args)]
    parts += [repr(v) for v in vars(error).values()]
    return "".join(parts)


def log_text(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    parts = []
    for record in records:
        parts.append(formatter.format(record))
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("mysms_async", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def url_in_message(kind: type[httpx.TransportError], what: str) -> Callable[[httpx.Request], Any]:
    """Fail the way httpx does: the full request URL, with ``p=``, in the error's message."""

    def fail(request: httpx.Request) -> Any:
        raise kind(f"{what} for url {request.url} ({request.url.query.decode()})", request=request)

    return fail


#: The test account's client (core_helpers), GET by default, on a transport of its own.
make_client = functools.partial(
    core_helpers.make_client, shared_ssl=False, http_method="GET", sender="MySMS"
)


async def run_everything(client: MySMSClient) -> list[BaseException]:
    """send, status and balance; every error they raise, kept for inspection."""
    errors: list[BaseException] = []
    for operation in ("send", "status", "balance"):
        try:
            if operation == "send":
                await client.send("79112223333", "Hi")
            elif operation == "status":
                await client.status("id-1")
            else:
                await client.balance()
        except MySMSError as error:
            errors.append(error)
    return errors


FAILURES: list[tuple[str, Any]] = [
    ("connect error with url", url_in_message(httpx.ConnectError, "connection refused")),
    ("connect timeout with url", url_in_message(httpx.ConnectTimeout, "connect timed out")),
    ("read timeout with url", url_in_message(httpx.ReadTimeout, "read timed out")),
    ("dropped with url", url_in_message(httpx.RemoteProtocolError, "peer closed connection")),
    ("http 500", httpx.Response(500, text="Internal Server Error")),
    ("garbage body", httpx.Response(200, content=b"\x00\x01 not json <html>")),
    ("auth failed", httpx.Response(200, json={"state": "-1"})),
]


@pytest.mark.parametrize("callers_http", [False, True], ids=["own engine", "caller's httpx"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("failure", [f for _, f in FAILURES], ids=[n for n, _ in FAILURES])
async def test_a_failing_get_leaks_the_password_nowhere(
    logs: pytest.LogCaptureFixture, fmt: str, failure: Any, callers_http: bool
) -> None:
    """The client's own httpx engine drives its transport directly (httpx logs nothing); a
    caller's ``http_client`` goes through ``AsyncClient``, which logs each request's URL."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        route = gw.route().mock(side_effect=failure)
        async with httpx.AsyncClient() as http:
            extra = {"http_client": http} if callers_http else {}
            client = make_client(wire_format=fmt, max_retries=1, **extra)
            async with client:
                errors = await run_everything(client)
        # The URLs really did carry the password: otherwise this test would prove nothing.
        assert all(c.request.url.params["p"] == PASSWORD for c in route.calls)

    assert len(errors) == 3
    text = "\n".join(exception_text(e) for e in errors)
    text += "\n" + log_text(logs.records) + "\n" + logs.text
    text += "\n" + repr(client) + "\n" + str(client)
    assert_no_secret(text)
    # The client logged each request; httpx logged the answered ones.
    assert any(r.name == "mysms_async" and r.levelno == logging.DEBUG for r in logs.records)
    http_lines = [r.getMessage() for r in logs.records if r.name == "httpx"]
    if callers_http and isinstance(failure, httpx.Response):
        assert any(line.startswith("HTTP Request: GET") for line in http_lines)
    assert all("p=" not in line or "p=***" in line for line in http_lines)


async def test_an_echoed_url_in_a_garbage_body_does_not_leak(
    logs: pytest.LogCaptureFixture,
) -> None:
    """A proxy error page that echoes the request line: the decoder quotes the body's start."""

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"Bad request: " + request.url.raw_path + b"\n")

    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.route().mock(side_effect=echo)
        async with make_client(wire_format="json", max_retries=0) as client:
            errors = await run_everything(client)
    assert len(errors) == 3
    assert_no_secret("\n".join(exception_text(e) for e in errors) + "\n" + log_text(logs.records))


async def test_results_and_reprs_hide_the_password(logs: pytest.LogCaptureFixture) -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.route(url__startswith=BASE_URL + "send").respond(
            200, json={"state": "0", "data": [{"id": "id-1", "state": "2"}]}
        )
        gw.route(url__startswith=BASE_URL + "status").respond(
            200, json={"state": "0", "data": [{"id": "id-1", "state": "4"}]}
        )
        gw.route(url__startswith=BASE_URL + "credit").respond(
            200, json={"state": "0", "balance": "1,0"}
        )
        async with httpx.AsyncClient() as http:  # a caller's client: httpx logs each URL
            client = make_client(http_client=http)
            async with client:
                sent = await client.send("79112223333", "Hi")
                status = await client.status("id-1")
                balance = await client.balance()
                opened = repr(client)
    credentials = Credentials(USERNAME, PASSWORD)
    builder = RequestBuilder(credentials, "json", "GET")
    prepared = builder.send([to_wire(Message("79112223333", "Hi"), None, dt.timezone.utc)])
    texts = [
        repr(client),
        str(client),
        opened,
        repr(credentials),
        str(credentials),
        repr(builder),
        repr(prepared),
        repr(sent),
        repr(status),
        repr(balance),
        log_text(logs.records),
    ]
    assert_no_secret("\n".join(texts))
    assert USERNAME in repr(client)
    assert "password='***'" in repr(credentials)
    # The HTTP Request lines were there to be scanned, with the password redacted.
    assert any("HTTP Request: GET" in r.getMessage() for r in logs.records)
    assert any("p=***" in r.getMessage() for r in logs.records)


async def test_the_clients_debug_line_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mysms_async")
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.post("send/json").respond(
            200,
            json={"state": "0", "data": [{"id": "a", "state": "2"}, {"id": "b", "state": "2"}]},
        )
        gw.post("status/xml").respond(
            200,
            content=b"<checkSMS><state>0</state><data><message><id>a</id><state>4</state>"
            b"</message></data></checkSMS >",
        )
        gw.get("credit/json").respond(200, json={"state": "-50"})
        async with MySMSClient(USERNAME, PASSWORD, retry_backoff=0) as client:
            await client.send_many([Message("79112223333", "a"), Message("79112223334", "b")])
        async with MySMSClient(USERNAME, PASSWORD, wire_format="xml", retry_backoff=0) as client:
            await client.status("a")
        async with MySMSClient(
            USERNAME, PASSWORD, http_method="GET", max_retries=0, retry_backoff=0
        ) as client:
            with pytest.raises(MySMSError):
                await client.balance()

    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "mysms_async" and r.levelno == logging.DEBUG
    ]
    pattern = re.compile(
        r"(?P<method>GET|POST) (?P<endpoint>\w+/\w+) messages=(?P<count>\d+) .*"
        r"state=(?P<state>-?\d+) elapsed=\d+\.\d+ms"
    )
    found = [m.groupdict() for m in map(pattern.search, lines) if m]
    assert found == [
        {"method": "POST", "endpoint": "send/json", "count": "2", "state": "0"},
        {"method": "POST", "endpoint": "status/xml", "count": "1", "state": "0"},
        {"method": "GET", "endpoint": "credit/json", "count": "0", "state": "-50"},
    ]
    assert_no_secret("\n".join(lines))


async def test_the_debug_line_shows_an_auth_failures_request_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mysms_async")
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.post("credit/json").respond(200, json={"state": "-1"})
        async with MySMSClient(USERNAME, PASSWORD, retry_backoff=0) as client:
            with pytest.raises(MySMSError):
                await client.balance()
    lines = [r.getMessage() for r in caplog.records if r.name == "mysms_async"]
    assert len(lines) == 1
    assert "POST credit/json" in lines[0]
    assert "state=-1 " in lines[0]


# ---------------------------------------------------------------------------------------------
# A real socket: httpcore's DEBUG records are produced too


@asynccontextmanager
async def local_gateway(respond: Callable[[bytes], bytes | None]) -> AsyncIterator[str]:
    """A tiny HTTP/1.1 server on 127.0.0.1: ``respond`` gets the request head and returns the
    whole answer, or None to never answer."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        try:
            async with stream:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += await stream.receive()
                answer = respond(head)
                if answer is None:
                    await anyio.sleep_forever()
                else:
                    await stream.send(answer)
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            pass

    async with anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        try:
            yield f"http://127.0.0.1:{port}/rest/sms/"
        finally:
            group.cancel_scope.cancel()


def http_answer(status: str, body: bytes = b"", headers: tuple[bytes, ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status}".encode(), *headers, b"Content-Length: %d" % len(body)]
    return b"\r\n".join([*lines, b"Connection: close", b"", b""]) + body


def request_target(head: bytes) -> bytes:
    return head.split(b" ", 2)[1]


REAL_ANSWERS: list[tuple[str, Callable[[bytes], bytes | None]]] = [
    ("http 500", lambda head: http_answer("500 Internal Server Error", b"oops")),
    ("garbage body", lambda head: http_answer("200 OK", b"<html>garbage</html>")),
    ("never answers", lambda head: None),
    (
        # An http -> https redirect keeps the query: the gateway echoes p= in a header.
        "redirect echoing the url",
        lambda head: http_answer(
            "301 Moved Permanently",
            headers=(b"Location: https://my-sms.ru" + request_target(head),),
        ),
    ),
]


@pytest.mark.parametrize("respond", [r for _, r in REAL_ANSWERS], ids=[n for n, _ in REAL_ANSWERS])
async def test_a_failing_get_over_a_real_socket_leaks_nowhere(
    logs: pytest.LogCaptureFixture, respond: Callable[[bytes], bytes | None]
) -> None:
    async with local_gateway(respond) as base_url:
        client = make_client(base_url=base_url, max_retries=0, timeout=0.2)
        async with client:
            errors = await run_everything(client)
    assert len(errors) == 3
    names = {r.name for r in logs.records}
    assert any(name.startswith("httpcore") for name in names)  # the real path was taken
    text = "\n".join(exception_text(e) for e in errors) + "\n" + log_text(logs.records)
    assert_no_secret(text + "\n" + logs.text + repr(client))


async def test_connection_refused_over_a_real_socket_leaks_nowhere(
    logs: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{port}/rest/sms/", max_retries=1)
    async with client:
        errors = await run_everything(client)
    assert [type(e).__name__ for e in errors] == ["TransportError"] * 3
    text = "\n".join(exception_text(e) for e in errors) + "\n" + log_text(logs.records)
    assert_no_secret(text + "\n" + logs.text)


def test_the_redaction_filter_is_on_the_loggers_that_see_urls() -> None:
    """httpx logs through ``httpx``; the request line it logs must arrive redacted."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = logging.getLogger("httpx").level
    logging.getLogger("httpx").setLevel(logging.INFO)
    try:
        url = httpx.URL(BASE_URL + "credit/json", params={"u": USERNAME, "p": PASSWORD})
        logging.getLogger("httpx").info('HTTP Request: %s %s "%s"', "GET", url, "HTTP/1.1 200 OK")
    finally:
        root.removeHandler(handler)
        logging.getLogger("httpx").setLevel(old_level)
    (record,) = records
    assert "p=***" in record.getMessage()
    assert_no_secret(record.getMessage())


# ---------------------------------------------------------------------------------------------
# Issue 8 item 9: an answer that echoes the request (a proxy, WAF or debug page) quotes no part
# of the password, in any spelling, in any error

ECHO_PASSWORDS = [
    "CorrectHorseBatteryStaple-31chr",
    "парольпароль",
    'a"b\\c',
    "x&amp;<y>'z' %41+",
    "Correct\\u0041Horse\\\\",
]


def fragments(secret: str) -> set[str]:
    """Every spelling of every 5-character piece of the secret (all of it when shorter)."""
    pieces = {secret[i : i + 5] for i in range(max(1, len(secret) - 4))}
    spelled: set[str] = set()
    for piece in pieces:
        for form in (
            piece,
            json.dumps(piece)[1:-1],
            json.dumps(piece, ensure_ascii=True)[1:-1],
            html.escape(piece),
            quote(piece, safe=""),
            quote_plus(piece),
            repr(piece.encode())[2:-1],
            repr(json.dumps(piece, ensure_ascii=False).encode())[3:-2],
        ):
            if form:
                spelled.add(form)
    return spelled


def assert_no_fragment(text: str, secret: str) -> None:
    found = sorted(f for f in fragments(secret) if f in text)
    assert not found, f"pieces of the password {found} in: {text}"


@pytest.mark.parametrize("password", ECHO_PASSWORDS)
@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_an_answer_echoing_the_request_quotes_no_part_of_the_password(
    password: str, fmt: str, method: str
) -> None:
    """Before: ``(body starts b'{"auth":{"username":"user","password":"CorrectHorseBatterySt')``."""

    def echo(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, content=b"<html>GET " + request.url.raw_path + b"</html>")
        return httpx.Response(200, content=request.content)

    errors: list[BaseException] = []
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as gw:
        gw.route().mock(side_effect=echo)
        async with MySMSClient(
            "user", password, wire_format=fmt, http_method=method, retry_backoff=0
        ) as client:
            errors = await run_everything(client)
            results = await client.send_many([Message("79112223333", "Hi")])
    assert len(errors) == 3
    assert all(isinstance(e, MySMSError) for e in errors)
    assert results[0].error is not None
    errors.append(results[0].error)
    text = "\n".join(exception_text(e) for e in errors) + repr(results)
    assert_no_fragment(text, password)


JSON_SHAPED = st.sampled_from(["json", "xml"])
#: Any password the client accepts: all of Unicode but what XML cannot carry.
passwords = st.text(
    st.characters(
        codec="utf-8",
        exclude_characters=[chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
        + [chr(c) for c in range(0x7F, 0xA0)]
        + ["\ufffe", "\uffff"],
    ),
    min_size=1,
    max_size=40,
)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=30)


def echoed_body(password: str, fmt: str, text: str) -> bytes:
    builder = RequestBuilder(Credentials(USERNAME, password), fmt, "POST")  # type: ignore[arg-type]
    wire = WireMessage("MySMS", "79112223333", text or "x")
    return builder.send([wire]).content or b""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(passwords, JSON_SHAPED, texts, st.integers(1, 400), st.booleans())
def test_describe_body_of_an_echoed_body_says_nothing_about_the_password(
    password: str, fmt: str, text: str, limit: int, known: bool
) -> None:
    """The snippet is the same as for the password ``***``: it carries no information about the
    password at all, whatever its characters, escapes and length, wherever the cut falls, and
    with or without the secret at hand (the structure alone finds it)."""
    body = echoed_body(password, fmt, text)
    reference = describe_body(echoed_body(REDACTED, fmt, text), None, limit)
    if known and len(password) >= 8:  # a long secret is also removed wherever it occurs
        plain = echoed_body(REDACTED, fmt, text).decode()
        assume(not any(form in plain for form in _spellings(password)))
    assert describe_body(body, password if known else None, limit) == reference


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(passwords, texts, st.data(), st.integers(1, 200), st.booleans())
def test_describe_body_that_starts_inside_the_password_quotes_none_of_it(
    password: str, text: str, data: st.DataObject, limit: int, known: bool
) -> None:
    """A peer echoing the XML request into its headers: a newline in the password ends them, and
    the body starts with the rest of the value (``;;;;</password>`` for ``\\n\\n;;;;``; found by
    tests/faults/test_secrets.py). Wherever the value is cut, none of it is quoted."""
    body = echoed_body(password, "xml", text)
    start = body.index(b"<password>") + len(b"<password>")
    end = body.index(b"</password>")
    cut = data.draw(st.integers(start, end), label="cut")
    if known and len(password) >= 8:  # a long secret is also removed wherever it occurs
        assume(not any(form in body[end:].decode() for form in _spellings(password)))
    expected = repr((REDACTED.encode() + body[end:])[:limit])
    assert describe_body(body[cut:], password if known else None, limit) == expected


@settings(max_examples=200, deadline=None)
@given(passwords, st.integers(1, 300), st.booleans())
def test_describe_body_of_an_echoed_url_says_nothing_about_the_password(
    password: str, limit: int, known: bool
) -> None:
    def page(secret: str) -> bytes:
        url = httpx.URL(BASE_URL + "send/json", params={"u": USERNAME, "p": secret, "t": "Hi"})
        return b"<html><p>Bad request: GET " + url.raw_path + b"</p></html>"

    reference = describe_body(page("PLACEHOLDER"), None, limit).replace("PLACEHOLDER", "")
    reference = describe_body(page(REDACTED), None, limit)
    assert describe_body(page(password), password if known else None, limit) == reference


def test_describe_body_keeps_an_ordinary_body() -> None:
    body = b'{"state": "0", "data": [{"id": "abc", "state": "2"}], "note": "1 p send json"}'
    assert describe_body(body, "1", limit=200) == repr(body)
    assert describe_body(body, "send", limit=20) == repr(body[:20])
    assert describe_body(b"\xff\xfe<\x00r\x00>\x00", "x") == repr(b"<r>")


# ---------------------------------------------------------------------------------------------
# Issue 8 item 11: redaction by context, not by substring

SHORT_PASSWORDS = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=3),
    st.sampled_from(["send", "json", "state", "xml", "p", "1", "0", "e", "http", "data", "id"]),
)

#: Ordinary text the library and its dependencies write: no credentials context in any of it.
ORDINARY = [
    "destination: must have 10 to 15 digits (country code, network code, number)",
    "got '12345'; http_method must be GET or POST; 3 attempts",
    "send/json answered HTTP 500; retry in 0.5 s (attempt 2 of 3)",
    "JSON answer is not of the documented shape: Expected `int`, got `str` - at `$.state`",
    "POST send/json messages=100 status=200 state=0 elapsed=3.1ms attempt=1",
    'HTTP Request: POST https://my-sms.ru/rest/sms/send/json "HTTP/1.1 200 OK"',
    "text: must not contain character U+0000 (position 3)",
    "Привет, мир! 😀 group=4 map=x help=yes",
    '{"state": "0", "data": [{"id": "a-1", "state": "2"}], "p": 1}',
    "<r><state>0</state><balance>1,0</balance></r>",
]


@settings(max_examples=300, deadline=None)
@given(SHORT_PASSWORDS, st.sampled_from(ORDINARY))
def test_ordinary_text_is_left_intact_whatever_the_password(password: str, text: str) -> None:
    """Before: password ``1`` gave ``must have ***0 to ***5 digits``; ``p``, ``htt***_method``."""
    assert redact_text(text, password) == text


@settings(max_examples=300, deadline=None)
@given(SHORT_PASSWORDS, st.text(max_size=40))
def test_random_text_without_a_context_is_left_intact(password: str, text: str) -> None:
    assume("p=" not in text and "p%3" not in text.lower() and "assword" not in text.lower())
    assume("'p'" not in text and '"p"' not in text)
    assert redact_text(text, password) == text


def credential_contexts(secret: str) -> list[str]:
    """The password in each place it can appear in a log line or an error."""
    url = httpx.URL(BASE_URL + "credit/json", params={"u": USERNAME, "p": secret})
    builder_json = RequestBuilder(Credentials(USERNAME, secret), "json", "POST")
    builder_xml = RequestBuilder(Credentials(USERNAME, secret), "xml", "POST")
    body_json = (builder_json.credit().content or b"").decode()
    return [
        f'HTTP Request: GET {url} "HTTP/1.1 200 OK"',
        f"ConnectError: connection refused for url {url}",
        f"GET /rest/sms/credit/json?{url.query.decode()} HTTP/1.1",
        body_json,
        (builder_xml.credit().content or b"").decode(),
        json.dumps({"debug": body_json}),  # the body inside another JSON document
        html.escape(body_json),  # ... or an HTML page
        repr([("u", USERNAME), ("p", secret)]),
        repr({"username": USERNAME, "password": secret}),
        "next=" + quote(f"/send?u={USERNAME}&p={quote(secret, safe='')}", safe=""),
    ]


@settings(max_examples=300, deadline=None)
@given(st.one_of(SHORT_PASSWORDS, passwords), st.booleans())
def test_a_password_in_a_credentials_context_never_survives(password: str, known: bool) -> None:
    for secret_context, placeholder in zip(
        credential_contexts(password), credential_contexts("PLACEHOLDER"), strict=True
    ):
        # A repr picks its quotes by what the string holds: compare the redacted value alone.
        redacted = redact_text(secret_context, password if known else None)
        expected = redact_text(placeholder)
        assert "PLACEHOLDER" not in expected  # the context is one redaction knows
        if secret_context.startswith(("[(", "{'")):
            redacted = redacted.replace('"***"', "'***'")
        assert redacted == expected, secret_context


def test_a_raw_value_that_holds_its_own_terminators_is_redacted_whole() -> None:
    """Unencoded, ``&``, a space or a quote would end the value early: the secret, when known,
    says where it really ends."""
    secret = "a&b c'd\"e"
    for text in (f"?p={secret}&u=x", f"('p', {secret!r})", f"p={secret}"):
        assert redact_text(text, secret).replace(secret, "") == redact_text(text, secret)
        assert "b c" not in redact_text(text, secret)


def test_validation_errors_are_unchanged_by_the_redaction_a_cli_applies() -> None:
    async def attempt() -> str:
        async with make_client(http_method="POST", sender=None) as client:
            try:
                await client.send("12345", "http_method")
            except ValidationError as error:
                return str(error)
        raise AssertionError("no ValidationError")

    message = anyio.run(attempt)
    assert "must have 10 to 15 digits" in message
    for password in ("1", "0", "e", "p", "json", "send", "state"):
        assert redact_text(message, password) == message


def test_the_filter_is_on_every_logger_that_sees_urls_aiohttp_included(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only this test's secret is live: a client another test left for the garbage collector may
    # hold a password that shares four letters with the "ordinary text" below, and the filter
    # rightly withholds a record that holds a piece of any live password.
    import mysms_async._redact as redact

    monkeypatch.setattr(redact, "_LIVE", {})
    for name in ("aiohttp", "aiohttp.client", "aiohttp.internal", "aiohttp.access"):
        assert name in _URL_LOGGERS
    for name in ("aiohttp.server", "aiohttp.web"):
        assert name in _URL_LOGGERS
    redact.install_log_redaction()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("aiohttp.client")
    handler = Keep()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        url = httpx.URL(BASE_URL + "credit/json", params={"u": USERNAME, "p": PASSWORD})
        logger.debug("request %s failed", url)
        logger.debug("password %s", "stays in ordinary text")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert "p=***" in records[0].getMessage()
    assert_no_secret(records[0].getMessage())
    assert records[1].getMessage() == "password stays in ordinary text"


# ---------------------------------------------------------------------------------------------
# Issue 14 item 4: a foreign text that echoes the request keeps no piece of the password


def _pieces(secret: str) -> set[str]:
    """Every 4-character window of the secret, raw and in each escaping, once and twice."""
    pieces: set[str] = set()
    for i in range(len(secret) - 3):
        window = secret[i : i + 4]
        once = {
            window,
            json.dumps(window)[1:-1],
            json.dumps(window, ensure_ascii=False)[1:-1],
            html.escape(window),
            quote(window, safe=""),
            quote_plus(window),
            repr(window)[1:-1],
            repr(window.encode())[2:-1],
        }
        pieces |= once | {repr(f)[1:-1] for f in once} | {repr(f.encode())[2:-1] for f in once}
    return pieces


def _request_echoes(secret: str) -> list[str]:
    """The request (JSON and XML body, GET target) as libraries quote it when a peer echoes it
    into a status line or a header: aiohttp's messages (a bytes repr inside a repr), h11's
    "illegal header line" (the part after a newline, as a bytearray repr), httpcore's DEBUG line."""
    credentials = Credentials(USERNAME, secret)
    bodies = [
        RequestBuilder(credentials, fmt, "POST").credit().content or b""  # type: ignore[arg-type]
        for fmt in ("json", "xml")
    ]
    url = httpx.URL(BASE_URL + "credit/json", params={"u": USERNAME, "p": secret})
    bodies.append(url.raw_path)
    texts = []
    for body in bodies:
        line = b"HTTP/1.1 200 " + body
        aiohttp_like = f"Invalid header token:\n\n  {line!r}\n    ^"
        texts.append(f"400, message={aiohttp_like!r}, url={BASE_URL!r}")
        texts.append(f"400, message={f'Bad status line {line!r}'!r}")
        for part in body.split(b"\n")[1:]:
            texts.append(f"illegal header line: {bytearray(part)!r}")
        texts.append(f"receive_response_headers.complete return_value=(b'HTTP/1.1', 200, {body!r})")
        texts.append(f"receive_response_headers.failed exception=RemoteProtocolError({line!r})")
    return texts


def _neutral_texts() -> str:
    """What the checks may find whatever the password: the same echoes of another one."""
    from mysms_async._redact import WITHHELD, describe_exception

    echoes = _request_echoes("NEUTRAL")
    described = [describe_exception(RuntimeError(text), "NEUTRAL") for text in echoes]
    withheld = f"a record of httpcore.http11 {WITHHELD}"
    return "\n".join([*described, *map(redact_text, echoes), withheld])


_NEUTRAL_TEXTS = _neutral_texts()

ECHO_PASSWORDS_14 = st.text(
    st.sampled_from("\"'\\\n<>&%+ ;=AbCdEfGhЖщё€"), min_size=4, max_size=16
) | st.sampled_from(['AbCd"EfGh', "AbCd\nEfGh"])


@settings(max_examples=150, deadline=None)
@given(ECHO_PASSWORDS_14)
def test_a_foreign_text_echoing_the_request_is_withheld_not_half_redacted(password: str) -> None:
    """Before: ``"password":"***"EfGh"`` (aiohttp) and ``bytearray(b'EfGh</password>...')``
    (h11) were kept. Now each is redacted, or, where a piece would survive, reduced to the
    exception's type and a fixed description."""
    from mysms_async._redact import describe_exception

    pieces = _pieces(password)
    for text in _request_echoes(password):
        described = describe_exception(RuntimeError(text), password)
        assert described.startswith("RuntimeError: ")
        found = sorted(p for p in pieces if p in described and p not in _NEUTRAL_TEXTS)
        assert not found, f"pieces {found} of {password!r} in {described!r}"


def test_a_foreign_text_without_the_password_is_kept() -> None:
    from mysms_async._redact import describe_exception

    kept = describe_exception(ValueError(f"Server disconnected from {BASE_URL}"), 'AbCd"EfGh')
    assert kept == f"ValueError: Server disconnected from {BASE_URL}"
    url = httpx.URL(BASE_URL + "credit/json", params={"u": USERNAME, "p": 'AbCd"EfGh'})
    redacted = describe_exception(ValueError(f"timeout to {url}"), 'AbCd"EfGh')
    assert redacted == f"ValueError: timeout to {BASE_URL}credit/json?u={USERNAME}&p=***"


@settings(max_examples=100, deadline=None)
@given(ECHO_PASSWORDS_14)
def test_a_log_record_echoing_the_request_is_withheld(password: str) -> None:
    """httpcore logs an echoed status line or header at DEBUG: a live client's password is
    looked for in every record of the loggers that see requests."""
    from mysms_async._config import make_credentials

    credentials = make_credentials(USERNAME, password)  # alive: the filter knows its password
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("httpcore.http11")
    handler = Keep()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        for text in _request_echoes(password):
            logger.debug("%s", text)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    pieces = _pieces(password)
    assert len(records) == len(_request_echoes(password))
    for record in records:
        message = record.getMessage()
        found = sorted(p for p in pieces if p in message and p not in _NEUTRAL_TEXTS)
        assert not found, f"pieces {found} of {password!r} in {message!r}"
    assert credentials.password == password


def test_a_secret_owner_collected_while_the_filter_looks_does_not_deadlock() -> None:
    """A client's finalizer can run inside any allocation, also one the log filter makes while it
    holds its lock (the garbage collector runs there): it must not wait for that lock. Before the
    fix a test run hung for good in ``live_secrets`` -> gc -> ``_forget``."""
    import threading

    from mysms_async import _redact

    class Owner:
        pass

    owner = Owner()
    _redact.remember_secret(owner, "Zq9-collected-secret")
    finished = threading.Event()

    def collect_while_locked() -> None:
        nonlocal owner
        with _redact._LIVE_LOCK:
            del owner  # the finalizer runs here, in the thread that holds the lock
        finished.set()

    worker = threading.Thread(target=collect_while_locked, daemon=True)
    worker.start()
    assert finished.wait(5), "the finalizer waited for the lock its own thread holds"
    assert "Zq9-collected-secret" not in _redact.live_secrets()
