"""The HTTP exchange: one pooled httpx client, bounded reads, the retry loop, errors mapped.

This is the one boundary where httpx's errors become ours. They are never chained as
``__cause__`` (their ``request`` holds the URL, and on GET the URL holds the password); their type
and redacted message survive as ``detail``.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import anyio
import httpx

from . import _constants as C
from ._codes import is_retryable_request_state
from ._config import Credentials, Settings
from ._exceptions import (
    AuthError,
    DeliveryUnknownError,
    GatewayError,
    MySMSError,
    ResponseError,
    TransportError,
)
from ._models import Message
from ._pool import SlotPool
from ._ratelimit import TokenBucket
from ._redact import install_log_redaction, redact_text
from ._request import PreparedRequest
from ._retry import Backoff, Failure, Reach, parse_retry_after, should_retry

T = TypeVar("T")
logger = logging.getLogger(C.LOGGER_NAME)
install_log_redaction()

_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_PERMANENT_ERRORS = (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError)


class _AttemptFailed(Exception):
    """Internal: one attempt failed; ``unknown_delivery`` marks what a send must not assume."""

    def __init__(self, failure: Failure, error: MySMSError, *, unknown_delivery: bool) -> None:
        self.failure = failure
        self.error = error
        self.unknown_delivery = unknown_delivery


@dataclass(frozen=True, slots=True)
class _Answer:
    status_code: int
    body: bytes
    retry_after: str | None = None


class Transport:
    """Owns (or borrows) an ``httpx.AsyncClient`` and runs each request with retries."""

    def __init__(
        self,
        settings: Settings,
        credentials: Credentials,
        *,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._settings = settings
        self._secret = credentials.password
        self._owns_client = http_client is None
        self._client = http_client or _make_http_client(settings, transport)
        self._backoff = Backoff(first_delay=settings.retry_backoff)
        self._bucket = TokenBucket(settings.rate_limit) if settings.rate_limit else None
        self._in_flight: anyio.CapacityLimiter | None = None  # created inside the running loop
        self._urls: dict[str, httpx.URL] = {}

    @property
    def owns_client(self) -> bool:
        return self._owns_client

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def execute(
        self,
        prepared: PreparedRequest,
        parse: Callable[[bytes], T],
        *,
        messages: Sequence[Message] = (),
    ) -> T:
        """Send ``prepared`` until it succeeds or may not be retried; raise our typed error."""
        idempotent = prepared.operation != "send"
        retries = 0
        while True:
            try:
                return await self._attempt(prepared, parse, retries)
            except _AttemptFailed as failed:
                last = failed
            delay = self._retry_delay(last.failure, retries, idempotent=idempotent)
            if delay is None:
                # Raised outside the except block: no httpx error rides along as __context__.
                raise self._final_error(last, prepared, messages)
            retries += 1
            logger.debug(
                "retrying %s %s in %.2fs (retry %d of %d): %s",
                prepared.method,
                prepared.path,
                delay,
                retries,
                self._settings.max_retries,
                last.error,
            )
            await anyio.sleep(delay)

    def _url(self, path: str) -> httpx.URL:
        """Twelve endpoints at most: parse each URL once, not once per request."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._settings.base_url + path)
        return url

    def _retry_delay(self, failure: Failure, retries: int, *, idempotent: bool) -> float | None:
        if retries >= self._settings.max_retries or not should_retry(
            failure, idempotent=idempotent
        ):
            return None
        return self._backoff.delay(retries + 1, failure.retry_after)

    @staticmethod
    def _final_error(
        failed: _AttemptFailed, prepared: PreparedRequest, messages: Sequence[Message]
    ) -> MySMSError:
        if prepared.operation == "send" and failed.unknown_delivery:
            error = failed.error
            return DeliveryUnknownError(
                f"the gateway may have accepted {len(messages)} message(s), but the outcome is"
                f" unknown: {error}; not resent, to avoid a duplicate SMS",
                messages=messages,
                status_code=getattr(error, "status_code", None),
            )
        return failed.error

    async def _attempt(
        self, prepared: PreparedRequest, parse: Callable[[bytes], T], retry: int
    ) -> T:
        if self._bucket is not None:
            await self._bucket.acquire()
        if self._in_flight is None:
            self._in_flight = anyio.CapacityLimiter(self._settings.max_concurrency)
        started = anyio.current_time()
        status_code: int | None = None
        state: int | str = "-"
        on_the_wire = False
        try:
            async with self._in_flight:
                on_the_wire = True
                answer = await self._exchange(prepared)
                on_the_wire = False
            status_code = answer.status_code
            value = self._interpret(answer, parse)
            state = getattr(value, "state", 0)
            return value
        except _AttemptFailed as failed:
            state = getattr(failed.error, "state", "-")
            raise
        except AuthError as error:
            state = error.state
            raise
        except anyio.get_cancelled_exc_class():
            if prepared.operation == "send" and on_the_wire:
                logger.warning(
                    "send of %d message(s) cancelled while in flight: the gateway may have"
                    " accepted them; their delivery is unknown",
                    prepared.count,
                )
            raise
        finally:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s %s messages=%d status=%s state=%s elapsed=%.1fms attempt=%d",
                    prepared.method,
                    prepared.path,
                    prepared.count,
                    status_code if status_code is not None else "-",
                    state,
                    (anyio.current_time() - started) * 1000,
                    retry + 1,
                )

    async def _exchange(self, prepared: PreparedRequest) -> _Answer:
        """One HTTP round trip within the attempt deadline; httpx errors classified."""
        request = self._client.build_request(
            prepared.method,
            self._url(prepared.path),
            params=prepared.params,
            content=prepared.content,
            headers=None
            if prepared.content_type is None
            else {"content-type": prepared.content_type},
        )
        try:
            with anyio.fail_after(self._settings.timeout):
                response = await self._client.send(request, stream=True)
                try:
                    if response.status_code != 200:
                        # The body of an error page is not read: nothing in it changes the outcome.
                        return _Answer(
                            response.status_code, b"", response.headers.get("retry-after")
                        )
                    body = await _read_capped(response, self._settings.max_response_bytes)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise self._transport_failure(
                "no complete answer within the timeout", None, Reach.MAYBE_SENT
            ) from None
        except ResponseError as error:
            self._scrub(error)
            raise _AttemptFailed(
                Failure(Reach.MAYBE_SENT, transient=False), error, unknown_delivery=True
            ) from None
        except _PERMANENT_ERRORS as exc:
            raise self._transport_failure(
                "request could not be made", exc, Reach.MAYBE_SENT, transient=False
            ) from None
        except _NOT_SENT_ERRORS as exc:
            raise self._transport_failure("could not connect", exc, Reach.NOT_SENT) from None
        except httpx.HTTPError as exc:
            raise self._transport_failure("connection failed", exc, Reach.MAYBE_SENT) from None
        return _Answer(200, body)

    def _transport_failure(
        self, what: str, exc: Exception | None, reach: Reach, *, transient: bool = True
    ) -> _AttemptFailed:
        detail = None if exc is None else self._describe(exc)
        return _AttemptFailed(
            Failure(reach, transient=transient),
            TransportError(what, detail=detail),
            unknown_delivery=reach is Reach.MAYBE_SENT,
        )

    def _describe(self, exc: BaseException) -> str:
        text = str(exc) or "no message"
        return f"{type(exc).__name__}: {redact_text(text, self._secret)}"

    def _interpret(self, answer: _Answer, parse: Callable[[bytes], T]) -> T:
        """Turn status code and body into a value, or a classified failure."""
        if answer.status_code != 200:
            raise self._status_failure(answer)
        try:
            value = parse(answer.body)
        except ResponseError as error:
            self._scrub(error)
            raise _AttemptFailed(
                Failure(Reach.MAYBE_SENT, transient=False), error, unknown_delivery=True
            ) from None
        check_request_state(getattr(value, "state", 0))
        return value

    def _scrub(self, error: ResponseError) -> None:
        """A quoted body may echo the request (and so the password); it was a 200 answer."""
        error.args = tuple(
            redact_text(arg, self._secret) if isinstance(arg, str) else arg for arg in error.args
        )
        if error.status_code is None:
            error.status_code = 200

    @staticmethod
    def _status_failure(answer: _Answer) -> _AttemptFailed:
        """429 executes nothing, so even a send may retry it; 5xx may have run the request."""
        code = answer.status_code
        retry_after = parse_retry_after(answer.retry_after)
        error = ResponseError(
            f"gateway answered HTTP {code}", status_code=code, retry_after=retry_after
        )
        if code == 429:
            failure = Failure(Reach.NOT_SENT, transient=True, retry_after=retry_after)
        else:
            failure = Failure(Reach.MAYBE_SENT, transient=code >= 500, retry_after=retry_after)
        return _AttemptFailed(failure, error, unknown_delivery=code != 429)


