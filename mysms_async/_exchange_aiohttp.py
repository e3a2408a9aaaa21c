"""The aiohttp exchange (``backend="aiohttp"``, the ``[aiohttp]`` extra): asyncio only.

aiohttp costs about a third of httpx's CPU per request, so a busy sender can go several times
faster on it. It is used directly, with the classification below, not through an httpx adapter:
one such adapter reports a connection dropped after the request was written as a connect
timeout, which would make a send look safe to retry and send the SMS twice.

What a failure means, read from aiohttp's source (``client.py``, ``client_exceptions.py``,
``connector.py``, ``client_proto.py``):

* ``ClientConnectorError`` (refused, DNS, TLS handshake and certificate, proxy connect) and
  ``ConnectionTimeoutError`` (``connect`` timeout, pool wait included) are raised by
  ``connector.connect()``, before the request is written: ``Outcome.NOT_SENT``.
* Everything else may come after bytes were written: ``ServerDisconnectedError`` (also raised
  when a kept-alive connection the server had closed is reused: the server may or may not have
  read the request), ``ClientOSError`` while writing, ``ClientPayloadError``, a read timeout,
  the total timeout: ``Outcome.MAYBE_SENT``. When unsure, this is the answer.

That reading is :data:`FAULTS`, the one table, applied at one boundary (``_exchange.translate``).

The guarantees of the httpx engine are kept by construction: ``_retry_connection`` is switched
off (aiohttp >= 3.10 silently resends an idempotent request, a GET send included, once on a
dropped kept-alive connection); redirects are never followed; the body is read raw
(``auto_decompress=False``) through the capped reader; TLS verification stays on; the total
timeout bounds each attempt; the connector holds at most ``max_concurrency`` connections; proxies
come from the environment read once (``_exchange.env_proxy``); aiohttp's URL-bearing messages
are redacted before they become a ``detail``, and its loggers get the redaction filter; and an
answer is never matched to a request it did not answer: a connection that received any byte
while idle in the pool is retired, never reused (``_GuardedConnector``), as httpcore does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import select
import ssl
from collections.abc import Awaitable
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp.client_proto import ResponseHandler
from yarl import URL

from ._config import Settings
from ._exchange import (
    ExchangeClosed,
    Fault,
    Faults,
    Reply,
    env_proxy,
    leftover,
    translate,
    user_agent,
)
from ._inflate import ACCEPT_ENCODING, CappedBody, too_large
from ._redact import RedactPasswordFilter
from ._request import PreparedRequest
from ._retry import Outcome

_AIOHTTP_LOGGERS = (
    "aiohttp",
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
)
_FILTER = RedactPasswordFilter()
for _name in _AIOHTTP_LOGGERS:
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, RedactPasswordFilter) for f in _logger.filters):
        _logger.addFilter(_FILTER)

if "_retry_connection" not in aiohttp.ClientSession.ATTRS:  # pragma: no cover - version guard
    raise ImportError(
        f"aiohttp {aiohttp.__version__} has no switch for its resend of idempotent requests;"
        " mysms-async needs aiohttp >= 3.11"
    )

# The connector's hooks the stray-answer guard builds on (``_GuardedConnector``); present from
# 3.11 on, checked here so that a change in aiohttp fails at import, not by reusing a connection.
if not all(  # pragma: no cover - version guard
    callable(getattr(aiohttp.TCPConnector, name, None)) for name in ("_get", "_release")
) or not callable(getattr(ResponseHandler, "data_received", None)):
    raise ImportError(
        f"aiohttp {aiohttp.__version__} lacks the connector hooks mysms-async checks idle"
        " connections with; mysms-async supports aiohttp >= 3.11"
    )

_CONNECT = Fault(Outcome.NOT_SENT, "could not connect")
_UNMADE = Fault(Outcome.MAYBE_SENT_FINAL, "request could not be made")
_FAILED = Fault(Outcome.MAYBE_SENT, "connection failed")

#: aiohttp's exceptions -> how far the request got; first match wins (``ConnectionTimeoutError``
#: is also an ``asyncio.TimeoutError``, ``ClientConnectorError`` also an ``OSError``).
FAULTS: Faults = (
    (aiohttp.ClientConnectorError, _CONNECT),
    (aiohttp.ConnectionTimeoutError, _CONNECT),
    (
        asyncio.TimeoutError,
        Fault(Outcome.MAYBE_SENT, "no complete answer within the timeout", detailed=False),
    ),
    (aiohttp.InvalidURL, _UNMADE),
    (aiohttp.NonHttpUrlClientError, _UNMADE),
    (aiohttp.ClientError, _FAILED),
    (OSError, _FAILED),
)


def _asyncio_checkpoint() -> Awaitable[None]:
    """anyio's checkpoint on asyncio, without its per-call lookup of the running library."""
    return asyncio.sleep(0)


