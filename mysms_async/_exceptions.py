"""The one exception tree of mysms-async.

::

    MySMSError
    ├── ValidationError (also ValueError)   bad input, found before any I/O
    ├── ClientClosedError (also RuntimeError) the client was used after aclose()
    ├── AuthError                           request state -1
    ├── GatewayError                        request state -50/-51/-52 or another non-zero one
    ├── ResponseError                       non-200 answer, or a body not of the documented shape
    ├── TransportError                      the network failed before an answer arrived
    │   └── DeliveryUnknownError            a send that may have reached the gateway
    └── MessageRejectedError                raised by ``result.raise_for_state()``

Lower-level errors (httpx, msgspec, expat) are translated at one boundary and never chained
as ``__cause__``: httpx's errors carry the request, whose URL holds the password on GET. The
cause's type and its redacted message are kept as ``.detail`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._models import Message, SendResult


class MySMSError(Exception):
    """Base class of every error this library raises on purpose."""


class ValidationError(MySMSError, ValueError):
    """Input that breaks a field rule; raised before any request is made."""

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        super().__init__(f"{field}: {rule}")


class ClientClosedError(MySMSError, RuntimeError):
    """The client was used after ``aclose()``; a closed httpx client cannot be reopened."""


class AuthError(MySMSError):
    """The gateway refused the username or password (request state -1)."""

    def __init__(self, message: str = "authorisation failed (request state -1)") -> None:
        self.state = -1
        super().__init__(message)


class GatewayError(MySMSError):
    """The gateway answered with a non-zero request state other than -1."""

    def __init__(self, state: int, message: str | None = None) -> None:
        self.state = state
        super().__init__(message or f"gateway error: request state {state}")


class ResponseError(MySMSError):
    """The answer was not HTTP 200, or its body was not of the documented shape."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(message)


class TransportError(MySMSError):
    """The network failed: connection refused, a timeout, a reset."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(message if detail is None else f"{message} ({detail})")


class DeliveryUnknownError(TransportError):
    """A send whose request may have reached the gateway, but whose outcome is unknown.

    The messages may have been accepted and may be delivered. Resending them risks a duplicate
    SMS, which costs money and annoys a real person, so the client never does it on its own:
    check with the recipient, or resend deliberately.
    """

    def __init__(
        self,
        message: str,
        *,
        messages: Sequence[Message],
        detail: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.messages: tuple[Message, ...] = tuple(messages)
        self.status_code = status_code
        super().__init__(message, detail=detail)


class MessageRejectedError(MySMSError):
    """The gateway refused a message (a negative message state)."""

    def __init__(self, result: SendResult | object, state: int) -> None:
        self.result = result
        self.state = state
        super().__init__(f"message rejected by the gateway: message state {_state_name(state)}")


def _state_name(state: int) -> str:
    from ._codes import MessageState

    try:
        return f"{state} ({MessageState(state).name})"
    except ValueError:
        return str(state)
