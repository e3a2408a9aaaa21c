"""``MySMSClient``: a thin façade over builder -> transport -> decoders -> models."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import ipaddress
import warnings
from collections.abc import AsyncIterable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

import httpx

from . import _bulk_send, _bulk_status, _telemetry
from . import _constants as C
from ._bulk_send import Messages, check_iterable
from ._config import (
    Backend,
    Credentials,
    HttpMethodOption,
    Seconds,
    Settings,
    call_timeout,
    check_engine_options,
    env_error,
    make_credentials,
    make_settings,
    read_env,
    with_overrides,
)
from ._exceptions import ClientClosedError, ValidationError
from ._exceptions import InsecureURLWarning as InsecureURLWarning  # re-exported for _cli
from ._exchange import make_exchange
from ._lifecycle import Lifecycle, State
from ._models import Balance, Message, SendResult, StatusResult
from ._operations import Operations
from ._request import validate_message_id, validate_sender
from ._streams import ResultIterator, SendStream
from ._transport import Transport
from ._transport import call_timeout as _timeout_scope

if TYPE_CHECKING:
    from typing_extensions import Unpack


class ClientOptions(TypedDict, total=False):
    """The keywords ``MySMSClient.from_env`` accepts (every constructor argument)."""

    username: str
    password: str
    sender: str | None
    base_url: str
    wire_format: Literal["json", "xml"]
    http_method: HttpMethodOption
    timeout: Seconds
    max_retries: int
    retry_backoff: Seconds
    http_client: httpx.AsyncClient | None
    transport: httpx.AsyncBaseTransport | None
    batch_size: int
    max_concurrency: int
    rate_limit: float | None
    timezone: str | dt.tzinfo
    max_response_bytes: int
    backend: Backend
    max_parts: int | None


_OPTION_NAMES = frozenset(ClientOptions.__annotations__)


class MySMSClient:
    """An asyncio client for the gateway: one per application, shared by all tasks.

    ``timeout`` is the time one attempt may take end to end (a float of seconds or a
    ``timedelta``); connecting gets half of it. ``max_retries`` and ``retry_backoff`` govern
    retries, which a send only gets when its request provably never reached the gateway.

    ``http_method`` is ``"POST"`` (the default: credentials and messages in the body) or
    ``"GET"`` (one message per request, everything in the query string, the password included).
    HTTP tracing (opentelemetry-instrumentation-httpx or -aiohttp-client) records each request's
    full URL in its spans, so with GET every trace would hold the password: a client built with
    GET while such instrumentation is active warns once (``CredentialsInURLWarning``). Keep POST.

    ``max_parts`` (10 by default, ``None`` for no limit) refuses, before any I/O, a text that
    needs more SMS parts than that (a ``ValidationError`` naming the count and the limit).
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        sender: str | None = None,
        base_url: str = C.DEFAULT_BASE_URL,
        wire_format: Literal["json", "xml"] = "json",
        http_method: HttpMethodOption = "POST",
        timeout: Seconds = C.DEFAULT_TIMEOUT,
        max_retries: int = C.DEFAULT_MAX_RETRIES,
        retry_backoff: Seconds = C.DEFAULT_RETRY_BACKOFF,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        batch_size: int = C.DEFAULT_BATCH_SIZE,
        max_concurrency: int = C.DEFAULT_MAX_CONCURRENCY,
        rate_limit: float | None = None,
        timezone: str | dt.tzinfo = C.DEFAULT_TIMEZONE,
        max_response_bytes: int = C.DEFAULT_MAX_RESPONSE_BYTES,
        backend: Backend = "httpx",
        max_parts: int | None = C.DEFAULT_MAX_PARTS,
    ) -> None:
        self._credentials: Credentials = make_credentials(username, password)
        self._settings: Settings = make_settings(
            base_url=base_url,
            wire_format=wire_format,
            http_method=http_method,
            timeout=timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            batch_size=batch_size,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            timezone=timezone,
            max_response_bytes=max_response_bytes,
            backend=backend,
            max_parts=max_parts,
        )
        check_engine_options(self._settings.backend, http_client=http_client, transport=transport)
        self._sender = None if sender is None else validate_sender(sender)
        self._transport = Transport(
            self._settings,
            self._credentials,
            functools.partial(
                make_exchange,
                self._settings,
                self._credentials.password,
                http_client=http_client,
                transport=transport,
            ),
        )
        self._ops = Operations(self._settings, self._credentials, self._sender, self._transport)
        self._lifecycle = self._ops.lifecycle
        _warn_if_cleartext(self._settings.base_url)
        _telemetry.warn_if_get_traced(
            self._settings.http_method, self._settings.backend, http_client
        )
        _telemetry.configure_logging_from_env()

    @classmethod
    def from_env(cls, **overrides: Unpack[ClientOptions]) -> MySMSClient:
        """Read ``MYSMS_USERNAME``, ``MYSMS_PASSWORD``, ``MYSMS_SENDER``, ``MYSMS_BASE_URL``,
        ``MYSMS_FORMAT`` (and ``MYSMS_METHOD``); keyword arguments override them.

        A missing or unusable variable is a ``ConfigurationError`` that names it; an unknown
        keyword is a ``ValidationError`` (mypy checks the keywords too).
        """
        unknown = sorted(set(overrides) - _OPTION_NAMES)
        if unknown:
            raise ValidationError(
                unknown[0],
                f"is not a MySMSClient option (one of {', '.join(sorted(_OPTION_NAMES))})",
            )
        found: dict[str, Any] = read_env()
        for name in overrides:
            found.pop(name, None)
        try:
            return cls(**found, **overrides)
        except ValidationError as error:
            config_error = env_error(error, found)
            if config_error is None:
                raise
            raise config_error from error

    def with_options(
        self, *, timeout: Seconds | None = None, max_retries: int | None = None
    ) -> MySMSClient:
        """A client with another ``timeout`` and/or ``max_retries`` that shares this one's
        connections, ``max_concurrency`` slots and ``rate_limit`` (as openai-python's does)::

            urgent = client.with_options(timeout=2, max_retries=0)

        The options are checked like the constructor's, before any I/O. The derived client
        follows this one's lifecycle: once this client is closed (or used from another event
        loop) so is it. Closing the derived client closes nothing but itself: the connections
        stay open for this client and its other derived clients, until this one is closed.
        """
        self._lifecycle.check()
        settings = with_overrides(self._settings, timeout=timeout, max_retries=max_retries)
        derived = copy.copy(self)
        derived._settings = settings
        derived._transport = self._transport.derive(settings)
        derived._ops = Operations(settings, self._credentials, self._sender, derived._transport)
        derived._ops.lifecycle = derived._lifecycle = _DerivedLifecycle(self._lifecycle)
        return derived

    def __repr__(self) -> str:
        s = self._settings
        return (
            f"MySMSClient(username={self._credentials.username!r}, base_url={s.base_url!r},"
            f" wire_format={s.wire_format!r}, http_method={s.http_method!r},"
            f" state={self._lifecycle.state.value!r})"
        )

    # lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> MySMSClient:
        self._lifecycle.check()
        self._lifecycle.state = State.OPENED
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; a caller-supplied ``http_client`` is left open.

        Requests still waiting for a slot or the rate limiter then fail with
        ``ClientClosedError`` (not sent); those already on the wire keep their real outcome.
        From an event loop (or thread) other than the client's own, ``aclose()`` raises
        nothing and only marks the client closed: every later call raises ``ClientClosedError``,
        but its connections belong to the owning loop and cannot be closed from this one. The
        owning loop's own ``aclose()`` (or the end of its ``async with``) still closes them.
        """
        lifecycle = self._lifecycle
        lifecycle.state = State.CLOSED
        if lifecycle.released or not lifecycle.in_own_loop():
            return
        lifecycle.released = True
        await self._transport.aclose()

    @property
    def is_closed(self) -> bool:
        """``True`` once ``aclose()`` ran (or the ``async with`` block ended); never raises.

        A closed client cannot be reopened: every call on it raises ``ClientClosedError``.
        A client made by ``with_options()`` is closed once it or the client it came from is.
        """
        return self._lifecycle.state is State.CLOSED

    # single requests -------------------------------------------------------------------------

    async def send(
        self,
        destination: str,
        text: str,
        *,
        sender: str | None = None,
        date: dt.datetime | None = None,
        ttl: int | None = None,
        timeout: Seconds | None = None,
    ) -> SendResult:
        """Send one SMS. A gateway refusal comes back as a negative ``state``; failures raise
        (``DeliveryUnknownError`` when the gateway may have taken it).

        ``timeout`` (seconds or a ``timedelta``) replaces the client's for this call's attempt.
        """
        self._lifecycle.check()
        seconds = call_timeout(timeout)
        message = Message(destination, text, sender=sender, date=date, ttl=ttl)
        wire = self._ops.prepare(message)
        with _timeout_scope(seconds):
            (result,) = await self._ops.send_wires([message], [wire])
        if result.error is not None:
            raise result.error
        return result

    async def status(
        self,
        message_id: str,
        *,
        timeout: Seconds | None = None,
    ) -> StatusResult:
        """The delivery state of one message id (retried on transient failures).

        ``timeout`` (seconds or a ``timedelta``) replaces the client's for each of this call's
        attempts.
        """
        self._lifecycle.check()
        seconds = call_timeout(timeout)
        checked = validate_message_id(message_id)
        with _timeout_scope(seconds):
            (result,) = await self._ops.status_ids([checked])
        return result

    async def balance(
        self,
        *,
        timeout: Seconds | None = None,
    ) -> Balance:
        """The account's balance; ``timeout`` replaces the client's for each of its attempts."""
        seconds = call_timeout(timeout)
        with _timeout_scope(seconds):
            return await self._ops.balance()

    # bulk ------------------------------------------------------------------------------------

    async def send_many(
        self, messages: Iterable[Message] | AsyncIterable[Message]
    ) -> list[SendResult]:
        """Send every message, batched and concurrent; one result per message, in input order.

        An error that stops the run (``AuthError``, ``ClientClosedError``,
        ``WrongEventLoopError``, or ``InputError`` from reading ``messages``) is raised once the
        requests in flight finish, with ``.results``: one outcome per message read.
        """
        self._lifecycle.check()
        check_iterable("messages", messages)
        return await _bulk_send.send_many(self._ops, messages)

    def stream_send(self, messages: Messages) -> SendStream:
        """Results in input order while ``max_concurrency`` requests stay in flight::

            async with client.stream_send(messages) as results:
                async for result in results:
                    ...

        Leaving the block early is safe: reading stops, requests in flight finish, and every
        outcome not handed over is in ``results.leftover`` (accepted ids also in a WARNING).
        """
        self._lifecycle.check()
        check_iterable("messages", messages)
        return SendStream(self._ops, messages)

    def iter_send(self, messages: Messages) -> ResultIterator:
        """Like ``stream_send`` without the ``async with``, in waves of ``max_concurrency``
        requests; break out at any time (outcomes not handed over go to ``.leftover``)."""
        self._lifecycle.check()
        check_iterable("messages", messages)
        return ResultIterator(self._ops, messages)

    async def status_many(self, ids: Iterable[str | None]) -> list[StatusResult]:
        """The delivery state of every id: one ``StatusResult`` per id, in input order.

        Ids go ``batch_size`` to a request (one with GET), ``max_concurrency`` requests in
        flight; an id given twice is asked once and answered at each of its places. An id that
        is not one (``None``, the id of a refused message, or a malformed string) gets a result
        whose ``.error`` is a ``ValidationError`` and is not sent; a request that fails puts its
        error on its ids' results.

        Raises ``ValidationError`` before any request when ``ids`` is a single string or not an
        iterable, and ``ClientClosedError`` / ``WrongEventLoopError`` when the client cannot be
        used. An error that stops the run (``AuthError``, ``BaseURLError``,
        ``ClientClosedError``, ``WrongEventLoopError``) is raised once the requests in flight
        finish, with ``.results``: one result per id.
        """
        self._lifecycle.check()
        check_iterable("ids", ids)
        # None and malformed ids are validated one by one downstream (a ValidationError result).
        return await _bulk_status.status_many(self._ops, cast("list[str]", list(ids)))

    async def wait_for_delivery(
        self,
        ids: Iterable[str | None],
        *,
        timeout: Seconds,
        poll_interval: Seconds = 1.0,
    ) -> list[StatusResult]:
        """Poll until every id is final or ``timeout`` passes; the latest states either way.

        An id that is not one (``None`` for a refused message) gets a ``ValidationError``
        result at once and is not polled.
        """
        self._lifecycle.check()
        check_iterable("ids", ids)
        return await _bulk_status.wait_for_delivery(  # None: validated per id, as in status_many
            self._ops, cast("list[str]", list(ids)), timeout=timeout, poll_interval=poll_interval
        )


class _DerivedLifecycle(Lifecycle):
    """A ``with_options`` client's: closed on its own, or with its parent; the parent's loop."""

    __slots__ = ("_own", "_parent")

    def __init__(self, parent: Lifecycle) -> None:
        self._parent = parent
        super().__init__()

    @property
    def state(self) -> State:
        return State.CLOSED if self._parent.state is State.CLOSED else self._own

    @state.setter
    def state(self, value: State) -> None:
        self._own = value

    def check(self) -> None:
        if self._own is State.CLOSED:
            raise ClientClosedError("this MySMSClient (made by with_options) is closed")
        self._parent.check()

    def in_own_loop(self) -> bool:
        return self._parent.in_own_loop()


# Loopback by standard (.localhost), or never resolvable on the internet (.test, RFC 2606).
_LOCAL_SUFFIXES = (".test", ".localhost")


def _warn_if_cleartext(base_url: str) -> None:
    url = httpx.URL(base_url)
    if url.scheme != "http":
        return
    host = url.host
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    warnings.warn(
        f"base_url {base_url!r} is plain http:// to a non-local host: the password and every"
        " message travel unencrypted",
        InsecureURLWarning,
        stacklevel=3,
    )
