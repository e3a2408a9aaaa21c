"""The gateway's numeric codes and what each one means for the caller."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Final


class RequestState(IntEnum):
    """The request-level ``state``: did the gateway execute the request at all."""

    OK = 0
    AUTH_FAILED = -1
    INTERNAL_ERROR_50 = -50
    INTERNAL_ERROR_51 = -51
    INTERNAL_ERROR_52 = -52

    # The number, as on Python >= 3.11, also on 3.10 (whose IntEnum prints "RequestState.OK").
    __str__ = int.__repr__

    @property
    def is_internal_error(self) -> bool:
        """Whether this is one of the gateway's internal errors (-50..-52): the request was not
        executed, so a send may be repeated."""
        return self.value in _INTERNAL_ERRORS


class MessageState(IntEnum):
    """The per-message ``state`` inside ``data``."""

    QUEUED = 2
    SENT_TO_OPERATOR = 3
    DELIVERED = 4
    INVALID_ID = -10
    INVALID_SENDER = -11
    INVALID_DESTINATION = -12
    INSUFFICIENT_FUNDS = -13
    SEND_FAILED = -14
    INVALID_DATE = -15
    INVALID_TTL = -16

    @property
    def is_final(self) -> bool:
        """Whether the state will not change again: delivered, or any error (negative)."""
        return is_final_state(self.value)

    @property
    def is_error(self) -> bool:
        """Whether the message failed (a negative state): refused, expired or undeliverable."""
        return self.value < 0


#: What each message state means, in the words of the gateway's document.
STATE_MEANINGS: Final[Mapping[int, str]] = {
    2: "waiting to be handed to the operator",
    3: "handed to the operator",
    4: "delivered",
    -10: "invalid message id",
    -11: "invalid or unregistered sender name",
    -12: "invalid destination number",
    -13: "not enough money on the account",
    -14: "sending failed",
    -15: "invalid send-date format",
    -16: "invalid TTL",
}


def state_words(state: int) -> str:
    """``-11: invalid or unregistered sender name``; a code the document lacks says so."""
    return f"{state}: {STATE_MEANINGS.get(state, 'not in the gateway' + chr(39) + 's document')}"


_INTERNAL_ERRORS = frozenset({-50, -51, -52})
_MESSAGE_STATES = {state.value: state for state in MessageState}
#: ``lookup(code, code)`` is ``message_state(code)`` without a Python call per message.
message_state_lookup = _MESSAGE_STATES.get
_REQUEST_STATES = {state.value: state for state in RequestState}


def message_state(code: int) -> MessageState | int:
    """The enum member for a known code, the plain int for an unknown one: never a crash."""
    return _MESSAGE_STATES.get(code, code)


def request_state(code: int) -> RequestState | int:
    return _REQUEST_STATES.get(code, code)


def is_final_state(code: int) -> bool:
    """Delivered, or any error: the state will not change again."""
    return code == MessageState.DELIVERED or code < 0


def is_retryable_request_state(code: int) -> bool:
    """-50..-52 are the gateway's internal errors: a later identical request may succeed."""
    return code in _INTERNAL_ERRORS
