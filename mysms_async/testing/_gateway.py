"""``FakeGateway``: the SMS gateway as a hand-written ASGI 3 app, with state and faults.

It serves the document's twelve endpoints (send, status, balance; GET or POST; JSON or XML) under
``base_path``, keeps accounts, balances and messages, moves messages through their states, and
injects faults on demand. Requests are parsed from the document by :mod:`._wire`, never with the
client's own code, so the client and the emulator check each other.

The rules a send is held to, per message, in this order (the first that fails gives the state,
and the message is not accepted: its ``id`` is an empty string and nothing is charged):

=====  ======================================================================================
-11    the sender is missing, malformed (at most 11 Latin letters, digits, inner spaces and
       ``.-_`` with at least one letter, or at most 15 digits), or not registered for the account
-12    the destination is missing or not 10 to 15 digits
-14    the text is missing or empty (the document names no code; an empty SMS cannot be sent)
-15    the date is given and is not a real ``dd.MM.yyyy HH:mm:ss``
-16    the ttl is given and is not a positive integer written in decimal (no sign, no leading 0)
-13    the balance does not cover the message: its parts (:func:`mysms_async.segments`) times
       ``price_per_part``; the balance never goes below zero
=====  ======================================================================================

An accepted message starts at 2 (queued) and moves one step per ``delivery_delay`` seconds of the
``clock`` (read lazily, when a status is asked or ``messages`` is read) or per :meth:`advance`
step: to 3 (handed to the operator), then to 4 (delivered), or to -14 for the ``fail_share`` of
messages drawn to fail. The ``date`` field is recorded but does not hold a message back.

A status request answers each id in order; an id that is unknown, or belongs to another account,
is answered ``-10`` with an empty id (ids are matched exactly; a GET's ``s`` is accepted and
ignored). Wrong credentials answer the request state ``-1`` with no
data, for every endpoint.

Thread safety: uvicorn may serve the app from another thread while a test inspects it. All state
is guarded by one ``threading.Lock``, never held across an ``await``.
"""

from __future__ import annotations

import dataclasses
import random
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from http import HTTPStatus as _HTTPPhrases
from typing import TYPE_CHECKING, Any, Final

import anyio

from .._segments import segments
from . import _wire
from ._faults import (
    ConnectRefused,
    DataLength,
    DropAfterRead,
    EmptyBody,
    Endpoint,
    ErrorState,
    Fault,
    GatewayDisconnect,
    HTMLPage,
    HTTPStatus,
    Latency,
    RawBody,
    TruncatedBody,
    WrongShape,
    applies_to,
)
from ._records import (
    DEMO_BALANCE,
    DEMO_PASSWORD,
    DEMO_SENDER,
    DEMO_USERNAME,
    Account,
    MessageFields,
    RecordedRequest,
    SentMessage,
    WireFormat,
)
from ._transport import IN_PROCESS, FakeGatewayTransport

if TYPE_CHECKING:
    from .._client import MySMSClient

__all__ = ["DEFAULT_RANDOM_FAULTS", "FakeGateway"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_ENDPOINTS: Final[tuple[Endpoint, ...]] = ("send", "status", "credit")
_FORMATS: Final[tuple[WireFormat, ...]] = ("json", "xml")

_SENDER: Final = re.compile(r"(?! )(?=[0-9 ._\-]*[A-Za-z])[A-Za-z0-9 ._\-]{1,11}(?<! )|[0-9]{1,15}")
_DESTINATION: Final = re.compile(r"[0-9]{10,15}")
_DATE: Final = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_TTL: Final = re.compile(r"[1-9][0-9]*")

DEFAULT_RANDOM_FAULTS: Final[tuple[Fault, ...]] = (
    Latency(0.01),
    HTTPStatus(500),
    HTTPStatus(502),
    HTTPStatus(503),
    HTTPStatus(429),
    ErrorState(-50),
    DropAfterRead(),
    TruncatedBody(),
    ConnectRefused(),
)
"""The faults :meth:`FakeGateway.random_faults` draws from unless told otherwise."""

_HTML_PAGE: Final = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>502 Bad Gateway</h1><hr><p>nginx</p></body></html>\n"
)
_WRONG_SHAPE: Final[dict[WireFormat, bytes]] = {
    "json": b'{"status": "ok", "result": []}',
    "xml": b"<response><status>ok</status><result /></response>",
}


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _valid_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        datetime.strptime(value, "%d.%m.%Y %H:%M:%S")
    except ValueError:
        return False
    return True


