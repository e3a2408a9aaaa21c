"""Policy for every request, whatever the engine: retries, outcomes, caps, logging, the rate limit.

The exchange below (an engine built by ``_exchange.make_exchange``, injected as a factory)
only moves bytes and says how far a failed request got (``ExchangeFailed.outcome``). This module
imports no HTTP library: it classifies status codes and request states into the same
``_retry.Outcome`` and decides what that means: whether the attempt may be retried, whether a
send's messages are unknown rather than failed, which of our errors the caller sees. HTTP
libraries' errors never reach here: the exchange keeps only their type and redacted message as
``detail``, because their ``request`` holds the URL, and on GET the URL holds the password.

Closing: ``aclose()`` lets the requests already on the wire finish with their real outcome, then
closes the engine; a request that had not started (waiting for the rate limiter, a slot, or its
next retry) raises ``ClientClosedError`` instead of whatever the engine would say.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar, Token
from typing import TypeVar

import anyio
import anyio.lowlevel
import sniffio

from . import _constants as C
from . import _telemetry
from ._codes import is_retryable_request_state
from ._config import Credentials, Settings
from ._exceptions import (
    AuthError,
    BaseURLError,
    ClientClosedError,
    DeliveryUnknownError,
    GatewayError,
    MySMSError,
    ResponseError,
    TransportError,
)
from ._exchange import Exchange, ExchangeClosed, ExchangeFailed, Reply
from ._models import Message
from ._ratelimit import TokenBucket
from ._redact import describe_body, redact_text
from ._request import PreparedRequest
from ._retry import Backoff, Failure, Outcome, parse_retry_after, should_retry

T = TypeVar("T")
logger = logging.getLogger(C.LOGGER_NAME)

#: A per-call ``timeout=`` (seconds per attempt), set around one ``send``/``status``/``balance``.
_CALL_TIMEOUT: ContextVar[float | None] = ContextVar("mysms_call_timeout", default=None)


class _CallTimeout:
    """Sets ``_CALL_TIMEOUT`` for the block (a class: a generator-based context manager costs
    a generator and its frames on every single request)."""

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._token: Token[float | None] | None = None

    def __enter__(self) -> None:
        self._token = _CALL_TIMEOUT.set(self._seconds)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _CALL_TIMEOUT.reset(self._token)
            self._token = None


#: Reusable and reentrant: the block of a call without its own timeout does nothing.
_NO_CALL_TIMEOUT: contextlib.nullcontext[None] = contextlib.nullcontext()


def call_timeout(seconds: float | None) -> contextlib.AbstractContextManager[None]:
    """Each attempt of the requests made inside the block gets ``seconds`` (None: the client's)."""
    if seconds is None:
        return _NO_CALL_TIMEOUT
    return _CallTimeout(seconds)


_CLOSED = (
    "this MySMSClient was closed before the request started; nothing was sent (create a new"
    " client: a closed connection pool cannot be reopened)"
)


#: Builds the engine (``_exchange.make_exchange`` with the client's settings bound): given the
#: running async library, or None at construction (None back: the choice needs the loop).
ExchangeFactory = Callable[[str | None], Exchange | None]


class _AttemptFailed(Exception):
    """Internal: one attempt failed, classified (``failure.outcome``)."""

    def __init__(self, failure: Failure, error: MySMSError) -> None:
        self.failure = failure
        self.error = error

    @property
    def unknown_delivery(self) -> bool:
        """A send that failed so may have reached the gateway: its messages are unknown."""
        return self.failure.outcome.may_have_arrived


class InFlight:
    """At most ``places`` requests on the wire, first come first served.

    ``anyio.CapacityLimiter`` tracks a borrower per task and checks for cancellation twice per
    acquire; here a free place costs one plain checkpoint. A request that must wait parks on an
    ``anyio.Event`` (asyncio or trio), and a released place is handed straight to the oldest
    waiter. A waiter cancelled after being handed a place passes it on, so none is ever lost.
    """

    __slots__ = ("_free", "_waiters", "checkpoint")

    def __init__(self, places: int) -> None:
        self._free = places
        self._waiters: collections.deque[anyio.Event] = collections.deque()
        #: anyio's until the engine is chosen, then the engine's own (``Exchange.checkpoint``).
        self.checkpoint: Callable[[], Awaitable[None]] = anyio.lowlevel.checkpoint

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def free(self) -> int:
        return self._free

    async def acquire(self) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            try:
                # Still a checkpoint, as anyio promises of every await: cancellation lands here,
                # and a run gives other tasks their turn between requests.
                await self.checkpoint()
            except BaseException:
                self.release()
                raise
            return
        handed = anyio.Event()
        self._waiters.append(handed)
        try:
            await handed.wait()
        except BaseException:
            if handed.is_set():
                self.release()  # handed a place while being cancelled: pass it on
            else:
                self._waiters.remove(handed)
            raise

    def release(self) -> None:
        if self._waiters:
            self._waiters.popleft().set()
        else:
            self._free += 1


class Transport:
    """Runs each request through the engine with retries; one per client."""

    def __init__(
        self,
        settings: Settings,
        credentials: Credentials,
        make_exchange: ExchangeFactory,
    ) -> None:
        self._settings = settings
        self._secret = credentials.password
        self._make_exchange = make_exchange
        self._backoff = Backoff(first_delay=settings.retry_backoff)
        self._bucket = TokenBucket(settings.rate_limit) if settings.rate_limit else None
        self._in_flight = InFlight(settings.max_concurrency)
        self._closed = False
        self._on_the_wire = 0
        self._drained: anyio.Event | None = None
        #: The longest attempt timeout used (a per-call ``timeout=`` or a ``with_options``
        #: client's may exceed the client's): how long ``aclose()`` lets requests finish.
        self._longest = settings.timeout
        #: The transport whose engine, slots, rate limit and closing this one uses (``derive``).
        self._root = self
        self._exchange: Exchange | None = None
        exchange = make_exchange(None)  # the engine now, unless the running loop decides it
        if exchange is not None:
            self._use(exchange)

    def derive(self, settings: Settings) -> Transport:
        """A transport with ``settings``' timeout and retries over this one's engine, slots and
        rate limit (``MySMSClient.with_options``); its ``aclose()`` closes nothing."""
        derived = copy.copy(self)
        derived._settings = settings
        derived._backoff = Backoff(first_delay=settings.retry_backoff)
        derived._root = self._root
        return derived

    @property
    def exchange(self) -> Exchange | None:
        """The engine, once chosen (at construction for httpx, at first use for auto/aiohttp)."""
        return self._root._exchange

    @property
    def engine(self) -> str | None:
        """``"httpx"`` or ``"aiohttp"`` once chosen; None before the first request."""
        exchange = self._root._exchange
        return None if exchange is None else exchange.name

    def _use(self, exchange: Exchange) -> Exchange:
        self._exchange = exchange
        self._in_flight.checkpoint = exchange.checkpoint
        return exchange

    def _choose_exchange(self) -> Exchange:
        """Decided in the running loop: aiohttp needs asyncio (a ValidationError before I/O)."""
        exchange = self._make_exchange(sniffio.current_async_library())
        assert exchange is not None  # with the running library known, there is always one
        return self._use(exchange)

    async def aclose(self) -> None:
        """Let requests on the wire finish (each within its timeout), then close the engine.

        A derived transport (``derive``) closes nothing: the engine is its root's.
        """
        if self._root is not self:
            return
        self._closed = True
        try:
            if self._on_the_wire:
                if self._drained is None:
                    self._drained = anyio.Event()
                with anyio.move_on_after(self._longest + 1):
                    await self._drained.wait()
        finally:
            if self._exchange is not None:
                with anyio.CancelScope(shield=True):  # a cancelled aclose() still closes
                    await self._exchange.aclose()

    async def execute(
        self,
        prepared: PreparedRequest,
        parse: Callable[[bytes], T],
        *,
        messages: Sequence[Message] = (),
    ) -> T:
        """Send ``prepared`` until it succeeds or may not be retried; raise our typed error."""
        root = self._root
        exchange = root._exchange or root._choose_exchange()
        timeout = _CALL_TIMEOUT.get() or self._settings.timeout
        idempotent = prepared.operation != "send"
        retries = 0
        while True:
            try:
                return await root._attempt(exchange, prepared, parse, retries, timeout)
            except _AttemptFailed as failed:
                last = failed
            delay = self._retry_delay(last.failure, retries, idempotent=idempotent)
            if delay is None:
                _telemetry.record_final_failure(
                    prepared.operation,
                    root.engine or "",
                    prepared.count,
                    unknown=last.unknown_delivery,
                )
                # Raised outside the except block: no engine error rides along as __context__.
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
                extra={
                    "mysms_method": prepared.method,
                    "mysms_path": prepared.path,
                    "mysms_delay": delay,
                    "mysms_retry": retries,
                    "mysms_max_retries": self._settings.max_retries,
                    "mysms_error": str(last.error),
                },
            )
            await anyio.sleep(delay)

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
        self,
        exchange: Exchange,
        prepared: PreparedRequest,
        parse: Callable[[bytes], T],
        retry: int,
        timeout: float,  # noqa: ASYNC109 - the attempt's bound, handed to the engine
    ) -> T:
        if self._closed:
            raise ClientClosedError(_CLOSED)
        if timeout > self._longest:
            self._longest = timeout
        probe = _telemetry.attempt_probe(prepared, self.engine or "", self._settings, retry + 1)
        if self._bucket is not None:
            await self._bucket.acquire()
        in_flight = self._in_flight
        debug = logger.isEnabledFor(logging.DEBUG)
        started = anyio.current_time() if debug else 0.0
        status_code: int | None = None
        state: int | str = "-"
        on_the_wire = False
        try:
            await in_flight.acquire()
            try:
                if self._closed:
                    raise ClientClosedError(_CLOSED)
                on_the_wire = True
                self._on_the_wire += 1
                try:
                    reply = await exchange.round_trip(prepared, timeout)
                finally:
                    self._on_the_wire -= 1
                    if self._drained is not None and not self._on_the_wire:
                        self._drained.set()
                on_the_wire = False
            finally:
                in_flight.release()
            status_code = reply.status_code
            value = self._interpret(reply, parse)
            state = getattr(value, "state", 0)
            if probe is not None:
                probe.answer = value
            return value
        except ExchangeFailed as exc:
            raise _AttemptFailed(
                Failure(exc.outcome), TransportError(exc.what, detail=exc.detail)
            ) from None
        except ExchangeClosed as exc:
            raise ClientClosedError(exc.what) from None
        except ResponseError as error:
            # The engine could not read the body (too large, corrupt compression).
            if error.status_code is None:
                error.status_code = 200
            raise _AttemptFailed(Failure(Outcome.MAYBE_SENT_FINAL), error) from None
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
                    extra={"mysms_messages": prepared.count},
                )
            raise
        finally:
            if probe is not None:
                probe.finish(status_code, state, sys.exc_info()[1], unknown=on_the_wire)
            if debug:
                elapsed_ms = (anyio.current_time() - started) * 1000
                logger.debug(
                    "%s %s messages=%d status=%s state=%s elapsed=%.1fms attempt=%d",
                    prepared.method,
                    prepared.path,
                    prepared.count,
                    status_code if status_code is not None else "-",
                    state,
                    elapsed_ms,
                    retry + 1,
                    extra={
                        "mysms_method": prepared.method,
                        "mysms_path": prepared.path,
                        "mysms_messages": prepared.count,
                        "mysms_status": status_code,
                        "mysms_state": state,
                        "mysms_elapsed_ms": elapsed_ms,
                        "mysms_attempt": retry + 1,
                    },
                )

    def _interpret(self, reply: Reply, parse: Callable[[bytes], T]) -> T:
        """Turn status code and body into a value, or a classified failure."""
        if reply.status_code != 200:
            raise _status_failure(reply)
        try:
            value = parse(reply.body)
        except ResponseError as error:
            self._quote_body(error, reply.body)
            raise _AttemptFailed(Failure(Outcome.MAYBE_SENT_FINAL), error) from None
        state = getattr(value, "state", 0)
        if state:
            check_request_state(state)
        return value

    def _quote_body(self, error: ResponseError, body: bytes) -> None:
        """A 200 answer we could not read: say how it starts, with the credentials kept out
        (``_redact.describe_body``; the answer may echo the request, password and all)."""
        if error.status_code is None:
            error.status_code = 200
        if not error.args or not isinstance(error.args[0], str):
            return
        message = error.args[0]
        if "(body starts" in message:
            # A decoder that still quotes the body itself: at least redact what it quoted.
            message = redact_text(message, self._secret)
        else:
            message = f"{message} (body starts {describe_body(body, self._secret)})"
        error.args = (message, *error.args[1:])


