"""The httpx exchange: the default engine, for asyncio and trio, and a caller's own httpx objects.

httpx's errors end here, at one boundary: :data:`FAULTS` maps each to an ``Outcome`` (as httpx's
own ``HTTPCORE_EXC_MAP`` maps httpcore's), and it becomes an ``ExchangeFailed`` with its type and
redacted message as ``detail``, never chained (their ``request`` holds the URL, and on GET
the URL holds the password). Every request goes out with ``follow_redirects=False`` and our own
``Accept-Encoding``, whatever the caller's client was built with: a redirect would carry the
password to another host, and an encoding the capped reader cannot inflate would be refused.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import httpx

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
from ._pool import SlotPool
from ._redact import install_log_redaction
from ._request import PreparedRequest
from ._retry import Outcome

install_log_redaction()

_CONNECT = Fault(Outcome.NOT_SENT, "could not connect")
_UNMADE = Fault(Outcome.MAYBE_SENT_FINAL, "request could not be made")

#: httpx's exceptions (and the attempt's deadline) -> how far the request got; first match wins.
FAULTS: Faults = (
    (TimeoutError, Fault(Outcome.MAYBE_SENT, "no complete answer within the timeout", False)),
    (httpx.UnsupportedProtocol, _UNMADE),
    (httpx.InvalidURL, _UNMADE),
    (httpx.LocalProtocolError, _UNMADE),
    (httpx.ConnectError, _CONNECT),
    (httpx.ConnectTimeout, _CONNECT),
    (httpx.PoolTimeout, _CONNECT),
    (httpx.HTTPError, Fault(Outcome.MAYBE_SENT, "connection failed")),
)
_PLAIN_HEADERS = {"accept-encoding": ACCEPT_ENCODING}


class HttpxExchange:
    """Owns (or borrows) an ``httpx.AsyncClient``."""

    name = "httpx"
    #: anyio's: this engine runs under asyncio and trio.
    checkpoint = staticmethod(anyio.lowlevel.checkpoint)

    def __init__(
        self,
        settings: Settings,
        secret: str,
        *,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._secret = secret
        self._base_url = settings.base_url
        self._timeout = settings.timeout
        self._cap = settings.max_response_bytes
        self.owns_client = http_client is None
        self.client = http_client or make_http_client(settings, transport)
        self._urls: dict[str, httpx.URL] = {}
        self._headers: dict[str | None, dict[str, str]] = {}
        # The client's own httpx client has no auth, hooks, cookies or redirects to apply:
        # its transport is called directly, skipping ``AsyncClient.send``'s work per request
        # (header and cookie merging, the cookie jar, the auth flow, its INFO log line).
        self._direct: httpx.AsyncBaseTransport | None = (
            self.client._transport if self.owns_client else None
        )
        self._own_headers: dict[str | None, httpx.Headers] = {}
        self._extensions = {"timeout": _timeouts(settings.timeout).as_dict()}

    def _url(self, path: str) -> httpx.URL:
        """Twelve endpoints at most: parse each URL once, not once per request."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base_url + path)
        return url

    def _headers_for(self, content_type: str | None) -> dict[str, str]:
        """For a caller's ``http_client``: its own User-Agent wins; httpx's default
        (``python-httpx/...``) gives way to ours."""
        key = content_type
        if self.client.headers.get("user-agent", "").startswith("python-httpx/"):
            key = f"ua {content_type}"
        headers = self._headers.get(key)
        if headers is None:
            headers = self._headers[key] = dict(_PLAIN_HEADERS)
            if content_type is not None:
                headers["content-type"] = content_type
            if key != content_type:
                headers["user-agent"] = user_agent("httpx")
        return headers

    def _own_headers_for(self, content_type: str | None) -> httpx.Headers:
        headers = self._own_headers.get(content_type)
        if headers is None:
            headers = httpx.Headers(self.client.headers)
            if content_type is not None:
                headers["content-type"] = content_type
            self._own_headers[content_type] = headers
        return headers

    async def aclose(self) -> None:
        if self.owns_client:
            await self.client.aclose()

    async def round_trip(
        self,
        prepared: PreparedRequest,
        timeout: float | None = None,  # noqa: ASYNC109 - the attempt's bound, with fail_after
    ) -> Reply:
        client = self.client
        if timeout is None or timeout == self._timeout:
            timeout = self._timeout
            extensions = self._extensions
            timeouts = None
        else:  # a per-call timeout (``send(..., timeout=)``, ``with_options``)
            timeouts = _timeouts(timeout)
            extensions = {"timeout": timeouts.as_dict()}
        if client.is_closed:
            raise ExchangeClosed(
                "the httpx.AsyncClient this MySMSClient uses is closed (an http_client= given"
                " to it must stay open while it is used)"
            )
        direct = self._direct
        if direct is None:
            request = client.build_request(
                prepared.method,
                self._url(prepared.path),
                params=prepared.params,
                content=prepared.content,
                headers=self._headers_for(prepared.content_type),
                timeout=httpx.USE_CLIENT_DEFAULT if timeouts is None else timeouts,
            )
        else:
            request = httpx.Request(
                prepared.method,
                self._url(prepared.path),
                params=prepared.params,
                content=prepared.content,
                headers=self._own_headers_for(prepared.content_type),
                extensions=extensions,
            )
        try:
            with anyio.fail_after(timeout):
                if direct is None:
                    response = await client.send(request, stream=True, follow_redirects=False)
                else:
                    response = await direct.handle_async_request(request)
                    response.request = request
                try:
                    if response.status_code != 200:
                        # The body of an error page is not read: nothing in it changes the outcome.
                        return Reply(response.status_code, b"", response.headers.get("retry-after"))
                    body = await _read_capped(response, self._cap)
                    if await _discard_if_leftover(response):
                        raise leftover()
                finally:
                    await response.aclose()
        except Exception as exc:
            failed = translate(exc, FAULTS, self._secret)
            if failed is None:
                raise
            raise failed from None
        return Reply(200, body)


