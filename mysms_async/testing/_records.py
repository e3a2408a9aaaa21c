"""What the emulator lets a test inspect: accounts, requests as they arrived, messages accepted.

All records are frozen snapshots: reading them never races with the app serving another request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from .._constants import DEMO_BALANCE, DEMO_SENDER
from .._segments import Encoding
from ._faults import Endpoint, Fault

__all__ = [
    "Account",
    "MessageFields",
    "RecordedRequest",
    "SentMessage",
    "WireFormat",
]

WireFormat = Literal["json", "xml"]


@dataclass(frozen=True)
class Account:
    """An account as configured: its starting balance and the sender names registered for it."""

    username: str
    password: str = field(repr=False)
    balance: Decimal = DEMO_BALANCE
    senders: tuple[str, ...] = (DEMO_SENDER,)


@dataclass(frozen=True, slots=True)
class MessageFields:
    """One message of a send request, as it arrived; ``None`` where the field was left out.

    The names are the POST body's; a GET's ``s d t date ttl`` are filed under the same names.
    """

    source: str | None = None
    destination: str | None = None
    text: str | None = None
    date: str | None = None
    ttl: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request that reached the app, with what it carried and how it was answered.

    ``endpoint`` and ``format`` are ``None`` for a path the gateway does not serve.
    ``username``, ``password``, ``messages`` (send) and ``ids`` (status) are what the app parsed,
    empty where it could not parse the request; ``error`` then says why it answered 400.
    ``status_code`` is the HTTP status answered, ``None`` when the connection was dropped.
    ``fault`` is the fault that spoiled the answer, if any.
    """

    method: str
    path: str
    endpoint: Endpoint | None
    format: WireFormat | None
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    username: str | None = None
    password: str | None = None
    messages: tuple[MessageFields, ...] = ()
    ids: tuple[str, ...] = ()
    status_code: int | None = None
    error: str | None = None
    fault: Fault | None = None

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None``; the first if repeated."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    def query_param(self, name: str) -> str | None:
        """The value of query parameter ``name``, or ``None``."""
        return next((value for key, value in self.query if key == name), None)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the gateway accepted, as it stands now.

    ``state`` is 2 (queued), 3 (handed to the operator), 4 (delivered) or -14 (failed); it moves
    with :meth:`FakeGateway.advance` or with the gateway's ``delivery_delay``, once the message's
    ``date`` (if any) has come. ``price`` is what the
    account was charged: ``parts`` times the gateway's price per part.
    """

    id: str
    username: str
    source: str
    destination: str
    text: str
    date: str | None
    ttl: str | None
    state: int
    parts: int
    encoding: Encoding
    price: Decimal
    accepted_at: float
