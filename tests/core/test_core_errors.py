"""Every error class of the one tree, with the failure that triggers it."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx
from core_helpers import make_client

from mysms_async import (
    AuthError,
    ClientClosedError,
    DeliveryUnknownError,
    GatewayError,
    Message,
    MessageRejectedError,
    MessageState,
    MySMSError,
    ResponseError,
    TransportError,
)

BASE_URL = "https://my-sms.ru/rest/sms/"
MESSAGE_ID = "e061d23c-34dc-4903-88f0-e6a6f5f3a570"


@pytest.fixture
def gw() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


def batch(state: int | str, *entries: tuple[str, int | str]) -> dict[str, Any]:
    return {"state": str(state), "data": [{"id": i, "state": str(s)} for i, s in entries]}


# ---------------------------------------------------------------------------------------------
# AuthError: request state -1


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_auth_error_on_every_operation(gw: respx.MockRouter, fmt: str) -> None:
    if fmt == "json":
        body = b'{"state": "-1"}'
    else:
        body = b'<sendSMS xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><state>-1</state></sendSMS>'
    route = gw.route().respond(200, content=body)
    async with make_client(wire_format=fmt) as client:
        with pytest.raises(AuthError) as sent:
            await client.send("79112223333", "Hi")
        with pytest.raises(AuthError):
            await client.status(MESSAGE_ID)
        with pytest.raises(AuthError):
            await client.balance()
    assert sent.value.state == -1
    assert not isinstance(sent.value, TransportError)
    # Bad credentials are not retried: the next attempt would fail the same way.
    assert route.call_count == 3


async def test_auth_error_with_an_empty_data_list(gw: respx.MockRouter) -> None:
    gw.post("status/json").respond(200, json={"state": "-1", "data": []})
    async with make_client() as client:
        with pytest.raises(AuthError):
            await client.status(MESSAGE_ID)


# ---------------------------------------------------------------------------------------------
# GatewayError: any other non-zero request state


@pytest.mark.parametrize("state", [-50, -51, -52, -7, 1, 99])
@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_gateway_error_carries_the_request_state(
    gw: respx.MockRouter, state: int, fmt: str
) -> None:
    if fmt == "json":
        gw.post("status/json").respond(200, json={"state": str(state)})
        gw.post("credit/json").respond(200, json={"state": state})
    else:
        gw.post("status/xml").respond(
            200, content=f"<checkSMS><state>{state}</state></checkSMS >".encode()
        )
        gw.post("credit/xml").respond(
            200, content=f"<getBalance><state>{state}</state></getBalance>".encode()
        )
    async with make_client(wire_format=fmt, max_retries=0) as client:
        with pytest.raises(GatewayError) as status_error:
            await client.status(MESSAGE_ID)
        with pytest.raises(GatewayError) as balance_error:
            await client.balance()
    assert status_error.value.state == state
    assert balance_error.value.state == state
    assert str(state) in str(status_error.value)


async def test_gateway_error_on_send_is_not_delivery_unknown(gw: respx.MockRouter) -> None:
    route = gw.post("send/json").respond(200, json={"state": "-51"})
    async with make_client() as client:
        with pytest.raises(GatewayError) as caught:
            await client.send("79112223333", "Hi")
    assert caught.value.state == -51
    assert not isinstance(caught.value, DeliveryUnknownError)
    assert route.call_count == 1


# ---------------------------------------------------------------------------------------------
# ResponseError: not HTTP 200, or not the documented shape


async def test_http_500_on_status_after_retries(gw: respx.MockRouter) -> None:
    route = gw.post("status/json").respond(500, text="Internal Server Error")
    async with make_client(max_retries=2) as client:
        with pytest.raises(ResponseError) as caught:
            await client.status(MESSAGE_ID)
    assert caught.value.status_code == 500
    assert "500" in str(caught.value)
    assert route.call_count == 3


@pytest.mark.parametrize("code", [301, 400, 403, 404])
async def test_other_http_statuses_are_response_errors_not_retried(
    gw: respx.MockRouter, code: int
) -> None:
    route = gw.post("credit/json").respond(code)
    async with make_client(max_retries=2) as client:
        with pytest.raises(ResponseError) as caught:
            await client.balance()
    assert caught.value.status_code == code
    assert route.call_count == 1


HTML_PAGE = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"
HTML_PAGE_NO_DOCTYPE = b"<html><head><title>Oops</title></head><body><p>x</p></body></html>"

BAD_SHAPES: list[tuple[str, str, bytes]] = [
    # (format, operation, body)
    ("json", "status", HTML_PAGE),
    ("json", "credit", HTML_PAGE),
    ("xml", "status", HTML_PAGE_NO_DOCTYPE),
    ("xml", "credit", HTML_PAGE_NO_DOCTYPE),
    ("json", "status", b'{"state": "0", "data": [{"id": "e061d23c-34dc'),  # truncated
    ("json", "credit", b'{"state": "0", "bal'),
    ("json", "status", b""),
    ("json", "status", b"null"),
    ("json", "status", b'{"data": []}'),  # no state
    ("json", "status", b'{"state": "zero", "data": []}'),
    ("json", "credit", b'{"state": "0"}'),  # no balance
    ("json", "credit", b'{"state": "0", "balance": "lots"}'),
    ("json", "credit", b'{"state": "0", "balance": "NaN"}'),
    ("json", "status", b'[{"id": "x", "state": "2"}]'),
    ("json", "status", b'{"state": "0", "data": [{"id": "x"}]}'),  # entry without state
    ("xml", "status", b"<checkSMS><state>0</state><data><message><id>x</id>"),  # truncated
    ("xml", "status", b"<checkSMS><state>0</state><data><msg><id>x</id></msg></data></checkSMS>"),
    ("xml", "status", b"<checkSMS><data><message><id>x</id></message></data></checkSMS>"),
    ("xml", "status", b"<a/><b/>"),
    ("xml", "status", b"not xml at all"),
    ("xml", "credit", b"<getBalance><state>0</state></getBalance>"),
    ("xml", "credit", b"<getBalance><state>0</state><balance>many</balance></getBalance>"),
    ("xml", "credit", b"<getBalance>just text</getBalance>"),
]


@pytest.mark.parametrize(
    ("fmt", "operation", "body"),
    BAD_SHAPES,
    ids=[f"{f}-{o}-{n}" for n, (f, o, _) in enumerate(BAD_SHAPES)],
)
async def test_a_body_not_of_the_documented_shape(
    gw: respx.MockRouter, fmt: str, operation: str, body: bytes
) -> None:
    route = gw.post(f"{operation}/{fmt}").respond(200, content=body)
    async with make_client(wire_format=fmt, max_retries=2) as client:
        with pytest.raises(ResponseError) as caught:
            if operation == "status":
                await client.status(MESSAGE_ID)
            else:
                await client.balance()
    assert type(caught.value) is ResponseError
    assert route.call_count == 1  # a malformed answer is not retried


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("count", [0, 2])
async def test_data_with_the_wrong_number_of_entries(
    gw: respx.MockRouter, fmt: str, count: int
) -> None:
    entries = [(f"id-{n}", 2) for n in range(count)]
    if fmt == "json":
        body = json.dumps(batch(0, *entries)).encode()
    else:
        items = "".join(f"<message><id>{i}</id><state>{s}</state></message>" for i, s in entries)
        body = f"<checkSMS><state>0</state><data>{items}</data></checkSMS>".encode()
    gw.post(f"status/{fmt}").respond(200, content=body)
    async with make_client(wire_format=fmt) as client:
        with pytest.raises(ResponseError) as caught:
            await client.status(MESSAGE_ID)
    assert caught.value.status_code == 200
    assert "entries" in str(caught.value)


async def test_data_one_entry_short_for_a_batch(gw: respx.MockRouter) -> None:
    gw.post("status/json").respond(200, json=batch(0, ("a", 2)))
    async with make_client() as client:
        results = await client.status_many(["a", "b"])
    # status_many reports the failure on each id rather than raising.
    assert all(isinstance(r.error, ResponseError) for r in results)
    assert [r.requested_id for r in results] == ["a", "b"]


@pytest.mark.parametrize("operation", ["status", "credit"])
async def test_a_gzip_bomb_stops_at_max_response_bytes(
    gw: respx.MockRouter, operation: str
) -> None:
    cap = 64 * 1024
    bomb = gzip.compress(b"0" * (2 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < cap  # small on the wire: only inflating it breaks the cap
    gw.post(f"{operation}/json").respond(
        200,
        content=bomb,
        headers={"content-encoding": "gzip", "content-type": "application/json"},
    )
    async with make_client(max_response_bytes=cap) as client:
        with pytest.raises(ResponseError) as caught:
            if operation == "status":
                await client.status(MESSAGE_ID)
            else:
                await client.balance()
    assert caught.value.status_code == 200
    assert "max_response_bytes" in str(caught.value)


async def test_a_gzipped_answer_within_the_cap_is_inflated(gw: respx.MockRouter) -> None:
    body = json.dumps(batch(0, (MESSAGE_ID, 4))).encode()
    gw.post("status/json").respond(
        200, content=gzip.compress(body), headers={"content-encoding": "gzip"}
    )
    async with make_client(max_response_bytes=1024) as client:
        result = await client.status(MESSAGE_ID)
    assert result.state is MessageState.DELIVERED


async def test_a_plain_body_over_the_cap(gw: respx.MockRouter) -> None:
    padding = " " * 4096
    gw.post("credit/json").respond(
        200, content=f'{{"state": "0", "balance": "1,0"{padding}}}'.encode()
    )
    async with make_client(max_response_bytes=1024) as client:
        with pytest.raises(ResponseError) as caught:
            await client.balance()
    assert caught.value.status_code == 200
    assert "max_response_bytes" in str(caught.value)


ENTITY_BODIES = [
    (
        b'<?xml version="1.0"?>\n<!DOCTYPE getBalance [<!ENTITY amount "77212,0000">]>\n'
        b"<getBalance><state>0</state><balance>&amount;</balance></getBalance>"
    ),
    (
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<getBalance><state>0</state><balance>&lol3;</balance></getBalance>"
    ),
    (
        b'<!DOCTYPE getBalance SYSTEM "http://evil.example/x.dtd">'
        b"<getBalance><state>0</state><balance>1</balance></getBalance>"
    ),
    (
        b'<!DOCTYPE getBalance [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<getBalance><state>0</state><balance>&xxe;</balance></getBalance>"
    ),
]


@pytest.mark.parametrize("body", ENTITY_BODIES, ids=["entity", "laughs", "dtd", "xxe"])
async def test_xml_with_doctype_or_entities_is_refused(gw: respx.MockRouter, body: bytes) -> None:
    gw.post("credit/xml").respond(200, content=body)
    gw.post("status/xml").respond(200, content=body.replace(b"getBalance", b"checkSMS"))
    async with make_client(wire_format="xml") as client:
        with pytest.raises(ResponseError) as caught:
            await client.balance()
        with pytest.raises(ResponseError):
            await client.status(MESSAGE_ID)
    assert "DOCTYPE" in str(caught.value)


MALFORMED_200 = [*BAD_SHAPES, *(("xml", "credit", body) for body in ENTITY_BODIES)]


@pytest.mark.parametrize(
    ("fmt", "operation", "body"),
    MALFORMED_200,
    ids=[f"{f}-{o}-{n}" for n, (f, o, _) in enumerate(MALFORMED_200)],
)
async def test_a_malformed_answer_reports_its_http_status_200(
    gw: respx.MockRouter, fmt: str, operation: str, body: bytes
) -> None:
    """``ResponseError.status_code`` is the answer's HTTP status, whichever check refused it."""
    gw.post(f"{operation}/{fmt}").respond(200, content=body)
    async with make_client(wire_format=fmt, max_retries=0) as client:
        with pytest.raises(ResponseError) as caught:
            if operation == "status":
                await client.status(MESSAGE_ID)
            else:
                await client.balance()
    assert caught.value.status_code == 200