def _timeouts(timeout: float) -> httpx.Timeout:
    """Connecting (and waiting for a pooled connection) gets half of the attempt's time."""
    return httpx.Timeout(timeout, connect=timeout / 2, pool=timeout / 2)


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    """Read the raw stream and inflate it ourselves (``_inflate.CappedBody``)."""
    if response.is_stream_consumed:
        # An in-memory transport (httpx.MockTransport) hands over a body it already holds,
        # already inflated by httpx: no network is involved, so only the size is checked.
        if len(response.content) > cap:
            raise too_large(cap)
        return response.content
    headers = response.headers
    body = CappedBody(cap, headers.get("content-encoding"), headers.get("content-length"))
    async for chunk in response.aiter_raw():
        body.feed(chunk)
    return body.finish()


async def _discard_if_leftover(response: httpx.Response) -> bool:
    """Bytes already received past the end of the answer (a proxy that answered twice)?

    The next request on this kept-alive connection would read them as its own answer, so the
    connection (already back in its pool: httpx closes a response once its body is read) is
    closed, and the pool opens a fresh one for the next request. Works for the client's own
    slots and for a caller's ``http_client`` on httpx's stock transport; other transports keep
    no h11 state to look at.
    """
    stream: object = response.stream
    for _ in range(8):  # httpx and httpcore wrap the connection's stream a few times
        connection = getattr(stream, "_connection", None)
        h11_state = getattr(connection, "_h11_state", None)
        if h11_state is not None:
            if h11_state.trailing_data[0]:
                await connection.aclose()  # type: ignore[union-attr]
                return True
            return False
        stream = getattr(stream, "_stream", None) or getattr(stream, "_httpcore_stream", None)
        if stream is None:
            return False
    return False


def open_exchange(
    settings: Settings, secret: str, *, http_client: Any = None, transport: Any = None
) -> HttpxExchange:
    """This engine, for ``_exchange.make_exchange``: the caller's httpx objects, if any."""
    return HttpxExchange(settings, secret, http_client=http_client, transport=transport)


def make_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    """One connection set per client: a slot per request the client lets into flight.

    httpx's pool slows down as its connections grow, so the client bounds requests in flight
    itself and gives each a single-connection slot (``_pool.SlotPool``). Connecting gets half the
    attempt's time, so that a hung connect fails as a connect timeout (provably not sent, so
    safe to retry) before the attempt's deadline turns it into an unknown outcome. httpx reads
    ``HTTP(S)_PROXY`` only for a client without a transport of its own, so the slots are given
    the proxy the environment names (``_exchange.env_proxy``).
    """
    timeout = settings.timeout
    if transport is None:
        transport = SlotPool(settings.max_concurrency, proxy=env_proxy(settings.base_url))
    return httpx.AsyncClient(
        transport=transport,
        timeout=_timeouts(timeout),
        headers={"user-agent": user_agent("httpx"), "accept-encoding": ACCEPT_ENCODING},
        follow_redirects=False,
    )
