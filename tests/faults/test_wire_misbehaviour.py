"""What a misbehaving peer does on the wire, byte by byte, on both engines (issue 8 items 6,
10, 15, 16; issue 10's drop-after-write).

A raw loopback server (``raw_server.py``) plays the gateway, a proxy or a stranger: it drops a
connection after reading the request without a byte back, answers one request twice on a
kept-alive connection, redirects elsewhere, and records every header the client sent.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from fault_cases import (
    ATTEMPTS,
    DESTINATION,
    PASSWORD,
    SENDER,
    USERNAME,
    assert_no_secret,
    render_error,
)
from raw_server import (
    RawServer,
    Received,
    Reply,
    balance_answer,
    http_response,
    raw_server,
    send_answer,
)

from mysms_async import (
    BaseURLError,
    ConfigurationError,
    DeliveryUnknownError,
    Message,
    MySMSClient,
    ResponseError,
    TransportError,
)

#: The ways a client can reach the wire: each engine, and a caller's own httpx client.
ENGINES = ("httpx", "aiohttp", "caller-httpx")


def client_for(port: int, engine: str, method: str = "POST", **options: Any) -> MySMSClient:
    options.setdefault("retry_backoff", 0)
    options.setdefault("timeout", 5)
    if engine == "caller-httpx":
        options["http_client"] = httpx.AsyncClient(
            follow_redirects=True, headers={"accept-encoding": "br, zstd, gzip"}
        )
    else:
        options["backend"] = engine
    return MySMSClient(
        USERNAME,
        PASSWORD,
        sender=SENDER,
        base_url=f"http://127.0.0.1:{port}/rest/sms/",
        http_method=method,
        **options,
    )


async def closed(client: MySMSClient) -> None:
    """Close the client, and the caller's own httpx client if it was given one."""
    exchange = client._transport.exchange
    await client.aclose()
    if exchange is not None and not getattr(exchange, "owns_client", True):
        await exchange.client.aclose()  # type: ignore[attr-defined]


def is_send(request: Received) -> bool:
    return "/send/" in request.target


# --- a connection dropped after the request was read, before any byte of an answer ----------


@pytest.mark.parametrize("reused", [False, True], ids=["fresh", "kept-alive"])
@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("engine", ENGINES)
async def test_a_drop_after_the_request_was_written_is_never_resent(
    engine: str, method: str, reused: bool
) -> None:
    """The case that made an httpx-over-aiohttp adapter send a POST twice: the gateway read the
    request (it may have executed it) and closed without a byte. On a kept-alive connection
    aiohttp would by itself resend an idempotent request once, and a GET send is one."""

    def script(request: Received, index: int) -> Reply:
        if is_send(request):
            return Reply(None, close=True)
        return Reply(balance_answer())

    with raw_server(script) as (server, port):
        client = client_for(port, engine, method)
        try:
            if reused:
                await client.balance()
            with anyio.fail_after(10), pytest.raises(DeliveryUnknownError) as caught:
                await client.send(DESTINATION, "dropped after write")
        finally:
            await closed(client)
    sends = [r for r in server.received if is_send(r)]
    assert len(sends) == 1, [r.request_line for r in server.received]
    assert caught.value.messages[0].text == "dropped after write"
    assert_no_secret(render_error(caught.value), "the error")


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_drop_after_write_on_a_status_is_retried(engine: str) -> None:
    def script(request: Received, index: int) -> Reply:
        return Reply(None, close=True)

    with raw_server(script) as (server, port):
        client = client_for(port, engine, "GET")
        try:
            with anyio.fail_after(10), pytest.raises(TransportError) as caught:
                await client.balance()
        finally:
            await closed(client)
    assert type(caught.value) is TransportError
    assert len(server.received) == ATTEMPTS


# --- one request answered twice on a kept-alive connection ------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
async def test_an_answer_sent_twice_is_not_trusted_and_its_connection_is_dropped(
    engine: str,
) -> None:
    """A proxy that sends the same answer twice: the second copy would be read as the answer to
    the next request on that connection (send 1 reporting the id of send 0). The client cannot
    trust either: the first send is unknown, the connection is discarded, and every later send
    gets its own answer."""
    twice: set[int] = {0}

    def script(request: Received, index: int) -> Reply:
        answer = send_answer(f"id-{index}")
        return Reply(answer + answer if index in twice else answer)

    with raw_server(script) as (server, port):
        client = client_for(port, engine, max_concurrency=1)
        try:
            with pytest.raises(DeliveryUnknownError) as caught:
                await client.send(DESTINATION, "answered twice")
            results = [await client.send(DESTINATION, f"next {i}") for i in range(3)]
        finally:
            await closed(client)
    assert "twice" in str(caught.value)
    # Each later send reports its own request's id, never the stale copy's.
    assert [r.id for r in results] == ["id-1", "id-2", "id-3"]
    assert server.connections >= 2  # the suspect connection was not reused
    assert len(server.received) == 4


# --- redirects ----------------------------------------------------------------------------------