_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """One verifying context per process: building one costs tens of milliseconds."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context()
    return _SSL_CONTEXT


def _has_leftover(response: aiohttp.ClientResponse) -> bool:
    """A second answer (or part of one) already received on this connection after ours."""
    protocol = getattr(response, "_protocol", None)
    return bool(getattr(protocol, "_buffer", None) or getattr(protocol, "_tail", None))


def _readable(protocol: ResponseHandler) -> bool:
    """Bytes (or the end of the stream) wait in the socket, not yet read by the event loop.

    What httpcore asks of an idle connection before reuse (``is_socket_readable``): a poll with
    no timeout, one system call. A transport without a socket (none here) counts as readable.
    """
    transport = protocol.transport
    sock = None if transport is None else transport.get_extra_info("socket")
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poll = getattr(select, "poll", None)
    if poll is None:  # pragma: no cover - Windows
        return bool(select.select([fd], [], [], 0)[0])
    poller = poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _GuardedHandler(ResponseHandler):
    """aiohttp's protocol, noting any byte that arrives while no request waits on it.

    aiohttp keeps parsing an idle kept-alive connection: a late answer (a proxy replaying one)
    lands in the protocol's buffer, or half-parsed in its parser, and the next request on that
    connection reads it as its own answer. Here a byte received while the connection is idle in
    the pool marks it ``stray`` for good, however little of an answer it is.
    """

    idle = False
    stray = False

    def data_received(self, data: bytes) -> None:
        if self.idle and data:
            self.stray = True
        super().data_received(data)


class _GuardedConnector(aiohttp.TCPConnector):
    """A connector that never hands out a connection with bytes no request asked for.

    On release a connection becomes idle (``_GuardedHandler.idle``); one that already has
    unread bytes is closed instead (aiohttp's own ``should_close`` covers a buffered answer).
    On acquire, as the request is about to be written (in the same step of the event loop for
    a GET; a POST body is written one loop step later before Python 3.12), a pooled connection
    that received a byte while idle, holds parsed or unparsed data, or has bytes waiting in its
    socket is closed and the next one (or a fresh connection) is taken: the request goes out
    once, on a clean connection. A copy still on its way while the request is written cannot
    be told from its answer by any HTTP/1.1 client; httpcore checks at the same point.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._factory = functools.partial(_GuardedHandler, loop=self._loop)  # type: ignore[assignment]

    async def _get(self, key: Any, traces: list[Any]) -> aiohttp.connector.Connection | None:
        while True:
            conn = await super()._get(key, traces)
            if conn is None:
                return None
            protocol = conn.protocol
            if isinstance(protocol, _GuardedHandler):
                if protocol.stray or protocol.should_close or _readable(protocol):
                    conn.close()  # released with should_close: never pooled again
                    continue
                protocol.idle = False
            return conn

    def _release(self, key: Any, protocol: ResponseHandler, *, should_close: bool = False) -> None:
        if isinstance(protocol, _GuardedHandler):
            protocol.idle = True
            should_close = should_close or protocol.stray
        super()._release(key, protocol, should_close=should_close)


class AiohttpExchange:
    """One ``aiohttp.ClientSession``, made inside the running loop at first use."""

    name = "aiohttp"
    #: asyncio's own ``sleep(0)``, the one anyio would run: this engine is asyncio-only.
    checkpoint = staticmethod(_asyncio_checkpoint)

    def __init__(self, settings: Settings, secret: str) -> None:
        self._secret = secret
        self._settings = settings
        self._base_url = settings.base_url
        self._cap = settings.max_response_bytes
        self._proxy = env_proxy(settings.base_url)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._urls: dict[str, URL] = {}
        # One full headers dict per content type, given whole to each request: session default
        # headers would be merged into every request's headers again.
        self._headers: dict[str | None, dict[str, str]] = {}

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    def _open(self) -> aiohttp.ClientSession:
        settings = self._settings
        timeout = settings.timeout
        connector = _GuardedConnector(
            limit=settings.max_concurrency, limit_per_host=0, ssl=_ssl_context()
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout, connect=timeout / 2),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        session._retry_connection = False
        self._session = session
        return session

    def _url(self, prepared: PreparedRequest) -> URL:
        if prepared.params is None:
            url = self._urls.get(prepared.path)
            if url is None:
                url = self._urls[prepared.path] = URL(self._base_url + prepared.path)
            return url
        # Spelled as httpx spells a query, so both engines put the same bytes on the wire.
        query = urlencode(prepared.params, quote_via=quote, safe="")
        return URL(f"{self._base_url}{prepared.path}?{query}", encoded=True)

    def _headers_for(self, content_type: str | None) -> dict[str, str]:
        headers = self._headers.get(content_type)
        if headers is None:
            headers = {"User-Agent": user_agent("aiohttp"), "Accept-Encoding": ACCEPT_ENCODING}
            if content_type is not None:
                headers["Content-Type"] = content_type
            self._headers[content_type] = headers
        return headers

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def round_trip(self, prepared: PreparedRequest, timeout: float | None = None) -> Reply:
        per_call: dict[str, Any] = {}
        if timeout is not None and timeout != self._settings.timeout:
            # A per-call timeout (``send(..., timeout=)``, ``with_options``); connecting gets half.
            per_call["timeout"] = aiohttp.ClientTimeout(total=timeout, connect=timeout / 2)
        if self._closed:
            raise ExchangeClosed("this MySMSClient is closed")
        session = self._session or self._open()
        try:
            response = await session.request(
                prepared.method,
                self._url(prepared),
                data=prepared.content,
                headers=self._headers_for(prepared.content_type),
                allow_redirects=False,
                proxy=self._proxy,
                **per_call,
            )
            try:
                if response.status != 200:
                    # The body of an error page is not read: nothing in it changes the outcome.
                    # Released unread, its connection is kept only if the whole page arrived.
                    reply = Reply(response.status, b"", response.headers.get("Retry-After"))
                else:
                    reply = await self._read(response)
            except BaseException:
                response.close()  # never hand a half-read connection back to the pool
                raise
            response.release()
        except Exception as exc:
            failed = translate(exc, FAULTS, self._secret)
            if failed is None:
                raise
            raise failed from None
        return reply

    async def _read(self, response: aiohttp.ClientResponse) -> Reply:
        """The body through the capped reader; then nothing may follow it on the connection.

        An answer whose Content-Length is within the cap is read in one call: aiohttp's parser
        stops at that length (more bytes stay on the connection, caught below; fewer are a
        ``ClientPayloadError``), so the read is bounded without feeding chunks one by one.
        A compressed one is still inflated through ``CappedBody``, whose bound covers the
        inflated size. Any other answer (chunked, no length, or a length past the cap, which
        ``CappedBody`` refuses before reading) goes chunk by chunk through the capped reader.
        """
        headers = response.headers
        cap = self._cap
        encoding = headers.get("Content-Encoding")
        length = headers.get("Content-Length")
        if (
            length is not None
            and length.isdigit()
            and int(length) <= cap
            and "Transfer-Encoding" not in headers
        ):
            inflate = None if encoding is None else CappedBody(cap, encoding, None)
            raw = await response.content.read()
            if len(raw) > cap:  # pragma: no cover - the parser stops at Content-Length
                raise too_large(cap)
            if inflate is None:
                data = raw
            else:
                inflate.feed(raw)
                data = inflate.finish()
        else:
            body = CappedBody(cap, encoding, length)
            async for chunk in response.content.iter_any():
                body.feed(chunk)
            data = body.finish()
        if _has_leftover(response):
            raise leftover()
        return Reply(200, data)


def open_exchange(
    settings: Settings, secret: str, *, http_client: Any = None, transport: Any = None
) -> AiohttpExchange:
    """This engine, for ``_exchange.make_exchange``; httpx objects were refused in ``_config``."""
    return AiohttpExchange(settings, secret)
