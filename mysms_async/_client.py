"""``MySMSClient``: a thin façade over builder -> transport -> decoders -> models."""

from __future__ import annotations

import datetime as dt
import ipaddress
import warnings
from collections.abc import AsyncIterable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import httpx

from . import _constants as C
from ._bulk import BulkEngine, Messages, ResultIterator, SendStream, check_iterable
from ._config import (
    Backend,
    Credentials,
    HttpMethodOption,
    Seconds,
    Settings,
    env_error,
    make_credentials,
    make_settings,
    read_env,
)
from ._exceptions import ValidationError
from ._models import Balance, Message, SendResult, StatusResult
from ._operations import Operations, State
from ._request import validate_message_id, validate_sender
from ._transport import Transport

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


class InsecureURLWarning(UserWarning):
    """The base URL is plain http:// to a host that is not local: the password travels in clear."""


class MySMSClient:
    """An asyncio client for the gateway: one per application, shared by all tasks.

    ``timeout`` is the time one attempt may take end to end (a float of seconds or a
    ``timedelta``); connecting gets half of it. ``max_retries`` and ``retry_backoff`` govern
    retries, which a send only gets when its request provably never reached the gateway.
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
        if http_client is not None and transport is not None:
            raise ValidationError("transport", "give either http_client or transport, not both")
        if self._settings.backend == "aiohttp" and (http_client or transport) is not None:
            raise ValidationError(
                "backend", "http_client= and transport= are httpx objects: use backend='httpx'"
            )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ValidationError("http_client", "must be an httpx.AsyncClient")
        self._sender = None if sender is None else validate_sender(sender)
        self._transport = Transport(
            self._settings, self._credentials, http_client=http_client, transport=transport
        )
        self._ops = Operations(self._settings, self._credentials, self._sender, self._transport)
        self._lifecycle = self._ops.lifecycle
        self._bulk = BulkEngine(self._ops)
        _warn_if_cleartext(self._settings.base_url)

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
        From an event loop other than the client's own, the client is only marked closed: its
        connections belong to that loop and cannot be closed from this one.
        """
        lifecycle = self._lifecycle
        if lifecycle.state is State.CLOSED:
            return
        lifecycle.state = State.CLOSED
        if lifecycle.in_own_loop():
            await self._transport.aclose()

    @property
    def is_closed(self) -> bool:
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
    ) -> SendResult:
        """Send one SMS. A gateway refusal comes back as a negative ``state``; failures raise
        (``DeliveryUnknownError`` when the gateway may have taken it)."""
        self._lifecycle.check()
        message = Message(destination, text, sender=sender, date=date, ttl=ttl)
        wire = self._ops.prepare(message)
        (result,) = await self._ops.send_wires([message], [wire])
        if result.error is not None:
            raise result.error
        return result

    async def status(self, message_id: str) -> StatusResult:
        """The delivery state of one message id (retried on transient failures)."""
        self._lifecycle.check()
        (result,) = await self._ops.status_ids([validate_message_id(message_id)])
        return result

    async def balance(self) -> Balance:
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
        return await self._bulk.send_many(messages)

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
        return self._bulk.stream_send(messages)

    def iter_send(self, messages: Messages) -> ResultIterator:
        """Like ``stream_send`` without the ``async with``, in waves of ``max_concurrency``
        requests; break out at any time (outcomes not handed over go to ``.leftover``)."""
        self._lifecycle.check()
        check_iterable("messages", messages)
        return self._bulk.iter_send(messages)

    async def status_many(self, ids: Iterable[str]) -> list[StatusResult]:
        self._lifecycle.check()
        check_iterable("ids", ids)
        return await self._bulk.status_many(list(ids))

    async def wait_for_delivery(
        self,
        ids: Iterable[str],
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
        return await self._bulk.wait_for_delivery(
            list(ids), timeout=timeout, poll_interval=poll_interval
        )


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
