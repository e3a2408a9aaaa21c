"""Secrets: the password appears in no log record, error, result or repr, under any fault.

The check itself runs inside every case of the fault matrix (``test_fault_matrix.py``, 324 cases
in-process, and ``test_fault_matrix_loopback.py`` over a real socket, where httpcore and uvicorn
log too): every logger at DEBUG, every raised error rendered by ``traceback.format_exception``
(causes and context included), results and the client rendered with ``repr`` and ``str``. The
emulator's own ``requests`` records hold the password by design (it is the server) and are left
out. This module proves that check is not vacuous, and covers TLS and clear-text warnings.
"""

from __future__ import annotations

import logging
import ssl
import warnings
from urllib.parse import quote, quote_plus

import httpx
import pytest
from fault_cases import (
    DESTINATION,
    PASSWORD,
    assert_no_secret,
    debug_everything,
    leaks,
    make_client,
    render_error,
    render_logs,
)

from mysms_async import InsecureURLWarning, MySMSClient, MySMSError
from mysms_async.testing import (
    ConnectRefused,
    DropAfterRead,
    FakeGateway,
    HTTPErrorStatus,
    TruncatedBody,
)


@pytest.mark.parametrize(
    "text",
    [
        PASSWORD,
        quote(PASSWORD),
        quote(PASSWORD, safe=""),
        quote(PASSWORD, safe="").lower(),
        quote_plus(PASSWORD),
        str(httpx.URL("https://h/", params={"p": PASSWORD})),
        "<password>pa ss&amp;wo=rd%+/Щ</password>",
        '{"password": "pa ss&wo=rd%+/\\u0429"}',
        repr(PASSWORD.encode()),
    ],
)
def test_the_leak_check_finds_every_spelling_of_the_password(text: str) -> None:
    assert leaks(f"before\n... {text} ...\nafter") == [f"... {text} ..."]


@pytest.mark.parametrize("engine", ["httpx", "aiohttp", "caller-httpx"])
async def test_every_layer_logs_at_debug_over_a_socket_and_none_leaks(
    engine: str, served: tuple[FakeGateway, str], caplog: pytest.LogCaptureFixture
) -> None:
    """GET (the password in the URL) through the failures that make httpx and httpcore talk the
    most; the records of httpx, httpcore and the client are really captured, and all are clean."""
    debug_everything(caplog)
    gateway, base_url = served
    errors: list[MySMSError] = []
    rendered: list[str] = []
    for fmt in ("json", "xml"):
        options: dict[str, object] = {"backend": engine}
        if engine == "caller-httpx":
            # A caller's own client goes through AsyncClient.send, which logs each URL at INFO.
            options = {"http_client": httpx.AsyncClient()}
        async with make_client(gateway, fmt, "GET", base_url=base_url, **options) as client:
            sent = await client.send(DESTINATION, f"secret test {fmt}")
            assert sent.id is not None
            # Latency is in the loopback matrix; here it would only cost time.
            for fault in (
                ConnectRefused(),  # over a socket: dropped before the request is read
                DropAfterRead(),
                HTTPErrorStatus(503),
                TruncatedBody(close=True),
            ):
                for call in (
                    lambda c=client: c.send(DESTINATION, "x"),
                    lambda c=client, i=sent.id: c.status(i),
                    lambda c=client: c.balance(),
                ):
                    gateway.inject(fault, times=None)
                    try:
                        rendered.append(repr(await call()))
                    except MySMSError as error:
                        errors.append(error)
                    gateway.clear_faults()
            rendered += [repr(client), str(client), repr(await client.balance())]
        if engine == "caller-httpx":
            await options["http_client"].aclose()  # type: ignore[attr-defined]

    assert len(errors) == 2 * 4 * 3
    loggers = {record.name for record in caplog.records}
    assert "mysms_async" in loggers
    if engine != "aiohttp":
        assert any(name.startswith("httpcore.") for name in loggers), loggers
        assert any(
            record.levelno == logging.DEBUG and record.name.startswith("httpcore.")
            for record in caplog.records
        )
    if engine == "caller-httpx":
        # The password really was in the URLs that httpx logged, before redaction.
        assert any(
            "p=***" in record.getMessage() for record in caplog.records if record.name == "httpx"
        )
    assert_no_secret("\n".join(render_error(error) for error in errors), "an error")
    assert_no_secret("\n".join(rendered), "a result or the client")
    assert_no_secret(render_logs(caplog.records), "the logs")