def _status_failure(reply: Reply) -> _AttemptFailed:
    """429 executes nothing, so even a send may retry it; 5xx may have run the request.

    A 3xx is never followed (a redirect would carry the password to another host). It is not
    the gateway's answer, and nothing proves the request was not executed on the way, so on a
    send it is an unknown outcome, like any other answer the client cannot read.

    404 and 405 say the request reached no endpoint: nothing was executed (a send was not
    sent), and no retry helps, since the base URL is wrong (``BaseURLError``).
    """
    code = reply.status_code
    if code in (404, 405):
        wrong_url = BaseURLError(
            f"gateway answered HTTP {code}: there is no gateway endpoint at this base URL, so"
            " the request was not executed (nothing was sent); check base_url (MYSMS_BASE_URL):"
            f" the gateway's API lives under /rest/sms/, as in {C.DEFAULT_BASE_URL}",
            status_code=code,
        )
        return _AttemptFailed(Failure(status_outcome(code)), wrong_url)
    retry_after = parse_retry_after(reply.retry_after)
    what = f"gateway answered HTTP {code}"
    if 300 <= code < 400:
        what += " (a redirect: not followed)"
    error = ResponseError(what, status_code=code, retry_after=retry_after)
    return _AttemptFailed(Failure(status_outcome(code), retry_after), error)