def check_request_state(state: int) -> None:
    """Request state 0 is success; -1 is bad credentials; anything else is the gateway's fault."""
    if state == 0:
        return
    if state == -1:
        raise AuthError()
    raise _AttemptFailed(
        Failure(Reach.MAYBE_SENT, transient=is_retryable_request_state(state)),
        GatewayError(state),
        unknown_delivery=False,
    )


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    """Read the raw stream and inflate it ourselves, never past ``cap`` bytes.

    httpx inflates gzip without a limit (a 200 kB body became 200 MB in a test), so the body is
    read raw and each chunk is inflated with ``max_length``: a bomb stops at the cap.
    """
    if response.is_stream_consumed:
        # An in-memory transport (httpx.MockTransport) hands over a body it already holds,
        # already inflated by httpx: no network is involved, so only the size is checked.
        if len(response.content) > cap:
            raise _too_large(cap)
        return response.content
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise _too_large(cap)
    inflater = _inflater(response.headers.get("content-encoding"))
    chunks: list[bytes] = []
    size = 0
    raw_size = 0
    async for chunk in response.aiter_raw():
        raw_size += len(chunk)
        if inflater is not None:
            chunk = inflater.feed(chunk, cap - size + 1)
        size += len(chunk)
        if size > cap or raw_size > cap:
            raise _too_large(cap)
        chunks.append(chunk)
    if inflater is not None:
        tail = inflater.finish(cap - size + 1)
        size += len(tail)
        if size > cap:
            raise _too_large(cap)
        chunks.append(tail)
    return b"".join(chunks)