# ---------------------------------------------------------------------------------------------
# TransportError: the network failed


@pytest.mark.parametrize("operation", ["status", "credit"])
async def test_connect_refused_after_retries(gw: respx.MockRouter, operation: str) -> None:
    route = gw.post(f"{operation}/json").mock(side_effect=httpx.ConnectError("refused"))
    async with make_client(max_retries=2) as client:
        with pytest.raises(TransportError) as caught:
            if operation == "status":
                await client.status(MESSAGE_ID)
            else:
                await client.balance()
    assert type(caught.value) is TransportError
    assert route.call_count == 3
    assert caught.value.detail is not None
    assert "ConnectError" in caught.value.detail
    # Translated at the boundary: no httpx error rides along.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


async def test_connect_refused_on_send_is_a_plain_transport_error(gw: respx.MockRouter) -> None:
    route = gw.post("send/json").mock(side_effect=httpx.ConnectError("refused"))
    async with make_client(max_retries=1) as client:
        with pytest.raises(TransportError) as caught:
            await client.send("79112223333", "Hi")
    # Provably never reached the gateway: not "delivery unknown", and safe to have retried.
    assert not isinstance(caught.value, DeliveryUnknownError)
    assert route.call_count == 2


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError]
)
async def test_network_failures_on_status_are_transport_errors(
    gw: respx.MockRouter, error: type[httpx.TransportError]
) -> None:
    gw.post("status/json").mock(side_effect=error("boom"))
    async with make_client(max_retries=0) as client:
        with pytest.raises(TransportError) as caught:
            await client.status(MESSAGE_ID)
    assert type(caught.value) is TransportError
    assert caught.value.detail is not None
    assert error.__name__ in caught.value.detail