# --- TLS ---------------------------------------------------------------------------------------


async def test_tls_verification_is_on_by_default() -> None:
    async with MySMSClient("user", PASSWORD) as client:
        http = client._transport.exchange.client  # type: ignore[union-attr]
        transports = [http._transport, *(t for t in http._mounts.values() if t is not None)]
        for transport in transports:
            # The client's own slot pool shares one context; a proxy mount has its own pool.
            context: ssl.SSLContext = getattr(transport, "ssl_context", None) or (
                transport._pool._ssl_context  # type: ignore[attr-defined]
            )
            assert context.verify_mode == ssl.CERT_REQUIRED
            assert context.check_hostname
        assert_no_secret(repr(client), "the client's repr")


async def test_tls_verification_is_on_with_aiohttp() -> None:
    async with MySMSClient("user", PASSWORD, backend="aiohttp") as client:
        exchange = client._transport._choose_exchange()
        session = exchange._open()  # type: ignore[attr-defined]
        context = session.connector._ssl
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname
        assert session.auto_decompress is False  # the body goes through the capped reader
        assert session._retry_connection is False  # aiohttp would resend a GET send once
        assert session.connector.limit == client._settings.max_concurrency
        assert_no_secret(repr(client), "the client's repr")


# --- clear-text URLs ---------------------------------------------------------------------------


def _warnings_for(base_url: str) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MySMSClient("user", PASSWORD, base_url=base_url)
    return [w for w in caught if issubclass(w.category, InsecureURLWarning)]


@pytest.mark.parametrize(
    "base_url",
    [
        "http://my-sms.ru/rest/sms/",
        "http://203.0.113.5/rest/sms/",
        "http://10.0.0.7:8080/rest/sms/",
        "http://192.168.1.10/rest/sms/",
        "http://[2001:db8::1]/rest/sms/",
        # Not loopback: these names resolve to machines on a network, which the password crosses.
        "http://gateway.local/rest/sms/",
        "http://sms.internal/rest/sms/",
    ],
)
def test_plain_http_to_a_host_that_is_not_loopback_warns(base_url: str) -> None:
    found = _warnings_for(base_url)
    assert len(found) == 1, f"no InsecureURLWarning for {base_url}"
    (warning,) = found
    assert warning.filename == __file__  # points at the caller's line
    assert_no_secret(str(warning.message), "the warning")


@pytest.mark.parametrize(
    "base_url",
    [
        "https://my-sms.ru/rest/sms/",
        "http://127.0.0.1:8000/rest/sms/",
        "http://127.1.2.3/rest/sms/",
        "http://localhost/rest/sms/",
        "http://localhost:8080/rest/sms/",
        "http://api.localhost/rest/sms/",
        "http://[::1]:8000/rest/sms/",
    ],
)
def test_https_and_loopback_do_not_warn(base_url: str) -> None:
    assert _warnings_for(base_url) == []


def test_aiohttp_error_messages_that_name_the_url_are_redacted() -> None:
    """aiohttp writes the request URL into some messages ("Connection timeout to host <url>");
    on GET that URL holds ``p=``. The engine keeps only their redacted text."""
    import aiohttp

    from mysms_async._config import make_settings
    from mysms_async._exchange_aiohttp import AiohttpExchange

    settings = make_settings(
        base_url="https://my-sms.ru/rest/sms/",
        wire_format="json",
        http_method="GET",
        timeout=1,
        max_retries=0,
        retry_backoff=0,
        batch_size=1,
        max_concurrency=1,
        rate_limit=None,
        timezone="Europe/Moscow",
        max_response_bytes=4096,
        backend="aiohttp",
    )
    url = httpx.URL("https://my-sms.ru/rest/sms/credit/json", params={"u": "user", "p": PASSWORD})
    exchange = AiohttpExchange(settings, PASSWORD)
    for error in (
        aiohttp.ConnectionTimeoutError(f"Connection timeout to host {url}"),
        aiohttp.InvalidURL(str(url)),
        aiohttp.ClientPayloadError(f"Response payload is not completed for {url}"),
    ):
        described = exchange._describe(error)
        assert type(error).__name__ in described
        assert_no_secret(described, "an aiohttp error's description")
