"""What a message state, a validation error or a text means, in words for people and programs.

``send``, ``status``, ``wait`` and ``bulk`` all show states; they share these few functions so
that a state reads the same in a table, a JSON document and the results file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .. import _constants as C
from .._codes import STATE_MEANINGS, MessageState
from .._exceptions import MySMSError, ResponseError, ValidationError
from .._models import SendResult, StatusResult
from .._segments import segments

MEANINGS: Final[Mapping[int, str]] = STATE_MEANINGS
"""What each message state means (the codes table, :data:`mysms_async._codes.STATE_MEANINGS`)."""


def state_of(result: SendResult | StatusResult) -> int | None:
    """The result's state as a plain int: a code the gateway's document lacks stays an int."""
    return None if result.state is None else int(result.state)


def state_name(state: int | None) -> str | None:
    if state is None:
        return None
    try:
        return MessageState(state).name
    except ValueError:
        return None


def state_label(state: int | None) -> str:
    """``QUEUED (2)``, or ``-99 (not in the gateway's document)`` for a code nobody knows."""
    if state is None:
        return "-"
    name = state_name(state)
    return f"{name} ({int(state)})" if name else f"{int(state)} (not in the gateway's document)"


def state_fields(state: int | None) -> dict[str, Any]:
    """A state's keys in a JSON document: the code, its name and its meaning."""
    return {
        "state": state,
        "state_name": state_name(state),
        "meaning": None if state is None else MEANINGS.get(state),
    }


def meaning_suffix(state: int | None) -> str:
    """``: delivered`` after a state's label, or nothing for a state without a meaning."""
    meaning = MEANINGS.get(state, "") if state is not None else ""
    return f": {meaning}" if meaning else ""


def style(state: int | None, error: object = None) -> str:
    if error is not None or state is None or state < 0:
        return "red"
    return "green" if state == MessageState.DELIVERED else "yellow"


def describe_validation(error: ValidationError) -> str:
    text = str(error)
    if error.value is not None and error.field in ("destination", "sender", "ttl", "message_id"):
        text += f"; got {error.value!r}"
    return text


def describe_error(error: MySMSError) -> str:
    """The error's text, with the likely fix where the error alone does not tell it."""
    text = str(error)
    if isinstance(error, ResponseError) and error.status_code in (404, 405):
        # One hint for balance, send and bulk (BaseURLError's own names the library's option).
        text = (
            f"gateway answered HTTP {error.status_code}: nothing was sent (nothing of the"
            f" gateway at this address: its API lives under /rest/sms/, as in"
            f" {C.DEFAULT_BASE_URL}; check --base-url or MYSMS_BASE_URL)"
        )
    return text


def status_document(result: StatusResult) -> dict[str, Any]:
    return {
        "id": result.requested_id,
        **state_fields(state_of(result)),
        "final": result.is_final,
        "error": None if result.error is None else str(result.error),
    }


def status_text(result: StatusResult) -> str:
    if result.error is not None:
        if isinstance(result.error, ValidationError):
            return f"error: {describe_validation(result.error)}"
        return f"error: {result.error}"
    state = state_of(result)
    return f"{state_label(state)}{meaning_suffix(state)}"


def count_parts(text: str) -> tuple[int, str]:
    """SMS parts and encoding of ``text``: what the gateway will charge for."""
    counted = segments(text)
    return counted.parts, counted.encoding