@pytest.fixture
def stranger() -> Iterator[tuple[RawServer, int]]:
    """Another host a redirect points at: it must never hear from the client."""
    with raw_server(lambda request, index: Reply(balance_answer())) as found:
        yield found


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("engine", ENGINES)
async def test_a_redirect_is_never_followed(
    engine: str, code: int, stranger: tuple[RawServer, int]
) -> None:
    """Even a caller's client built with follow_redirects=True: a 307/308 would re-POST the
    password to the other host, a 301/302 turn into a GET whose answer looked like ours."""
    other, other_port = stranger
    location = f"http://127.0.0.1:{other_port}/elsewhere/"

    def script(request: Received, index: int) -> Reply:
        return Reply(http_response(b"", status=f"{code} Moved", headers={"Location": location}))

    with raw_server(script) as (server, port):
        client = client_for(port, engine)
        try:
            with pytest.raises(DeliveryUnknownError) as sent:
                await client.send(DESTINATION, "redirected")
            with pytest.raises(ResponseError) as balance:
                await client.balance()
        finally:
            await closed(client)
    assert other.received == []
    assert len(server.received) == 2  # one each: a redirect is not retried
    assert sent.value.status_code == code
    assert balance.value.status_code == code and "redirect" in str(balance.value)


# --- what the client advertises -----------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
async def test_accept_encoding_is_exactly_what_the_reader_inflates(engine: str) -> None:
    """A caller's client that would advertise br or zstd (brotli installed) must not: the capped
    reader inflates only gzip and deflate, and would refuse the answer."""
    with raw_server(lambda request, index: Reply(balance_answer())) as (server, port):
        client = client_for(port, engine)
        try:
            await client.balance()
        finally:
            await closed(client)
    (request,) = server.received
    assert request.headers["accept-encoding"] == "gzip, deflate"


# --- proxies from the environment ---------------------------------------------------------------

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("engine", ["httpx", "aiohttp"])
async def test_http_proxy_and_no_proxy_from_the_environment_are_honoured(
    engine: str, clean_proxy_env: pytest.MonkeyPatch
) -> None:
    gateway_port = _closed_port()  # nothing listens there: only the proxy can answer
    with raw_server(lambda request, index: Reply(send_answer(f"via-proxy-{index}"))) as (
        proxy,
        proxy_port,
    ):
        clean_proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
        client = client_for(gateway_port, engine)
        try:
            sent = await client.send(DESTINATION, "through the proxy")
        finally:
            await closed(client)
        assert sent.ok and sent.id == "via-proxy-0"
        (request,) = proxy.received
        # Absolute form: the request was addressed to the gateway, through the proxy.
        assert request.target == f"http://127.0.0.1:{gateway_port}/rest/sms/send/json"

        clean_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        client = client_for(gateway_port, engine, max_retries=0)
        try:
            with pytest.raises(TransportError) as caught:
                await client.send(DESTINATION, "direct")
        finally:
            await closed(client)
        assert type(caught.value) is TransportError  # refused: provably not sent
        assert len(proxy.received) == 1


# --- error pages hand their connection back ------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
async def test_error_pages_never_hold_a_connection(engine: str) -> None:
    """One connection allowed: an error page whose connection were never handed back would
    make every later attempt wait for a connection until its timeout."""

    def script(request: Received, index: int) -> Reply:
        if index < 2 * ATTEMPTS:
            return Reply(http_response(b"busy " * 100, status="503 Busy"))
        return Reply(balance_answer())

    with raw_server(script) as (server, port):
        client = client_for(port, engine, max_concurrency=1, timeout=4)
        try:
            with anyio.fail_after(3):
                for _ in range(2):
                    with pytest.raises(ResponseError) as caught:
                        await client.balance()
                    assert caught.value.status_code == 503
                assert (await client.balance()).amount > 0
        finally:
            await closed(client)
    assert len(server.received) == 2 * ATTEMPTS + 1


# --- issue 14 item 7: a 404 or 405 is a wrong base URL, not an unknown delivery ----------------


@pytest.mark.parametrize("status", ["404 Not Found", "405 Method Not Allowed"])
@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("engine", ENGINES)
async def test_a_404_or_405_is_a_wrong_base_url_and_nothing_was_sent(
    engine: str, method: str, status: str
) -> None:
    """Before: ``DeliveryUnknownError: the gateway may have accepted 1 message(s)``, and a bulk
    run marked every message unknown. The request reached no endpoint: not sent, not retried,
    and a bulk run stops at the first one with every message read reported not sent."""
    code = int(status.split()[0])

    def script(request: Received, index: int) -> Reply:
        return Reply(http_response(b"<html>nothing here</html>", status=status))

    with raw_server(script) as (server, port):
        client = client_for(port, engine, method, max_retries=3, batch_size=2)
        try:
            with anyio.fail_after(10), pytest.raises(BaseURLError) as caught:
                await client.send(DESTINATION, "to nowhere")
            single = len(server.received)
            with anyio.fail_after(10), pytest.raises(BaseURLError) as bulk:
                await client.send_many([Message(f"7911222{n:04d}", f"bulk {n}") for n in range(40)])
            with anyio.fail_after(10), pytest.raises(BaseURLError):
                await client.balance()
        finally:
            await closed(client)
    error = caught.value
    assert not isinstance(error, DeliveryUnknownError)
    assert isinstance(error, ConfigurationError) and isinstance(error, ResponseError)
    assert error.status_code == code
    assert "nothing was sent" in str(error) and "base_url" in str(error)
    assert single == 1  # not retried: no retry changes the URL
    # One outcome per message read, each "not sent"; reading stopped at the first 404/405.
    results = bulk.value.results
    assert 1 <= len(results) < 40
    assert all(isinstance(r.error, BaseURLError) for r in results)
    # The requests already in flight (max_concurrency=4), no more; then the balance.
    assert 1 <= len(server.received) - single - 1 <= 4
    assert_no_secret(render_error(error) + render_error(bulk.value), "the error")