def _too_large(cap: int) -> ResponseError:
    return ResponseError(f"answer is larger than max_response_bytes ({cap} bytes)", status_code=200)


class _Inflater:
    """zlib with an output bound per call; ``deflate`` may come with or without its header."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._zlib = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, chunk: bytes, limit: int) -> bytes:
        try:
            out = self._zlib.decompress(chunk, limit)
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise ResponseError(
                    "answer's compressed body is corrupt", status_code=200
                ) from None
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            self._started = True
            return self.feed(chunk, limit)
        self._started = True
        if self._zlib.unconsumed_tail:
            # More output is waiting than the cap allows: stop inflating here.
            raise ResponseError(
                "compressed answer inflates past max_response_bytes", status_code=200
            )
        return out

    def finish(self, limit: int) -> bytes:
        try:
            return self._zlib.flush(max(limit, 1))
        except zlib.error:
            raise ResponseError("answer's compressed body is corrupt", status_code=200) from None


def _inflater(encoding: str | None) -> _Inflater | None:
    value = (encoding or "identity").strip().lower()
    if value in ("identity", ""):
        return None
    if value in ("gzip", "x-gzip"):
        return _Inflater(zlib.MAX_WBITS | 16)
    if value == "deflate":
        return _Inflater(zlib.MAX_WBITS)
    raise ResponseError(f"answer uses an unsupported content-encoding {value!r}", status_code=200)


def _make_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    """One connection set per client: a slot per request the client lets into flight.

    httpx's pool slows down as its connections grow, so the client bounds requests in flight
    itself and gives each a single-connection slot (``_pool.SlotPool``). Connecting gets half the
    attempt's time, so that a hung connect fails as a connect timeout (provably not sent, so
    safe to retry) before the attempt's deadline turns it into an unknown outcome.
    """
    timeout = settings.timeout
    return httpx.AsyncClient(
        transport=transport or SlotPool(settings.max_concurrency),
        timeout=httpx.Timeout(timeout, connect=timeout / 2, pool=timeout / 2),
        headers={"user-agent": C.USER_AGENT, "accept-encoding": "gzip, deflate"},
        follow_redirects=False,
    )
