"""Frozen result and input structs, with the meaning of the gateway's states as properties."""

from __future__ import annotations

import datetime as dt
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

    def raise_for_state(self) -> StatusResult:
        if self.error is not None:
            raise self.error
        if self.state is not None and self.state < 0:
            raise MessageRejectedError(self, int(self.state))
        return self


class Balance(msgspec.Struct, frozen=True):
    """The account balance, as an exact decimal (the gateway writes ``77212,0000``)."""

    amount: Decimal
