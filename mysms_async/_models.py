"""Frozen result and input structs, with the meaning of the gateway's states as properties.

An answered result (no error) is built as a private subclass with ``gc=False``: it holds a
``Message``, strings and an int or enum, never a cycle, so the cyclic collector need not walk a
million of them during a campaign. It is a ``SendResult`` (``isinstance``), compares equal to one
with the same fields and prints as one. A result holding an exception stays tracked: an
exception's traceback can lead back to the result, and only a tracked object can be collected.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from decimal import Decimal

import msgspec

from ._codes import MessageState, is_final_state
from ._exceptions import MessageRejectedError, MySMSError


class Message(msgspec.Struct, frozen=True):
    """One SMS as the caller wrote it. Defaults are filled in only on the wire, never here."""

    destination: str
    text: str
    sender: str | None = None
    date: dt.datetime | None = None
    ttl: int | None = None


class _StateMixin:
    """``ok`` / ``is_final`` shared by send and status results."""

    __slots__ = ()
    state: MessageState | int | None
    error: MySMSError | None

    @property
    def ok(self) -> bool:
        """True only when the gateway took the message and reports no error state."""
        return self.error is None and self.state is not None and self.state >= 0

    @property
    def is_final(self) -> bool:
        """Delivered or an error state: polling it again will not change it."""
        return self.state is not None and is_final_state(self.state)


class SendResult(_StateMixin, msgspec.Struct, frozen=True):
    """The outcome of one message.

    Exactly one of: accepted (``id`` set, ``state`` 2/3/4), rejected by the gateway (negative
    ``state``), or failed before an answer (``error`` set; ``DeliveryUnknownError`` where the
    gateway may have accepted it).
    """

    message: Message
    id: str | None
    state: MessageState | int | None
    error: MySMSError | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SendResult):
            return NotImplemented
        return _send_fields(self) == _send_fields(other)

    def __hash__(self) -> int:
        return hash(_send_fields(self))

    def raise_for_state(self) -> SendResult:
        """Raise the failure, or ``MessageRejectedError`` for a negative state; else return self."""
        if self.error is not None:
            raise self.error
        if self.state is not None and self.state < 0:
            raise MessageRejectedError(self, int(self.state))
        return self


class StatusResult(_StateMixin, msgspec.Struct, frozen=True):
    """The gateway's word on one message id. ``requested_id`` is the id that was asked about."""

    id: str | None
    state: MessageState | int | None
    requested_id: str | None = None
    error: MySMSError | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatusResult):
            return NotImplemented
        return _status_fields(self) == _status_fields(other)

    def __hash__(self) -> int:
        return hash(_status_fields(self))

    def raise_for_state(self) -> StatusResult:
        """Return self, or raise: the request's error if the status request failed, else
        ``MessageRejectedError`` when the message's state is negative."""
        if self.error is not None:
            raise self.error
        if self.state is not None and self.state < 0:
            raise MessageRejectedError(self, int(self.state))
        return self


_send_fields = operator.attrgetter(*SendResult.__struct_fields__)
_status_fields = operator.attrgetter(*StatusResult.__struct_fields__)


class AnsweredSendResult(SendResult, frozen=True, gc=False):
    """A ``SendResult`` the gateway answered (no ``error``): never tracked by the collector."""

    def __repr__(self) -> str:
        return "SendResult" + _struct_repr(self)[len("AnsweredSendResult") :]


class AnsweredStatusResult(StatusResult, frozen=True, gc=False):
    """A ``StatusResult`` the gateway answered (no ``error``): never tracked by the collector."""

    def __repr__(self) -> str:
        return "StatusResult" + _struct_repr(self)[len("AnsweredStatusResult") :]


_struct_repr: Callable[[object], str] = msgspec.Struct.__repr__


class Balance(msgspec.Struct, frozen=True):
    """The account balance, as an exact decimal (the gateway writes ``77212,0000``)."""

    amount: Decimal