def status_outcome(code: int) -> Outcome:
    """What a non-200 answer means: 429 executes nothing (even a send may retry it); 404 and 405
    reach no endpoint; 5xx may have run the request and may pass; anything else (a redirect, a
    4xx) may have run it and will not pass."""
    if code == 429:
        return Outcome.NOT_SENT
    if code in (404, 405):
        return Outcome.NOT_SENT_FINAL
    return Outcome.MAYBE_SENT if code >= 500 else Outcome.MAYBE_SENT_FINAL


def state_outcome(state: int) -> Outcome:
    """What a non-zero request state (other than -1) means: -50..-52 say "not executed"
    (``NOT_EXECUTED``: a send's messages failed, not sent, and are not resent on that word
    alone; status and balance retry). Any other is one the document does not list: the
    gateway's word on whether it executed the request is unclear, so a send's messages are
    unknown, never "not sent" (``MAYBE_SENT_FINAL``)."""
    if is_retryable_request_state(state):
        return Outcome.NOT_EXECUTED
    return Outcome.MAYBE_SENT_FINAL


def check_request_state(state: int) -> None:
    """Request state 0 is success; -1 is bad credentials; any other fails (``state_outcome``)."""
    if state == 0:
        return
    if state == -1:
        raise AuthError()
    raise _AttemptFailed(Failure(state_outcome(state)), GatewayError(state))