# ---------------------------------------------------------------------------------------------
# DeliveryUnknownError: a send that may have reached the gateway


SEND_UNKNOWN = [
    ("read timeout", httpx.ReadTimeout("timed out")),
    ("protocol", httpx.RemoteProtocolError("Server disconnected without sending a response.")),
    ("read error", httpx.ReadError("connection reset by peer")),
    ("write error", httpx.WriteError("broken pipe")),
    ("http 500", httpx.Response(500)),
    ("http 502", httpx.Response(502)),
    ("http 503", httpx.Response(503, headers={"retry-after": "0"})),
    ("html body", httpx.Response(200, content=HTML_PAGE)),
    ("truncated body", httpx.Response(200, content=b'{"state": "0", "data": [{"id"')),
    ("short data", httpx.Response(200, json={"state": "0", "data": []})),
]


@pytest.mark.parametrize(
    "effect", [e for _, e in SEND_UNKNOWN], ids=[name for name, _ in SEND_UNKNOWN]
)
async def test_send_with_an_unknown_outcome(gw: respx.MockRouter, effect: Any) -> None:
    route = gw.post("send/json").mock(side_effect=[effect])  # a second call would fail loudly
    async with make_client(max_retries=3, sender="MySMS") as client:
        with pytest.raises(DeliveryUnknownError) as caught:
            await client.send("+7 (911) 222-33-33", "Hi", ttl=5)
    error = caught.value
    assert isinstance(error, TransportError)
    # What was being sent, exactly as the caller gave it.
    assert error.messages == (Message("+7 (911) 222-33-33", "Hi", ttl=5),)
    assert route.call_count == 1
    if isinstance(effect, httpx.Response):
        assert error.status_code == effect.status_code
    assert "1 message(s)" in str(error)


