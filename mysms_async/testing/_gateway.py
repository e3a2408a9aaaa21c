"""``FakeGateway``: the SMS gateway as a hand-written ASGI 3 app, with state and faults.

It serves the document's twelve endpoints (send, status, balance; GET or POST; JSON or XML) under
``base_path``. This module is the façade and the request's path through the app; each concern
it composes has a module of its own, named for its job:

* :mod:`._accounts`: accounts and billing (who may log in, which senders, what is left);
* :mod:`._store`: the message store and its clock (ids, states, scheduled dates, the cap);
* :mod:`._endpoints`: the endpoint handlers (the rules of a send, status, balance; strictness);
* :mod:`._fault_plan`: which fault spoils the next request;
* :mod:`._wire`: requests parsed, and answers written, from the document alone (never with the
  client's own code, so the client and the emulator check each other);
* :mod:`._asgi`: reading bodies and writing, cutting or dropping answers;
* :mod:`._server`: the one listening socket, for :meth:`FakeGateway.serve` and ``mysms emulator``.

Thread safety: uvicorn may serve the app from another thread while a test inspects it. All state
is guarded by one ``threading.Lock``, never held across an ``await``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio

from .._constants import (
    DEFAULT_PRICE_PER_PART,
    DEMO_BALANCE,
    DEMO_PASSWORD,
    DEMO_SENDER,
    DEMO_USERNAME,
)
from . import _asgi, _wire
from ._accounts import AccountBook
from ._asgi import Answer, Receive, Scope, Send
from ._endpoints import Endpoints, fault_answer
from ._fault_plan import DEFAULT_RANDOM_FAULTS, ENDPOINTS, FaultPlan
from ._faults import (
    ConnectRefused,
    DropAfterRead,
    EmptyBody,
    Endpoint,
    Fault,
    HTMLPage,
    Latency,
    RawBody,
    TruncatedBody,
    WrongShape,
)
from ._records import (
    Account,
    RecordedRequest,
    SentMessage,
    WireFormat,
)
from ._store import MessageStore, StoredMessage, seconds
from ._transport import IN_PROCESS, FakeGatewayTransport

if TYPE_CHECKING:
    from .._client import MySMSClient

__all__ = ["DEFAULT_RANDOM_FAULTS", "FakeGateway"]

_FORMATS: tuple[WireFormat, ...] = ("json", "xml")


class FakeGateway:
    """An in-memory SMS gateway speaking the document's protocol, for tests and local runs.

    ``accounts`` defaults to one demo account: username ``demo``, password ``demo-password``,
    balance 1000, sender ``MySMS`` (the ``DEMO_*`` constants). Give ``accounts=()`` for none.

    Use it in-process with ``httpx.AsyncClient(transport=gateway.transport())`` or
    :meth:`client`, or over a real socket with :meth:`serve`. Inspect :attr:`requests`,
    :attr:`messages` and :meth:`balance_of`; spoil answers with :meth:`inject` and
    :meth:`random_faults`; move messages and the clock with :meth:`advance`.

    ``delivery_delay`` (seconds or a ``timedelta``) moves each message one state per delay, as read
    from ``clock`` (``time.monotonic`` by default; pass your own to control time); ``None`` leaves
    messages where they are until :meth:`advance`. A message with a ``date`` ahead stays queued
    (2) until the emulator's wall clock, which starts at ``start`` (default: now) and runs with
    ``clock``, reaches that date in Moscow time. ``fail_share`` of accepted messages end in -14
    instead of 4; with ``seed`` which ones fail, the message ids and the random faults are the
    same on every run.

    ``strict`` (default ``True``) answers HTTP 400 to what a careful client never sends (unknown
    query parameters, a wrong content type, see :mod:`._endpoints`); ``False`` lets it through.
    ``max_records`` keeps at most that many of the latest requests and of the latest messages
    (a status for a forgotten id answers -10); ``0`` records nothing, for load tests whose memory
    must stay flat. ``None`` (the default) keeps everything.
    """

    def __init__(
        self,
        accounts: Iterable[Account] | None = None,
        *,
        price_per_part: Decimal | int | str = DEFAULT_PRICE_PER_PART,
        delivery_delay: float | timedelta | None = None,
        fail_share: float = 0.0,
        seed: int | None = None,
        clock: Callable[[], float] | None = None,
        start: datetime | None = None,
        base_path: str = "/rest/sms/",
        strict: bool = True,
        max_records: int | None = None,
    ) -> None:
        if not base_path.startswith("/") or not base_path.endswith("/"):
            raise ValueError("base_path must start and end with '/'")
        if not 0.0 <= fail_share <= 1.0:
            raise ValueError("fail_share must be between 0 and 1")
        delay = None if delivery_delay is None else seconds(delivery_delay)
        if delay is not None and delay < 0:
            raise ValueError("delivery_delay must not be negative")
        if max_records is not None and max_records < 0:
            raise ValueError("max_records must not be negative")
        self.base_path = base_path
        self._lock = threading.Lock()
        self._routes: dict[str, tuple[Endpoint, WireFormat]] = {
            f"{base_path}{endpoint}/{fmt}": (endpoint, fmt)
            for endpoint in ENDPOINTS
            for fmt in _FORMATS
        }
        self._accounts = AccountBook()
        self._store = MessageStore(
            clock=clock or time.monotonic,
            delivery_delay=delay,
            fail_share=fail_share,
            seed=seed,
            max_records=max_records,
            start=start,
        )
        self._endpoints = Endpoints(
            self._accounts, self._store, Decimal(price_per_part), strict=strict
        )
        self._requests: deque[RecordedRequest] = deque(maxlen=max_records)
        self._faults = FaultPlan()
        # Called after each send request, outside the lock (the sandbox saves its messages).
        self._after_send: Callable[[], None] | None = None
        if accounts is None:
            accounts = (Account(DEMO_USERNAME, DEMO_PASSWORD, DEMO_BALANCE, (DEMO_SENDER,)),)
        for account in accounts:
            self._accounts.add(account)

    @property
    def price_per_part(self) -> Decimal:
        """What one SMS part costs the account (charged on acceptance)."""
        return self._endpoints.price_per_part

    @property
    def delivery_delay(self) -> float | None:
        """Seconds each message spends in each state, or ``None`` when messages stay where they
        are until :meth:`advance` moves them."""
        return self._store.delivery_delay

    @property
    def fail_share(self) -> float:
        """The share (0..1) of accepted messages that end in -14 (undelivered) instead of 4."""
        return self._store.fail_share

    @property
    def strict(self) -> bool:
        """Whether what a careful client never sends (unknown query parameters, a wrong content
        type) is answered with HTTP 400 (``False`` lets it through)."""
        return self._endpoints.strict

    # --- accounts -------------------------------------------------------------------------------

    def add_account(
        self,
        username: str,
        password: str,
        balance: Decimal | int | str = DEMO_BALANCE,
        senders: Sequence[str] = (DEMO_SENDER,),
    ) -> Account:
        """Register an account; its sender names must be well-formed (see :mod:`._endpoints`)."""
        account = Account(username, password, Decimal(balance), tuple(senders))
        with self._lock:
            self._accounts.add(account)
        return account

    @property
    def accounts(self) -> tuple[Account, ...]:
        """The accounts as configured (their starting balances; see :meth:`balance_of`)."""
        with self._lock:
            return self._accounts.configs()

    def balance_of(self, username: str) -> Decimal:
        """The account's balance now."""
        with self._lock:
            return self._accounts.get(username).balance

    def set_balance(self, username: str, balance: Decimal | int | str) -> None:
        """Set the account's balance, e.g. to test -13 (not enough money)."""
        with self._lock:
            self._accounts.set_balance(username, Decimal(balance))

    # --- inspection -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests that reached the app, in order of arrival (a copy; see ``max_records``)."""
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> dict[str, SentMessage]:
        """The accepted messages by id, in order of acceptance, with their state now (a copy;
        see ``max_records``)."""
        with self._lock:
            return self._store.snapshots()

    def message(self, message_id: str) -> SentMessage:
        """One accepted message, with its state now."""
        with self._lock:
            return self._store.snapshot(message_id)

    def now(self) -> datetime:
        """The emulator's wall clock, in the gateway's time zone (moved by ``advance(by=...)``)."""
        with self._lock:
            return self._store.wall()

    @property
    def refused(self) -> int:
        """How many connections a :class:`ConnectRefused` fault refused."""
        with self._lock:
            return self._faults.refused

    @property
    def pending_faults(self) -> tuple[Fault, ...]:
        """The injected faults still waiting for a request, one entry per :meth:`inject` call."""
        with self._lock:
            return self._faults.pending()

    def reset(self) -> None:
        """Forget requests, messages and faults, and give every account its starting balance."""
        with self._lock:
            self._requests.clear()
            self._store.clear()
            self._faults = FaultPlan()
            self._accounts.restart()

    # --- delivery -------------------------------------------------------------------------------

    def advance(
        self,
        steps: int | None = None,
        *,
        ids: Iterable[str] | None = None,
        by: float | timedelta | None = None,
    ) -> None:
        """Move time on: the clock ``by`` seconds (or a ``timedelta``), then messages ``steps``
        states (2 → 3 → 4 or -14); all of them, or ``ids``.

        ``advance()`` moves every message one state; ``advance(by=timedelta(days=31))`` only the
        clock, which brings scheduled messages due and moves delayed delivery on. A message whose
        ``date`` is still ahead after the clock moved is not moved: it is still queued.
        """
        moved = 0.0 if by is None else seconds(by)
        if moved < 0:
            raise ValueError("by must not be negative: the clock only moves forward")
        if steps is None:
            steps = 0 if by is not None else 1
        if steps < 0:
            raise ValueError("steps must not be negative")
        with self._lock:
            self._store.advance(steps, ids, moved)

    def set_state(self, message_id: str, state: int) -> None:
        """Pin a message's state to any code, e.g. one the document does not list."""
        with self._lock:
            self._store.set_state(message_id, state)

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
        with self._lock:
            self._faults.inject(fault, endpoint, times)

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
        with self._lock:
            self._faults.random(rate, kinds, seed, endpoint)

    def clear_faults(self) -> None:
        """Drop every injected fault and turn random faults off."""
        with self._lock:
            self._faults.clear()

    def _next_fault(self, endpoint: Endpoint) -> Fault | None:
        with self._lock:
            return self._faults.next(endpoint)

    def _count_refused(self) -> None:
        with self._lock:
            self._faults.refused += 1

    # --- saved state (the sandbox of ``mysms``) -------------------------------------------------

    def _restore(self, record: SentMessage, fails: bool) -> None:
        with self._lock:
            self._store.keep(record, fails)

    def _watch_sends(
        self, each: Callable[[StoredMessage], None], after: Callable[[], None]
    ) -> None:
        """Call ``each`` with every message accepted from now on (under the lock), and ``after``
        after each send request (outside it)."""
        with self._lock:
            self._store.listener = each
            self._after_send = after

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
            first = self._accounts.first()
        username = kwargs.pop("username", None)
        password = kwargs.pop("password", None)
        if username is None or password is None:
            if first is None:
                raise ValueError("the gateway has no account: give username and password")
            username = first.username if username is None else username
            password = first.password if password is None else password
        if "sender" not in kwargs and first is not None and first.senders:
            kwargs["sender"] = first.senders[0]
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

        return serve(self, host, port, base_path=self.base_path, log_level=log_level)

    # --- the ASGI app: a request's path ------------------------------------------------------

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
        in_process = IN_PROCESS.get() is self

        fault: Fault | None = None
        if route is not None and method in ("GET", "POST"):
            fault = self._next_fault(route[0])
            if isinstance(fault, ConnectRefused):
                self._count_refused()
                await _asgi.refuse(send, in_process)
                return

        body = await _asgi.read_body(receive)
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
            if self._requests.maxlen == 0:
                return  # recording nothing: not even the cost of building the record
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
            answer = Answer.text(404, f"no such endpoint: {path}")
            record(404, error=answer.body.decode())
            await _asgi.respond(send, answer)
            return
        if method not in ("GET", "POST"):
            answer = Answer.text(405, f"method {method} not allowed", ("allow", "GET, POST"))
            record(405, error=answer.body.decode())
            await _asgi.respond(send, answer)
            return
        endpoint, fmt = route

        parsed: _wire.ParsedRequest | None = None
        error = query_error
        if error is None:
            try:
                parsed = self._endpoints.parse(method, endpoint, fmt, headers, query, body)
            except _wire.BadRequest as exc:
                error = str(exc)

        if fault is not None and not fault.processed:
            answer = fault_answer(fault, endpoint, fmt, method)
            record(answer.status, parsed, error)
            await _asgi.respond(send, answer)
            return

        if parsed is None:
            answer = Answer.text(400, error or "bad request")
        else:
            with self._lock:
                answer = self._endpoints.execute(parsed, endpoint, fmt, method, fault)
            if endpoint == "send" and self._after_send is not None:
                self._after_send()
        if isinstance(fault, (HTMLPage, EmptyBody, WrongShape, RawBody)):
            answer = fault_answer(fault, endpoint, fmt, method)

        if isinstance(fault, DropAfterRead):
            record(None, parsed, error)
            await _asgi.drop(send, in_process, len(answer.body))
            return
        record(answer.status, parsed, error)
        if isinstance(fault, Latency):
            await anyio.sleep(fault.seconds)
        if isinstance(fault, TruncatedBody):
            await _asgi.truncated(send, answer, close=fault.close)
            return
        await _asgi.respond(send, answer)