@dataclass
class _AccountState:
    config: Account
    balance: Decimal


@dataclass
class _Message:
    """An accepted message: what was recorded once, and what moves its state."""

    record: SentMessage  # its ``state`` is the one at acceptance; snapshots recompute it
    fails: bool
    steps: int = 0
    forced_state: int | None = None


@dataclass
class _FaultRule:
    fault: Fault
    endpoint: Endpoint | None
    remaining: int | None


@dataclass(frozen=True)
class _RandomFaults:
    rate: float
    kinds: tuple[Fault, ...]
    endpoint: Endpoint | None
    rng: random.Random = field(compare=False)


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _text_answer(status: int, text: str, *headers: tuple[str, str]) -> _Answer:
    return _Answer(status, (("content-type", "text/plain; charset=utf-8"), *headers), text.encode())


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` if the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _raw_headers(answer: _Answer, content_length: int) -> list[tuple[bytes, bytes]]:
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
    ]
    if not any(name == b"content-length" for name, _ in headers):
        headers.append((b"content-length", str(content_length).encode()))
    return headers


async def _respond(send: Send, answer: _Answer) -> None:
    headers = _raw_headers(answer, len(answer.body))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


class FakeGateway:
    """An in-memory SMS gateway speaking the document's protocol, for tests and local runs.

    ``accounts`` defaults to one demo account: username ``demo``, password ``demo-password``,
    balance 1000, sender ``MySMS`` (the ``DEMO_*`` constants). Give ``accounts=()`` for none.

    Use it in-process with ``httpx.AsyncClient(transport=gateway.transport())`` or
    :meth:`client`, or over a real socket with :meth:`serve`. Inspect :attr:`requests`,
    :attr:`messages` and :meth:`balance_of`; spoil answers with :meth:`inject` and
    :meth:`random_faults`; move messages with :meth:`advance`.

    ``delivery_delay`` (seconds or a ``timedelta``) moves each message one state per delay, as read
    from ``clock`` (``time.monotonic`` by default; pass your own to control time); ``None`` leaves
    messages where they are until :meth:`advance`. ``fail_share`` of accepted messages end in -14
    instead of 4; with ``seed`` which ones fail, the message ids and the random faults are the
    same on every run.
    """

    def __init__(
        self,
        accounts: Iterable[Account] | None = None,
        *,
        price_per_part: Decimal | int | str = Decimal("1.50"),
        delivery_delay: float | timedelta | None = None,
        fail_share: float = 0.0,
        seed: int | None = None,
        clock: Callable[[], float] | None = None,
        base_path: str = "/rest/sms/",
    ) -> None:
        if not base_path.startswith("/") or not base_path.endswith("/"):
            raise ValueError("base_path must start and end with '/'")
        if not 0.0 <= fail_share <= 1.0:
            raise ValueError("fail_share must be between 0 and 1")
        delay = None if delivery_delay is None else _seconds(delivery_delay)
        if delay is not None and delay < 0:
            raise ValueError("delivery_delay must not be negative")
        self.base_path = base_path
        self.price_per_part = Decimal(price_per_part)
        self.delivery_delay = delay
        self.fail_share = fail_share
        self._seed = seed
        self._clock: Callable[[], float] = clock or time.monotonic
        self._lock = threading.Lock()
        self._routes: dict[str, tuple[Endpoint, WireFormat]] = {
            f"{base_path}{endpoint}/{fmt}": (endpoint, fmt)
            for endpoint in _ENDPOINTS
            for fmt in _FORMATS
        }
        self._accounts: dict[str, _AccountState] = {}
        self._requests: list[RecordedRequest] = []
        self._messages: dict[str, _Message] = {}
        self._faults: list[_FaultRule] = []
        self._random: _RandomFaults | None = None
        self._refused = 0
        self._seed_rngs()
        if accounts is None:
            accounts = (Account(DEMO_USERNAME, DEMO_PASSWORD, DEMO_BALANCE, (DEMO_SENDER,)),)
        for account in accounts:
            self._add(account)

    def _seed_rngs(self) -> None:
        # Separate streams, so that which messages fail does not depend on how many ids were made.
        self._fail_rng = random.Random(self._seed)
        self._id_rng = None if self._seed is None else random.Random(f"ids:{self._seed}")

    # --- accounts -------------------------------------------------------------------------------

    def add_account(
        self,
        username: str,
        password: str,
        balance: Decimal | int | str = DEMO_BALANCE,
        senders: Sequence[str] = (DEMO_SENDER,),
    ) -> Account:
        """Register an account; its sender names must be well-formed (see the module docstring)."""
        account = Account(username, password, Decimal(balance), tuple(senders))
        self._add(account)
        return account

    def _add(self, account: Account) -> None:
        for sender in account.senders:
            if not _SENDER.fullmatch(sender):
                raise ValueError(
                    f"sender {sender!r} is malformed: at most 11 Latin letters, digits, inner"
                    " spaces and '.-_' with at least one letter, or at most 15 digits"
                )
        if account.balance < 0:
            raise ValueError("balance must not be negative")
        with self._lock:
            if account.username in self._accounts:
                raise ValueError(f"account {account.username!r} already exists")
            self._accounts[account.username] = _AccountState(account, account.balance)

    @property
    def accounts(self) -> tuple[Account, ...]:
        """The accounts as configured (their starting balances; see :meth:`balance_of`)."""
        with self._lock:
            return tuple(state.config for state in self._accounts.values())

    def balance_of(self, username: str) -> Decimal:
        """The account's balance now."""
        with self._lock:
            return self._account(username).balance

    def set_balance(self, username: str, balance: Decimal | int | str) -> None:
        """Set the account's balance, e.g. to test -13 (not enough money)."""
        amount = Decimal(balance)
        if amount < 0:
            raise ValueError("balance must not be negative")
        with self._lock:
            self._account(username).balance = amount

    def _account(self, username: str) -> _AccountState:
        try:
            return self._accounts[username]
        except KeyError:
            raise KeyError(f"no account {username!r}") from None

    # --- inspection -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request that reached the app, in order of arrival (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> dict[str, SentMessage]:
        """Every accepted message by id, in order of acceptance, with its state now (a copy)."""
        with self._lock:
            now = self._clock()
            return {
                message_id: self._snapshot(message, now)
                for message_id, message in self._messages.items()
            }

    def message(self, message_id: str) -> SentMessage:
        """One accepted message, with its state now."""
        with self._lock:
            try:
                return self._snapshot(self._messages[message_id], self._clock())
            except KeyError:
                raise KeyError(f"no message {message_id!r}") from None

    @property
    def refused(self) -> int:
        """How many connections a :class:`ConnectRefused` fault refused."""
        with self._lock:
            return self._refused

    @property
    def pending_faults(self) -> tuple[Fault, ...]:
        """The injected faults still waiting for a request, one entry per :meth:`inject` call."""
        with self._lock:
            return tuple(rule.fault for rule in self._faults)

    def reset(self) -> None:
        """Forget requests, messages and faults, and give every account its starting balance."""
        with self._lock:
            self._requests.clear()
            self._messages.clear()
            self._faults.clear()
            self._random = None
            self._refused = 0
            for state in self._accounts.values():
                state.balance = state.config.balance
            self._seed_rngs()

    # --- delivery -------------------------------------------------------------------------------

    def advance(self, steps: int = 1, *, ids: Iterable[str] | None = None) -> None:
        """Move messages ``steps`` states on (2 → 3 → 4 or -14); all of them, or ``ids``."""
        if steps < 0:
            raise ValueError("steps must not be negative")
        with self._lock:
            chosen = self._messages.values() if ids is None else [self._messages[i] for i in ids]
            for message in chosen:
                message.steps += steps

    def set_state(self, message_id: str, state: int) -> None:
        """Pin a message's state to any code, e.g. one the document does not list."""
        with self._lock:
            self._messages[message_id].forced_state = state

    def _state(self, message: _Message, now: float) -> int:
        if message.forced_state is not None:
            return message.forced_state
        steps = message.steps
        if self.delivery_delay is not None:
            if self.delivery_delay == 0:
                steps += 2
            else:
                steps += int((now - message.record.accepted_at) // self.delivery_delay)
        if steps <= 0:
            return 2
        if steps == 1:
            return 3
        return -14 if message.fails else 4

    def _snapshot(self, message: _Message, now: float) -> SentMessage:
        return dataclasses.replace(message.record, state=self._state(message, now))

    # --- faults ---------------------------------------------------------------------------------

    def inject(
        self, fault: Fault, *, endpoint: Endpoint | None = None, times: int | None = 1
    ) -> None:
        """Spoil the next ``times`` requests to ``endpoint`` (any endpoint if ``None``) with
        ``fault``; ``times=None`` spoils every one until :meth:`clear_faults`.

        Injected faults are used in the order they were injected, one fault per request, before
        any random fault. A fault that cannot apply to an endpoint (``DataLength`` to a balance
        request) waits for a request it can apply to.
        """
        if endpoint is not None and endpoint not in _ENDPOINTS:
            raise ValueError(f"endpoint must be one of {_ENDPOINTS} or None, not {endpoint!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for always")
        with self._lock:
            self._faults.append(_FaultRule(fault, endpoint, times))

    def random_faults(
        self,
        rate: float = 0.05,
        kinds: Iterable[Fault] | None = None,
        *,
        seed: int | None = None,
        endpoint: Endpoint | None = None,
    ) -> None:
        """Spoil each request with probability ``rate`` with a fault drawn from ``kinds``
        (:data:`DEFAULT_RANDOM_FAULTS` if ``None``); ``rate=0`` turns this off. For soak tests."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        chosen = DEFAULT_RANDOM_FAULTS if kinds is None else tuple(kinds)
        if rate and not chosen:
            raise ValueError("kinds must not be empty")
        with self._lock:
            self._random = (
                _RandomFaults(rate, chosen, endpoint, random.Random(seed)) if rate else None
            )

    def clear_faults(self) -> None:
        """Drop every injected fault and turn random faults off."""
        with self._lock:
            self._faults.clear()
            self._random = None

    def _next_fault(self, endpoint: Endpoint) -> Fault | None:
        """Draw the fault for one request to ``endpoint``: the first injected one that matches,
        else maybe a random one."""
        with self._lock:
            for index, rule in enumerate(self._faults):
                if rule.endpoint not in (None, endpoint) or not applies_to(rule.fault, endpoint):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        del self._faults[index]
                return rule.fault
            chaos = self._random
            if chaos is None or chaos.endpoint not in (None, endpoint):
                return None
            if chaos.rng.random() >= chaos.rate:
                return None
            kinds = [fault for fault in chaos.kinds if applies_to(fault, endpoint)]
            return chaos.rng.choice(kinds) if kinds else None

    def _count_refused(self) -> None:
        with self._lock:
            self._refused += 1

    # --- clients --------------------------------------------------------------------------------

    def transport(self) -> FakeGatewayTransport:
        """An httpx transport into this app that fails like a network (see :mod:`._transport`)."""
        return FakeGatewayTransport(self)

    def client(self, **kwargs: Any) -> MySMSClient:
        """A :class:`mysms_async.MySMSClient` wired to this gateway through :meth:`transport`.

        The first account (the demo account by default) and its first sender are used unless
        ``username``, ``password`` or ``sender`` are given; other keyword arguments go to the
        client unchanged.
        """
        from .._client import MySMSClient

        with self._lock:
            first = next(iter(self._accounts.values()), None)
        username = kwargs.pop("username", None)
        password = kwargs.pop("password", None)
        if username is None or password is None:
            if first is None:
                raise ValueError("the gateway has no account: give username and password")
            username = first.config.username if username is None else username
            password = first.config.password if password is None else password
        if "sender" not in kwargs and first is not None and first.config.senders:
            kwargs["sender"] = first.config.senders[0]
        kwargs.setdefault("base_url", f"http://mysms.test{self.base_path}")
        if "http_client" not in kwargs:
            kwargs.setdefault("transport", self.transport())
        return MySMSClient(username, password, **kwargs)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
    ) -> AbstractContextManager[str]:
        """Serve the app with uvicorn on a real socket, in a background thread.

        ``with gateway.serve() as base_url:`` gives e.g. ``http://127.0.0.1:54321/rest/sms/``
        and stops the server on exit. Needs the ``[emulator]`` extra (uvicorn).
        """
        from ._server import serve

        return serve(self, host, port, log_level=log_level)

    # --- the ASGI app ---------------------------------------------------------------------------

    def _route(self, path: str) -> tuple[Endpoint, WireFormat] | None:
        return self._routes.get(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"FakeGateway serves HTTP, not {scope['type']!r}")
        await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        headers = tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope["headers"]
        )
        raw_query: bytes = scope.get("query_string", b"")
        route = self._route(path)
        preset = IN_PROCESS.get()
        in_process = preset is not None and preset[0] is self

        fault: Fault | None = None
        if route is not None and method in ("GET", "POST"):
            fault = preset[1] if preset is not None and in_process else self._next_fault(route[0])
            if isinstance(fault, ConnectRefused):
                # Only over a real socket: the transport refuses in-process connections itself.
                self._count_refused()
                await self._drop(send, in_process, 0)
                return

        body = await _read_body(receive)
        if body is None:
            return
        query: tuple[tuple[str, str], ...] = ()
        query_error: str | None = None
        try:
            query = _wire.parse_query(raw_query)
        except _wire.BadRequest as exc:
            query_error = str(exc)

        def record(
            status: int | None,
            parsed: _wire.ParsedRequest | None = None,
            error: str | None = None,
        ) -> None:
            entry = RecordedRequest(
                method=method,
                path=path,
                endpoint=None if route is None else route[0],
                format=None if route is None else route[1],
                query=query,
                headers=headers,
                body=body,
                username=None if parsed is None else parsed.username,
                password=None if parsed is None else parsed.password,
                messages=() if parsed is None else parsed.messages,
                ids=() if parsed is None else parsed.ids,
                status_code=status,
                error=error,
                fault=fault,
            )
            with self._lock:
                self._requests.append(entry)

        if route is None:
            answer = _text_answer(404, f"no such endpoint: {path}")
            record(404, error=answer.body.decode())
            await _respond(send, answer)
            return
        if method not in ("GET", "POST"):
            answer = _text_answer(405, f"method {method} not allowed", ("allow", "GET, POST"))
            record(405, error=answer.body.decode())
            await _respond(send, answer)
            return
        endpoint, fmt = route

        parsed: _wire.ParsedRequest | None = None
        error = query_error
        if error is None:
            try:
                parsed = self._parse(method, endpoint, fmt, headers, query, body)
            except _wire.BadRequest as exc:
                error = str(exc)

        if fault is not None and not fault.processed:
            answer = self._fault_answer(fault, endpoint, fmt, method)
            record(answer.status, parsed, error)
            await _respond(send, answer)
            return

        if parsed is None:
            answer = _text_answer(400, error or "bad request")
        else:
            answer = self._execute(parsed, endpoint, fmt, method, fault)
        if isinstance(fault, (HTMLPage, EmptyBody, WrongShape, RawBody)):
            answer = self._fault_answer(fault, endpoint, fmt, method)

        if isinstance(fault, DropAfterRead):
            record(None, parsed, error)
            await self._drop(send, in_process, len(answer.body))
            return
        record(answer.status, parsed, error)
        if isinstance(fault, Latency):
            await anyio.sleep(fault.seconds)
        if isinstance(fault, TruncatedBody):
            await self._truncated(send, answer, close=fault.close)
            return
        await _respond(send, answer)

    async def _drop(self, send: Send, in_process: bool, expected: int) -> None:
        """Close the connection without an answer.

        In-process, the transport turns the exception into the error of a connection closed before
        any response byte. An ASGI server answers 500 to an app that fails before starting its
        response, so there the headers go out first, announcing a body that never comes.
        """
        if in_process:
            raise GatewayDisconnect()
        expected = max(expected, 1)  # a length of 0 would make the empty response complete
        headers = [(b"content-length", str(expected).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise GatewayDisconnect(received=0, expected=expected)

    async def _truncated(self, send: Send, answer: _Answer, *, close: bool) -> None:
        half = answer.body[: len(answer.body) // 2]
        if not close:
            await _respond(send, _Answer(answer.status, answer.headers, half))
            return
        headers = _raw_headers(answer, len(answer.body))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise GatewayDisconnect(received=len(half), expected=len(answer.body))

    # --- requests -------------------------------------------------------------------------------

    def _parse(
        self,
        method: str,
        endpoint: Endpoint,
        fmt: WireFormat,
        headers: tuple[tuple[str, str], ...],
        query: tuple[tuple[str, str], ...],
        body: bytes,
    ) -> _wire.ParsedRequest:
        if method == "GET":
            if body:
                raise _wire.BadRequest("a GET request carries no body")
            return _wire.parse_get(endpoint, query)
        if query:
            raise _wire.BadRequest("a POST request carries its fields in the body, not the query")
        values = dict(reversed(headers))  # the first of repeated headers wins
        if "transfer-encoding" in values:
            raise _wire.BadRequest("the body must be sent whole, with a Content-Length")
        length = values.get("content-length")
        if length is None:
            raise _wire.BadRequest("missing Content-Length")
        if length != str(len(body)):
            raise _wire.BadRequest(f"Content-Length {length} but {len(body)} bytes arrived")
        _wire.check_content_type(values.get("content-type"), fmt)
        return _wire.parse_post(endpoint, fmt, body)

    def _execute(
        self,
        parsed: _wire.ParsedRequest,
        endpoint: Endpoint,
        fmt: WireFormat,
        method: str,
        fault: Fault | None,
    ) -> _Answer:
        """Carry the request out and write the document's answer."""
        content_type = (("content-type", _wire.content_type(fmt)),)
        with self._lock:
            account = self._accounts.get(parsed.username)
            if account is None or account.config.password != parsed.password:
                body = _wire.render_state(endpoint, fmt, method, -1)
                return _Answer(200, content_type, body)
            if endpoint == "credit":
                return _Answer(
                    200, content_type, _wire.render_balance(fmt, method, account.balance)
                )
            if endpoint == "send":
                data = [self._accept(account, message) for message in parsed.messages]
            else:
                now = self._clock()
                data = [self._status(account, message_id, now) for message_id in parsed.ids]
            extra = (
                [(self._new_id(), 2) for _ in range(fault.delta)]
                if isinstance(fault, DataLength) and fault.delta > 0
                else []
            )
        if isinstance(fault, DataLength):
            data = data[: max(len(data) + fault.delta, 0)] if fault.delta < 0 else data + extra
        return _Answer(200, content_type, _wire.render_data(endpoint, fmt, method, data))

    def _new_id(self) -> str:
        if self._id_rng is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def _accept(self, account: _AccountState, fields: MessageFields) -> tuple[str, int]:
        """Apply the rules of the module docstring to one message; accept and charge it."""
        source = fields.source
        if source is None or not _SENDER.fullmatch(source) or source not in account.config.senders:
            return "", -11
        if fields.destination is None or not _DESTINATION.fullmatch(fields.destination):
            return "", -12
        if not fields.text:
            return "", -14
        if fields.date is not None and not _valid_date(fields.date):
            return "", -15
        if fields.ttl is not None and not _TTL.fullmatch(fields.ttl):
            return "", -16
        counted = segments(fields.text)
        price = counted.parts * self.price_per_part
        if price > account.balance:
            return "", -13
        account.balance -= price
        fails = self._fail_rng.random() < self.fail_share
        record = SentMessage(
            id=self._new_id(),
            username=account.config.username,
            source=source,
            destination=fields.destination,
            text=fields.text,
            date=fields.date,
            ttl=fields.ttl,
            state=2,
            parts=counted.parts,
            encoding=counted.encoding,
            price=price,
            accepted_at=self._clock(),
        )
        self._messages[record.id] = _Message(record, fails)
        return record.id, 2

    def _status(self, account: _AccountState, message_id: str, now: float) -> tuple[str, int]:
        message = self._messages.get(message_id)
        if message is None or message.record.username != account.config.username:
            return "", -10
        return message_id, self._state(message, now)

    def _fault_answer(
        self, fault: Fault, endpoint: Endpoint, fmt: WireFormat, method: str
    ) -> _Answer:
        """The answer a body-replacing or refusing fault gives instead of the document's."""
        if isinstance(fault, HTTPStatus):
            phrase = _HTTPPhrases(fault.code).phrase if fault.code in _PHRASES else "Error"
            extra: tuple[tuple[str, str], ...] = ()
            if fault.retry_after is not None:
                value = fault.retry_after
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                extra = (("retry-after", str(value)),)
            return _text_answer(fault.code, f"{fault.code} {phrase}", *extra)
        if isinstance(fault, ErrorState):
            body = _wire.render_state(endpoint, fmt, method, fault.code)
            return _Answer(200, (("content-type", _wire.content_type(fmt)),), body)
        if isinstance(fault, HTMLPage):
            return _Answer(
                fault.status, (("content-type", "text/html; charset=utf-8"),), _HTML_PAGE
            )
        if isinstance(fault, EmptyBody):
            return _Answer(fault.status, (("content-type", _wire.content_type(fmt)),), b"")
        if isinstance(fault, WrongShape):
            return _Answer(200, (("content-type", _wire.content_type(fmt)),), _WRONG_SHAPE[fmt])
        if isinstance(fault, RawBody):
            return _Answer(fault.status, tuple(fault.headers.items()), fault.body)
        raise AssertionError(f"{fault!r} does not replace the answer")


_PHRASES: Final = frozenset(status.value for status in _HTTPPhrases)