async def test_send_timeout_of_the_whole_attempt_is_delivery_unknown(
    gw: respx.MockRouter,
) -> None:
    calls = 0

    async def never_answers(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await anyio.sleep(5)
        return httpx.Response(200, json=batch(0, ("x", 2)))

    gw.post("send/json").mock(side_effect=never_answers)
    async with make_client(timeout=0.05, max_retries=2) as client:
        with anyio.fail_after(2):
            with pytest.raises(DeliveryUnknownError) as caught:
                await client.send("79112223333", "Hi")
    assert calls == 1
    assert caught.value.messages == (Message("79112223333", "Hi"),)


async def test_send_many_puts_delivery_unknown_on_each_message(gw: respx.MockRouter) -> None:
    route = gw.post("send/json").mock(side_effect=[httpx.ReadTimeout("slow")])
    messages = [Message("79112223333", "a"), Message("79112223334", "b")]
    async with make_client() as client:
        results = await client.send_many(messages)
    assert route.call_count == 1
    for result in results:
        assert isinstance(result.error, DeliveryUnknownError)
        assert result.error.messages == tuple(messages)
        assert not result.ok
        with pytest.raises(DeliveryUnknownError):
            result.raise_for_state()


# ---------------------------------------------------------------------------------------------
# MessageRejectedError: raise_for_state() on a negative message state


@pytest.mark.parametrize(
    ("state", "expected"),
    [(-13, MessageState.INSUFFICIENT_FUNDS), (-11, MessageState.INVALID_SENDER), (-99, -99)],
)
async def test_raise_for_state_on_a_rejected_message(
    gw: respx.MockRouter, state: int, expected: int
) -> None:
    gw.post("send/json").respond(200, json=batch(0, ("", state)))
    async with make_client() as client:
        result = await client.send("79112223333", "Hi")
    assert result.state == expected
    with pytest.raises(MessageRejectedError) as caught:
        result.raise_for_state()
    assert caught.value.state == state
    assert caught.value.result is result
    assert str(state) in str(caught.value)


async def test_raise_for_state_returns_an_accepted_result(gw: respx.MockRouter) -> None:
    gw.post("send/json").respond(200, json=batch(0, ("id-1", 2)))
    gw.post("status/json").respond(200, json=batch(0, ("id-1", 4)))
    async with make_client() as client:
        sent = await client.send("79112223333", "Hi")
        status = await client.status("id-1")
    assert sent.raise_for_state() is sent
    assert status.raise_for_state() is status


async def test_status_raise_for_state_on_an_invalid_id(gw: respx.MockRouter) -> None:
    gw.post("status/json").respond(200, json=batch(0, ("", -10)))
    async with make_client() as client:
        result = await client.status("unknown-id")
    assert result.id is None
    assert result.state is MessageState.INVALID_ID
    with pytest.raises(MessageRejectedError) as caught:
        result.raise_for_state()
    assert caught.value.state == -10
    assert "INVALID_ID" in str(caught.value)


# ---------------------------------------------------------------------------------------------
# ClientClosedError


async def test_a_closed_client_raises_client_closed_error(gw: respx.MockRouter) -> None:
    route = gw.route().respond(200, json=batch(0, ("x", 2)))
    client = make_client()
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.send("79112223333", "Hi")
    with pytest.raises(ClientClosedError):
        await client.status("x")
    with pytest.raises(ClientClosedError):
        await client.balance()
    with pytest.raises(ClientClosedError):
        await client.send_many([Message("79112223333", "Hi")])
    with pytest.raises(ClientClosedError):
        await client.status_many(["x"])
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert route.call_count == 0


def test_every_error_is_a_mysms_error() -> None:
    for error in (
        AuthError(),
        GatewayError(-50),
        ResponseError("x", status_code=500),
        TransportError("x"),
        DeliveryUnknownError("x", messages=()),
        MessageRejectedError(object(), -12),
        ClientClosedError("closed"),
    ):
        assert isinstance(error, MySMSError)
    assert isinstance(ClientClosedError("closed"), RuntimeError)
